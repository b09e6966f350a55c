package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// offlineRedeem posts a redemption an offline till made at at.
func (ts *testServer) offlineRedeem(key, cardInput, offerID, amount, idem string, at time.Time) response {
	ts.t.Helper()
	return ts.do("POST", "/api/v1/pos/redemptions",
		fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":%q,"terminal":"till-1","occurred_at":%q}`, cardInput, offerID, amount, at.Format(time.RFC3339)),
		asKey(key).with("Idempotency-Key", idem))
}

// mustOffline is offlineRedeem that must answer 201; it returns the redemption.
func (ts *testServer) mustOffline(key, cardInput, offerID, amount, idem string, at time.Time) redemptionJSON {
	ts.t.Helper()
	resp := ts.offlineRedeem(key, cardInput, offerID, amount, idem, at)
	if resp.status != 201 {
		ts.t.Fatalf("offline redeem %s at %s: status %d: %s", idem, at, resp.status, resp.body)
	}
	var r redemptionJSON
	if err := json.Unmarshal(resp.body, &r); err != nil {
		ts.t.Fatal(err)
	}
	return r
}

func wantConflict(t *testing.T, r redemptionJSON, reason string) {
	t.Helper()
	if r.Status != "conflict" || r.ConflictReason == nil || *r.ConflictReason != reason || !r.Offline || r.Decision != nil {
		t.Fatalf("want an open conflict %s, got %+v", reason, r)
	}
}

func wantCompleted(t *testing.T, r redemptionJSON) {
	t.Helper()
	if r.Status != "completed" || r.ConflictReason != nil {
		t.Fatalf("want completed, got status %s reason %v", r.Status, r.ConflictReason)
	}
}

func TestOfflineOccurredAtBounds(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	for _, at := range []time.Time{testNow.Add(-72*time.Hour - time.Second), testNow.Add(5*time.Minute + time.Second)} {
		wantError(t, ts.offlineRedeem(w.keyA, w.fresh.Token, w.unlimited.ID, "5.00", "k-"+at.String(), at), 422, "occurred_at_out_of_range")
	}
	resp := ts.do("POST", "/api/v1/pos/redemptions", fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":"5.00","occurred_at":"yesterday"}`, w.fresh.Token, w.unlimited.ID),
		asKey(w.keyA).with("Idempotency-Key", "bad-time"))
	wantError(t, resp, 400, "invalid_request")
	// The edges are inside; occurred_at and recorded_at tell the two times apart. (A year
	// card: a 72-hour card first used 72 hours ago has just expired. It was issued before.)
	ts.clock.Set(testNow.Add(-73 * time.Hour))
	year := ts.mustCard("koper-resident", "", "")
	ts.clock.Set(testNow)
	old := ts.mustOffline(w.keyA, year.Token, w.unlimited.ID, "5.00", "edge-past", testNow.Add(-72*time.Hour))
	wantCompleted(t, old)
	if !old.Offline || old.OccurredAt != timeJSON(testNow.Add(-72*time.Hour)) || old.RecordedAt != timeJSON(testNow) {
		t.Fatalf("offline redemption %+v", old)
	}
	wantCompleted(t, ts.mustOffline(w.keyA, year.Token, w.unlimited.ID, "5.00", "edge-future", testNow.Add(5*time.Minute)))
	// Online: offline false, both times now.
	on := ts.mustRedeem(w.keyA, year.Token, w.unlimited.ID, "5.00", "online")
	if on.Offline || on.OccurredAt != on.RecordedAt || on.ConflictReason != nil {
		t.Fatalf("online redemption %+v", on)
	}
}

func TestOfflineActivationAndExpiryAtOccurredAt(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	// A card first used offline is activated when the sale happened, not when it synced.
	at := testNow.Add(-10 * time.Hour)
	ts.mustOffline(w.keyA, w.fresh.Token, w.unlimited.ID, "5.00", "first", at)
	var c cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+w.fresh.ID, "", asAdmin, &c)
	if c.ActivatedAt == nil || *c.ActivatedAt != timeJSON(at) || c.ExpiresAt == nil || *c.ExpiresAt != timeJSON(at.Add(72*time.Hour)) {
		t.Fatalf("card activated %v expires %v, want %s", c.ActivatedAt, c.ExpiresAt, timeJSON(at))
	}
	// 72 h later the card is expired now, yet a sale made while it was valid completes…
	ts.clock.Set(at.Add(72*time.Hour + time.Hour))
	wantCompleted(t, ts.mustOffline(w.keyA, w.fresh.Token, w.unlimited.ID, "5.00", "before-expiry", at.Add(72*time.Hour-time.Minute)))
	// …and one made after the card expired is a conflict; online it is still an error.
	wantConflict(t, ts.mustOffline(w.keyA, w.fresh.Token, w.unlimited.ID, "5.00", "after-expiry", at.Add(72*time.Hour+time.Minute)), "card_expired")
	wantError(t, ts.redeem(w.keyA, w.fresh.Token, w.unlimited.ID, "5.00", "online-expired"), 422, "card_expired")
}

