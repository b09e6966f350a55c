package main

// Browser test of the till past its merchant's cap on open conflicts: an offline sale that
// would be one more conflict is held back by the server (429 too_many_conflicts), stays in the
// till's queue with a banner saying why, and goes up as a conflict once the office decided.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

func TestBrowserTillConflictCap(t *testing.T) {
	a := startLiveApp(t)
	m, key := a.merchantKey(t, "Pretorska palača")
	tour := a.offerID(t, m.ID, "Free guided palace tour") // once per card
	ctx := context.Background()

	// The merchant has open conflicts, and the cap is where they are: the next one is held.
	a.offlineFlood(t, key, tour, "cap-before", 1)
	_, open, err := a.db.OpenConflictIDs(ctx, "koper", storage.ConflictFilter{MerchantID: m.ID}, 0)
	if err != nil || open < 1 {
		t.Fatalf("open conflicts: %d, %v", open, err)
	}
	a.db.SetMaxOpenConflicts(open)
	t.Cleanup(func() { a.db.SetMaxOpenConflicts(merchant.DefaultMaxOpenConflicts) })

	tab := newTab(t, newBrowser(t))
	signInForOffline(t, tab, a, key, "sl")
	// Another till uses the tour on a fresh card after this till took its pack, so this till
	// cannot know; its offline sale of the tour on that card is a conflict.
	url, cardID := a.newCardURL(t, "koper-72h")
	token := url[strings.LastIndex(url, "/c/")+3:]
	item := map[string]string{"idempotency_key": "cap-other-till", "card": token, "offer_id": tour, "amount": "8.00",
		"terminal": "other", "occurred_at": time.Now().UTC().Add(time.Second).Format(time.RFC3339)} // after the issue, to the second
	if code := a.apiJSON(t, "POST", "/api/v1/pos/redemptions/sync", key, "", map[string]any{"items": []any{item}}, nil); code != 200 {
		t.Fatalf("the other till's sale: %d", code)
	}
	do(t, tab, networkOff(true))
	sellOffline(t, tab, url, tour, "8")

	// Back online: the sale is held, not refused: still pending, and the banner says why.
	do(t, tab, networkOff(false),
		waitJS(`document.getElementById("offline-banner").className === "banner held" && !document.getElementById("offline-banner").hidden`))
	if n := eval[int](t, tab, `document.querySelectorAll("#today tr.pending").length`); n != 1 {
		t.Errorf("%d sales pending, want the held one", n)
	}
	if got := jsText(t, tab, "#offline-banner"); !strings.Contains(got, "preveč konfliktov") || !strings.Contains(got, "1") {
		t.Errorf("the banner says %q, want the held sale and why", got)
	}
	if !eval[bool](t, tab, `document.getElementById("sync-box").hidden`) {
		t.Errorf("the held sale is reported as %q", jsText(t, tab, "#sync-notes"))
	}
	if n := eval[int](t, tab, `window.citycardOffline.queue().then(q => q.length)`); n != 1 {
		t.Errorf("the till's queue holds %d sales, want 1", n)
	}
	screenshot(t, tab, "pos-conflicts-held-sl-360")
	count := func() (completed, conflicts int) {
		for _, r := range a.redemptions(t, m.ID) {
			if r.CardID != cardID {
				continue
			}
			switch r.Status() {
			case "completed":
				completed++
			case "conflict":
				conflicts++
			}
		}
		return
	}
	if c, k := count(); c != 1 || k != 0 {
		t.Fatalf("the card has %d completed and %d conflicts on the server, want 1 and 0", c, k)
	}

	// The office rejects the merchant's open conflicts; the till's next upload goes in.
	var b struct {
		Decided int `json:"decided"`
	}
	if code := a.apiJSON(t, "POST", "/api/v1/redemptions/conflicts/decide", a.adminToken, "koper",
		map[string]any{"decision": "rejected", "note": "duplicates", "filter": map[string]string{"merchant_id": m.ID}}, &b); code != 200 || b.Decided != open {
		t.Fatalf("bulk reject: %d, decided %d, want %d", code, b.Decided, open)
	}
	do(t, tab, networkOff(true), waitJS(`document.getElementById("offline-banner").className === "banner offline"`),
		networkOff(false), waitJS(`document.querySelectorAll("#today tr.pending").length === 0`),
		waitJS(`!document.getElementById("sync-box").hidden`))
	if got := jsText(t, tab, "#sync-notes"); !strings.Contains(got, "konflikt") {
		t.Errorf("after the upload the till notes %q, want the conflict", got)
	}
	if c, k := count(); c != 1 || k != 1 {
		t.Fatalf("the card has %d completed and %d conflicts on the server, want 1 and 1", c, k)
	}
}
