package main

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// Browser tests of the till offline (issue 12): DevTools cuts the network of the tab and of
// its service worker, as a shop's lost connection would.

// networkOff cuts (or restores) the tab's network, its service worker's included, and tells
// the page (navigator.onLine and the online/offline events).
func networkOff(off bool) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		if _, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{}); err != nil {
			return chromedp.Void{}, err
		}
		if _, err := cdp.Call(ctx, tg, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
			EmulateOfflineServiceWorker: &off,
			MatchedNetworkConditions:    []*network.Conditions{{Offline: off, DownloadThroughput: -1, UploadThroughput: -1}},
		}); err != nil {
			return chromedp.Void{}, err
		}
		_, err := cdp.Call(ctx, tg, network.OverrideNetworkState, network.OverrideNetworkStateParams{Offline: off, DownloadThroughput: -1, UploadThroughput: -1})
		return chromedp.Void{}, err
	}
}

// newCardURL issues a fresh card of product and returns its page's address and its id.
func (a *liveApp) newCardURL(t *testing.T, product string) (string, string) {
	t.Helper()
	var c cardJSON
	if st := a.apiJSON(t, "POST", "/api/v1/cards", a.adminToken, "koper", map[string]string{"product": product}, &c); st != 201 {
		t.Fatalf("issue a card: %d", st)
	}
	return a.srv.cardURL("koper", c.Token), c.ID
}

// signInForOffline signs the till of ctx in online, in lang, and waits until it is ready to go
// offline: the service worker controls it, has kept the page, and the offline pack is stored.
func signInForOffline(t *testing.T, ctx context.Context, a *liveApp, key, lang string) {
	t.Helper()
	do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"),
		// The clerk's language, chosen as a clerk does (a reload here could race the service
		// worker's first activation and leave this page uncontrolled).
		waitJS(`(function (s) { s.value = `+jsString(lang)+`; s.dispatchEvent(new Event("change")); return true; })(document.getElementById("lang"))`),
		chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`),
		waitJS(`navigator.serviceWorker.controller !== null`),
		waitJS(`caches.match("/pos").then(r => !!r)`),
		waitJS(`window.citycardOffline.get("pack").then(p => !!(p && p.body && p.body.keys.length))`))
}

// sellOffline scans a card, picks the offer and confirms amount; the sale must be queued.
func sellOffline(t *testing.T, ctx context.Context, cardURL, offerID, amount string) {
	t.Helper()
	do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), cardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`),
		waitJS(`document.getElementById("card-status").classList.contains("offline")`),
		chromedp.Click(chromedp.CSS(`.offer[data-offer="`+offerID+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), amount),
		waitJS(`!document.getElementById("confirm").disabled`), chromedp.Click(chromedp.ID("confirm")),
		waitJS(`!document.getElementById("result").hidden`))
	if got := eval[string](t, ctx, `document.getElementById("result").className`); got != "result queued" {
		t.Fatalf("offline sale: result %q, want queued (detail: %s)", got, jsText(t, ctx, "#r-detail"))
	}
	do(t, ctx, chromedp.Click(chromedp.ID("r-next")), waitJS(`document.getElementById("result").hidden`))
}

