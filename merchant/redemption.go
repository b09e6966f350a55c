package merchant

import (
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Redemption statuses.
const (
	RedemptionCompleted = "completed"
	RedemptionVoided    = "voided"
)

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
}

// Total is what the card holder pays.
func (r Redemption) Total() int64 { return r.Amount - r.Discount }

// Status is completed or voided.
func (r Redemption) Status() string {
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
