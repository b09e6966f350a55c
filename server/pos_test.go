package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

func TestPosCheck(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	type check struct {
		Card   map[string]any   `json:"card"`
		Offers []offerStateJSON `json:"offers"`
	}
	reasons := func(c check) map[string]string {
		out := map[string]string{}
		for _, o := range c.Offers {
			r := ""
			if o.Reason != nil {
				r = *o.Reason
			}
			if o.Available != (o.Reason == nil) {
				t.Fatalf("offer %s: available %v with reason %v", o.ID, o.Available, r)
			}
			out[o.ID] = r
		}
		return out
	}
	spaced := card.FormatNumber(w.used.Number)
	for _, input := range []string{w.used.Token, testPublicURL + "/c/" + w.used.Token, "http://other.example/c/" + w.used.Token + "?lang=it", spaced, w.used.Number, " " + spaced + " "} {
		var c check
		ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, input), asKey(w.keyA), &c)
		if c.Card["number"] != w.used.Number || c.Card["status"] != "active" || c.Card["product"] != "koper-72h" || c.Card["expires_at"] == nil {
			t.Fatalf("check %q: card %v", input, c.Card)
		}
		if _, ok := c.Card["holder"]; ok {
			t.Fatalf("a till sees the holder")
		}
		// Merchant A's active offers only; the switched-off one is not listed.
		got := reasons(c)
		want := map[string]string{w.once.ID: "limit_reached", w.unlimited.ID: "", w.minAmount.ID: "",
			w.outOfSeason.ID: "offer_inactive", w.resident.ID: "offer_not_eligible"}
		if len(got) != len(want) {
			t.Fatalf("check %q: offers %v, want %v", input, got, want)
		}
		for id, r := range want {
			if got[id] != r {
				t.Fatalf("check %q: offer %s reason %q, want %q", input, id, got[id], r)
			}
		}
	}
	// Merchant B sees its own offer only, already used.
	var c check
	ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.used.Token), asKey(w.keyB), &c)
	if got := reasons(c); len(got) != 1 || got[w.offerB.ID] != "limit_reached" {
		t.Fatalf("merchant B's check: %v", got)
	}
	// Card states show in every offer's reason.
	ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.blocked.Token), asKey(w.keyA), &c)
	for id, r := range reasons(c) {
		if r != "card_blocked" {
			t.Fatalf("blocked card, offer %s: reason %q", id, r)
		}
	}
	if c.Card["status"] != "blocked" {
		t.Fatalf("blocked card's status %v", c.Card["status"])
	}
	ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.expired.Token), asKey(w.keyA), &c)
	for id, r := range reasons(c) {
		if r != "card_expired" {
			t.Fatalf("expired card, offer %s: reason %q", id, r)
		}
	}
	// A check changes nothing: the fresh card stays issued.
	ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.fresh.Token), asKey(w.keyA), &c)
	if c.Card["status"] != "issued" || c.Card["activated_at"] != nil {
		t.Fatalf("fresh card %v", c.Card)
	}
}

func TestPosQuote(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	ten := ts.mustOffer(m.ID, "Ten", `"kind":"percent","value":"10","limit":"once","municipal_share":"50"`)
	price := ts.mustOffer(m.ID, "Price", `"kind":"price","value":"14.00","limit":"once"`)
	capped := ts.mustOffer(m.ID, "Capped", `"kind":"free","max_discount":"3.50","limit":"once","municipal_share":"12.5"`)
	c := ts.mustCard("koper-72h", "", "")

	tests := []struct {
		offer, amount                   string
		discount, total, municipalShare string
	}{
		{ten.ID, "23.45", "2.35", "21.10", "1.18"}, // 2.345 and 1.175 round half away from zero
		{ten.ID, "0.05", "0.01", "0.04", "0.01"},
		{ten.ID, "0.04", "0.00", "0.04", "0.00"},
		{ten.ID, "1000000", "100000.00", "900000.00", "50000.00"},
		{price.ID, "22", "8.00", "14.00", "0.00"},
		{price.ID, "12.00", "0.00", "12.00", "0.00"}, // never below zero
		{capped.ID, "5.00", "3.50", "1.50", "0.44"},  // 3.50 × 12.5 % = 0.4375
		{capped.ID, "2.5", "2.50", "0.00", "0.31"},   // 0.3125
	}
	for _, tt := range tests {
		var q quoteJSON
		ts.must(200, "POST", "/api/v1/pos/quote", redeemBody(c.Token, tt.offer, tt.amount), asKey(key), &q)
		want := quoteJSON{formatMoney(mustCents(t, tt.amount)), tt.discount, tt.total, tt.municipalShare}
		if q != want {
			t.Errorf("quote %s of %s: %+v, want %+v", tt.offer, tt.amount, q, want)
		}
	}
	// Quotes record nothing: the card is unused and the once offer still available.
	var got cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, &got)
	if got.Status != card.StatusIssued || len(*got.Redemptions) != 0 {
		t.Fatalf("card after quotes: %+v", got)
	}
	r := ts.mustRedeem(key, c.Token, ten.ID, "23.45", "k1")
	if r.Amount != "23.45" || r.Discount != "2.35" || r.Total != "21.10" || r.MunicipalShare != "1.18" {
		t.Fatalf("redemption %+v disagrees with its quote", r)
	}
	// Now the quote gets the error the redemption would.
	wantError(t, ts.do("POST", "/api/v1/pos/quote", redeemBody(c.Token, ten.ID, "23.45"), asKey(key)), 409, "limit_reached")
}

