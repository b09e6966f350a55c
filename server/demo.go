package main

import (
	"context"
	"crypto/sha256"
	"embed"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// demoFS holds the demo data set: one file per town (koper.json, ptuj.json) and the network's
// (network.json), each made of the API's own request bodies plus cards with redemptions placed
// in the past weeks.
//
//go:embed demo/*.json
var demoFS embed.FS

// demoTowns are the demo's towns in the order they are seeded; the first is the deployment's
// own town (whatever its configured code), the others are created.
var demoTowns = []string{"koper", "ptuj"}

// demoTownData is one town's file.
type demoTownData struct {
	Town struct {
		Code      string            `json:"code"`
		Name      map[string]string `json:"name"`
		Timezone  string            `json:"timezone"`
		Languages []string          `json:"languages"`
	} `json:"town"`
	Products  []productRequest `json:"products"`
	Merchants []struct {
		Merchant merchantRequest `json:"merchant"`
		Offers   []offerRequest  `json:"offers"`
	} `json:"merchants"`
	Cards []demoCard `json:"cards"`
}

// demoNetworkData is the network's file: network products and cards used across towns.
type demoNetworkData struct {
	Products []productRequest `json:"products"`
	Cards    []demoCard       `json:"cards"`
}

// demoCard is a card issued issued_days_ago by town (the file's town when empty) and its
// redemptions; a redemption's merchant and offer are indexes into its town's file.
type demoCard struct {
	Town          string `json:"town"`
	Product       string `json:"product"`
	Holder        string `json:"holder"`
	Lang          string `json:"lang"`
	IssuedDaysAgo int    `json:"issued_days_ago"`
	Redemptions   []struct {
		Town       string `json:"town"`
		Merchant   int    `json:"merchant"`
		Offer      int    `json:"offer"`
		Amount     string `json:"amount"`
		DaysAgo    int    `json:"days_ago"`
		Time       string `json:"time"`
		Terminal   string `json:"terminal"`
		VoidReason string `json:"void_reason"`
	} `json:"redemptions"`
}

// demoResult is what a newcomer needs to try the service: per town an office token, a
// merchant key and an unused card; and an unused network card. The first town's merchant and
// card are also at the top level (the README's walk-through uses them).
type demoResult struct {
	MerchantName, MerchantKey, CardURL, CardNumber string
	Towns                                          []demoTownResult
	NetworkCardURL, NetworkCardNumber              string
}

// demoTownResult is what the demo prints for one town.
type demoTownResult struct {
	Code, Name, OfficeToken   string
	MerchantName, MerchantKey string
	CardURL, CardNumber       string
}

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
	}
	fmt.Fprintf(stdout, "demo: an unused network card (accepted in every demo town), number %s: %s\n", card.FormatNumber(res.NetworkCardNumber), res.NetworkCardURL)
	fmt.Fprintf(stdout, "demo: web till %s/pos (merchant key), office console %s/admin (network or office token)\n", s.cfg.PublicURL, s.cfg.PublicURL)
	return nil
}

