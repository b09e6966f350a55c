package main

// Tests that drive a real headless Chromium (chromedp) against the real app on a 127.0.0.1
// listener: the tourist's card page, the web till and the office's console, as people use them.
// Without Chromium they skip, except with CI=true, where they fail. With
// CITYCARD_SCREENSHOTS=<dir> they also save screenshots of every page there.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/skip2/go-qrcode"
)

func TestBrowserCardPage(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)

	// The "benefits" heading and an offer title of the demo set, in each language.
	want := map[string][2]string{
		"sl": {"Ugodnosti", "Brezplačen vstop"},
		"it": {"Vantaggi", "Ingresso gratuito"},
		"en": {"Benefits", "Free admission"},
		"de": {"Vorteile", "Freier Eintritt"},
	}
	for _, lang := range card.Languages {
		t.Run(lang, func(t *testing.T) {
			ctx := newTab(t, tabs)
			do(t, ctx, viewport(360, 740), chromedp.Navigate(a.demo.CardURL+"?lang="+lang), waitJS(`document.getElementById("qr").complete`))
			if got := eval[string](t, ctx, `document.documentElement.lang`); got != lang {
				t.Errorf("html lang = %q, want %q", got, lang)
			}
			if eval[int](t, ctx, `document.getElementById("qr").naturalWidth`) == 0 {
				t.Error("the QR code image did not load (naturalWidth 0)")
			}
			if n := eval[int](t, ctx, `document.querySelectorAll(".benefit").length`); n < 10 {
				t.Errorf("%d benefits shown, want the demo's offers (at least 10)", n)
			}
			if got := jsText(t, ctx, ".benefits h2"); !strings.Contains(got, want[lang][0]) {
				t.Errorf("benefits heading = %q, want %q", got, want[lang][0])
			}
			if got := jsText(t, ctx, ".benefits"); !strings.Contains(got, want[lang][1]) || !strings.Contains(got, "Pokrajinski muzej Koper") {
				t.Errorf("benefits do not show %q at Pokrajinski muzej Koper", want[lang][1])
			}
		})
	}

	t.Run("switch language", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 740), chromedp.Navigate(a.demo.CardURL+"?lang=en"), chromedp.Click(chromedp.CSS(`.langs a[lang="de"]`)),
			waitJS(`document.documentElement.lang === "de"`))
		if got := jsText(t, ctx, ".benefits h2"); !strings.Contains(got, "Vorteile") {
			t.Errorf("after choosing DE the heading is %q", got)
		}
	})

	t.Run("active card counts down and shows what was used", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 740), chromedp.Navigate(a.cardURL(t, "koper-resident")+"?lang=en"))
		first := jsText(t, ctx, "#left")
		do(t, ctx, waitJS(`document.getElementById("left").textContent.trim() !== `+jsString(first)))
		if !strings.Contains(first, " d ") {
			t.Errorf("time left %q does not show days for a card valid for months", first)
		}
		if got := jsText(t, ctx, ".benefit.used .state"); !strings.HasPrefix(got, "Used on ") {
			t.Errorf("a used benefit says %q, want \"Used on …\"", got)
		}
		if got := eval[string](t, ctx, `document.querySelector(".benefit a.map").href`); !strings.HasPrefix(got, "https://www.openstreetmap.org/") {
			t.Errorf("map link = %q", got)
		}
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func TestBrowserCardOffline(t *testing.T) {
	a := startLiveApp(t)
	ctx := newTab(t, newBrowser(t))
	url := a.cardURL(t, "koper-resident") + "?lang=it"
	do(t, ctx, viewport(360, 740), chromedp.Navigate(url),
		// The service worker runs and has kept the page and its QR code.
		waitJS(`navigator.serviceWorker.controller !== null`),
		waitJS(`caches.match(location.href).then(r => !!r)`),
		waitJS(`caches.match(document.getElementById("qr").src).then(r => !!r)`),
		waitJS(`caches.match("/towns.css").then(r => !!r)`))
	townColor := `getComputedStyle(document.documentElement).getPropertyValue("--town-color").trim()`
	online := eval[string](t, ctx, townColor)
	if online == "" {
		t.Fatal("the card page has no town colour online")
	}
	if !eval[bool](t, ctx, `document.getElementById("offline").hidden`) {
		t.Error("the page says it is offline while the server runs")
	}

	a.stop()
	if code := eval[string](t, ctx, `fetch("/healthz").then(() => "up", () => "down")`); code != "down" {
		t.Fatalf("the server still answers after stop: %s", code)
	}
	// Open the card again, in another language too: the kept copy is shown.
	for _, u := range []string{url, strings.TrimSuffix(url, "?lang=it")} {
		do(t, ctx, chromedp.Navigate(u), waitJS(`document.getElementById("qr").complete`), waitJS(`!document.getElementById("offline").hidden`))
		if n := eval[int](t, ctx, `document.querySelectorAll(".benefit").length`); n < 10 {
			t.Errorf("offline %s: %d benefits shown", u, n)
		}
		if eval[int](t, ctx, `document.getElementById("qr").naturalWidth`) == 0 {
			t.Errorf("offline %s: the QR code is missing", u)
		}
		if got := jsText(t, ctx, "#offline"); !strings.Contains(got, "offline") {
			t.Errorf("offline note = %q, want it to say the card is shown offline and as of when", got)
		}
		if got := eval[string](t, ctx, townColor); got != online {
			t.Errorf("offline %s: the town's colour is %q, want %q as online (/towns.css not kept)", u, got, online)
		}
	}
	screenshot(t, ctx, "card-offline-360")
}

