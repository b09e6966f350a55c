package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

type bulkAnswer struct {
	Decision  string `json:"decision"`
	Decided   int    `json:"decided"`
	Remaining int    `json:"remaining"`
	Items     []struct {
		ID         string          `json:"id"`
		Status     int             `json:"status"`
		Redemption *redemptionJSON `json:"redemption"`
		Error      *errorDetail    `json:"error"`
	} `json:"items"`
}

type groupsAnswer struct {
	Open  int                 `json:"open"`
	Items []conflictGroupJSON `json:"items"`
}

// syncItems is a sync body of n offline sales of offerID on card at at, keys prefix-0…,
// from terminal.
func syncItems(prefix, cardToken, offerID, terminal string, at time.Time, n int) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"idempotency_key":"%s-%d","card":%q,"offer_id":%q,"amount":"10.00","terminal":%q,"occurred_at":%q}`,
			prefix, i, cardToken, offerID, terminal, at.Format(time.RFC3339))
	}
	return `{"items":[` + strings.Join(items, ",") + `]}`
}

// TestConflictCapSync: past a merchant's cap, a sync item that would be a conflict is
// answered 429 too_many_conflicts, nothing is recorded, and the same item sent again after the
// office decided is recorded; the single redemption route answers the same.
func TestConflictCapSync(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	ts.db.SetMaxOpenConflicts(3)
	at := testNow.Add(-time.Hour)
	var out syncAnswer
	body := syncItems("cap", w.used.Token, w.once.ID, "bar-1", at, 5)
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", body, asKey(w.keyA), &out)
	for i, it := range out.Items {
		if i < 3 && (it.Status != 201 || it.Redemption == nil || it.Redemption.Status != "conflict") {
			t.Fatalf("item %d: %+v, want a conflict", i, it)
		}
		if i >= 3 && (it.Status != 429 || it.Error == nil || it.Error.Code != "too_many_conflicts" || it.Redemption != nil) {
			t.Fatalf("item %d: %+v, want 429 too_many_conflicts", i, it)
		}
	}
	wantError(t, ts.offlineRedeem(w.keyA, w.used.Token, w.once.ID, "10.00", "single", at), 429, "too_many_conflicts")
	// The office rejects bar-1's in bulk; the held items go in as they were sent.
	var b bulkAnswer
	ts.must(200, "POST", "/api/v1/redemptions/conflicts/decide", `{"decision":"rejected","note":"test","filter":{"terminal":"bar-1"}}`, asAdmin, &b)
	if b.Decided != 3 || b.Remaining != 0 {
		t.Fatalf("bulk: %+v", b)
	}
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", body, asKey(w.keyA), &out)
	for i, it := range out.Items {
		if it.Status != 201 || it.Redemption.Status != "conflict" {
			t.Fatalf("again, item %d: %+v", i, it)
		}
	}
}

// TestConflictsBulkDecide: groups by till and reason; a filtered bulk decision decides the
// oldest first up to its size and says how many remain; ids decided before are answered
// 409 already_decided, unknown ones 404, in an answer of 200; the report counts the
// accepted ones; the whole request is refused for a bad body.
func TestConflictsBulkDecide(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	at := testNow.Add(-time.Hour)
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", syncItems("a", w.used.Token, w.once.ID, "bar-1", at, 4), asKey(w.keyA), nil)
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", syncItems("b", w.used.Token, w.once.ID, "", at, 2), asKey(w.keyA), nil)
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", syncItems("c", w.expired.Token, w.unlimited.ID, "bar-1", at, 1), asKey(w.keyA), nil)

	var g groupsAnswer
	ts.must(200, "GET", "/api/v1/redemptions/conflicts/groups", "", asAdmin, &g)
	if g.Open != 7 || len(g.Items) != 3 || g.Items[0].Open != 4 || g.Items[0].Terminal != "bar-1" || g.Items[0].Reason != "limit_reached" ||
		g.Items[0].MerchantID != w.a.ID || g.Items[0].FirstOccurredAt != timeJSON(at) {
		t.Fatalf("groups: %+v", g)
	}

	var before reportJSON
	ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, &before)
	// The till without a name ("") is a till of its own.
	var b bulkAnswer
	ts.must(200, "POST", "/api/v1/redemptions/conflicts/decide", `{"decision":"accepted","note":"ok","filter":{"terminal":"","reason":"limit_reached","month":"2026-10"}}`, asAdmin, &b)
	if b.Decision != "accepted" || b.Decided != 2 || b.Remaining != 0 || len(b.Items) != 2 || b.Items[0].Redemption == nil ||
		b.Items[0].Redemption.Decision == nil || *b.Items[0].Redemption.Decision != "accepted" || b.Items[0].Redemption.Terminal != "" {
		t.Fatalf("accept the nameless till's: %+v", b)
	}
	var after reportJSON
	ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, &after)
	if after.Totals.Redemptions != before.Totals.Redemptions+2 {
		t.Fatalf("report: %d redemptions, want %d", after.Totals.Redemptions, before.Totals.Redemptions+2)
	}
	accepted := b.Items[0].ID

	// bar-1's: by ids, with one decided already and one unknown.
	var list struct {
		Items []redemptionJSON `json:"items"`
	}
	ts.must(200, "GET", "/api/v1/redemptions?status=conflict", "", asAdmin, &list)
	var ids []string
	for _, r := range list.Items {
		if r.Terminal == "bar-1" {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) != 5 {
		t.Fatalf("%d of bar-1's conflicts listed", len(ids))
	}
	raw, _ := json.Marshal(append(ids, accepted, "red_nosuch"))
	ts.must(200, "POST", "/api/v1/redemptions/conflicts/decide", `{"decision":"rejected","note":"no","ids":`+string(raw)+`}`, asAdmin, &b)
	if b.Decided != 5 || b.Remaining != 0 || len(b.Items) != 7 || b.Items[5].Status != 409 || b.Items[5].Error.Code != "already_decided" ||
		b.Items[6].Status != 404 || b.Items[6].Error.Code != "not_found" {
		t.Fatalf("reject bar-1's by ids: %+v", b)
	}
	ts.must(200, "GET", "/api/v1/redemptions/conflicts/groups", "", asAdmin, &g)
	if g.Open != 0 || len(g.Items) != 0 {
		t.Fatalf("groups after deciding all: %+v", g)
	}

	for _, body := range []string{
		`{"decision":"accepted","note":"x"}`,
		`{"decision":"accepted","ids":["a"],"filter":{}}`,
		`{"decision":"maybe","filter":{}}`,
		`{"decision":"accepted","ids":[]}`,
		`{"decision":"accepted","filter":{"month":"October"}}`,
		`{"decision":"accepted","filter":{"town":"ptuj"}}`,
		`{"decision":"accepted","filter":{},"note":"` + strings.Repeat("x", 301) + `"}`,
	} {
		wantError(t, ts.do("POST", "/api/v1/redemptions/conflicts/decide", body, asAdmin), 400, "invalid_request")
	}
}

// TestConflictsBulkDecideRemaining: a filter selecting more than one request decides answers
// what remains, and repeating it finishes the job.
func TestConflictsBulkDecideRemaining(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	at := testNow.Add(-time.Hour)
	ts.db.SetMaxOpenConflicts(0)
	for i := range 2 {
		ts.must(200, "POST", "/api/v1/pos/redemptions/sync", syncItems(fmt.Sprint("r", i), w.used.Token, w.once.ID, "bar-9", at, 300), asKey(w.keyA), nil)
	}
	var b bulkAnswer
	ts.must(200, "POST", "/api/v1/redemptions/conflicts/decide", `{"decision":"rejected","filter":{"merchant_id":"`+w.a.ID+`"}}`, asAdmin, &b)
	if b.Decided != 500 || b.Remaining != 100 {
		t.Fatalf("first request: decided %d, remaining %d; want 500, 100", b.Decided, b.Remaining)
	}
	ts.must(200, "POST", "/api/v1/redemptions/conflicts/decide", `{"decision":"rejected","filter":{"merchant_id":"`+w.a.ID+`"}}`, asAdmin, &b)
	if b.Decided != 100 || b.Remaining != 0 {
		t.Fatalf("second request: decided %d, remaining %d; want 100, 0", b.Decided, b.Remaining)
	}
}
