package main

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

func TestRedemptionVoid(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Once", `"kind":"percent","value":"10","limit":"once"`)
	c1, c2 := ts.mustCard("koper-72h", "", ""), ts.mustCard("koper-72h", "", "")

	// At the till.
	r := ts.mustRedeem(key, c1.Token, o.ID, "20.00", "a")
	ts.clock.Set(testNow.Add(2 * time.Minute))
	var v redemptionJSON
	ts.must(200, "POST", "/api/v1/pos/redemptions/"+r.ID+"/void", `{"reason":"wrong item"}`, asKey(key), &v)
	if v.ID != r.ID || v.Status != "voided" || v.VoidedAt == nil || *v.VoidedAt != "2026-10-15T10:02:00Z" ||
		v.VoidReason == nil || *v.VoidReason != "wrong item" || v.Discount != r.Discount {
		t.Fatalf("voided at the till: %+v", v)
	}
	// A void frees the once offer.
	var got cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+c1.ID, "", asAdmin, &got)
	if reds := *got.Redemptions; len(reds) != 1 || reds[0].Status != "voided" {
		t.Fatalf("card's redemptions after void: %+v", reds)
	}
	r2 := ts.mustRedeem(key, c1.Token, o.ID, "20.00", "b")

	// By the admin.
	r3 := ts.mustRedeem(key, c2.Token, o.ID, "8.00", "c")
	ts.must(200, "POST", "/api/v1/redemptions/"+r3.ID+"/void", `{"reason":"complaint"}`, asAdmin, &v)
	if v.Status != "voided" || *v.VoidReason != "complaint" {
		t.Fatalf("voided by the admin: %+v", v)
	}
	wantError(t, ts.do("POST", "/api/v1/pos/redemptions/"+r3.ID+"/void", `{"reason":"again"}`, asKey(key)), 409, "already_voided")

	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/pos/redemptions", "", asKey(key), &list)
	status := map[string]string{}
	for _, it := range list.Items {
		status[it.ID] = it.Status
	}
	if status[r.ID] != "voided" || status[r2.ID] != "completed" || status[r3.ID] != "voided" || len(status) != 3 {
		t.Fatalf("statuses %v", status)
	}
}

