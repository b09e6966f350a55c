package main

// Browser test of the console's conflicts from offline tills: two tills sell the same
// once-per-card offer on the same card while offline, both sync, and the office sees the
// conflict with both sales and decides it; the month's report follows the decision.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/shopspring/decimal"
)

// offlineConflict issues a fresh card and syncs two offline sales of the once-per-card offer
// on it, from two tills, as two tills that were offline would; the second is recorded as a
// conflict. It returns the card's number and the conflict's id.
func (a *liveApp) offlineConflict(t *testing.T, key, offerID, tag string) (number, conflictID string) {
	t.Helper()
	var c cardJSON
	if code := a.apiJSON(t, "POST", "/api/v1/cards", a.adminToken, "koper", map[string]string{"product": "koper-72h"}, &c); code != 201 {
		t.Fatalf("issuing a card: %d", code)
	}
	// The sales happened at the till after the card was issued (a sale dated before the
	// issue would be a card_not_yet_issued conflict), a moment apart; issued_at is shown to
	// the second, so a second later is after it (and within the 5 minutes a till may be ahead).
	issued, err := time.Parse(time.RFC3339Nano, c.IssuedAt)
	if err != nil {
		t.Fatal(err)
	}
	item := func(n int, terminal string, after time.Duration) map[string]string {
		return map[string]string{"idempotency_key": fmt.Sprintf("conflict-%s-%d", tag, n), "card": c.Token, "offer_id": offerID,
			"amount": "20.00", "terminal": terminal, "occurred_at": issued.Add(after).Format(time.RFC3339Nano)}
	}
	var out struct {
		Items []struct {
			Status     int `json:"status"`
			Redemption *struct {
				ID             string  `json:"id"`
				Status         string  `json:"status"`
				ConflictReason *string `json:"conflict_reason"`
			} `json:"redemption"`
		} `json:"items"`
	}
	body := map[string]any{"items": []map[string]string{item(1, "bar-1", time.Second), item(2, "bar-2", time.Second+time.Millisecond)}}
	if code := a.apiJSON(t, "POST", "/api/v1/pos/redemptions/sync", key, "", body, &out); code != 200 || len(out.Items) != 2 {
		t.Fatalf("sync: %d, %+v", code, out)
	}
	first, second := out.Items[0], out.Items[1]
	if first.Status != 201 || first.Redemption == nil || first.Redemption.Status != "completed" {
		t.Fatalf("the first offline sale: %+v", first)
	}
	if second.Status != 201 || second.Redemption == nil || second.Redemption.Status != "conflict" ||
		second.Redemption.ConflictReason == nil || *second.Redemption.ConflictReason != "limit_reached" {
		t.Fatalf("the second offline sale of a once offer is not a limit_reached conflict: %+v", second)
	}
	return c.Number, second.Redemption.ID
}

// monthTotals are the current month's report totals: redemptions counted and the discount.
func (a *liveApp) monthTotals(t *testing.T, month string) (int, decimal.Decimal) {
	t.Helper()
	var r reportJSON
	if code := a.apiJSON(t, "GET", "/api/v1/reports/monthly?month="+month, a.adminToken, "koper", nil, &r); code != 200 {
		t.Fatalf("report: %d", code)
	}
	return r.Totals.Redemptions, decimal.RequireFromString(r.Totals.Discount)
}