func mustCents(t *testing.T, s string) int64 {
	t.Helper()
	c, err := parseMoney("amount", s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPosRedeemIdempotent(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	other, otherKey := ts.mustMerchant("Muzej", "museum")
	o := ts.mustOffer(m.ID, "Ten", `"kind":"percent","value":"10","limit":"unlimited","municipal_share":"50"`)
	oo := ts.mustOffer(other.ID, "Free", `"kind":"free","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "")

	first := ts.redeem(key, c.Token, o.ID, "23.45", "till-1-0001")
	if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %v %s", first.status, first.header, first.body)
	}
	var r redemptionJSON
	if err := json.Unmarshal(first.body, &r); err != nil {
		t.Fatal(err)
	}
	if r.ID == "" || r.CardNumber != c.Number || r.MerchantID != m.ID || r.OfferID != o.ID || r.Terminal != "till-1" ||
		r.Status != "completed" || r.CreatedAt != "2026-10-15T10:00:00Z" || r.VoidedAt != nil || r.VoidReason != nil {
		t.Fatalf("redemption %+v", r)
	}
	// A retry later, after a void, still gets the original answer.
	ts.clock.Set(testNow.Add(5 * time.Minute))
	ts.must(200, "POST", "/api/v1/pos/redemptions/"+r.ID+"/void", `{"reason":"test"}`, asKey(key), nil)
	for i := 0; i < 2; i++ {
		again := ts.redeem(key, c.Token, o.ID, "23.45", "till-1-0001")
		if again.status != 201 || again.header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %v %s", again.status, again.header, again.body)
		}
		if !bytes.Equal(again.body, first.body) {
			t.Fatalf("replay body\n%s\nwant\n%s", again.body, first.body)
		}
	}
	// The key is the merchant's: another merchant may use the same one.
	ts.mustRedeem(otherKey, c.Token, oo.ID, "5.00", "till-1-0001")
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions?card="+c.ID, "", asAdmin, &list)
	if len(list.Items) != 2 {
		t.Fatalf("%d redemptions recorded, want 2: %+v", len(list.Items), list.Items)
	}
	// A failed redemption binds no key: the same key works once the error is fixed.
	wantError(t, ts.redeem(key, c.Token, "off_nope", "5.00", "till-1-0002"), 404, "offer_not_found")
	ts.mustRedeem(key, c.Token, o.ID, "5.00", "till-1-0002")
}

// TestPosRedeemConcurrentOnce sends one card's once offer from 50 tills at the same moment.
func TestPosRedeemConcurrentOnce(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Once", `"kind":"free","limit":"once"`)
	c := ts.mustCard("koper-72h", "", "")

	statuses := raceRedeemHTTP([]*testServer{ts}, 50, key, c.Token, o.ID, "7.00", func(i int) string { return "key-" + strconv.Itoa(i) })
	created := 0
	for _, resp := range statuses {
		switch resp.status {
		case 201:
			created++
		case 409:
			wantError(t, resp, 409, "limit_reached")
		default:
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
	}
	if created != 1 {
		t.Fatalf("%d redemptions succeeded, want exactly 1", created)
	}
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions?card="+c.ID, "", asAdmin, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d redemptions recorded, want 1", len(list.Items))
	}
}

// TestPosRedeemConcurrentRetries sends the same redemption with the same Idempotency-Key
// from 20 goroutines, as a till retrying on a flaky network: one is recorded, every answer is
// its 201.
func TestPosRedeemConcurrentRetries(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Unlimited", `"kind":"percent","value":"10","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "")

	const n = 20
	resps := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i] = ts.redeem(key, c.Token, o.ID, "12.00", "retry-1")
		}()
	}
	close(start)
	wg.Wait()
	replayed := 0
	for _, r := range resps {
		if r.status != 201 || !bytes.Equal(r.body, resps[0].body) {
			t.Fatalf("status %d body %s, want 201 %s", r.status, r.body, resps[0].body)
		}
		if r.header.Get("Idempotent-Replayed") == "true" {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Fatalf("%d answers marked replayed, want %d", replayed, n-1)
	}
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions?card="+c.ID, "", asAdmin, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d redemptions recorded, want 1", len(list.Items))
	}
}