// TestOfflineDailyLimitLocalDay: the daily limit counts by the local day of occurred_at in the
// merchant's town, across local midnight and across the end of summer time (25 October 2026).
func TestOfflineDailyLimitLocalDay(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-year", -365, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	daily := ts.mustOffer(m.ID, "Daily", `"kind":"amount","value":"1.00","limit":"daily"`)
	c := ts.mustCard("koper-year", "", "")

	// Online at 00:30 on 16 October (local); the offline sale at 23:50 the evening before is
	// another local day, one at 00:10 the same day is a conflict.
	ts.clock.Set(time.Date(2026, 10, 16, 0, 30, 0, 0, testLoc))
	wantCompleted(t, ts.mustRedeem(key, c.Token, daily.ID, "5.00", "online-16"))
	ts.clock.Set(time.Date(2026, 10, 16, 9, 0, 0, 0, testLoc))
	wantCompleted(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "evening-15", time.Date(2026, 10, 15, 23, 50, 0, 0, testLoc)))
	wantConflict(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "night-16", time.Date(2026, 10, 16, 0, 10, 0, 0, testLoc)), "limit_reached")

	// 25 October has 25 hours: 00:30 CEST (22:30 UTC the 24th) and 23:30 CET (22:30 UTC the
	// 25th) are the same local day; 23:30 CEST on the 24th (21:30 UTC) is the day before.
	ts.clock.Set(time.Date(2026, 10, 26, 8, 0, 0, 0, testLoc))
	early := time.Date(2026, 10, 24, 22, 30, 0, 0, time.UTC)
	wantCompleted(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "dst-early", early))
	wantCompleted(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "dst-day-before", time.Date(2026, 10, 24, 21, 30, 0, 0, time.UTC)))
	wantConflict(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "dst-late", time.Date(2026, 10, 25, 22, 30, 0, 0, time.UTC)), "limit_reached")
	wantCompleted(t, ts.mustOffline(key, c.Token, daily.ID, "5.00", "dst-next", time.Date(2026, 10, 25, 23, 30, 0, 0, time.UTC)))
}

func TestOfflineConflictReasons(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	at := testNow.Add(-time.Hour)
	// Limit used through another till: a conflict that takes no limit and binds its key.
	r := ts.mustOffline(w.keyA, w.used.Token, w.once.ID, "10.00", "once-again", at)
	wantConflict(t, r, "limit_reached")
	if r.Discount != "1.00" || r.MunicipalShare != "0.50" {
		t.Fatalf("conflict's money %+v", r)
	}
	replay := ts.offlineRedeem(w.keyA, w.used.Token, w.once.ID, "10.00", "once-again", at)
	var again redemptionJSON
	if replay.status != 201 || replay.header.Get("Idempotent-Replayed") != "true" || json.Unmarshal(replay.body, &again) != nil || again.ID != r.ID {
		t.Fatalf("replayed conflict: %d %s", replay.status, replay.body)
	}
	wantError(t, ts.offlineRedeem(w.keyA, w.used.Token, w.once.ID, "12.00", "once-again", at), 422, "idempotency_mismatch")
	// The original use is still the one that holds the limit: voiding it frees the offer
	// (the conflict does not take it over).
	ts.must(200, "POST", "/api/v1/redemptions/"+w.redA.ID+"/void", `{"reason":"test"}`, asAdmin, nil)
	wantCompleted(t, ts.mustRedeem(w.keyA, w.used.Token, w.once.ID, "10.00", "after-void"))

	wantConflict(t, ts.mustOffline(w.keyA, w.blocked.Token, w.unlimited.ID, "5.00", "blocked", at), "card_blocked")
	wantConflict(t, ts.mustOffline(w.keyA, w.expired.Token, w.unlimited.ID, "5.00", "expired", at), "card_expired")
	// A conflict cannot be voided; the office decides it.
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+r.ID+"/void", `{"reason":"x"}`, asAdmin), 409, "conflict_not_voidable")

	// Never a genuine sale: still errors, nothing recorded.
	wantError(t, ts.offlineRedeem(w.keyA, forge(w.fresh.Token), w.unlimited.ID, "5.00", "forged", at), 422, "card_invalid")
	wantError(t, ts.offlineRedeem(w.keyA, w.fresh.Token, "off_nosuchoffer", "5.00", "unknown", at), 404, "offer_not_found")
	wantError(t, ts.offlineRedeem(w.keyA, w.fresh.Token, w.offerB.ID, "5.00", "other-merchant", at), 404, "offer_not_found")
	wantError(t, ts.offlineRedeem(w.keyA, w.fresh.Token, w.minAmount.ID, "5.00", "too-low", at), 422, "amount_too_low")
	// The card's product is in neither its token nor the pack: a sale of an offer not for it
	// happened all the same, so it is a conflict for the office, not a refusal.
	wantConflict(t, ts.mustOffline(w.keyA, w.fresh.Token, w.resident.ID, "5.00", "resident", at), "offer_not_eligible")

	var list struct {
		Items []redemptionJSON `json:"items"`
	}
	ts.must(200, "GET", "/api/v1/redemptions?status=conflict", "", asAdmin, &list)
	if len(list.Items) != 4 { // limit_reached, card_blocked, card_expired, offer_not_eligible
		t.Fatalf("%d conflicts listed, want 4", len(list.Items))
	}
	for _, it := range list.Items {
		if it.Status != "conflict" {
			t.Fatalf("listed %+v", it)
		}
	}
	wantError(t, ts.do("GET", "/api/v1/redemptions?status=voided", "", asAdmin), 400, "invalid_request")
}

