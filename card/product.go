package card

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"time"
)

// Audiences a product is sold to.
const (
	AudienceTourist  = "tourist"
	AudienceResident = "resident"
)

// DefaultActivationDeadlineDays is how long an unused card stays valid when the product does
// not say.
const DefaultActivationDeadlineDays = 365

// Product is a kind of card: how long it is valid once activated and what it costs.
// Exactly one of ValidityHours and ValidityDays is non-zero.
type Product struct {
	Code                   string
	Town                   string            // the town that created it; "" for a network product
	Towns                  []string          // where its cards are accepted (sorted)
	Name                   map[string]string // by language
	ValidityHours          int               // absolute hours from activation
	ValidityDays           int               // calendar days in the city's zone, activation day is day 1
	PriceCents             int64
	Audience               string
	ActivationDeadlineDays int
	CreatedAt              time.Time
}

var codeRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)

// ErrOtherTowns is a town's product listing towns other than its own: a town may not make
// another town pay for its cards. A product for several towns is a network product.
var ErrOtherTowns = errors.New("a town's product is accepted in its own town only; a product for several towns is a network product, made by the network admin without Citycard-Town")

// CheckTowns applies the rule of where a product's cards are accepted: a town's product in
// its own town only (Towns omitted, or exactly [Town]; anything else is ErrOtherTowns), a
// network product (Town "") in the towns it lists (none: ErrInvalidInput). It fills Towns
// of a town's product and sorts them.
func (p *Product) CheckTowns() error {
	if p.Town != "" {
		if len(p.Towns) == 0 {
			p.Towns = []string{p.Town}
		}
		if len(p.Towns) != 1 || p.Towns[0] != p.Town {
			return ErrOtherTowns
		}
		return nil
	}
	if len(p.Towns) == 0 {
		return fmt.Errorf("%w: a network product must list towns", ErrInvalidInput)
	}
	sort.Strings(p.Towns)
	return nil
}

// Validate checks the product's fields and fills defaults. Errors wrap ErrInvalidInput.
func (p *Product) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidInput}, a...)...)
	}
	if !codeRE.MatchString(p.Code) {
		return bad("code must be 1 to 64 lower-case letters, digits or dashes")
	}
	if err := ValidateNames("name", p.Name, 200); err != nil {
		return err
	}
	switch {
	case p.ValidityHours != 0 && p.ValidityDays != 0, p.ValidityHours == 0 && p.ValidityDays == 0:
		return bad("exactly one of validity_hours and validity_days is required")
	case p.ValidityHours < 0 || p.ValidityHours > 8760:
		return bad("validity_hours must be 1 to 8760")
	case p.ValidityDays < 0 || p.ValidityDays > 3660:
		return bad("validity_days must be 1 to 3660")
	}
	if p.PriceCents < 0 {
		return bad("price must not be negative")
	}
	if p.Audience != AudienceTourist && p.Audience != AudienceResident {
		return bad("audience must be tourist or resident")
	}
	if p.ActivationDeadlineDays == 0 {
		p.ActivationDeadlineDays = DefaultActivationDeadlineDays
	}
	if p.ActivationDeadlineDays < 1 || p.ActivationDeadlineDays > 3660 {
		return bad("activation_deadline_days must be 1 to 3660")
	}
	return nil
}

// ValidateNames checks a map of texts by language: at least one, only known languages, each
// a CleanText of 1 to max characters, which it stores in names in place of the text sent.
// field names the field in the error.
func ValidateNames(field string, names map[string]string, max int) error {
	if len(names) == 0 {
		return fmt.Errorf("%w: %s needs a text in at least one of sl, it, en, de", ErrInvalidInput, field)
	}
	for l, s := range names {
		if !ValidLang(l) {
			return fmt.Errorf("%w: %s has unknown language %q (sl, it, en, de)", ErrInvalidInput, field, l)
		}
		clean, err := CleanText(field+"."+l, s, max, true)
		if err != nil {
			return err
		}
		names[l] = clean
	}
	return nil
}

// Localize picks the text for lang from names, falling back to English, Slovene, Italian,
// German, in that order.
func Localize(names map[string]string, lang string) string {
	if s, ok := names[lang]; ok {
		return s
	}
	for _, l := range []string{"en", "sl", "it", "de"} {
		if s, ok := names[l]; ok {
			return s
		}
	}
	return ""
}

// ExpiresAt is when a card of this product activated at t stops being valid. For calendar
// days that is local midnight after day N in loc, whatever the DST changes between.
func (p Product) ExpiresAt(t time.Time, loc *time.Location) time.Time {
	if p.ValidityHours > 0 {
		return t.Add(time.Duration(p.ValidityHours) * time.Hour).UTC()
	}
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+p.ValidityDays, 0, 0, 0, 0, loc).UTC()
}

// ActivateBy is when a card of this product issued at t expires if never used: the same
// local wall-clock time ActivationDeadlineDays calendar days later.
func (p Product) ActivateBy(t time.Time, loc *time.Location) time.Time {
	days := p.ActivationDeadlineDays
	if days == 0 {
		days = DefaultActivationDeadlineDays
	}
	return t.In(loc).AddDate(0, 0, days).UTC()
}

// Accepts reports whether the product's cards are accepted in town.
func (p Product) Accepts(town string) bool {
	for _, t := range p.Towns {
		if t == town {
			return true
		}
	}
	return false
}

// ErrNotAccepted is returned for a card used in a town its product does not accept.
var ErrNotAccepted = errors.New("card not accepted in this town")
