package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/tools"
	"github.com/citycard/citycard/storage"
)

// loadDemo fills an empty database with the demo data set through the same validation as the
// API, with the clock set back to when each card was issued and used, and prints the secrets
// and pages to try it with.
// networkToken is the admin token when this start made it (else it is not known here).
func (s *server) loadDemo(ctx context.Context, stdout io.Writer, networkToken string) error {
	for _, town := range s.db.TownCodes() {
		items, _, err := s.db.Products(ctx, town, storage.Page{Limit: 1})
		if err != nil {
			return err
		}
		if len(items) > 0 {
			fmt.Fprintln(stdout, "demo: the database already has data; not loading the demo set again")
			return nil
		}
	}
	res, err := seedDemo(ctx, s.db, s.keys, s.cfg.PublicURL, s.cardURL, time.Now())
	if err != nil {
		return err
	}
	if networkToken != "" {
		fmt.Fprintf(stdout, "demo: network admin token (every town; name one with the Citycard-Town header): %s\n", networkToken)
	} else {
		fmt.Fprintln(stdout, "demo: network admin token: the admin token (CITYCARD_ADMIN_TOKEN or the one printed on first start)")
	}
	for _, t := range res.Towns {
		fmt.Fprintf(stdout, "demo: %s (town %s): office token: %s\n", t.Name, t.Code, t.OfficeToken)
		fmt.Fprintf(stdout, "demo: %s: merchant %q, API key: %s\n", t.Name, t.MerchantName, t.MerchantKey)
		fmt.Fprintf(stdout, "demo: %s: an unused card, number %s: %s\n", t.Name, card.FormatNumber(t.CardNumber), t.CardURL)
		if t.SalesPointToken != "" {
			fmt.Fprintf(stdout, "demo: %s: sales point %q, secret: %s (counter page %s/sell)\n", t.Name, t.SalesPointName, t.SalesPointToken, s.cfg.PublicURL)
		}
	}
	fmt.Fprintf(stdout, "demo: an unused network card (accepted in every demo town), number %s: %s\n", card.FormatNumber(res.NetworkCardNumber), res.NetworkCardURL)
	fmt.Fprintf(stdout, "demo: web till %s/pos (merchant key), office console %s/admin (network or office token)\n", s.cfg.PublicURL, s.cfg.PublicURL)
	return nil
}

// seedDemo writes the demo data set as it would stand at now (tools.SeedDemo) through the
// API's own validation of its request bodies.
func seedDemo(ctx context.Context, db *storage.DB, keys *card.Keyring, publicURL string, cardURL func(town, token string) string, now time.Time) (tools.DemoResult, error) {
	return tools.SeedDemo(ctx, tools.Demo{DB: db, Keys: keys, PublicURL: publicURL, CardURL: cardURL, API: demoAPI}, now)
}

// demoAPI reads the demo's request bodies as the create handlers do.
var demoAPI = tools.DemoAPI{
	Product: func(body []byte) (card.Product, error) {
		var r productRequest
		if err := decodeJSON(body, &r, false); err != nil {
			return card.Product{}, err
		}
		p, err := r.toProduct()
		p.Towns = r.Towns
		return p, err
	},
	Merchant: func(body []byte) (merchant.Merchant, error) {
		var r merchantRequest
		err := decodeJSON(body, &r, false)
		return merchant.Merchant{Name: r.Name, Category: r.Category, Address: r.Address, TaxNumber: r.TaxNumber, IBAN: r.IBAN,
			Lat: r.Lat, Lon: r.Lon, Status: r.Status}, err
	},
	Offer: func(body []byte, o *merchant.Offer) error {
		var r offerRequest
		if err := decodeJSON(body, &r, false); err != nil {
			return err
		}
		return r.apply(o)
	},
	Money:      parseMoney,
	NewSecret:  newSecret,
	SalesPoint: readSalesPoint,
}