// reportTotals reads a month's report of the test town.
func reportTotals(t *testing.T, ts *testServer, month string) (redemptions int, discount string, open int) {
	t.Helper()
	var rep struct {
		Totals struct {
			Redemptions int    `json:"redemptions"`
			Discount    string `json:"discount"`
		} `json:"totals"`
		OpenConflicts *int `json:"open_conflicts"`
	}
	resp := ts.must(200, "GET", "/api/v1/reports/monthly?month="+month, "", asAdmin, &rep)
	if resp.header.Get("X-Open-Conflicts") == "" {
		t.Fatal("no X-Open-Conflicts header")
	}
	fmt.Sscan(resp.header.Get("X-Open-Conflicts"), &open)
	if rep.OpenConflicts != nil && *rep.OpenConflicts != open {
		t.Fatalf("open_conflicts %d, header %d", *rep.OpenConflicts, open)
	}
	return rep.Totals.Redemptions, rep.Totals.Discount, open
}

func TestOfflineAcceptReject(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	n0, d0, open := reportTotals(t, ts, "2026-10")
	if open != 0 {
		t.Fatalf("open conflicts %d before any", open)
	}
	at := testNow.Add(-time.Hour)
	c1 := ts.mustOffline(w.keyA, w.used.Token, w.once.ID, "10.00", "c1", at)
	c2 := ts.mustOffline(w.keyA, w.blocked.Token, w.unlimited.ID, "5.00", "c2", at)
	if n, d, open := reportTotals(t, ts, "2026-10"); n != n0 || d != d0 || open != 2 {
		t.Fatalf("report with two open conflicts: %d %s %d, want %d %s 2", n, d, open, n0, d0)
	}
	var got redemptionJSON
	ts.must(200, "POST", "/api/v1/redemptions/"+c1.ID+"/accept", `{"note":"both tills were offline"}`, asAdmin, &got)
	if got.Decision == nil || *got.Decision != "accepted" || got.DecidedAt == nil || got.Status != "conflict" || *got.DecisionNote != "both tills were offline" {
		t.Fatalf("accepted %+v", got)
	}
	ts.must(200, "POST", "/api/v1/redemptions/"+c2.ID+"/reject", `{"note":"blocked card"}`, asAdmin, &got)
	if *got.Decision != "rejected" {
		t.Fatalf("rejected %+v", got)
	}
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+c1.ID+"/reject", `{}`, asAdmin), 409, "already_decided")
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+c2.ID+"/accept", `{}`, asAdmin), 409, "already_decided")
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+w.redA.ID+"/accept", `{}`, asAdmin), 409, "not_a_conflict")
	wantError(t, ts.do("POST", "/api/v1/redemptions/red_nosuch/accept", `{}`, asAdmin), 404, "not_found")
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+c1.ID+"/accept", `{}`, asKey(w.keyA)), 403, "forbidden")
	// Accepted counts (1.00 more discount), rejected does not; nothing is open any more.
	n, d, open := reportTotals(t, ts, "2026-10")
	if n != n0+1 || mustCents(t, d) != mustCents(t, d0)+100 || open != 0 {
		t.Fatalf("report after the decisions: %d %s %d (before %d %s)", n, d, open, n0, d0)
	}
	var chk struct {
		OK bool `json:"ok"`
	}
	ts.must(200, "GET", "/api/v1/ledger/verify", "", asAdmin, &chk)
	if !chk.OK {
		t.Fatal("ledger does not verify after an accept")
	}
}

