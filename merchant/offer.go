package merchant

import (
	"time"

	"github.com/citycard/citycard/card"
)

// Offer kinds: how the discount on a purchase is computed.
const (
	KindPercent = "percent" // Value basis points of the amount
	KindAmount  = "amount"  // Value cents off
	KindFree    = "free"    // the whole amount
	KindPrice   = "price"   // a fixed price of Value cents: amount - Value, never below zero
)

// Offer limits: how often one card may use an offer. Voided redemptions do not count.
const (
	LimitOnce      = "once"      // once per card, ever
	LimitDaily     = "daily"     // once per card per local calendar day
	LimitUnlimited = "unlimited" // no limit
)

// MaxCents is the largest amount of money accepted anywhere: 1,000,000.00 euros.
const MaxCents = 100_000_000

// Offer is what a merchant grants card holders.
type Offer struct {
	ID             string
	Town           string // the merchant's town
	MerchantID     string
	Title          map[string]string
	Kind           string
	Value          int64  // basis points for percent, cents for amount and price, 0 for free
	MaxDiscount    *int64 // cents
	MinAmount      *int64 // cents
	Limit          string
	Products       []string // product codes; empty means all
	ValidFrom      string   // local date YYYY-MM-DD, inclusive; empty means no bound
	ValidUntil     string
	MunicipalShare int64 // basis points of the discount the municipality pays back
	Active         bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

const dateLayout = "2006-01-02"

// Validate checks the offer's fields. It does not check that Products exist. Errors wrap
// ErrInvalidInput or card.ErrInvalidInput.
func (o *Offer) Validate() error {
	if err := card.ValidateNames("title", o.Title, 120); err != nil {
		return err // wraps card.ErrInvalidInput
	}
	switch o.Kind {
	case KindPercent:
		if o.Value <= 0 || o.Value > 10000 {
			return invalid("value of a percent offer must be more than 0 and at most 100")
		}
	case KindAmount:
		if o.Value <= 0 || o.Value > MaxCents {
			return invalid("value of an amount offer must be a positive amount")
		}
	case KindPrice:
		if o.Value < 0 || o.Value > MaxCents {
			return invalid("value of a price offer must be an amount")
		}
	case KindFree:
		if o.Value != 0 {
			return invalid("a free offer takes no value")
		}
	default:
		return invalid("kind must be percent, amount, free or price")
	}
	if o.MaxDiscount != nil && (*o.MaxDiscount < 0 || *o.MaxDiscount > MaxCents) {
		return invalid("max_discount must be an amount")
	}
	if o.MinAmount != nil && (*o.MinAmount < 0 || *o.MinAmount > MaxCents) {
		return invalid("min_amount must be an amount")
	}
	switch o.Limit {
	case LimitOnce, LimitDaily, LimitUnlimited:
	default:
		return invalid("limit must be once, daily or unlimited")
	}
	if o.Products != nil && len(o.Products) == 0 {
		return invalid("products must name at least one product, or be left out for all")
	}
	seen := map[string]bool{}
	for _, p := range o.Products {
		if seen[p] {
			return invalid("products names %q twice", p)
		}
		seen[p] = true
	}
	for _, d := range []struct{ name, v string }{{"valid_from", o.ValidFrom}, {"valid_until", o.ValidUntil}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse(dateLayout, d.v); err != nil {
			return invalid("%s must be a date YYYY-MM-DD", d.name)
		}
	}
	if o.ValidFrom != "" && o.ValidUntil != "" && o.ValidUntil < o.ValidFrom {
		return invalid("valid_until is before valid_from")
	}
	if o.MunicipalShare < 0 || o.MunicipalShare > 10000 {
		return invalid("municipal_share must be 0 to 100")
	}
	return nil
}

// Discount is the discount on a purchase of amount cents: by kind, then capped at
// MaxDiscount and at the amount itself. Rounding is half away from zero, to the cent.
func (o Offer) Discount(amount int64) int64 {
	var d int64
	switch o.Kind {
	case KindPercent:
		d = RoundDiv(amount*o.Value, 10000)
	case KindAmount:
		d = o.Value
	case KindFree:
		d = amount
	case KindPrice:
		d = max(amount-o.Value, 0)
	}
	if o.MaxDiscount != nil {
		d = min(d, *o.MaxDiscount)
	}
	return max(min(d, amount), 0)
}

// Share is the part of discount the municipality pays back to the merchant, rounded half away
// from zero. A negative discount (an adjustment) gives a negative share.
func (o Offer) Share(discount int64) int64 {
	return ShareOf(discount, o.MunicipalShare)
}

// ShareOf is discount × bp / 10000, rounded half away from zero.
func ShareOf(discount, bp int64) int64 { return RoundDiv(discount*bp, 10000) }

// RoundDiv is a / b rounded half away from zero; b must be positive.
func RoundDiv(a, b int64) int64 {
	if a < 0 {
		return -RoundDiv(-a, b)
	}
	return (a + b/2) / b
}

// ActiveAt reports whether the offer may be used at t: its active flag and its validity dates
// (inclusive, in loc).
func (o Offer) ActiveAt(t time.Time, loc *time.Location) bool {
	if !o.Active {
		return false
	}
	d := t.In(loc).Format(dateLayout)
	return (o.ValidFrom == "" || d >= o.ValidFrom) && (o.ValidUntil == "" || d <= o.ValidUntil)
}

// Expired reports whether the offer's last valid day is over at t.
func (o Offer) Expired(t time.Time, loc *time.Location) bool {
	return o.ValidUntil != "" && t.In(loc).Format(dateLayout) > o.ValidUntil
}

// EligibleFor reports whether cards of product code may use the offer.
func (o Offer) EligibleFor(product string) bool {
	if len(o.Products) == 0 {
		return true
	}
	for _, p := range o.Products {
		if p == product {
			return true
		}
	}
	return false
}

// Use is one earlier, not voided, redemption of an offer by a card.
type Use struct{ At time.Time }

// Check decides whether card c (of product p) may use offer o at now, given the card's
// earlier uses of that offer. It returns nil or the first failing rule, in the order a till
// needs them: card.ErrBlocked, card.ErrExpired, ErrOfferInactive, ErrOfferNotEligible,
// ErrLimitReached.
func Check(c card.Card, o Offer, uses []Use, now time.Time, loc *time.Location) error {
	if err := c.Usable(now); err != nil {
		return err
	}
	if !o.ActiveAt(now, loc) {
		return ErrOfferInactive
	}
	if !o.EligibleFor(c.Product) {
		return ErrOfferNotEligible
	}
	if LimitUsed(o.Limit, uses, now, loc) {
		return ErrLimitReached
	}
	return nil
}

// LimitUsed reports whether uses exhaust limit at now.
func LimitUsed(limit string, uses []Use, now time.Time, loc *time.Location) bool {
	switch limit {
	case LimitOnce:
		return len(uses) > 0
	case LimitDaily:
		today := now.In(loc).Format(dateLayout)
		for _, u := range uses {
			if u.At.In(loc).Format(dateLayout) == today {
				return true
			}
		}
	}
	return false
}

// LimitKey is the key that a UNIQUE index over not-voided redemptions holds once per card and
// offer (once) or per card, offer and local day (daily), so that no two concurrent
// redemptions can both pass the limit. Unlimited offers have no key.
func LimitKey(o Offer, cardID string, now time.Time, loc *time.Location) string {
	switch o.Limit {
	case LimitOnce:
		return "once:" + o.ID + ":" + cardID
	case LimitDaily:
		return "daily:" + o.ID + ":" + cardID + ":" + now.In(loc).Format(dateLayout)
	}
	return ""
}

// Quote is what a redemption of amount would give.
type Quote struct {
	Amount, Discount, Total, MunicipalShare int64
}

// QuoteFor checks the rules (see Check), then min_amount (ErrAmountTooLow), and computes the
// discount, total and municipal share of a purchase of amount cents.
func QuoteFor(c card.Card, o Offer, uses []Use, amount int64, now time.Time, loc *time.Location) (Quote, error) {
	if err := Check(c, o, uses, now, loc); err != nil {
		return Quote{}, err
	}
	if amount < 0 || amount > MaxCents {
		return Quote{}, invalid("amount must be 0.00 to 1000000.00")
	}
	if o.MinAmount != nil && amount < *o.MinAmount {
		return Quote{}, ErrAmountTooLow
	}
	d := o.Discount(amount)
	return Quote{Amount: amount, Discount: d, Total: amount - d, MunicipalShare: o.Share(d)}, nil
}
