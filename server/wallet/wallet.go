// Package wallet makes the card's passes for the phone's wallets and tells the wallets when
// a card changes (docs/wallet.md): Apple Wallet's signed .pkpass files and APNs pushes, Google
// Wallet's "save" links (an RS256 JWT holding the object) and object updates through the
// Wallet REST API. It holds the certificates and keys and knows the formats; it has no Fiber
// and no storage: a handler hands it a Pass built from the card, and the server's worker
// hands it what the outbox holds.
package wallet

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ErrExpired is a certificate whose validity is over.
var ErrExpired = errors.New("certificate expired")

// WarnBefore is how long before a certificate's expiry the service warns about it.
const WarnBefore = 30 * 24 * time.Hour

// Pass is what a card's pass shows, in every language, built by the handler from the card,
// its town, its product and its benefits.
type Pass struct {
	Serial      string // the card id
	Number      string // the card number, shown under the QR code
	QR          string // the URL in the card's QR code (its page)
	Color       string // the town's colour, #rrggbb
	Voided      bool   // blocked or expired
	State       string // issued, active, blocked, expired
	ExpiresAt   *time.Time
	ActivateBy  time.Time
	ValidFrom   *time.Time // activation, once known
	Origin      string     // the town's public URL
	WebService  string     // Apple: {public_url}/wallet
	AuthToken   string     // Apple: the per-pass authentication token
	ProductCode string
	// Langs are the languages of the pass, the town's own first; Text holds each one's
	// strings by key (the TextKeys).
	Langs []string
	Text  map[string]map[string]string
}

// The keys of a Pass's Text: what the pass shows, in each language.
const (
	TextCardName    = "card_name"    // the town's card name
	TextDescription = "description"  // what the pass is ("Koper Card 72 h")
	TextProduct     = "product"      // label
	TextProductName = "product_name" // the product's name
	TextNumber      = "number"       // label
	TextValidUntil  = "valid_until"  // label
	TextActivateBy  = "activate_by"  // label
	TextStatus      = "status"       // label
	TextStatusValue = "status_value" // the card's status
	TextBenefits    = "benefits"     // label
	TextBenefitList = "benefit_list" // the benefits' summary, one a line
)

// text is p's string key in lang, else in its first language.
func (p Pass) text(lang, key string) string {
	if s := p.Text[lang][key]; s != "" {
		return s
	}
	if len(p.Langs) > 0 {
		return p.Text[p.Langs[0]][key]
	}
	return ""
}

// CheckCertificate refuses an expired certificate; it returns a warning (else "") when it
// expires within WarnBefore.
func CheckCertificate(what string, c *x509.Certificate, now time.Time) (warning string, err error) {
	if !now.Before(c.NotAfter) {
		return "", fmt.Errorf("%s %q: %w on %s", what, c.Subject.CommonName, ErrExpired, c.NotAfter.UTC().Format(time.DateOnly))
	}
	if c.NotAfter.Sub(now) < WarnBefore {
		return fmt.Sprintf("%s %q expires on %s (in %d days): renew it (docs/wallet.md)", what, c.Subject.CommonName,
			c.NotAfter.UTC().Format(time.DateOnly), int(c.NotAfter.Sub(now).Hours()/24)), nil
	}
	return "", nil
}