func TestPosRedemptionList(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-resident", -365, "resident")
	m, key := ts.mustMerchant("Kavarna", "bar")
	other, otherKey := ts.mustMerchant("Muzej", "museum")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"price","value":"1.00","limit":"unlimited"`)
	oo := ts.mustOffer(other.ID, "Free", `"kind":"free","limit":"unlimited"`)
	ts.clock.Set(time.Date(2026, 9, 30, 8, 0, 0, 0, testLoc))
	c := ts.mustCard("koper-resident", "", "")

	// Local times in Koper, around the day and month boundaries.
	at := []time.Time{
		time.Date(2026, 10, 1, 0, 0, 0, 0, testLoc),
		time.Date(2026, 10, 1, 23, 30, 0, 0, testLoc),
		time.Date(2026, 10, 2, 0, 30, 0, 0, testLoc),
		time.Date(2026, 10, 15, 12, 0, 0, 0, testLoc),
		time.Date(2026, 10, 31, 23, 59, 0, 0, testLoc),
		time.Date(2026, 11, 1, 0, 10, 0, 0, testLoc),
	}
	var ids []string
	for i, t0 := range at {
		ts.clock.Set(t0)
		ids = append(ids, ts.mustRedeem(key, c.Token, o.ID, "2.00", "k"+string(rune('a'+i))).ID)
		ts.mustRedeem(otherKey, c.Token, oo.ID, "3.00", "k"+string(rune('a'+i)))
	}
	ts.clock.Set(time.Date(2026, 11, 2, 12, 0, 0, 0, testLoc))

	list := func(query string) []string {
		t.Helper()
		var l listBody[redemptionJSON]
		ts.must(200, "GET", "/api/v1/pos/redemptions"+query, "", asKey(key), &l)
		var out []string
		for _, r := range l.Items {
			if r.MerchantID != m.ID {
				t.Fatalf("%s: another merchant's redemption %+v", query, r)
			}
			out = append(out, r.ID)
		}
		return out
	}
	tests := []struct {
		query string
		want  []string // newest first
	}{
		{"", []string{ids[5], ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"?from=2026-10-01&to=2026-10-01", []string{ids[1], ids[0]}},
		{"?from=2026-10-02&to=2026-10-31", []string{ids[4], ids[3], ids[2]}},
		{"?from=2026-10-01&to=2026-10-31", []string{ids[4], ids[3], ids[2], ids[1], ids[0]}},
		{"?from=2026-11-01", []string{ids[5]}},
		{"?to=2026-09-30", nil},
	}
	for _, tt := range tests {
		if got := list(tt.query); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.query, got, tt.want)
		}
	}
	// Pages of two walk the same list.
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		var l listBody[redemptionJSON]
		ts.must(200, "GET", "/api/v1/pos/redemptions?limit=2&cursor="+cursor, "", asKey(key), &l)
		for _, r := range l.Items {
			all = append(all, r.ID)
		}
		if l.NextCursor == nil || pages > 5 {
			break
		}
		cursor = *l.NextCursor
	}
	if !slices.Equal(all, tests[0].want) {
		t.Fatalf("paged: %v, want %v", all, tests[0].want)
	}
}

// TestVoidUndoesActivation: a void of the redemption that activated a card, within
// card.ActivationGrace and while it is the card's only live use, returns the card to
// not-yet-activated, at the till and in the office alike; otherwise the card keeps its clock.
func TestVoidUndoesActivation(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	once := ts.mustOffer(m.ID, "Once", `"kind":"percent","value":"10","limit":"once"`)
	anyUse := ts.mustOffer(m.ID, "Any", `"kind":"percent","value":"5","limit":"unlimited"`)
	grace := 30 * time.Minute
	cardState := func(c cardJSON) cardJSON {
		t.Helper()
		var got cardJSON
		ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, &got)
		return got
	}
	tests := []struct {
		name     string
		after    time.Duration // from the activation to the void
		admin    bool          // voided in the office, else at the till
		second   bool          // a second live use of the card
		undoneAt bool          // want the card back to issued
	}{
		{"grace less a second, at the till", grace - time.Second, false, false, true},
		{"the grace exactly, in the office", grace, true, false, true},
		{"grace and a second", grace + time.Second, false, false, false},
		{"another live use", time.Minute, false, true, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts.clock.Set(testNow)
			c := ts.mustCard("koper-72h", "", "")
			r := ts.mustRedeem(key, c.Token, once.ID, "20.00", fmt.Sprintf("act-%d", i))
			if tt.second {
				ts.mustRedeem(key, c.Token, anyUse.ID, "5.00", fmt.Sprintf("second-%d", i))
			}
			ts.clock.Set(testNow.Add(tt.after))
			path, auth := "/api/v1/pos/redemptions/"+r.ID+"/void", asKey(key)
			if tt.admin {
				path, auth = "/api/v1/redemptions/"+r.ID+"/void", asAdmin
			}
			ts.must(200, "POST", path, `{"reason":"wrong card"}`, auth, nil)
			got := cardState(c)
			if tt.undoneAt {
				if got.Status != "issued" || got.ActivatedAt != nil || got.ExpiresAt != nil {
					t.Fatalf("card after the void: status %s, activated %v, expires %v; want issued with no dates", got.Status, got.ActivatedAt, got.ExpiresAt)
				}
				// The till sees it at once (the read cache was invalidated).
				var chk struct {
					Card tillCardJSON `json:"card"`
				}
				ts.must(200, "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, c.Token), asKey(key), &chk)
				if chk.Card.Status != "issued" || chk.Card.ActivatedAt != nil {
					t.Fatalf("till check after the void: %+v", chk.Card)
				}
			} else if got.Status != "active" || got.ActivatedAt == nil || *got.ActivatedAt != "2026-10-15T10:00:00Z" {
				t.Fatalf("card after the void: status %s, activated %v; want still active since 10:00Z", got.Status, got.ActivatedAt)
			}
		})
	}

	t.Run("a voided earlier use: the use that activated again is undone", func(t *testing.T) {
		ts.clock.Set(testNow)
		c := ts.mustCard("koper-72h", "", "")
		first := ts.mustRedeem(key, c.Token, once.ID, "20.00", "early-1")
		ts.clock.Set(testNow.Add(time.Minute))
		ts.must(200, "POST", "/api/v1/pos/redemptions/"+first.ID+"/void", `{"reason":"wrong card"}`, asKey(key), nil)
		ts.clock.Set(testNow.Add(2 * time.Hour))
		second := ts.mustRedeem(key, c.Token, once.ID, "20.00", "early-2")
		if got := cardState(c); got.ActivatedAt == nil || *got.ActivatedAt != "2026-10-15T12:00:00Z" {
			t.Fatalf("activation after the new use: %v", got.ActivatedAt)
		}
		ts.clock.Set(testNow.Add(2*time.Hour + 10*time.Minute))
		ts.must(200, "POST", "/api/v1/pos/redemptions/"+second.ID+"/void", `{"reason":"again"}`, asKey(key), nil)
		if got := cardState(c); got.Status != "issued" || got.ActivatedAt != nil {
			t.Fatalf("after voiding the second use: %s %v", got.Status, got.ActivatedAt)
		}
		var audit listBody[map[string]any]
		ts.must(200, "GET", "/api/v1/audit?limit=500", "", asAdmin, &audit)
		n := 0
		for _, e := range audit.Items {
			if e["action"] == "card.activation_undone" && e["target"] == c.ID {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("audit entries card.activation_undone for the card: %d, want 2", n)
		}
	})
}
