package main

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

//go:embed demo/koper.json
var demoJSON []byte

// demoData is the embedded Koper data set: the API's own request bodies, plus cards with
// redemptions placed in the past weeks.
type demoData struct {
	Products  []productRequest `json:"products"`
	Merchants []struct {
		Merchant merchantRequest `json:"merchant"`
		Offers   []offerRequest  `json:"offers"`
	} `json:"merchants"`
	Cards []struct {
		Product       string `json:"product"`
		Holder        string `json:"holder"`
		Lang          string `json:"lang"`
		IssuedDaysAgo int    `json:"issued_days_ago"`
		Redemptions   []struct {
			Merchant   int    `json:"merchant"`
			Offer      int    `json:"offer"`
			Amount     string `json:"amount"`
			DaysAgo    int    `json:"days_ago"`
			Time       string `json:"time"`
			Terminal   string `json:"terminal"`
			VoidReason string `json:"void_reason"`
		} `json:"redemptions"`
	} `json:"cards"`
}

// demoResult is what a newcomer needs to try the service.
type demoResult struct {
	MerchantName, MerchantKey, CardURL, CardNumber string
}

// loadDemo fills an empty database with the demo data set through the same validation as the
// API, with the clock set back to when each card was issued and used, and prints a merchant
// key and a card page to try.
func (s *server) loadDemo(ctx context.Context, stdout io.Writer) error {
	items, _, err := s.db.Products(ctx, "", storage.Page{Limit: 1})
	if err != nil {
		return err
	}
	if len(items) > 0 {
		fmt.Fprintln(stdout, "demo: the database already has data; not loading the demo set again")
		return nil
	}
	res, err := seedDemo(ctx, s.db, s.keys, s.db.TownCodes()[0], s.cardURL, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "demo: merchant %q, API key: %s\n", res.MerchantName, res.MerchantKey)
	fmt.Fprintf(stdout, "demo: an unused card, number %s: %s\n", card.FormatNumber(res.CardNumber), res.CardURL)
	fmt.Fprintf(stdout, "demo: web till %s/pos (merchant key), office console %s/admin (admin token)\n", s.cfg.PublicURL, s.cfg.PublicURL)
	return nil
}

// seedDemo writes the demo data set into town as it would stand at now.
func seedDemo(ctx context.Context, db *storage.DB, keys *card.Keyring, town string, cardURL func(town, token string) string, now time.Time) (demoResult, error) {
	var d demoData
	var res demoResult
	if err := decodeJSON(demoJSON, &d, false); err != nil {
		return res, err
	}
	loc := db.TownLoc(town)
	today := now.In(loc)
	at := func(daysAgo int, hhmm string) (time.Time, error) {
		t, err := time.Parse("15:04", hhmm)
		if err != nil {
			return t, fmt.Errorf("time %q: %w", hhmm, err)
		}
		return time.Date(today.Year(), today.Month(), today.Day()-daysAgo, t.Hour(), t.Minute(), 0, 0, loc), nil
	}
	var clock time.Time
	db.SetClock(func() time.Time { return clock })
	defer db.SetClock(nil)

	clock = now.AddDate(0, 0, -60)
	for _, pr := range d.Products {
		p, err := pr.toProduct()
		p.Town = town
		if err == nil {
			err = db.CreateProduct(ctx, &p)
		}
		if err != nil {
			return res, fmt.Errorf("product %s: %w", pr.Code, err)
		}
	}
	var merchants []merchant.Merchant
	tillIsRestaurant := false
	var offers [][]merchant.Offer
	for i, dm := range d.Merchants {
		r := dm.Merchant
		m := merchant.Merchant{Town: town, Name: r.Name, Category: r.Category, Address: r.Address, Lat: r.Lat, Lon: r.Lon, Status: r.Status}
		key := newSecret("ccm")
		sum := sha256.Sum256([]byte(key))
		if err := db.CreateMerchant(ctx, &m, sum[:]); err != nil {
			return res, fmt.Errorf("merchant %s: %w", r.Name, err)
		}
		// The till of the README's walk-through: the first restaurant, else the first merchant.
		if i == 0 || (m.Category == "restaurant" && !tillIsRestaurant) {
			res.MerchantName, res.MerchantKey = m.Name, key
			tillIsRestaurant = m.Category == "restaurant"
		}
		merchants = append(merchants, m)
		var mo []merchant.Offer
		for _, or := range dm.Offers {
			o := merchant.Offer{MerchantID: m.ID}
			err := or.apply(&o)
			if err == nil {
				err = db.CreateOffer(ctx, town, &o)
			}
			if err != nil {
				return res, fmt.Errorf("offer of %s: %w", r.Name, err)
			}
			mo = append(mo, o)
		}
		offers = append(offers, mo)
	}
	for ci, dc := range d.Cards {
		t, err := at(dc.IssuedDaysAgo, "09:00")
		if err != nil {
			return res, err
		}
		clock = t
		cards, err := db.CreateCards(ctx, town, keys, dc.Product, 1, dc.Holder, dc.Lang)
		if err != nil {
			return res, fmt.Errorf("card %d: %w", ci, err)
		}
		c := cards[0]
		if len(dc.Redemptions) == 0 && res.CardURL == "" {
			res.CardURL, res.CardNumber = cardURL(town, c.Token), c.Number
		}
		for ri, dr := range dc.Redemptions {
			if dr.Merchant < 0 || dr.Merchant >= len(merchants) || dr.Offer < 0 || dr.Offer >= len(offers[dr.Merchant]) {
				return res, fmt.Errorf("card %d redemption %d: no such merchant or offer", ci, ri)
			}
			if clock, err = at(dr.DaysAgo, dr.Time); err != nil {
				return res, err
			}
			amount, err := parseMoney("amount", dr.Amount)
			if err != nil {
				return res, err
			}
			req := merchant.RedeemRequest{
				MerchantID: merchants[dr.Merchant].ID, CardInput: c.Token, OfferID: offers[dr.Merchant][dr.Offer].ID,
				Amount: amount, Terminal: dr.Terminal, IdempotencyKey: "demo-" + strconv.Itoa(ci) + "-" + strconv.Itoa(ri),
			}
			r, _, err := db.Redeem(ctx, req, card.Ref{Number: c.Number, FromToken: true})
			if err != nil {
				return res, fmt.Errorf("card %d redemption %d: %w", ci, ri, err)
			}
			if dr.VoidReason != "" {
				clock = clock.Add(3 * time.Minute)
				if _, err := db.Void(ctx, town, r.ID, r.MerchantID, dr.VoidReason); err != nil {
					return res, fmt.Errorf("card %d void %d: %w", ci, ri, err)
				}
			}
		}
	}
	return res, nil
}