// seedDemo writes the demo data set as it would stand at now: the deployment's town becomes
// Koper (Slovene and Italian), Ptuj is created (its public URL publicURL), then the network
// product, each town's products, merchants, offers and cards, the network cards with their
// redemptions in both towns, and an office token per town.
func seedDemo(ctx context.Context, db *storage.DB, keys *card.Keyring, publicURL string, cardURL func(town, token string) string, now time.Time) (demoResult, error) {
	var res demoResult
	files := make([]demoTownData, len(demoTowns))
	for i, name := range demoTowns {
		b, err := demoFS.ReadFile("demo/" + name + ".json")
		if err == nil {
			err = decodeJSON(b, &files[i], false)
		}
		if err != nil {
			return res, fmt.Errorf("demo/%s.json: %w", name, err)
		}
	}
	var network demoNetworkData
	b, err := demoFS.ReadFile("demo/network.json")
	if err == nil {
		err = decodeJSON(b, &network, false)
	}
	if err != nil {
		return res, fmt.Errorf("demo/network.json: %w", err)
	}

	var clock time.Time
	db.SetClock(func() time.Time { return clock })
	defer db.SetClock(nil)
	clock = now.AddDate(0, 0, -60)

	// code maps a town's code in the files to its code here: the first is the deployment's own.
	own := db.TownCodes()
	if len(own) != 1 {
		return res, fmt.Errorf("the demo needs a database with one town, not %d", len(own))
	}
	code := map[string]string{files[0].Town.Code: own[0]}
	for i, f := range files {
		if i == 0 {
			if _, err := db.UpdateTown(ctx, own[0], func(t *storage.Town) error {
				t.Name, t.Languages = f.Town.Name, f.Town.Languages
				return nil
			}); err != nil {
				return res, fmt.Errorf("town %s: %w", own[0], err)
			}
			continue
		}
		t := storage.Town{Code: f.Town.Code, Name: f.Town.Name, Timezone: f.Town.Timezone, Languages: f.Town.Languages, PublicURL: publicURL}
		if err := db.CreateTown(ctx, &t); err != nil {
			return res, fmt.Errorf("town %s: %w", t.Code, err)
		}
		code[f.Town.Code] = t.Code
	}
	townOf := func(c string) (string, error) {
		if t, ok := code[c]; ok {
			return t, nil
		}
		return "", fmt.Errorf("no demo town %q", c)
	}

	// Network products first: the towns' offers may name them.
	for _, pr := range network.Products {
		p, err := pr.toProduct()
		if err != nil {
			return res, fmt.Errorf("product %s: %w", pr.Code, err)
		}
		p.Towns = make([]string, len(pr.Towns))
		for i, t := range pr.Towns {
			if p.Towns[i], err = townOf(t); err != nil {
				return res, fmt.Errorf("product %s: %w", pr.Code, err)
			}
		}
		if err := db.CreateProduct(ctx, &p); err != nil {
			return res, fmt.Errorf("product %s: %w", pr.Code, err)
		}
	}

	merchants := map[string][]merchant.Merchant{}
	offers := map[string][][]merchant.Offer{}
	for _, f := range files {
		town := code[f.Town.Code]
		tr := demoTownResult{Code: town, Name: f.Town.Name["sl"]}
		clock = now.AddDate(0, 0, -60)
		for _, pr := range f.Products {
			p, err := pr.toProduct()
			if err == nil {
				p.Town, p.Towns = town, []string{town}
				err = db.CreateProduct(ctx, &p)
			}
			if err != nil {
				return res, fmt.Errorf("product %s: %w", pr.Code, err)
			}
		}
		tillIsRestaurant := false
		for i, dm := range f.Merchants {
			r := dm.Merchant
			m := merchant.Merchant{Town: town, Name: r.Name, Category: r.Category, Address: r.Address, Lat: r.Lat, Lon: r.Lon, Status: r.Status}
			key := newSecret("ccm")
			sum := sha256.Sum256([]byte(key))
			if err := db.CreateMerchant(ctx, &m, sum[:]); err != nil {
				return res, fmt.Errorf("merchant %s: %w", r.Name, err)
			}
			// The till of the README's walk-through: the first restaurant, else the first merchant.
			if i == 0 || (m.Category == "restaurant" && !tillIsRestaurant) {
				tr.MerchantName, tr.MerchantKey = m.Name, key
				tillIsRestaurant = m.Category == "restaurant"
			}
			merchants[town] = append(merchants[town], m)
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
			offers[town] = append(offers[town], mo)
		}
		res.Towns = append(res.Towns, tr)
	}

	// seedCards issues each card in its town at its day and rings up its redemptions at their
	// merchants; it returns the first card without redemptions.
	seedCards := func(what, defaultTown string, cards []demoCard) (card.Card, error) {
		var unused card.Card
		for ci, dc := range cards {
			issuer := defaultTown
			if dc.Town != "" {
				if issuer, err = townOf(dc.Town); err != nil {
					return unused, err
				}
			}
			loc := db.TownLoc(issuer)
			if clock, err = demoTime(now, loc, dc.IssuedDaysAgo, "09:00"); err != nil {
				return unused, err
			}
			issued, err := db.CreateCards(ctx, issuer, keys, dc.Product, 1, dc.Holder, dc.Lang)
			if err != nil {
				return unused, fmt.Errorf("%s card %d: %w", what, ci, err)
			}
			c := issued[0]
			if len(dc.Redemptions) == 0 && unused.ID == "" {
				unused = c
			}
			for ri, dr := range dc.Redemptions {
				at := issuer
				if dr.Town != "" {
					if at, err = townOf(dr.Town); err != nil {
						return unused, err
					}
				}
				ms, os := merchants[at], offers[at]
				if dr.Merchant < 0 || dr.Merchant >= len(ms) || dr.Offer < 0 || dr.Offer >= len(os[dr.Merchant]) {
					return unused, fmt.Errorf("%s card %d redemption %d: no such merchant or offer", what, ci, ri)
				}
				if clock, err = demoTime(now, db.TownLoc(at), dr.DaysAgo, dr.Time); err != nil {
					return unused, err
				}
				amount, err := parseMoney("amount", dr.Amount)
				if err != nil {
					return unused, err
				}
				req := merchant.RedeemRequest{
					MerchantID: ms[dr.Merchant].ID, CardInput: c.Token, OfferID: os[dr.Merchant][dr.Offer].ID,
					Amount: amount, Terminal: dr.Terminal, IdempotencyKey: "demo-" + what + "-" + strconv.Itoa(ci) + "-" + strconv.Itoa(ri),
				}
				r, _, err := db.Redeem(ctx, req, card.Ref{Number: c.Number, FromToken: true})
				if err != nil {
					return unused, fmt.Errorf("%s card %d redemption %d: %w", what, ci, ri, err)
				}
				if dr.VoidReason != "" {
					clock = clock.Add(3 * time.Minute)
					if _, err := db.Void(ctx, at, r.ID, r.MerchantID, dr.VoidReason); err != nil {
						return unused, fmt.Errorf("%s card %d void %d: %w", what, ci, ri, err)
					}
				}
			}
		}
		return unused, nil
	}
	for i, f := range files {
		town := code[f.Town.Code]
		c, err := seedCards(town, town, f.Cards)
		if err != nil {
			return res, err
		}
		if c.ID != "" {
			res.Towns[i].CardURL, res.Towns[i].CardNumber = cardURL(c.Town, c.Token), c.Number
		}
	}
	c, err := seedCards("network", own[0], network.Cards)
	if err != nil {
		return res, err
	}
	if c.ID != "" {
		res.NetworkCardURL, res.NetworkCardNumber = cardURL(c.Town, c.Token), c.Number
	}

	// One office token per town, made now.
	clock = now
	for i := range res.Towns {
		tok := newSecret("cco")
		sum := sha256.Sum256([]byte(tok))
		if _, err := db.CreateOfficeToken(ctx, res.Towns[i].Code, "Demo office", sum[:]); err != nil {
			return res, fmt.Errorf("office token of %s: %w", res.Towns[i].Code, err)
		}
		res.Towns[i].OfficeToken = tok
	}
	first := res.Towns[0]
	res.MerchantName, res.MerchantKey, res.CardURL, res.CardNumber = first.MerchantName, first.MerchantKey, first.CardURL, first.CardNumber
	return res, nil
}

// demoTime is hh:mm on the day daysAgo days before now, in the town's zone loc.
func demoTime(now time.Time, loc *time.Location, daysAgo int, hhmm string) (time.Time, error) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil {
		return t, fmt.Errorf("time %q: %w", hhmm, err)
	}
	today := now.In(loc)
	return time.Date(today.Year(), today.Month(), today.Day()-daysAgo, t.Hour(), t.Minute(), 0, 0, loc), nil
}