// TestOfflineClosedMonth: a month is not closed while it has open conflicts; a conflict of a
// closed month, accepted, counts as an adjustment of the month of the decision.
func TestOfflineClosedMonth(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	year := ts.mustCard("koper-resident", "", "")
	ts.clock.Set(time.Date(2026, 10, 31, 12, 0, 0, 0, testLoc))
	ts.mustRedeem(w.keyA, year.Token, w.once.ID, "10.00", "online-once")
	ts.clock.Set(time.Date(2026, 11, 1, 10, 0, 0, 0, testLoc))
	c1 := ts.mustOffline(w.keyA, year.Token, w.once.ID, "10.00", "late-sync", time.Date(2026, 10, 31, 20, 0, 0, 0, testLoc))
	wantConflict(t, c1, "limit_reached")
	wantError(t, ts.do("POST", "/api/v1/reports/monthly/2026-10/close", "", asAdmin), 409, "conflicts_open")
	ts.must(200, "POST", "/api/v1/redemptions/"+c1.ID+"/reject", `{"note":"no"}`, asAdmin, nil)
	ts.must(200, "POST", "/api/v1/reports/monthly/2026-10/close", "", asAdmin, nil)
	frozen := ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, nil).body

	// Synced after the close: still a conflict of October, accepted in November's figures.
	c2 := ts.mustOffline(w.keyA, year.Token, w.once.ID, "20.00", "later-sync", time.Date(2026, 10, 31, 21, 0, 0, 0, testLoc))
	if _, _, open := reportTotals(t, ts, "2026-10"); open != 1 {
		t.Fatalf("closed month's open conflicts %d, want 1", open)
	}
	ts.must(200, "POST", "/api/v1/redemptions/"+c2.ID+"/accept", `{"note":"ok"}`, asAdmin, nil)
	if again := ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, nil).body; string(again) != string(frozen) {
		t.Fatal("the closed month's report changed")
	}
	if n, d, _ := reportTotals(t, ts, "2026-11"); n != 1 || d != "2.00" {
		t.Fatalf("November: %d redemptions, discount %s; want the accepted conflict's 1 and 2.00", n, d)
	}
	var chk struct {
		OK bool `json:"ok"`
	}
	ts.must(200, "GET", "/api/v1/ledger/verify", "", asAdmin, &chk)
	if !chk.OK {
		t.Fatalf("ledger does not verify after an accept in a closed month: %s", ts.do("GET", "/api/v1/ledger/verify", "", asAdmin).body)
	}
}

type syncAnswer struct {
	Items []struct {
		IdempotencyKey string          `json:"idempotency_key"`
		Status         int             `json:"status"`
		Redemption     *redemptionJSON `json:"redemption"`
		Error          *struct {
			Code string `json:"code"`
		} `json:"error"`
	} `json:"items"`
}