func TestBrowserConflicts(t *testing.T) {
	a := startLiveApp(t)
	m, key := a.merchantKey(t, "Gostilna Pod Taverno")
	menu := a.offerID(t, m.ID, "Tourist menu for €14.00") // price 14.00, once per card: 6.00 off 20.00
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	tabs := newBrowser(t)
	runs := []struct {
		lang      string
		width     int
		reason    string // limit_reached in the console's language
		collision string // the start of the collided sale's line
	}{{"sl", 360, "Omejitev že porabljena", "V konfliktu s prodajo"}, {"it", 1280, "Limite già usato", "In conflitto con"}}
	for _, run := range runs {
		t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			accNumber, accID := a.offlineConflict(t, key, menu, run.lang+"-a")
			_, rejID := a.offlineConflict(t, key, menu, run.lang+"-r")
			// Both offline sales happened a moment ago: this month, unless it just began.
			month := time.Now().In(loc).Add(-time.Minute).Format("2006-01")
			before, discBefore := a.monthTotals(t, month)

			ct := openConsole(t, a, tabs, run.lang, run.width, "#report")
			ctx := ct.ctx
			css := func(id, part string) string { return `#conflicts tr[data-id="` + id + `"] ` + part }
			row := func(id string) string { return `document.querySelector('#conflicts tr[data-id="` + id + `"]')` }
			// The tab opens on the last full month; then this month is asked for, whose open
			// conflicts the line beside the close button names.
			do(t, ctx, waitJS(`!document.getElementById("report").hidden && !document.getElementById("report-conflicts").hidden`),
				chromedp.SetValue(chromedp.ID("report-month"), month), chromedp.Click(chromedp.CSS(`#report-form button[type=submit]`)),
				waitJS(row(accID)+` && `+row(rejID)+` && document.getElementById("report-conflicts").className === "error"`))
			text := eval[string](t, ctx, row(accID)+`.textContent`)
			for _, want := range []string{formatNumberForTest(accNumber), "Gostilna Pod Taverno", run.reason, run.collision, "bar-1", "bar-2"} {
				if !strings.Contains(text, want) {
					t.Errorf("the conflict's row %q does not show %q", text, want)
				}
			}
			open := eval[int](t, ctx, `document.querySelectorAll("#conflicts tr.open").length`)
			if open < 2 {
				t.Errorf("%d open conflicts listed, want at least 2", open)
			}
			if got := jsText(t, ctx, "#report-conflicts"); !strings.HasPrefix(got, strconv.Itoa(open)+" ") && !strings.Contains(got, ": "+strconv.Itoa(open)) ||
				eval[string](t, ctx, `document.getElementById("report-conflicts").className`) != "error" {
				t.Errorf("the month's open conflicts read %q, want %d", got, open)
			}
			// Closing warns of the open conflicts (the button is shown for months that are over;
			// the warning is the same).
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("close-open").click()`),
				waitJS(`document.getElementById("close-dialog").open`))
			if got := jsText(t, ctx, "#close-conflicts"); !strings.Contains(got, strconv.Itoa(open)) || eval[bool](t, ctx, `document.getElementById("close-conflicts").hidden`) {
				t.Errorf("the close dialog warns %q, want %d open conflicts", got, open)
			}
			do(t, ctx, chromedp.Click(chromedp.ID("close-cancel")))
			ct.check(t, "console-conflicts-"+run.lang)

			// A decision needs a note.
			do(t, ctx, chromedp.Click(chromedp.CSS(css(accID, ".cf-accept"))), waitJS(`document.getElementById("cf-error").textContent !== ""`))
			if eval[bool](t, ctx, row(accID)+`.classList.contains("decided")`) {
				t.Fatal("accepted without a note")
			}
			do(t, ctx, chromedp.SendKeys(chromedp.CSS(css(accID, ".cf-note")), "Guest paid the full menu, confirmed by phone"),
				chromedp.Click(chromedp.CSS(css(accID, ".cf-accept"))), waitJS(row(accID)+` && `+row(accID)+`.classList.contains("decided")`))
			do(t, ctx, chromedp.SendKeys(chromedp.CSS(css(rejID, ".cf-note")), "Second menu on one card"),
				chromedp.Click(chromedp.CSS(css(rejID, ".cf-reject"))), waitJS(row(rejID)+` && `+row(rejID)+`.classList.contains("decided")`))
			if got := eval[string](t, ctx, row(accID)+`.textContent`); !strings.Contains(got, "Guest paid the full menu") {
				t.Errorf("the accepted conflict's row %q does not show its note", got)
			}
			do(t, ctx, waitJS(`document.querySelectorAll("#conflicts tr.open").length === `+strconv.Itoa(open-2)))
			// The count beside the close button follows: none left open when these were the only ones.
			wantClass := "muted"
			if open > 2 {
				wantClass = "error"
			}
			do(t, ctx, waitJS(`document.getElementById("report-conflicts").className === `+jsString(wantClass)))
			ct.check(t, "console-conflicts-decided-"+run.lang)

			// The report counts the accepted sale only: one more redemption, 6.00 more discount.
			after, discAfter := a.monthTotals(t, month)
			if after != before+1 || !discAfter.Sub(discBefore).Equal(decimal.RequireFromString("6.00")) {
				t.Errorf("report before %d, %s; after %d, %s: want one redemption and 6.00 more", before, discBefore, after, discAfter)
			}
			if code := a.apiJSON(t, "POST", "/api/v1/redemptions/"+rejID+"/accept", a.adminToken, "koper", map[string]string{"note": "again"}, nil); code != 409 {
				t.Errorf("deciding a rejected conflict again: %d, want 409", code)
			}
		})
	}
}

// formatNumberForTest groups a card number as the console shows it: "1234 5678 9012".
func formatNumberForTest(n string) string {
	var b strings.Builder
	for i, r := range n {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}
