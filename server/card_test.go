package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

func TestCardCreate(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	var c map[string]any
	ts.must(201, "POST", "/api/v1/cards", `{"product":"koper-72h","holder":"Ana Novak","lang":"sl"}`, asAdmin, &c)
	for _, f := range []string{"id", "number", "product", "status", "holder", "lang", "issued_at", "activated_at", "expires_at", "activate_by", "token", "qr_url"} {
		if _, ok := c[f]; !ok {
			t.Errorf("card JSON has no %q: %v", f, c)
		}
	}
	number, token := c["number"].(string), c["token"].(string)
	if !card.ValidNumber(number) {
		t.Errorf("number %q is not 12 digits with a Luhn check digit", number)
	}
	if c["status"] != "issued" || c["holder"] != "Ana Novak" || c["lang"] != "sl" || c["activated_at"] != nil || c["expires_at"] != nil {
		t.Errorf("new card %v", c)
	}
	if got, want := c["qr_url"], testPublicURL+"/c/"+token; got != want {
		t.Errorf("qr_url %v, want %v", got, want)
	}
	if strings.ContainsAny(token, "+/=") || len(token) != card.TokenLen {
		t.Errorf("token %q is not URL-safe base64 of %d characters", token, card.TokenLen)
	}
	// Issued now, to be activated within 365 days.
	if got, want := c["issued_at"], "2026-10-15T10:00:00Z"; got != want {
		t.Errorf("issued_at %v, want %v", got, want)
	}
	if got, want := c["activate_by"], "2027-10-15T10:00:00Z"; got != want {
		t.Errorf("activate_by %v, want %v", got, want)
	}
}

func TestCardBatch(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-24h", 24, "tourist")
	for _, n := range []int{1, 1000} {
		var out struct {
			Cards []cardJSON `json:"cards"`
		}
		ts.must(201, "POST", "/api/v1/cards/batch", fmt.Sprintf(`{"product":"koper-24h","count":%d}`, n), asAdmin, &out)
		if len(out.Cards) != n {
			t.Fatalf("batch of %d gave %d cards", n, len(out.Cards))
		}
		numbers, tokens := map[string]bool{}, map[string]bool{}
		for _, c := range out.Cards {
			if c.Product != "koper-24h" || c.Holder == nil || *c.Holder != "" || c.Status != card.StatusIssued || !card.ValidNumber(c.Number) {
				t.Fatalf("batch card %+v", c)
			}
			numbers[c.Number], tokens[c.Token] = true, true
		}
		if len(numbers) != n || len(tokens) != n {
			t.Fatalf("batch of %d has %d distinct numbers and %d distinct tokens", n, len(numbers), len(tokens))
		}
	}
	var list listBody[cardJSON]
	ts.must(200, "GET", "/api/v1/cards?limit=500", "", asAdmin, &list)
	if len(list.Items) != 500 || list.NextCursor == nil {
		t.Fatalf("first page of 1001 cards: %d items, cursor %v", len(list.Items), list.NextCursor)
	}
}

func TestCardGetWithRedemptions(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"price","value":"1.00","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "")
	r1 := ts.mustRedeem(key, c.Token, o.ID, "2.40", "a")
	ts.clock.Set(testNow.Add(time.Hour))
	r2 := ts.mustRedeem(key, c.Token, o.ID, "2.40", "b")

	var got cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, &got)
	if got.Status != card.StatusActive || got.ActivatedAt == nil || *got.ActivatedAt != "2026-10-15T10:00:00Z" ||
		got.ExpiresAt == nil || *got.ExpiresAt != "2026-10-18T10:00:00Z" {
		t.Fatalf("card after use: %+v", got)
	}
	if got.Redemptions == nil || len(*got.Redemptions) != 2 {
		t.Fatalf("redemptions %+v", got.Redemptions)
	}
	reds := *got.Redemptions
	if reds[0].ID != r2.ID || reds[1].ID != r1.ID || reds[0].Discount != "1.40" || reds[0].Total != "1.00" || reds[0].CardNumber != c.Number {
		t.Fatalf("redemptions %+v", reds)
	}
}

func TestCardBlockUnblock(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"price","value":"1.00","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "")

	var got cardJSON
	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", `{"reason":"lost"}`, asAdmin, &got)
	if got.Status != card.StatusBlocked || got.BlockReason != "lost" {
		t.Fatalf("blocked card %+v", got)
	}
	wantError(t, ts.redeem(key, c.Token, o.ID, "2.00", "k1"), 422, "card_blocked")
	page := string(ts.must(200, "GET", "/c/"+c.Token+"?lang=en", "", nil, nil).body)
	if !strings.Contains(page, "The card is blocked") && !strings.Contains(page, "Blocked") {
		t.Fatalf("card page of a blocked card does not say so")
	}

	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/unblock", `{"reason":"found"}`, asAdmin, &got)
	if got.Status != card.StatusIssued || got.BlockedAt != nil {
		t.Fatalf("unblocked card %+v", got)
	}
	ts.mustRedeem(key, c.Token, o.ID, "2.00", "k2")
	// An empty body blocks too.
	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", "", asAdmin, &got)
	if got.Status != card.StatusBlocked {
		t.Fatalf("card blocked without a reason: %+v", got)
	}
}

// TestCardValidity follows cards through their life by the clock: calendar days in Koper's
// zone across the October clock change, and the activation deadline.
func TestCardValidity(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("two-days", -2, "resident")
	ts.must(201, "POST", "/api/v1/products", `{"code":"deadline","name":{"en":"D"},"validity_hours":24,"price":"1","audience":"tourist","activation_deadline_days":1}`, asAdmin, nil)
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"price","value":"1.00","limit":"unlimited"`)

	// Activated on Saturday 24 October at 22:00: day 1 is the 24th, day 2 the 25th (25 hours
	// long), and the card ends at midnight after it, 23:00 UTC.
	ts.clock.Set(time.Date(2026, 10, 24, 22, 0, 0, 0, testLoc))
	c := ts.mustCard("two-days", "", "")
	ts.mustRedeem(key, c.Token, o.ID, "2.00", "a")
	var got cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, &got)
	if got.ExpiresAt == nil || *got.ExpiresAt != "2026-10-25T23:00:00Z" {
		t.Fatalf("expires_at %v, want 2026-10-25T23:00:00Z", got.ExpiresAt)
	}
	ts.clock.Set(time.Date(2026, 10, 25, 23, 59, 0, 0, testLoc))
	ts.mustRedeem(key, c.Token, o.ID, "2.00", "b")
	ts.clock.Set(time.Date(2026, 10, 26, 0, 0, 0, 0, testLoc))
	wantError(t, ts.redeem(key, c.Token, o.ID, "2.00", "c"), 422, "card_expired")
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, &got)
	if got.Status != card.StatusExpired {
		t.Fatalf("status %s after the last day, want expired", got.Status)
	}

	// Never used within its activation deadline of one day.
	d := ts.mustCard("deadline", "", "")
	ts.clock.Set(time.Date(2026, 10, 27, 0, 0, 1, 0, testLoc))
	wantError(t, ts.redeem(key, d.Token, o.ID, "2.00", "d"), 422, "card_expired")
	var pub struct {
		Card publicCardJSON `json:"card"`
	}
	ts.must(200, "GET", "/api/v1/public/cards/"+d.Token, "", nil, &pub)
	if pub.Card.Status != card.StatusExpired || pub.Card.SecondsLeft != 0 {
		t.Fatalf("public card past its deadline: %+v", pub.Card)
	}
}
