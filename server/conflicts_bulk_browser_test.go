package main

// Browser test of the console's conflicts in bulk: a till floods the office with conflicts,
// the conflicts view groups the open ones by till and reason with their counts, and the office
// rejects one group and accepts another at once, each after a confirmation with a note.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"
)

// offlineFlood issues a fresh card and syncs n+1 offline sales of the once-per-card offer on
// it from terminal: the first completes, the other n are limit_reached conflicts, whose ids
// it returns.
func (a *liveApp) offlineFlood(t *testing.T, key, offerID, terminal string, n int) []string {
	t.Helper()
	var c cardJSON
	if code := a.apiJSON(t, "POST", "/api/v1/cards", a.adminToken, "koper", map[string]string{"product": "koper-72h"}, &c); code != 201 {
		t.Fatalf("issuing a card: %d", code)
	}
	// After the card's issue (a sale dated before it is the conflict card_not_yet_issued):
	// RFC 3339 to the second, so a second later than now.
	at := time.Now().UTC().Add(time.Second).Format(time.RFC3339)
	items := make([]map[string]string, n+1)
	for i := range items {
		items[i] = map[string]string{"idempotency_key": fmt.Sprintf("flood-%s-%d", terminal, i), "card": c.Token, "offer_id": offerID,
			"amount": "20.00", "terminal": terminal, "occurred_at": at}
	}
	var out struct {
		Items []struct {
			Status     int             `json:"status"`
			Redemption *redemptionJSON `json:"redemption"`
		} `json:"items"`
	}
	if code := a.apiJSON(t, "POST", "/api/v1/pos/redemptions/sync", key, "", map[string]any{"items": items}, &out); code != 200 || len(out.Items) != n+1 {
		t.Fatalf("sync: %d, %+v", code, out)
	}
	var ids []string
	for i, it := range out.Items[1:] {
		if it.Status != 201 || it.Redemption == nil || it.Redemption.Status != "conflict" {
			t.Fatalf("flood item %d: %+v", i+1, it)
		}
		ids = append(ids, it.Redemption.ID)
	}
	return ids
}