func TestBrowserTill(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	m, key := a.merchantKey(t, "Pretorska palača")
	souvenirs := a.offerID(t, m.ID, "10% off souvenirs")

	t.Run("check, quote, redeem, void", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"),
			chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`))
		if got := jsText(t, ctx, "#who"); got != m.Name {
			t.Errorf("signed in as %q, want %q", got, m.Name)
		}
		// A keyboard-wedge scanner types the QR code's URL and Enter into the focused field.
		if got := eval[string](t, ctx, `document.activeElement.id`); got != "scan" {
			t.Fatalf("after sign-in the focus is on %q, not on the scan field", got)
		}
		do(t, ctx, chromedp.KeyEvent(a.demo.CardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
		if got := jsText(t, ctx, "#card-status"); got != "Not yet used" {
			t.Errorf("card status = %q", got)
		}
		if n := eval[int](t, ctx, `document.querySelectorAll(".offer:not([disabled])").length`); n != 2 {
			t.Errorf("%d offers available, want 2", n)
		}

		// The clerk picks the offer and types 23,50 (a decimal comma, as in Slovenia).
		do(t, ctx, chromedp.Click(chromedp.CSS(`.offer[data-offer="`+souvenirs+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), "23,50"),
			waitJS(`!document.getElementById("quote").hidden && !document.getElementById("confirm").disabled`))
		if got, want := jsText(t, ctx, "#q-discount"), "2.35"; !strings.Contains(got, want) {
			t.Errorf("discount shown = %q, want %s", got, want)
		}
		if got, want := jsText(t, ctx, "#q-total"), "21.15"; !strings.Contains(got, want) {
			t.Errorf("total shown = %q, want %s", got, want)
		}
		screenshot(t, ctx, "pos-quote-360")

		before := len(a.redemptions(t, m.ID))
		do(t, ctx, chromedp.Click(chromedp.ID("confirm")), waitJS(`!document.getElementById("result").hidden`))
		if got := eval[string](t, ctx, `document.getElementById("result").className`); got != "result ok" {
			t.Fatalf("result screen is %q, want approved (detail: %s)", got, jsText(t, ctx, "#r-detail"))
		}
		if got := jsText(t, ctx, "#r-main"); !strings.Contains(got, "21.15") {
			t.Errorf("result says %q, want the customer pays 21.15", got)
		}
		screenshotScreen(t, ctx, "pos-approved-360")
		rs := a.redemptions(t, m.ID)
		if len(rs) != before+1 || rs[0].Amount != 2350 || rs[0].Discount != 235 || rs[0].OfferID != souvenirs {
			t.Fatalf("%d redemptions after confirming (want 1), newest %+v", len(rs)-before, rs[0])
		}

		// Void it with a reason.
		do(t, ctx, chromedp.Click(chromedp.ID("r-void")), waitJS(`!document.getElementById("void").hidden`),
			chromedp.SendKeys(chromedp.ID("void-reason"), "wrong item"), chromedp.Click(chromedp.ID("void-confirm")),
			waitJS(`document.getElementById("result").className === "result voided" && !document.getElementById("result").hidden`))
		rs = a.redemptions(t, m.ID)
		if len(rs) != before+1 || rs[0].VoidedAt == nil || rs[0].VoidReason != "wrong item" {
			t.Fatalf("redemption after voiding: %+v", rs[0])
		}
		// Today's list shows it, voided.
		do(t, ctx, chromedp.Click(chromedp.ID("r-next")), waitJS(`document.querySelectorAll("#today tr.voided").length === 1`))
	})

	t.Run("a retry after a lost answer records the sale once", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(1280, 900), chromedp.Navigate(a.URL+"/pos"), waitJS(`!document.getElementById("till").hidden`))
		before := len(a.redemptions(t, m.ID))

		// The first confirmation reaches the server, but its answer is lost on the way back.
		var mu sync.Mutex
		var keys []string
		paused := chromedp.Events(ctx, fetch.RequestPaused)
		go func() {
			for ev, err := range paused {
				if err != nil {
					return
				}
				mu.Lock()
				keys = append(keys, headerValue(ev.Request.Headers, "Idempotency-Key"))
				first := len(keys) == 1
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
				{URLPattern: "*/api/v1/pos/redemptions", RequestStage: fetch.RequestStageResponse}}})
			return err
		}))

		do(t, ctx, chromedp.SendKeys(chromedp.ID("scan"), a.demo.CardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`),
			chromedp.Click(chromedp.CSS(`.offer[data-offer="`+souvenirs+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), "10"),
			waitJS(`!document.getElementById("confirm").disabled`), chromedp.Click(chromedp.ID("confirm")),
			waitJS(`document.getElementById("result").className === "result retry" && !document.getElementById("result").hidden`))
		screenshotScreen(t, ctx, "pos-retry-1280")
		if got := len(a.redemptions(t, m.ID)); got != before+1 {
			t.Fatalf("the server recorded %d redemptions for the first try, want 1", got-before)
		}
		do(t, ctx, chromedp.Click(chromedp.ID("r-retry")),
			waitJS(`document.getElementById("result").className === "result ok" && !document.getElementById("result").hidden`))
		if got := len(a.redemptions(t, m.ID)); got != before+1 {
			t.Errorf("after the retry there are %d new redemptions, want 1", got-before)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(keys) != 2 || keys[0] == "" || keys[0] != keys[1] {
			t.Errorf("Idempotency-Keys of the try and the retry: %q, want the same key twice", keys)
		}
	})
}

