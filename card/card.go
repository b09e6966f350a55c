// Package card is the domain of card products and cards: validity rules, card numbers and the
// signed tokens printed in QR codes. It knows nothing of storage or HTTP.
package card

import (
	"errors"
	"fmt"
	"time"
)

// Errors a card operation can return. Their text is safe to show to a client.
var (
	ErrInvalid       = errors.New("card invalid")                 // malformed or forged token or number
	ErrNotFound      = errors.New("card not found")               // well-formed but unknown
	ErrBlocked       = errors.New("card blocked")                 // blocked by the office
	ErrExpired       = errors.New("card expired")                 // validity or activation deadline passed
	ErrNotYetIssued  = errors.New("card not yet issued")          // a sale dated before the card's issue
	ErrProductExists = errors.New("product already exists")       // duplicate product code
	ErrNoProduct     = errors.New("product not found")            // unknown product code
	ErrInvalidInput  = errors.New("invalid request")              // a field fails validation
	ErrErased        = errors.New("personal data already erased") // a second erasure of one card
)

// Languages the card page and offer titles are written in.
var Languages = []string{"sl", "it", "en", "de"}

// ValidLang reports whether l is one of Languages.
func ValidLang(l string) bool {
	for _, x := range Languages {
		if x == l {
			return true
		}
	}
	return false
}

// Status of a card, always computed from the clock at read time.
type Status string

const (
	StatusIssued  Status = "issued"  // never used
	StatusActive  Status = "active"  // activated and within validity
	StatusExpired Status = "expired" // validity or activation deadline over
	StatusBlocked Status = "blocked" // blocked by the office
)

// Card is one issued card. Times are UTC.
type Card struct {
	ID          string
	Town        string // the town whose office issued it
	Number      string // 12 digits, the last a Luhn check digit
	Product     string // product code
	Holder      string // never shown on public pages
	Lang        string // preferred language of the holder, may be empty
	Token       string // signed token inside the QR code
	IssuedAt    time.Time
	ActivateBy  time.Time  // a card not activated by then expires
	ActivatedAt *time.Time // first successful redemption
	ExpiresAt   *time.Time // set at activation
	BlockedAt   *time.Time
	BlockReason string
	BatchID     string // the batch it was issued in, empty for a single card
	// ErasedAt is when the holder's personal data (Holder, BlockReason) was erased, by the
	// office or the retention job (docs/privacy.md); nil while it is kept.
	ErasedAt *time.Time
}

// Status returns the card's status at now.
func (c Card) Status(now time.Time) Status {
	switch {
	case c.BlockedAt != nil:
		return StatusBlocked
	case c.ActivatedAt != nil && c.ExpiresAt != nil:
		if !now.Before(*c.ExpiresAt) {
			return StatusExpired
		}
		return StatusActive
	case !now.Before(c.ActivateBy):
		return StatusExpired
	default:
		return StatusIssued
	}
}

// Usable returns nil if the card may be used at now, else ErrBlocked or ErrExpired.
func (c Card) Usable(now time.Time) error {
	switch c.Status(now) {
	case StatusBlocked:
		return ErrBlocked
	case StatusExpired:
		return ErrExpired
	}
	return nil
}

// CheckSaleTime returns ErrNotYetIssued if a sale at at (an offline till's occurred_at) is
// dated before the card was issued: time cannot run backwards, whatever a till's clock says.
// A sale at IssuedAt itself is fine.
func (c Card) CheckSaleTime(at time.Time) error {
	if at.Before(c.IssuedAt) {
		return ErrNotYetIssued
	}
	return nil
}

// Activate marks the card as activated at now, if it is not yet, with the expiry the product
// gives. It reports whether it changed the card. Activation never precedes issue: a now
// before IssuedAt (a till's clock, another instance's clock) activates at IssuedAt, so the
// card's validity is never shortened by time before it existed.
func (c *Card) Activate(p Product, now time.Time, loc *time.Location) bool {
	if c.ActivatedAt != nil {
		return false
	}
	at := now.UTC()
	if at.Before(c.IssuedAt) {
		at = c.IssuedAt.UTC()
	}
	exp := p.ExpiresAt(at, loc)
	c.ActivatedAt, c.ExpiresAt = &at, &exp
	return true
}

// TimeLeft is how long the card remains valid at now: until expiry once active, until the
// activation deadline while issued, zero otherwise.
func (c Card) TimeLeft(now time.Time) time.Duration {
	switch c.Status(now) {
	case StatusActive:
		return c.ExpiresAt.Sub(now)
	case StatusIssued:
		return c.ActivateBy.Sub(now)
	}
	return 0
}

// NewCard builds a card of product p issued at now with a fresh random number. The caller
// sets ID and Token.
func NewCard(p Product, holder, lang string, now time.Time, loc *time.Location) (Card, error) {
	holder, err := CleanText("holder", holder, 200, false)
	if err != nil {
		return Card{}, err
	}
	if lang != "" && !ValidLang(lang) {
		return Card{}, fmt.Errorf("%w: lang must be one of sl, it, en, de", ErrInvalidInput)
	}
	num, err := NewNumber()
	if err != nil {
		return Card{}, err
	}
	now = now.UTC()
	return Card{
		Number: num, Product: p.Code, Holder: holder, Lang: lang,
		IssuedAt: now, ActivateBy: p.ActivateBy(now, loc),
	}, nil
}

// ActivationGrace is how long after its activation a card may be returned to not-yet-activated
// by voiding the redemption that activated it: a number mistyped at a till must not start a
// stranger's validity for good, but a card used for a while keeps its clock.
const ActivationGrace = 30 * time.Minute

// VoidUndoesActivation reports whether voiding, at now, a redemption made at usedAt returns the
// card to not-yet-activated. It does when that redemption activated the card (the card's
// activation is the moment of that redemption), the void comes at most ActivationGrace after
// the activation, and the card has no other live (not voided) redemption: liveOthers counts
// them, the voided redemption excluded. Earlier voided redemptions do not count.
func VoidUndoesActivation(c Card, usedAt time.Time, liveOthers int, now time.Time) bool {
	if c.ActivatedAt == nil || !c.ActivatedAt.Equal(usedAt) || liveOthers > 0 {
		return false
	}
	return !now.Before(*c.ActivatedAt) && !now.After(c.ActivatedAt.Add(ActivationGrace))
}

// Deactivate returns the card to not-yet-activated: its validity starts again at its next use.
func (c *Card) Deactivate() { c.ActivatedAt, c.ExpiresAt = nil, nil }
