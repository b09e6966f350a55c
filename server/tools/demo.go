package tools

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/json"
	"fmt"
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
		CardName  map[string]string `json:"card_name"`
		Color     string            `json:"color"`
		// Privacy is the controller its privacy notice names; Ptuj's is left empty, so the
		// demo shows a notice not filled in and the console's note about it.
		Privacy storage.TownPrivacy `json:"privacy"`
	} `json:"town"`
	Products  []json.RawMessage `json:"products"`
	Merchants []struct {
		Merchant json.RawMessage   `json:"merchant"`
		Offers   []json.RawMessage `json:"offers"`
	} `json:"merchants"`
	Cards []demoCard `json:"cards"`
}

// demoNetworkData is the network's file: network products and cards used across towns.
type demoNetworkData struct {
	Products []json.RawMessage `json:"products"`
	Cards    []demoCard        `json:"cards"`
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

// DemoResult is what a newcomer needs to try the service: per town an office token, a
// merchant key and an unused card; and an unused network card. The first town's merchant and
// card are also at the top level (the README's walk-through uses them).
type DemoResult struct {
	MerchantName, MerchantKey, CardURL, CardNumber string
	Towns                                          []DemoTown
	NetworkCardURL, NetworkCardNumber              string
}

// DemoTown is what the demo prints for one town: its code and Slovene name, its office
// token, the merchant of the README's walk-through and its API key, and an unused card.
type DemoTown struct {
	Code, Name, OfficeToken   string
	MerchantName, MerchantKey string
	CardURL, CardNumber       string
}

// Demo is what SeedDemo writes with and through.
type Demo struct {
	DB        *storage.DB   // a database with one town (the deployment's) and no data yet
	Keys      *card.Keyring // signs the cards' tokens
	PublicURL string        // the public URL of the towns it creates
	// CardURL is a card's page, the one its QR code holds.
	CardURL func(town, token string) string
	API     DemoAPI
}

// DemoAPI is the service's own reading of the API's request bodies, which the demo data set
// is made of: the demo goes through the same validation as the API.
type DemoAPI struct {
	// Product reads a product's create body; the product's Towns are the codes it names.
	Product func(body []byte) (card.Product, error)
	// Merchant reads a merchant's create body.
	Merchant func(body []byte) (merchant.Merchant, error)
	// Offer reads an offer's create body into o.
	Offer func(body []byte, o *merchant.Offer) error
	// Money reads an amount in euros ("12.30") into cents; field names it in the error.
	Money func(field, s string) (int64, error)
	// NewSecret makes a new secret with the prefix: ccm for a merchant key, cco for an
	// office token.
	NewSecret func(prefix string) string
}

// SeedDemo writes the demo data set as it would stand at now: the deployment's town becomes
// Koper (Slovene and Italian), Ptuj is created (its public URL d.PublicURL), then the network
// product, each town's products, merchants, offers and cards, the network cards with their
// redemptions in both towns, and an office token per town. It sets d.DB's clock back as it
// goes and leaves the real clock behind. It fails on a database with more than one town, and
// with the first write the storage or the API's validation refuses.
func SeedDemo(ctx context.Context, d Demo, now time.Time) (DemoResult, error) {
	db, keys, publicURL, cardURL, api := d.DB, d.Keys, d.PublicURL, d.CardURL, d.API
	var res DemoResult
	files := make([]demoTownData, len(demoTowns))
	for i, name := range demoTowns {
		b, err := demoFS.ReadFile("demo/" + name + ".json")
		if err == nil {
			err = decodeStrict(b, &files[i])
		}
		if err != nil {
			return res, fmt.Errorf("demo/%s.json: %w", name, err)
		}
	}
	var network demoNetworkData
	b, err := demoFS.ReadFile("demo/network.json")
	if err == nil {
		err = decodeStrict(b, &network)
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
				t.Name, t.Languages, t.CardName, t.Color, t.Privacy = f.Town.Name, f.Town.Languages, f.Town.CardName, f.Town.Color, f.Town.Privacy
				return nil
			}); err != nil {
				return res, fmt.Errorf("town %s: %w", own[0], err)
			}
			continue
		}
		t := storage.Town{Code: f.Town.Code, Name: f.Town.Name, Timezone: f.Town.Timezone, Languages: f.Town.Languages, PublicURL: publicURL,
			CardName: f.Town.CardName, Color: f.Town.Color, Privacy: f.Town.Privacy}
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
		p, err := api.Product(pr)
		if err != nil {
			return res, fmt.Errorf("product %s: %w", p.Code, err)
		}
		named := p.Towns
		p.Towns = make([]string, len(named))
		for i, t := range named {
			if p.Towns[i], err = townOf(t); err != nil {
				return res, fmt.Errorf("product %s: %w", p.Code, err)
			}
		}
		if err := db.CreateProduct(ctx, &p); err != nil {
			return res, fmt.Errorf("product %s: %w", p.Code, err)
		}
	}

	merchants := map[string][]merchant.Merchant{}
	offers := map[string][][]merchant.Offer{}
	for _, f := range files {
		town := code[f.Town.Code]
		tr := DemoTown{Code: town, Name: f.Town.Name["sl"]}
		clock = now.AddDate(0, 0, -60)
		for _, pr := range f.Products {
			p, err := api.Product(pr)
			if err == nil {
				p.Town, p.Towns = town, []string{town}
				err = db.CreateProduct(ctx, &p)
			}
			if err != nil {
				return res, fmt.Errorf("product %s: %w", p.Code, err)
			}
		}
		tillIsRestaurant := false
		for i, dm := range f.Merchants {
			m, err := api.Merchant(dm.Merchant)
			if err != nil {
				return res, fmt.Errorf("merchant %s: %w", m.Name, err)
			}
			m.Town = town
			key := api.NewSecret("ccm")
			sum := sha256.Sum256([]byte(key))
			if err := db.CreateMerchant(ctx, &m, sum[:]); err != nil {
				return res, fmt.Errorf("merchant %s: %w", m.Name, err)
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
				err := api.Offer(or, &o)
				if err == nil {
					err = db.CreateOffer(ctx, town, &o)
				}
				if err != nil {
					return res, fmt.Errorf("offer of %s: %w", m.Name, err)
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
				amount, err := api.Money("amount", dr.Amount)
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
		tok := api.NewSecret("cco")
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
