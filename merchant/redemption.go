package merchant

import (
	"errors"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Redemption statuses.
const (
	RedemptionCompleted = "completed"
	RedemptionVoided    = "voided"
	RedemptionConflict  = "conflict"
)

// Decisions of the office on a conflict.
const (
	DecisionAccepted = "accepted"
	DecisionRejected = "rejected"
)

// Offline bounds: how far an offline sale's occurred_at may lie from the server's time.
const (
	OfflineMaxHours       = 72
	OfflineMaxRedemptions = 500
	OfflineMaxFuture      = 5 * time.Minute
)

// CheckOccurredAt returns ErrOccurredAtOutOfRange unless at lies at most OfflineMaxHours
// before now and OfflineMaxFuture after it (a till's clock may run a little fast).
func CheckOccurredAt(at, now time.Time) error {
	if at.Before(now.Add(-OfflineMaxHours*time.Hour)) || at.After(now.Add(OfflineMaxFuture)) {
		return ErrOccurredAtOutOfRange
	}
	return nil
}

// ConflictReason reports whether err is a rule an offline till could not know for sure:
// another till used the limit; the sale is dated before the card's issue (a till's clock
// wrong, or a card number mistyped); the card expired, was blocked or is not accepted here; the
// offer was switched off since the till's pack; or the offer is not for the card's product
// (the product is in neither the token nor the pack). Such a sale happened, so it is recorded
// as a conflict for the office to decide, never refused. Any other error stays an error: a
// forged card, an unknown offer, a malformed body, an amount below the offer's minimum (the
// pack holds it) are no genuine sale of this offer.
func ConflictReason(err error) bool {
	return errors.Is(err, ErrLimitReached) || errors.Is(err, card.ErrNotYetIssued) || errors.Is(err, card.ErrExpired) ||
		errors.Is(err, card.ErrBlocked) || errors.Is(err, card.ErrNotAccepted) ||
		errors.Is(err, ErrOfferInactive) || errors.Is(err, ErrOfferNotEligible)
}

// ConflictQuote computes the money of a conflict: the offer's arithmetic and its minimum
// amount, without the rule that made it a conflict.
func ConflictQuote(o Offer, amount int64) (Quote, error) {
	if amount < 0 || amount > MaxCents {
		return Quote{}, invalid("amount must be 0.00 to 1000000.00")
	}
	if o.MinAmount != nil && amount < *o.MinAmount {
		return Quote{}, ErrAmountTooLow
	}
	d := o.Discount(amount)
	return Quote{Amount: amount, Discount: d, Total: amount - d, MunicipalShare: o.Share(d)}, nil
}

// Redemption is one discount granted at a till. Amounts are cents. Category and Product are
// copied at redemption time so a month's report never shifts when a merchant changes category.
type Redemption struct {
	ID             string
	Town           string // the merchant's town, whose reports count it
	CardTown       string // the town that issued the card
	CardID         string
	CardNumber     string
	MerchantID     string
	OfferID        string
	Product        string
	Category       string
	Terminal       string
	Amount         int64
	Discount       int64
	MunicipalShare int64
	CreatedAt      time.Time
	VoidedAt       *time.Time
	VoidReason     string
	// Offline sales: CreatedAt is when the sale happened (occurred_at), RecordedAt when the
	// server stored it (equal to CreatedAt for an online sale).
	RecordedAt     time.Time
	Offline        bool
	ConflictReason string // the error code it would have got; "" for a plain redemption
	DecidedAt      *time.Time
	Decision       string // "", DecisionAccepted or DecisionRejected
	DecisionNote   string
}

// Counts reports whether r counts in totals, statements and the municipal share: a live
// redemption, or a conflict the office accepted.
func (r Redemption) Counts() bool {
	return r.VoidedAt == nil && (r.ConflictReason == "" || r.Decision == DecisionAccepted)
}

// Booked reports whether r has a redemption entry in the ledger: a sale completed when it
// was recorded (voided later or not: a void is an entry of its own), or a conflict the office
// accepted. A rejected conflict and one waiting for the decision have none.
func (r Redemption) Booked() bool {
	return r.ConflictReason == "" || r.Decision == DecisionAccepted
}

// Impossible names what no write of the service leaves in a redemption: a decision (or its
// time) on a sale that is no conflict, an unknown decision, a decision without its time or
// the reverse, a voided conflict (the office's decision is final); "" when r is one of the
// states a redemption can be in.
func (r Redemption) Impossible() string {
	switch {
	case r.ConflictReason == "" && (r.Decision != "" || r.DecidedAt != nil):
		return "it has a decision but no conflict reason"
	case r.Decision != "" && r.Decision != DecisionAccepted && r.Decision != DecisionRejected:
		return "its decision " + r.Decision + " is neither accepted nor rejected"
	case (r.Decision == "") != (r.DecidedAt == nil):
		return "it has a decision without the time of it, or a time without a decision"
	case r.ConflictReason != "" && r.VoidedAt != nil:
		return "it is a voided conflict, and a conflict cannot be voided"
	}
	return ""
}

// Total is what the card holder pays.
func (r Redemption) Total() int64 { return r.Amount - r.Discount }

// Status is completed, voided or conflict (a conflict stays one after the office's
// decision, which Decision tells).
func (r Redemption) Status() string {
	if r.ConflictReason != "" {
		return RedemptionConflict
	}
	if r.VoidedAt != nil {
		return RedemptionVoided
	}
	return RedemptionCompleted
}

// RedeemRequest is a till's request to redeem an offer. CardInput is the scanned or typed
// card field as sent, used with the other fields to recognise a retried request.
type RedeemRequest struct {
	MerchantID     string
	CardInput      string
	OfferID        string
	Amount         int64
	Terminal       string
	IdempotencyKey string
	// OccurredAt is when an offline till made the sale; nil for an online one.
	OccurredAt *time.Time
}

// Validate checks the fields a till controls and trims Terminal to what it checked (a
// card.CleanText of at most 64 characters). Errors wrap ErrInvalidInput or
// card.ErrInvalidInput.
func (r *RedeemRequest) Validate(needKey bool) error {
	terminal, err := card.CleanText("terminal", r.Terminal, 64, false)
	if err != nil {
		return err
	}
	r.Terminal = terminal
	switch {
	case strings.TrimSpace(r.CardInput) == "":
		return invalid("card is required")
	case r.OfferID == "":
		return invalid("offer_id is required")
	case r.Amount < 0 || r.Amount > MaxCents:
		return invalid("amount must be 0.00 to 1000000.00")
	case needKey && (len(r.IdempotencyKey) < 1 || len(r.IdempotencyKey) > 255):
		return invalid("header Idempotency-Key of 1 to 255 characters is required")
	}
	return nil
}

// CleanVoidReason checks a void's reason and returns it as it must be stored: a
// card.CleanText of 1 to 300 characters. Errors wrap card.ErrInvalidInput.
func CleanVoidReason(reason string) (string, error) {
	return card.CleanText("reason", reason, 300, true)
}