func TestOfflineSync(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	at := testNow.Add(-2 * time.Hour).Format(time.RFC3339)
	item := func(key, cardInput, offer, amount, occurred string) string {
		return fmt.Sprintf(`{"idempotency_key":%q,"card":%q,"offer_id":%q,"amount":%q,"terminal":"till-2","occurred_at":%q}`, key, cardInput, offer, amount, occurred)
	}
	body := `{"items":[` + strings.Join([]string{
		item("s1", w.fresh.Token, w.unlimited.ID, "5.00", at),
		item("s2", w.used.Token, w.once.ID, "10.00", at),                // conflict
		item("s3", forge(w.fresh.Token), w.unlimited.ID, "5.00", at),    // error
		item("s4", w.fresh.Token, w.unlimited.ID, "6.00", "not a time"), // error
		item("s5", w.fresh.Token, w.unlimited.ID, "7.00", testNow.Add(-100*time.Hour).Format(time.RFC3339)),
		item("", w.fresh.Token, w.unlimited.ID, "7.00", at), // no key
		item("s7", w.fresh.Token, w.unlimited.ID, "8.00", at),
	}, ",") + `]}`
	want := []struct {
		key    string
		status int
		code   string
	}{{"s1", 201, ""}, {"s2", 201, ""}, {"s3", 422, "card_invalid"}, {"s4", 400, "invalid_request"},
		{"s5", 422, "occurred_at_out_of_range"}, {"", 400, "invalid_request"}, {"s7", 201, ""}}
	check := func(a syncAnswer) []string {
		if len(a.Items) != len(want) {
			t.Fatalf("%d results, want %d", len(a.Items), len(want))
		}
		var ids []string
		for i, it := range a.Items {
			if it.IdempotencyKey != want[i].key || it.Status != want[i].status {
				t.Fatalf("item %d: %s %d, want %s %d", i, it.IdempotencyKey, it.Status, want[i].key, want[i].status)
			}
			if want[i].code != "" && (it.Error == nil || it.Error.Code != want[i].code || it.Redemption != nil) {
				t.Fatalf("item %d: error %+v, want %s", i, it.Error, want[i].code)
			}
			if want[i].code == "" {
				if it.Redemption == nil || it.Error != nil {
					t.Fatalf("item %d: no redemption", i)
				}
				ids = append(ids, it.Redemption.ID)
			}
		}
		return ids
	}
	var a syncAnswer
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", body, asKey(w.keyA), &a)
	ids := check(a)
	if a.Items[1].Redemption.Status != "conflict" || a.Items[0].Redemption.Amount != "5.00" || a.Items[6].Redemption.Amount != "8.00" {
		t.Fatalf("results %+v", a)
	}
	// The answer was lost: the same upload again replays every recorded item, records nothing.
	var before, after struct {
		Items []redemptionJSON `json:"items"`
	}
	ts.must(200, "GET", "/api/v1/pos/redemptions?limit=100", "", asKey(w.keyA), &before)
	ts.must(200, "POST", "/api/v1/pos/redemptions/sync", body, asKey(w.keyA), &a)
	if again := check(a); strings.Join(again, ",") != strings.Join(ids, ",") {
		t.Fatalf("replayed ids %v, want %v", again, ids)
	}
	ts.must(200, "GET", "/api/v1/pos/redemptions?limit=100", "", asKey(w.keyA), &after)
	if len(after.Items) != len(before.Items) {
		t.Fatalf("replay recorded %d new redemptions", len(after.Items)-len(before.Items))
	}
	// Bounds of the upload.
	wantError(t, ts.do("POST", "/api/v1/pos/redemptions/sync", `{"items":[]}`, asKey(w.keyA)), 400, "invalid_request")
	many := make([]string, 501)
	for i := range many {
		many[i] = item(fmt.Sprint("m", i), w.fresh.Token, w.unlimited.ID, "1.00", at)
	}
	resp := ts.do("POST", "/api/v1/pos/redemptions/sync", `{"items":[`+strings.Join(many, ",")+`]}`, asKey(w.keyA))
	if resp.status != 400 && resp.status != 413 {
		t.Fatalf("501 items: status %d", resp.status)
	}
	wantError(t, ts.do("POST", "/api/v1/pos/redemptions/sync", `{"items":[{"idempotency_key":"x","bogus":1}]}`, asKey(w.keyA)), 400, "invalid_request")
	wantError(t, ts.do("POST", "/api/v1/pos/redemptions/sync", body, asAdmin), 403, "forbidden")
}