// headerValue finds a header case-insensitively in the protocol's header map.
func headerValue(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

func TestBrowserAdmin(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	signIn := func(t *testing.T, ctx context.Context, hash string) {
		t.Helper()
		do(t, ctx, chromedp.Navigate(a.URL+"/admin"+hash), chromedp.SendKeys(chromedp.ID("token"), a.adminToken+"\r"),
			waitJS(`!document.getElementById("tabs").hidden`))
	}

	t.Run("issue a card that opens on the card page", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(1280, 900))
		signIn(t, ctx, "#cards")
		do(t, ctx, chromedp.SetValue(chromedp.ID("issue-product"), "koper-24h"),
			chromedp.SendKeys(chromedp.ID("issue-holder"), "Erika Muster"), chromedp.Click(chromedp.ID("issue-submit")),
			waitJS(`!document.getElementById("issued-panel").hidden`))
		href := eval[string](t, ctx, `document.querySelector("#issued a.open-card").href`)
		do(t, ctx, chromedp.Navigate(href), waitJS(`document.getElementById("qr").complete`))
		if got := jsText(t, ctx, ".product"); got != "Koper Card 24 hours" {
			t.Errorf("the issued card's page shows product %q", got)
		}
		if got := jsText(t, ctx, ".status"); got != "Not yet activated" {
			t.Errorf("the issued card's status is %q", got)
		}
		if got := jsText(t, ctx, "main"); strings.Contains(got, "Erika Muster") {
			t.Error("the public card page shows the holder's name")
		}
		if eval[int](t, ctx, `document.getElementById("qr").naturalWidth`) == 0 {
			t.Error("the issued card's QR code did not load")
		}
	})

	t.Run("merchant: create, key shown once, rotate, suspend, offer", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(1280, 900))
		signIn(t, ctx, "#merchants")
		do(t, ctx, waitJS(`document.querySelectorAll("#merchants tr").length >= 12`),
			chromedp.Click(chromedp.ID("merchant-new")), chromedp.SendKeys(chromedp.ID("m-name"), "Pekarna Pri mostu"),
			chromedp.SetValue(chromedp.ID("m-category"), "shop"), chromedp.SendKeys(chromedp.ID("m-address"), "Pristaniška ulica 2, Koper"),
			chromedp.SendKeys(chromedp.ID("m-lat"), "45.5470"), chromedp.SendKeys(chromedp.ID("m-lon"), "13.7290"),
			chromedp.Click(chromedp.ID("merchant-save")), waitJS(`!document.getElementById("key-panel").hidden`))
		key := jsText(t, ctx, "#key-value")
		if !strings.HasPrefix(key, "ccm_") {
			t.Fatalf("new merchant's key shown as %q", key)
		}
		if got := a.apiStatus(t, "GET", "/api/v1/pos/me", key); got != 200 {
			t.Fatalf("the shown key gets %d from the till API", got)
		}
		do(t, ctx, chromedp.Click(chromedp.ID("key-done")))
		if got := jsText(t, ctx, "#key-value"); got != "" {
			t.Errorf("the key is still on the page after \"I have saved it\": %q", got)
		}

		// Rotate: asks once more, then shows a new key; the old one stops working.
		do(t, ctx, chromedp.Click(chromedp.ID("merchant-key")), chromedp.Click(chromedp.ID("merchant-key")),
			waitJS(`!document.getElementById("key-panel").hidden`))
		newKey := jsText(t, ctx, "#key-value")
		if newKey == key || !strings.HasPrefix(newKey, "ccm_") {
			t.Fatalf("rotated key %q", newKey)
		}
		if got := a.apiStatus(t, "GET", "/api/v1/pos/me", key); got != 401 {
			t.Errorf("the old key gets %d after rotation, want 401", got)
		}
		if got := a.apiStatus(t, "GET", "/api/v1/pos/me", newKey); got != 200 {
			t.Errorf("the new key gets %d, want 200", got)
		}

		// An offer.
		do(t, ctx, chromedp.Click(chromedp.ID("key-done")), chromedp.Click(chromedp.ID("offer-new")),
			chromedp.SendKeys(chromedp.ID("o-en"), "5% off bread"), chromedp.SendKeys(chromedp.ID("o-sl"), "5 % na kruh"),
			chromedp.SendKeys(chromedp.ID("o-value"), "5"), chromedp.SetValue(chromedp.ID("o-limit"), "daily"),
			chromedp.Click(chromedp.CSS(`#offer-form button[type=submit]`)),
			waitJS(`document.getElementById("offer-form").hidden && document.getElementById("offers").textContent.includes("5% off bread")`))
		screenshot(t, ctx, "admin-merchant-1280")

		// Edit: the address changes; the offer is switched off.
		do(t, ctx, chromedp.SetValue(chromedp.ID("m-address"), "Pristaniška ulica 4, Koper"),
			chromedp.Click(chromedp.ID("merchant-save")), waitJS(`document.getElementById("merchant-ok").textContent === "Saved."`),
			// Saving reloads the merchant and redraws its offers: a button found before the redraw
			// may be gone when a CDP click reaches it, so the click is one step in the page.
			chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#offers button")].find(b => b.textContent === "Deactivate").click()`),
			waitJS(`document.getElementById("offers").textContent.includes("inactive")`))
		ms, _, err := a.db.Merchants(context.Background(), "koper", storage.Page{Limit: 500})
		if err != nil {
			t.Fatal(err)
		}
		var created merchant.Merchant
		for _, m := range ms {
			if m.Name == "Pekarna Pri mostu" {
				created = m
			}
		}
		if created.Address != "Pristaniška ulica 4, Koper" || created.Lat == nil || *created.Lat != 45.547 {
			t.Errorf("merchant stored as %+v", created)
		}
		offers, _, err := a.db.Offers(context.Background(), "koper", created.ID, storage.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(offers) != 1 || offers[0].Active || offers[0].Kind != "percent" || offers[0].Value != 500 || offers[0].Limit != "daily" {
			t.Errorf("offer stored as %+v", offers)
		}

		// Suspend: the shop's key is refused.
		do(t, ctx, chromedp.Click(chromedp.ID("merchant-suspend")), waitJS(`document.getElementById("merchant-ok").textContent.startsWith("Suspended")`))
		if got := a.apiStatus(t, "GET", "/api/v1/pos/me", newKey); got != 403 {
			t.Errorf("a suspended merchant's key gets %d, want 403", got)
		}
	})

}