func TestBrowserConflictsBulk(t *testing.T) {
	a := startLiveApp(t)
	m, key := a.merchantKey(t, "Gostilna Pod Taverno")
	menu := a.offerID(t, m.ID, "Tourist menu for €14.00") // 6.00 off 20.00, once per card
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	tabs := newBrowser(t)
	runs := []struct {
		lang, reason, rejectAll, acceptAll string
		width                              int
	}{{"sl", "Omejitev že porabljena", "Zavrni vse", "Sprejmi vse", 360}, {"it", "Limite già usato", "Rifiuta tutti", "Accetta tutti", 1280}}
	for _, run := range runs {
		t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			tillA, tillB := "flood-"+run.lang+"-a", "flood-"+run.lang+"-b"
			// Each flood is one card: 3 conflicts on till A, 2 on till B.
			rejected := a.offlineFlood(t, key, menu, tillA, 3)
			accepted := a.offlineFlood(t, key, menu, tillB, 2)
			month := time.Now().In(loc).Add(-5 * time.Minute).Format("2006-01")
			before, discBefore := a.monthTotals(t, month)

			ct := openConsole(t, a, tabs, run.lang, run.width, "#report")
			ctx := ct.ctx
			group := func(till string) string {
				return `document.querySelector('#cf-groups tr[data-terminal="` + till + `"][data-reason="limit_reached"]')`
			}
			has := func(till string) string { return `!!` + group(till) }
			do(t, ctx, waitJS(has(tillA)+` && `+has(tillB)))
			for till, n := range map[string]int{tillA: 3, tillB: 2} {
				row := eval[string](t, ctx, group(till)+`.textContent`)
				if got := eval[string](t, ctx, group(till)+`.querySelector(".cf-count").textContent`); got != strconv.Itoa(n) {
					t.Errorf("group %s counts %q, want %d", till, got, n)
				}
				for _, want := range []string{"Gostilna Pod Taverno", till, run.reason, run.rejectAll, run.acceptAll} {
					if !strings.Contains(row, want) {
						t.Errorf("group %s's row %q does not show %q", till, row, want)
					}
				}
			}
			ct.check(t, "console-conflict-groups-"+run.lang)
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("cf-groups-box").scrollIntoView()`))
			screenshotScreen(t, ctx, "console-conflict-groups-screen-"+run.lang)

			// Reject all of till A: the confirmation names the group and asks for a note.
			do(t, ctx, chromedp.Click(chromedp.CSS(`#cf-groups tr[data-terminal="`+tillA+`"] .cf-reject-all`)),
				waitJS(`document.getElementById("cf-bulk-dialog").open`))
			what := jsText(t, ctx, "#cf-bulk-what")
			for _, want := range []string{tillA, "Gostilna Pod Taverno", run.reason, "3"} {
				if !strings.Contains(what, want) {
					t.Errorf("the confirmation %q does not name %q", what, want)
				}
			}
			if got := jsText(t, ctx, "#cf-bulk-confirm"); got != run.rejectAll {
				t.Errorf("the confirmation's button reads %q, want %q", got, run.rejectAll)
			}
			ct.check(t, "console-conflict-bulk-confirm-"+run.lang)
			screenshotScreen(t, ctx, "console-conflict-bulk-confirm-screen-"+run.lang)
			do(t, ctx, chromedp.Click(chromedp.ID("cf-bulk-confirm")), waitJS(`document.getElementById("cf-bulk-error").textContent !== ""`))
			if !eval[bool](t, ctx, `document.getElementById("cf-bulk-dialog").open`) {
				t.Fatal("decided without a note")
			}
			// Cancel leaves everything open; then the decision with its note.
			do(t, ctx, chromedp.Click(chromedp.ID("cf-bulk-cancel")), waitJS(`!document.getElementById("cf-bulk-dialog").open`))
			a.wantDecisions(t, rejected, "")
			do(t, ctx, chromedp.Click(chromedp.CSS(`#cf-groups tr[data-terminal="`+tillA+`"] .cf-reject-all`)),
				waitJS(`document.getElementById("cf-bulk-dialog").open`),
				chromedp.SendKeys(chromedp.ID("cf-bulk-note"), "Till A flooded: duplicate menus"),
				chromedp.Click(chromedp.ID("cf-bulk-confirm")),
				waitJS(`!document.getElementById("cf-bulk-dialog").open && !`+group(tillA)+` && `+has(tillB)))
			a.wantDecisions(t, rejected, "rejected")
			a.wantDecisions(t, accepted, "")
			for _, id := range rejected {
				do(t, ctx, waitJS(`!!document.querySelector('#conflicts tr[data-id="`+id+`"]') && document.querySelector('#conflicts tr[data-id="`+id+`"]').classList.contains("decided")`))
			}
			if got := jsText(t, ctx, "#cf-ok"); !strings.Contains(got, "3") {
				t.Errorf("after rejecting the group the console says %q", got)
			}

			// Accept all of till B: the report counts them.
			do(t, ctx, chromedp.Click(chromedp.CSS(`#cf-groups tr[data-terminal="`+tillB+`"] .cf-accept-all`)),
				waitJS(`document.getElementById("cf-bulk-dialog").open`),
				chromedp.SendKeys(chromedp.ID("cf-bulk-note"), "Confirmed by the restaurant"),
				chromedp.Click(chromedp.ID("cf-bulk-confirm")),
				waitJS(`!document.getElementById("cf-bulk-dialog").open && !`+group(tillB)))
			a.wantDecisions(t, accepted, "accepted")
			ct.check(t, "console-conflict-groups-decided-"+run.lang)
			after, discAfter := a.monthTotals(t, month)
			if after != before+2 || !discAfter.Sub(discBefore).Equal(decimal.RequireFromString("12.00")) {
				t.Errorf("report before %d, %s; after %d, %s: want two redemptions and 12.00 more", before, discBefore, after, discAfter)
			}
		})
	}
}

// wantDecisions checks each conflict's decision through the API ("" for still open).
func (a *liveApp) wantDecisions(t *testing.T, ids []string, want string) {
	t.Helper()
	var list struct {
		Items []redemptionJSON `json:"items"`
	}
	if code := a.apiJSON(t, "GET", "/api/v1/redemptions?status=conflict&limit=500", a.adminToken, "koper", nil, &list); code != 200 {
		t.Fatalf("conflicts: %d", code)
	}
	got := map[string]string{}
	for _, r := range list.Items {
		got[r.ID] = ""
		if r.Decision != nil {
			got[r.ID] = *r.Decision
		}
	}
	for _, id := range ids {
		if d, ok := got[id]; !ok || d != want {
			t.Errorf("conflict %s: decision %q (listed %v), want %q", id, d, ok, want)
		}
	}
}