func TestBrowserTillOffline(t *testing.T) {
	a := startLiveApp(t)
	m, key := a.merchantKey(t, "Pretorska palača")
	souvenirs := a.offerID(t, m.ID, "10% off souvenirs")
	tour := a.offerID(t, m.ID, "Free guided palace tour")

	t.Run("three sales offline, uploaded once back online", func(t *testing.T) {
		ctx := newTab(t, newBrowser(t))
		signInForOffline(t, ctx, a, key, "sl")
		before := len(a.redemptions(t, m.ID))

		// The network goes; the till is reloaded and comes from the service worker.
		do(t, ctx, networkOff(true), chromedp.Reload(), waitJS(`!document.getElementById("till").hidden`),
			waitJS(`document.getElementById("offline-banner").className === "banner offline" && !document.getElementById("offline-banner").hidden`))
		for _, amount := range []string{"10", "23,50", "7"} {
			url, _ := a.newCardURL(t, "koper-72h")
			sellOffline(t, ctx, url, souvenirs, amount)
		}
		do(t, ctx, waitJS(`document.querySelectorAll("#today tr.pending").length === 3`))
		if got := jsText(t, ctx, "#offline-banner"); !strings.Contains(got, "3") {
			t.Errorf("banner %q does not show the 3 pending sales", got)
		}
		// A typed number cannot be checked offline.
		do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), "1234 5678 9012\r"), waitJS(`document.getElementById("scan-error").textContent !== ""`))
		screenshot(t, ctx, "pos-offline-sl-360")
		if got := len(a.redemptions(t, m.ID)); got != before {
			t.Fatalf("the server has %d new redemptions while the till is offline", got-before)
		}

		// A reload keeps the queue.
		do(t, ctx, chromedp.Reload(), waitJS(`document.querySelectorAll("#today tr.pending").length === 3`))

		// Back online: the probe finds the server and the queue goes up, once.
		do(t, ctx, networkOff(false), waitJS(`document.querySelectorAll("#today tr.pending").length === 0`),
			waitJS(`document.getElementById("offline-banner").hidden`))
		rs := a.redemptions(t, m.ID)
		if len(rs) != before+3 {
			t.Fatalf("the server has %d new redemptions, want 3", len(rs)-before)
		}
		var cents int64
		for _, r := range rs[:3] {
			if r.Status() != "completed" || r.OfferID != souvenirs {
				t.Errorf("uploaded redemption %+v", r)
			}
			cents += r.Discount
		}
		if cents != 100+235+70 {
			t.Errorf("discounts of the three sales = %d cents, want 405", cents)
		}
		do(t, ctx, waitJS(`document.querySelectorAll("#today tr.completed").length >= 3`))
	})

	t.Run("a lost sync answer is retried with the same keys", func(t *testing.T) {
		ctx := newTab(t, newBrowser(t))
		signInForOffline(t, ctx, a, key, "en")
		do(t, ctx, networkOff(true))
		for _, amount := range []string{"12", "4,20"} {
			url, _ := a.newCardURL(t, "koper-24h")
			sellOffline(t, ctx, url, souvenirs, amount)
		}
		before := len(a.redemptions(t, m.ID))

		// The first upload reaches the server, but its answer is lost on the way back.
		var mu sync.Mutex
		var bodies []string
		paused := chromedp.Events(ctx, fetch.RequestPaused)
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				var b strings.Builder
				for _, e := range ev.Request.PostDataEntries {
					b.Write(e.Bytes)
				}
				mu.Lock()
				bodies = append(bodies, b.String())
				first := len(bodies) == 1
				mu.Unlock()
				if first {
					chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
				} else {
					chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
				}
			}
		}()
		do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
				{URLPattern: "*/api/v1/pos/redemptions/sync", RequestStage: fetch.RequestStageResponse}}})
			return err
		}))
		do(t, ctx, networkOff(false), waitJS(`document.querySelectorAll("#today tr.pending").length === 0`))
		if got := len(a.redemptions(t, m.ID)); got != before+2 {
			t.Errorf("after the lost answer and the retry the server has %d new redemptions, want 2", got-before)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(bodies) != 2 || bodies[0] == "" || bodies[0] != bodies[1] || strings.Count(bodies[0], "idempotency_key") != 2 {
			t.Errorf("sync uploads %q, want the same two items with the same keys twice", bodies)
		}
	})

	t.Run("an online sale whose answers are lost is queued once, not sold twice", func(t *testing.T) {
		ctx := newTab(t, newBrowser(t))
		signInForOffline(t, ctx, a, key, "en")
		before := len(a.redemptions(t, m.ID))
		// Every answer to a redemption is lost; the requests reach the server.
		paused := chromedp.Events(ctx, fetch.RequestPaused)
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			}
		}()
		do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{
				{URLPattern: "*/api/v1/pos/redemptions", RequestStage: fetch.RequestStageResponse}}})
			return err
		}))
		url, _ := a.newCardURL(t, "koper-24h")
		do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), url+"\r"), waitJS(`!document.getElementById("card-panel").hidden`),
			chromedp.Click(chromedp.CSS(`.offer[data-offer="`+souvenirs+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), "15"),
			waitJS(`!document.getElementById("confirm").disabled`), chromedp.Click(chromedp.ID("confirm")),
			waitJS(`document.getElementById("result").className === "result retry" && !document.getElementById("result").hidden`),
			chromedp.Click(chromedp.ID("r-retry")),
			waitJS(`document.getElementById("result").className === "result queued" && !document.getElementById("result").hidden`))
		if got := len(a.redemptions(t, m.ID)); got != before+1 {
			t.Fatalf("the server recorded %d redemptions for the try and the retry, want 1", got-before)
		}
		// The answers come through again: the probe finds the server, the queued item is
		// the same sale (same key), so nothing new is recorded and nothing is reported.
		do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, fetch.Disable, cdp.Empty{})
			return err
		}), chromedp.Click(chromedp.ID("r-next")), waitJS(`document.querySelectorAll("#today tr.pending").length === 0 && document.getElementById("offline-banner").hidden`))
		if got := len(a.redemptions(t, m.ID)); got != before+1 {
			t.Errorf("after the upload the server has %d new redemptions, want 1", got-before)
		}
		if !eval[bool](t, ctx, `document.getElementById("sync-box").hidden`) {
			t.Errorf("the upload reported %q for a sale recorded online", jsText(t, ctx, "#sync-notes"))
		}
	})

	t.Run("a pack the server confirms unchanged (304) is renewed", func(t *testing.T) {
		ctx := newTab(t, newBrowser(t))
		signInForOffline(t, ctx, a, key, "en")
		// The kept pack says it was made 80 hours ago, past max_hours; the next start revalidates
		// it with its ETag, and the server's 304 makes it current again.
		do(t, ctx, waitJS(`window.citycardOffline.get("pack").then(p => { p.body.generated_at = new Date(Date.now() - 80*3600e3).toISOString(); return window.citycardOffline.put("pack", p); }).then(() => true)`),
			chromedp.Reload(), waitJS(`!document.getElementById("till").hidden`),
			waitJS(`window.citycardOffline.get("pack").then(p => Date.now() - Date.parse(p.body.generated_at) < 3600e3)`),
			networkOff(true))
		url, _ := a.newCardURL(t, "koper-72h")
		sellOffline(t, ctx, url, souvenirs, "5")
	})

	t.Run("offline the till refuses blocked cards, forged tokens and a stale pack", func(t *testing.T) {
		url, id := a.newCardURL(t, "koper-72h")
		if st := a.apiJSON(t, "POST", "/api/v1/cards/"+id+"/block", a.adminToken, "koper", map[string]string{"reason": "lost"}, nil); st != 200 {
			t.Fatalf("block: %d", st)
		}
		ctx := newTab(t, newBrowser(t))
		signInForOffline(t, ctx, a, key, "en")
		do(t, ctx, networkOff(true), chromedp.SendKeys(chromedp.ID("scan"), url+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
		if got := jsText(t, ctx, "#card-status"); got != "Blocked" {
			t.Errorf("a blocked card offline shows %q", got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll(".offer:not([disabled])").length`); n != 0 {
			t.Errorf("a blocked card offline has %d usable offers", n)
		}
		// One changed character in the signature: refused.
		tok := url[strings.LastIndex(url, "/c/")+3:]
		swap := "A"
		if tok[90] == 'A' {
			swap = "B"
		}
		forged := tok[:90] + swap + tok[91:]
		do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), forged+"\r"), waitJS(`document.getElementById("card-panel").hidden && document.getElementById("scan-error").textContent !== ""`))
		if got := eval[string](t, ctx, `window.citycardOffline.get("pack").then(p => window.citycardOffline.verify(`+jsString(tok)+`, p.body.keys))`); got == "" {
			t.Error("the genuine token does not verify in the browser")
		}
		// The pack's limits: too old, or too many queued sales.
		for expr, want := range map[string]string{
			`window.citycardOffline.stop({generated_at: new Date(Date.now() - 73*3600e3).toISOString(), limits: {max_hours: 72, max_redemptions: 500}}, 0, Date.now())`:   "offline_pack_old",
			`window.citycardOffline.stop({generated_at: new Date(Date.now() - 71*3600e3).toISOString(), limits: {max_hours: 72, max_redemptions: 500}}, 500, Date.now())`: "offline_queue_full",
			`window.citycardOffline.stop({generated_at: new Date(Date.now() - 71*3600e3).toISOString(), limits: {max_hours: 72, max_redemptions: 500}}, 499, Date.now())`: "",
			`window.citycardOffline.stop(null, 0, Date.now())`: "offline_no_pack",
		} {
			if got := eval[string](t, ctx, expr); got != want {
				t.Errorf("%s = %q, want %q", expr, got, want)
			}
		}
	})

	t.Run("two tills offline use a once offer on the same card: one completed, one conflict", func(t *testing.T) {
		card, cardID := a.newCardURL(t, "koper-72h")
		t1, t2 := newTab(t, newBrowser(t)), newTab(t, newBrowser(t))
		signInForOffline(t, t1, a, key, "it")
		signInForOffline(t, t2, a, key, "it")
		do(t, t1, networkOff(true))
		do(t, t2, networkOff(true))
		sellOffline(t, t1, card, tour, "8")
		sellOffline(t, t2, card, tour, "8")

		do(t, t1, networkOff(false), waitJS(`document.querySelectorAll("#today tr.pending").length === 0`))
		do(t, t2, networkOff(false), waitJS(`document.querySelectorAll("#today tr.pending").length === 0`),
			waitJS(`!document.getElementById("sync-box").hidden`))
		if got := jsText(t, t2, "#sync-notes"); !strings.Contains(got, "conflitto") {
			t.Errorf("the second till's note = %q, want it to say the sale became a conflict", got)
		}
		screenshot(t, t2, "pos-conflict-it-360")
		var completed, conflicts int
		for _, r := range a.redemptions(t, m.ID) {
			if r.OfferID != tour || r.CardID != cardID {
				continue
			}
			switch r.Status() {
			case "completed":
				completed++
			case "conflict":
				conflicts++
			}
		}
		if completed != 1 || conflicts != 1 {
			t.Errorf("palace tour redemptions: %d completed, %d conflicts, want 1 and 1", completed, conflicts)
		}
	})
}