func mustMonth(t *testing.T, s string) merchant.Month {
	t.Helper()
	m, err := merchant.ParseMonth(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBrowserLayout opens every page in its main states at a phone's and a desktop's width:
// none may scroll sideways. With CITYCARD_SCREENSHOTS set it saves each as a screenshot.
func TestBrowserLayout(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	m, key := a.merchantKey(t, "Pretorska palača")
	souvenirs := a.offerID(t, m.ID, "10% off souvenirs")

	for _, width := range []int{360, 1280} {
		t.Run(strconv.Itoa(width), func(t *testing.T) {
			ctx := newTab(t, tabs)
			height := int64(800)
			if width > 700 {
				height = 900
			}
			do(t, ctx, viewport(int64(width), height))
			check := func(name string) {
				t.Helper()
				noSideScroll(t, ctx, width, name)
				if strings.HasPrefix(name, "pos-approved") || strings.HasPrefix(name, "pos-void") {
					screenshotScreen(t, ctx, name+"-"+strconv.Itoa(width))
				} else {
					screenshot(t, ctx, name+"-"+strconv.Itoa(width))
				}
			}

			// The tourist's card: unused, in use with benefits used, expired, and a bad link.
			do(t, ctx, chromedp.Navigate(a.demo.CardURL+"?lang=de"), waitJS(`document.getElementById("qr").complete`))
			check("card-issued")
			do(t, ctx, chromedp.Navigate(a.cardURL(t, "koper-resident")+"?lang=sl"), waitJS(`document.getElementById("qr").complete`))
			check("card-active")
			do(t, ctx, chromedp.Navigate(a.cardURL(t, "koper-72h")+"?lang=it"), waitJS(`document.getElementById("qr").complete`))
			check("card-expired")
			do(t, ctx, chromedp.Navigate(a.URL+"/c/not-a-card"))
			check("card-notfound")
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`localStorage.clear(); sessionStorage.clear()`)) // signed out of till and console

			// The till.
			do(t, ctx, chromedp.Navigate(a.URL+"/pos"), waitJS(`!document.getElementById("signin").hidden`))
			check("pos-signin")
			do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`))
			check("pos-till")
			do(t, ctx, chromedp.KeyEvent(a.cardURL(t, "koper-resident")+"\r"), waitJS(`!document.getElementById("card-panel").hidden`),
				chromedp.Click(chromedp.CSS(`.offer[data-offer="`+souvenirs+`"]`)), chromedp.SendKeys(chromedp.ID("amount"), "18.40"),
				waitJS(`!document.getElementById("confirm").disabled`))
			check("pos-sale")
			do(t, ctx, chromedp.Click(chromedp.ID("confirm")), waitJS(`document.getElementById("result").className === "result ok"`))
			check("pos-approved")
			do(t, ctx, chromedp.Click(chromedp.ID("r-void")), waitJS(`!document.getElementById("void").hidden`))
			check("pos-void")
			do(t, ctx, chromedp.Click(chromedp.ID("void-cancel")), chromedp.Click(chromedp.ID("r-next")),
				chromedp.KeyEvent(a.cardURL(t, "koper-72h")+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
			check("pos-expired-card")

			// The office's console, in Slovene on the phone and in Italian on the desk.
			lang := map[int]string{360: "sl", 1280: "it"}[width]
			do(t, ctx, chromedp.Navigate(a.URL+"/admin"), waitJS(`!document.getElementById("signin").hidden`),
				chromedp.Evaluate[chromedp.Void](`localStorage.setItem("citycard.admin.lang", "`+lang+`")`), chromedp.Reload(),
				waitJS(`!document.getElementById("signin").hidden && document.documentElement.lang === "`+lang+`"`))
			check("admin-signin")
			do(t, ctx, chromedp.SendKeys(chromedp.ID("token"), a.adminToken+"\r"), waitJS(`!document.getElementById("tab-desk").hidden`),
				chromedp.SendKeys(chromedp.ID("find-number"), card.FormatNumber(a.demoCard(t, "koper-resident").Number)+"\r"),
				waitJS(`!document.getElementById("card-panel").hidden && document.querySelectorAll("#batches tr").length > 0`))
			check("admin-desk")
			do(t, ctx, chromedp.Navigate(a.URL+"/admin#cards"), waitJS(`document.querySelectorAll("#cards tr").length > 0`),
				chromedp.SetValue(chromedp.ID("issue-count"), "3"), chromedp.Click(chromedp.ID("issue-submit")),
				waitJS(`!document.getElementById("issued-panel").hidden`))
			check("admin-cards")
			do(t, ctx, chromedp.Navigate(a.URL+"/admin#merchants"), waitJS(`document.querySelectorAll("#merchants tr").length >= 12`),
				chromedp.Click(chromedp.CSS(`#merchants tr:nth-child(4) button.edit`)), waitJS(`document.querySelectorAll("#offers tr").length > 0`),
				chromedp.Click(chromedp.ID("offer-new")))
			check("admin-merchants")
			do(t, ctx, chromedp.Navigate(a.URL+"/admin#report"), waitJS(`document.querySelectorAll("#chart-days rect").length > 0 && document.querySelectorAll("#statements tr").length > 0`))
			check("admin-report")
		})
	}
}

