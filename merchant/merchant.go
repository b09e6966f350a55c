// Package merchant is the domain of merchants, their offers, the discount rule, redemptions
// and the monthly report's arithmetic. Amounts are integer euro cents; percentages are
// integer hundredths of a percent (basis points). It knows nothing of storage or HTTP.
package merchant

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Errors of merchants, offers and redemptions. Their text is safe to show to a client.
var (
	ErrNotFound             = errors.New("not found")
	ErrOfferNotFound        = errors.New("offer not found")
	ErrOfferInactive        = errors.New("offer not active at this time")
	ErrOfferNotEligible     = errors.New("offer not valid for this card's product")
	ErrAmountTooLow         = errors.New("amount below the offer's minimum")
	ErrLimitReached         = errors.New("offer already used as often as its limit allows")
	ErrIdempotencyMismatch  = errors.New("idempotency key was used with another request body")
	ErrAlreadyVoided        = errors.New("redemption already voided")
	ErrOccurredAtOutOfRange = errors.New("occurred_at must lie at most 72 hours in the past and 5 minutes in the future")
	ErrAlreadyDecided       = errors.New("conflict already decided")
	ErrNotConflict          = errors.New("redemption is not a conflict")
	ErrConflictNotVoidable  = errors.New("a conflict is not voided: the office accepts or rejects it")
	ErrConflictsOpen        = errors.New("the month has conflicts the office has not decided")
	ErrSuspended            = errors.New("merchant suspended")
	ErrInvalidInput         = errors.New("invalid request")
	ErrMonthOpen            = errors.New("month is not over yet in the city's time zone")
	ErrAlreadyClosed        = errors.New("month already closed")
	// ErrLedgerMismatch: the ledger and what is built from it (rollups, a month's close, a
	// statement's items) disagree, so the figures must not be served or frozen.
	ErrLedgerMismatch = errors.New("the ledger and the figures built from it disagree; an administrator must run the ledger verification")
)

// Categories a merchant may belong to.
var Categories = []string{"shop", "restaurant", "bar", "museum", "attraction", "tour", "transport", "accommodation", "service"}

// Merchant statuses. A suspended merchant's key is refused and its offers are not shown.
const (
	StatusActive    = "active"
	StatusSuspended = "suspended"
)

// Merchant is a shop, restaurant or venue that grants offers to card holders.
type Merchant struct {
	ID        string
	Town      string // the town the merchant belongs to
	Name      string
	Category  string
	Address   string
	TaxNumber string   // Slovene tax number, 8 digits, or empty
	IBAN      string   // electronic form (no spaces), or empty
	Lat, Lon  *float64 // both or neither
	Status    string
	CreatedAt time.Time
}

// ValidCategory reports whether c is one of Categories.
func ValidCategory(c string) bool {
	for _, x := range Categories {
		if x == c {
			return true
		}
	}
	return false
}

// Validate checks the merchant's fields and fills the default status. Errors wrap
// ErrInvalidInput.
func (m *Merchant) Validate() error {
	var err error
	if m.Name, err = card.CleanText("name", m.Name, 200, true); err != nil {
		return err
	}
	if m.Address, err = card.CleanText("address", m.Address, 300, false); err != nil {
		return err
	}
	if m.Status == "" {
		m.Status = StatusActive
	}
	switch {
	case !ValidCategory(m.Category):
		return invalid("category must be one of " + strings.Join(Categories, ", "))
	case !m.normalizeTaxNumber():
		return invalid("tax_number must be a Slovene tax number: 8 digits, the last its mod-11 check digit")
	case !m.normalizeIBAN():
		return invalid("iban must be a valid IBAN (ISO 13616: country code, check digits, account; e.g. SI56 1910 0000 0123 438)")
	case (m.Lat == nil) != (m.Lon == nil):
		return invalid("lat and lon go together")
	case m.Lat != nil && !(*m.Lat >= -90 && *m.Lat <= 90):
		return invalid("lat must be between -90 and 90")
	case m.Lon != nil && !(*m.Lon >= -180 && *m.Lon <= 180):
		return invalid("lon must be between -180 and 180")
	case m.Status != StatusActive && m.Status != StatusSuspended:
		return invalid("status must be active or suspended")
	}
	return nil
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, a...)...)
}

// normalizeTaxNumber stores the tax number's 8 digits; empty is allowed (not known yet).
func (m *Merchant) normalizeTaxNumber() bool {
	if strings.TrimSpace(m.TaxNumber) == "" {
		m.TaxNumber = ""
		return true
	}
	t, ok := NormalizeTaxNumber(m.TaxNumber)
	m.TaxNumber = t
	return ok
}

// normalizeIBAN stores the IBAN in its electronic form; empty is allowed.
func (m *Merchant) normalizeIBAN() bool {
	if strings.TrimSpace(m.IBAN) == "" {
		m.IBAN = ""
		return true
	}
	i, ok := NormalizeIBAN(m.IBAN)
	m.IBAN = i
	return ok
}
