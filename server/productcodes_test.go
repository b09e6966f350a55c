package main

import (
	"testing"
	"time"
)

// Product codes are unique per town (issue 17): koper and ptuj each create a product `72h`
// (different ones: 72 and 24 hours), each issues and redeems its own, and every figure keeps
// them apart: a card's product is the one its town sees by that code (its validity, where it
// is accepted), in the towns' reports, statements and the network report. A code a town
// already sees, its own or a network product's accepting it, is 409 already_exists, for an
// office as for the network admin.
func TestProductCodesPerTown(t *testing.T) {
	e := newTownsEnv(t)
	product := func(hours, price, towns string) string {
		b := `{"code":"72h","name":{"sl":"Kartica"},"validity_hours":` + hours + `,"price":"` + price + `","audience":"tourist"`
		if towns != "" {
			b += `,"towns":` + towns
		}
		return b + `}`
	}
	var pk, pp productJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("72", "25.00", "")}, &pk)
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.officeP, body: product("24", "10.00", "")}, &pp)
	if pk.Town != "koper" || pp.Town != "ptuj" || pk.ValidityHours == nil || *pk.ValidityHours != 72 || pp.ValidityHours == nil || *pp.ValidityHours != 24 {
		t.Fatalf("products: koper %+v, ptuj %+v", pk, pp)
	}
	// Each town lists its own 72h only; the network admin without a town sees both.
	for _, tc := range []struct {
		secret, price string
	}{{e.officeK, "25.00"}, {e.officeP, "10.00"}} {
		var list struct {
			Items []productJSON `json:"items"`
		}
		e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/products", secret: tc.secret}, &list)
		n := 0
		for _, p := range list.Items {
			if p.Code == "72h" {
				n++
				if p.Price != tc.price {
					t.Errorf("a town's 72h costs %s, want %s", p.Price, tc.price)
				}
			}
		}
		if n != 1 {
			t.Errorf("a town lists %d products 72h, want 1: %+v", n, list.Items)
		}
	}
	// A code taken in a town that would see the product: 409.
	e.call(t, 409, "already_exists", secReq{method: "POST", path: "/api/v1/products", secret: e.officeK, body: product("48", "1.00", "")}, nil)
	e.call(t, 409, "already_exists", secReq{method: "POST", path: "/api/v1/products", secret: e.admin, body: product("48", "1.00", `["ptuj"]`)}, nil)
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.admin,
		body: `{"code":"net","name":{"sl":"Mreža"},"validity_days":7,"price":"5.00","audience":"tourist","towns":["koper","ptuj"]}`}, nil)
	e.call(t, 409, "already_exists", secReq{method: "POST", path: "/api/v1/products", secret: e.officeP,
		body: `{"code":"net","name":{"sl":"Ptuj"},"validity_days":7,"price":"5.00","audience":"tourist"}`}, nil)

	// Each office issues a card of its own 72h.
	var ck, cp cardJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeK, body: `{"product":"72h"}`}, &ck)
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"72h"}`}, &cp)
	if ck.Town != "koper" || cp.Town != "ptuj" || ck.Product != "72h" || cp.Product != "72h" {
		t.Fatalf("cards: %+v, %+v", ck, cp)
	}
	redeem := func(key, token, offer, amount, idem string, want int, code string) {
		t.Helper()
		e.call(t, want, code, secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: key,
			header: map[string]string{"Idempotency-Key": idem},
			body:   `{"card":"` + token + `","offer_id":"` + offer + `","amount":"` + amount + `"}`}, nil)
	}
	// Koper's card is not accepted in ptuj, ptuj's not in koper, though ptuj has a 72h.
	redeem(e.keyP, ck.Token, e.offerP.ID, "5.00", "x1", 422, "card_not_accepted")
	redeem(e.keyA, cp.Token, e.offerA.ID, "5.00", "x2", 422, "card_not_accepted")
	redeem(e.keyA, ck.Token, e.offerA.ID, "10.00", "k1", 201, "")
	redeem(e.keyP, cp.Token, e.offerP.ID, "20.00", "p1", 201, "")
	// Each card got its own product's validity.
	now := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		secret, id string
		hours      int
	}{{e.officeK, ck.ID, 72}, {e.officeP, cp.ID, 24}} {
		var c cardJSON
		e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/cards/" + tc.id, secret: tc.secret}, &c)
		if c.ExpiresAt == nil {
			t.Fatalf("card %+v not activated", c)
		}
		if exp, err := time.Parse(time.RFC3339, *c.ExpiresAt); err != nil || !exp.Equal(now.Add(time.Duration(tc.hours)*time.Hour)) {
			t.Errorf("card of %s expires %s, want %d hours after its use", c.Town, *c.ExpiresAt, tc.hours)
		}
	}
	// An offer of ptuj limited to 72h is ptuj's 72h.
	var limited offerJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/merchants/" + e.merchP.ID + "/offers", secret: e.officeP,
		body: `{"title":{"sl":"72h"},"kind":"percent","value":"20","limit":"unlimited","products":["72h"]}`}, &limited)
	redeem(e.keyP, cp.Token, limited.ID, "30.00", "p2", 201, "")

	// Reports: each town's 72h line has its own redemptions only.
	for _, tc := range []struct {
		secret, amount string
		n              int
	}{{e.officeK, "10.00", 1}, {e.officeP, "50.00", 2}} {
		var rep reportJSON
		e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10", secret: tc.secret}, &rep)
		found := false
		for _, l := range rep.Products {
			if l.Product == "72h" {
				found = true
				if l.Redemptions != tc.n || l.Amount != tc.amount || l.CardsUsed != 1 {
					t.Errorf("72h in a town's report: %+v, want %d redemptions of %s by one card", l, tc.n, tc.amount)
				}
			}
		}
		if !found {
			t.Errorf("no 72h line in %+v", rep.Products)
		}
		// Statements: a town's items are its own card's.
		var st statementsJSON
		e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/statements?month=2026-10", secret: tc.secret}, &st)
		n := 0
		for _, s := range st.Statements {
			for _, it := range s.Items {
				if it.CardNumber == ck.Number || it.CardNumber == cp.Number {
					n++
					if (it.CardNumber == ck.Number) != (it.Town == "koper") || it.CardTown != it.Town {
						t.Errorf("statement item %+v in the wrong town", it)
					}
				}
			}
		}
		if n != tc.n {
			t.Errorf("statements list %d items of the 72h cards, want %d", n, tc.n)
		}
	}
	// The network report: each town's own, no clearing between them for these cards.
	var nr networkReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2026-10", secret: e.admin}, &nr)
	for _, c := range nr.Clearing {
		if c.Issuer != c.Acceptor {
			t.Errorf("clearing between towns: %+v", c)
		}
		if c.Issuer == "ptuj" && (c.Amount != "50.00" || c.Redemptions != 2) {
			t.Errorf("ptuj→ptuj: %+v, want its 2 redemptions of 50.00", c)
		}
	}
	for _, tt := range nr.Towns {
		if tt.Town == "ptuj" && tt.Totals.Amount != "50.00" {
			t.Errorf("ptuj in the network report: %+v", tt)
		}
	}
}