// TestBrowserTillCamera reads a card with the phone's camera: Chromium's fake camera plays a
// video of the card's QR code, and the till's decoder (BarcodeDetector where the browser has
// one, else the embedded jsQR) must read it and check the card.
func TestBrowserTillCamera(t *testing.T) {
	a := startLiveApp(t)
	video := filepath.Join(t.TempDir(), "qr.y4m")
	if err := writeQRVideo(video, a.demo.CardURL); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t, newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video)))
	_, key := a.merchantKey(t, "Pretorska palača")
	do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"),
		chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("camera-start").hidden`),
		chromedp.Click(chromedp.ID("camera-start")), waitJS(`!document.getElementById("card-panel").hidden`))
	if got, want := strings.ReplaceAll(jsText(t, ctx, "#card-number"), " ", ""), a.demo.CardNumber; got != want {
		t.Errorf("the camera read card %q, want %q", got, want)
	}
	if !eval[bool](t, ctx, `document.getElementById("camera").hidden`) {
		t.Error("the camera is still on after reading the card")
	}
	t.Logf("decoder: %s", eval[string](t, ctx, `document.getElementById("camera").dataset.decoder || "?"`))
}

// writeQRVideo writes a short grey-scale Y4M video (what Chromium's fake camera plays) of
// text's QR code on a white background.
func writeQRVideo(path, text string) error {
	code, err := qrcode.New(text, qrcode.Medium)
	if err != nil {
		return err
	}
	const w, h, side = 640, 480, 420
	img := code.Image(side)
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "YUV4MPEG2 W%d H%d F10:1 Ip A1:1 C420jpeg\n", w, h)
	for frame := 0; frame < 2; frame++ {
		buf.WriteString("FRAME\n")
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				lum := byte(255)
				if qx, qy := x-(w-side)/2, y-(h-side)/2; qx >= 0 && qy >= 0 && qx < side && qy < side {
					r, g, b, _ := img.At(qx, qy).RGBA()
					lum = byte((299*r + 587*g + 114*b) / 1000 >> 8)
				}
				buf.WriteByte(lum)
			}
		}
		buf.Write(bytes.Repeat([]byte{128}, w*h/2)) // U and V planes: no colour
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