func TestOfflinePack(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	var pack struct {
		GeneratedAt string          `json:"generated_at"`
		ValidUntil  string          `json:"valid_until"`
		Keys        []publicKeyJSON `json:"keys"`
		Offers      []offerJSON     `json:"offers"`
		Blocked     []string        `json:"blocked"`
		Used        []usedJSON      `json:"used"`
		Limits      map[string]int  `json:"limits"`
	}
	resp := ts.must(200, "GET", "/api/v1/pos/offline-pack", "", asKey(w.keyA), &pack)
	if len(pack.Keys) == 0 || pack.Limits["max_hours"] != 72 || pack.Limits["max_redemptions"] != 500 ||
		pack.GeneratedAt != timeJSON(testNow) || pack.ValidUntil != timeJSON(testNow.Add(72*time.Hour)) {
		t.Fatalf("pack %+v", pack)
	}
	for _, o := range pack.Offers {
		if o.MerchantID != w.a.ID {
			t.Fatalf("another merchant's offer %s in the pack", o.ID)
		}
	}
	if len(pack.Blocked) != 1 || pack.Blocked[0] != w.blocked.Number {
		t.Fatalf("blocked %v, want [%s]", pack.Blocked, w.blocked.Number)
	}
	if len(pack.Used) != 1 || pack.Used[0] != (usedJSON{w.used.Number, w.once.ID, "2026-10-15"}) {
		t.Fatalf("used %+v", pack.Used)
	}
	etag := resp.header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	// Unchanged a minute later: 304; a new use changes it.
	ts.clock.Set(testNow.Add(time.Minute))
	if r := ts.do("GET", "/api/v1/pos/offline-pack", "", asKey(w.keyA).with("If-None-Match", etag)); r.status != 304 {
		t.Fatalf("unchanged pack: status %d", r.status)
	}
	ts.mustRedeem(w.keyA, w.fresh.Token, w.once.ID, "10.00", "new-use")
	r := ts.do("GET", "/api/v1/pos/offline-pack", "", asKey(w.keyA).with("If-None-Match", etag))
	if r.status != 200 || r.header.Get("ETag") == etag {
		t.Fatalf("changed pack: status %d etag %s", r.status, r.header.Get("ETag"))
	}
	wantError(t, ts.do("GET", "/api/v1/pos/offline-pack", "", asAdmin), 403, "forbidden")
}

// TestOfflineConflictNotAccepted: a card of a town whose product this merchant's town does
// not accept, sold offline, is a conflict card_not_accepted; online it stays an error.
func TestOfflineConflictNotAccepted(t *testing.T) {
	ts := newTestServer(t)
	m, key := ts.mustMerchant("Kavarna", "bar")
	offer := ts.mustOffer(m.ID, "Coffee", `"kind":"amount","value":"1.00","limit":"unlimited"`)
	ts.must(201, "POST", "/api/v1/towns", `{"code":"ptuj","name":{"sl":"Ptuj"},"timezone":"Europe/Ljubljana","languages":["sl"],"public_url":"https://ptuj.example"}`, asAdmin, nil)
	ptuj := asAdmin.with(HeaderTown, "ptuj")
	ts.must(201, "POST", "/api/v1/products", `{"code":"ptuj-72h","name":{"sl":"Ptuj 72 h"},"validity_hours":72,"price":"20.00","audience":"tourist"}`, ptuj, nil)
	var c cardJSON
	ts.must(201, "POST", "/api/v1/cards", `{"product":"ptuj-72h"}`, ptuj, &c)
	wantError(t, ts.redeem(key, c.Token, offer.ID, "5.00", "online"), 422, "card_not_accepted")
	r := ts.mustOffline(key, c.Token, offer.ID, "5.00", "offline", testNow.Add(-time.Minute))
	wantConflict(t, r, "card_not_accepted")
	if r.Town != "koper" || r.CardTown != "ptuj" || r.Discount != "1.00" {
		t.Fatalf("conflict %+v", r)
	}
	// The conflict did not activate the card.
	var got cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", ptuj, &got)
	if got.ActivatedAt != nil {
		t.Fatalf("a conflict activated the card at %s", *got.ActivatedAt)
	}
}

// TestOfflineTwoTillsOnce: two tills sold the same once offer on one card while offline;
// both upload at once: one sale completes, the other is a conflict, none is lost.
func TestOfflineTwoTillsOnce(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	at := testNow.Add(-30 * time.Minute).Format(time.RFC3339)
	results := make(chan string, 2)
	for i := 0; i < 2; i++ {
		go func(i int) {
			body := fmt.Sprintf(`{"items":[{"idempotency_key":"till-%d","card":%q,"offer_id":%q,"amount":"10.00","terminal":"till-%d","occurred_at":%q}]}`,
				i, w.fresh.Token, w.once.ID, i, at)
			resp := ts.do("POST", "/api/v1/pos/redemptions/sync", body, asKey(w.keyA))
			var a syncAnswer
			if resp.status != 200 || json.Unmarshal(resp.body, &a) != nil || len(a.Items) != 1 || a.Items[0].Redemption == nil {
				results <- fmt.Sprintf("bad answer %d %s", resp.status, resp.body)
				return
			}
			results <- a.Items[0].Redemption.Status
		}(i)
	}
	got := map[string]int{}
	for i := 0; i < 2; i++ {
		got[<-results]++
	}
	if got["completed"] != 1 || got["conflict"] != 1 {
		t.Fatalf("two tills: %v, want one completed and one conflict", got)
	}
}
