package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/card"
)

// Browser tests of the till at the counter: its four languages, one key stroke from the
// amount to the result, no double redemption, the phone layout and pairing from the console.

// nbsp turns the no-break spaces of a locale's number format into spaces, for comparing.
func nbsp(s string) string { return strings.NewReplacer("\u00a0", " ", "\u202f", " ").Replace(s) }

// browserLanguage makes the tab's browser prefer the languages of an Accept-Language value.
func browserLanguage(accept string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
			UserAgent: "Mozilla/5.0 (X11; Linux x86_64) citycard-test", AcceptLanguage: accept})
		return err
	})
}

// inView reports whether the element's box lies inside the window, top to bottom.
func inView(t *testing.T, ctx context.Context, id string) bool {
	t.Helper()
	return eval[bool](t, ctx, `(() => { const b = document.getElementById("`+id+`").getBoundingClientRect();
		return b.height > 0 && b.top >= 0 && b.bottom <= window.innerHeight && b.left >= 0 && b.right <= window.innerWidth; })()`)
}

func TestBrowserTillCounter(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	books, booksKey := a.merchantKey(t, "Knjigarna Sidro") // one offer, unlimited: a second Enter could record a second sale
	palace, palaceKey := a.merchantKey(t, "Pretorska palača")
	souvenirs := a.offerID(t, palace.ID, "10% off souvenirs")

	t.Run("Slovene: scan, amount, Enter is the sale; a double Enter records it once", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 640), chromedp.Navigate(a.URL+"/pos"), waitJS(`!document.getElementById("signin").hidden`),
			chromedp.SetValue(chromedp.ID("lang"), "sl"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
			waitJS(`document.documentElement.lang === "sl"`))
		if got := jsText(t, ctx, "#signin h1"); got != "Prijava v blagajno" {
			t.Errorf("sign-in heading %q, want Slovene", got)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), booksKey+"\r"), waitJS(`!document.getElementById("till").hidden`))
		if got := jsText(t, ctx, `label[for="scan"]`); !strings.HasPrefix(got, "Skenirajte kodo QR") {
			t.Errorf("scan label %q, want Slovene", got)
		}
		// The wedge scanner types the card's URL and Enter; the one offer is chosen at once and
		// the focus waits in the amount field.
		do(t, ctx, chromedp.KeyEvent(a.demo.CardURL+"\r"), waitJS(`!document.getElementById("sale").hidden && document.activeElement.id === "amount"`))
		if got := jsText(t, ctx, ".offer .terms"); !strings.Contains(got, "10 % popusta") || !strings.Contains(got, "brez omejitve") {
			t.Errorf("offer terms %q, want Slovene", got)
		}
		before := len(a.redemptions(t, books.ID))
		// The clerk types the amount and presses Enter twice, fast: one sale.
		do(t, ctx, chromedp.KeyEvent("23,50\r\r"), waitJS(`document.getElementById("result").className === "result ok" && !document.getElementById("result").hidden`))
		if got := jsText(t, ctx, "#r-title"); got != "Odobreno" {
			t.Errorf("result %q, want Odobreno", got)
		}
		if got := nbsp(jsText(t, ctx, "#r-main")); !strings.Contains(got, "21,15 €") {
			t.Errorf("result says %q, want the customer pays 21,15 €", got)
		}
		screenshotScreen(t, ctx, "pos-sl-approved-360")
		time.Sleep(1500 * time.Millisecond) // a late second request would have landed by now
		rs := a.redemptions(t, books.ID)
		if len(rs) != before+1 || rs[0].Amount != 2350 || rs[0].Discount != 235 {
			t.Fatalf("%d redemptions after Enter, Enter (want 1); newest %+v", len(rs)-before, rs[0])
		}
		if eval[bool](t, ctx, `document.getElementById("result").hidden`) {
			t.Error("the second Enter dismissed the result before the clerk saw it")
		}
		// The next scan starts the next sale: the wedge's keys reach the scan field.
		do(t, ctx, chromedp.KeyEvent(a.demo.CardURL+"\r"), waitJS(`document.getElementById("result").hidden && document.activeElement.id === "amount"`))
		do(t, ctx, chromedp.KeyEvent("5\r"), waitJS(`document.getElementById("result").className === "result ok" && !document.getElementById("result").hidden`))
		if got := len(a.redemptions(t, books.ID)); got != before+2 {
			t.Errorf("after a second sale %d redemptions, want 2", got-before)
		}
	})

	t.Run("Italian from the browser's language, offers in Italian, the choice remembered", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, browserLanguage("it-IT,it;q=0.9"), viewport(360, 740), chromedp.Navigate(a.URL+"/pos"),
			waitJS(`!document.getElementById("till").hidden`), // signed in by the last test's key: sign out
			chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Reload(), waitJS(`!document.getElementById("signin").hidden`))
		if got := eval[string](t, ctx, `document.documentElement.lang`); got != "it" {
			t.Fatalf("html lang = %q with an Italian browser", got)
		}
		if got := jsText(t, ctx, "#signin h1"); got != "Accesso alla cassa" {
			t.Errorf("sign-in heading %q, want Italian", got)
		}
		do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), palaceKey+"\r"), waitJS(`!document.getElementById("till").hidden`),
			chromedp.KeyEvent(a.demo.CardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
		text := nbsp(jsText(t, ctx, "#card-panel"))
		for _, want := range []string{"Scegli l'offerta", "10 % sui souvenir", "sconto del 10 %", "senza limite"} {
			if !strings.Contains(text, want) {
				t.Errorf("the card panel does not say %q: %s", want, text)
			}
		}
		for _, english := range []string{"Choose the offer", "off souvenirs", "no limit", "once per card"} {
			if strings.Contains(text, english) {
				t.Errorf("English %q on an Italian till: %s", english, text)
			}
		}
		screenshot(t, ctx, "pos-it-card-360")
		// Chosen German, the till stays German after a reload, whatever the browser prefers.
		do(t, ctx, chromedp.SetValue(chromedp.ID("lang"), "de"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById("lang").dispatchEvent(new Event("change"))`),
			waitJS(`document.getElementById("offers-title").textContent === "Angebot wählen"`),
			chromedp.Reload(), waitJS(`!document.getElementById("till").hidden`))
		if got := jsText(t, ctx, `label[for="scan"]`); !strings.HasPrefix(got, "QR-Code der Karte") {
			t.Errorf("after a reload the till says %q, want German", got)
		}
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`localStorage.removeItem("citycard.pos.lang")`))
	})

	t.Run("360×640: after the amount, the quote and the confirm button are on the screen", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 640), chromedp.Navigate(a.URL+"/pos"), chromedp.Evaluate[chromedp.Void](`localStorage.setItem("citycard.pos.lang", "sl")`),
			chromedp.Reload(), waitJS(`!document.getElementById("till").hidden`),
			chromedp.KeyEvent(a.demo.CardURL+"\r"), waitJS(`!document.getElementById("card-panel").hidden`))
		if eval[bool](t, ctx, `document.querySelectorAll(".offer:not([disabled])").length < 1`) {
			t.Skip("no offer applies to this demo card")
		}
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`), chromedp.Click(chromedp.CSS(`.offer[data-offer="`+souvenirs+`"]`)),
			chromedp.KeyEvent("18,40"), waitJS(`!document.getElementById("quote").hidden && !document.getElementById("confirm").disabled`))
		for _, id := range []string{"amount", "quote", "confirm"} {
			if !inView(t, ctx, id) {
				t.Errorf("#%s is not on the 360×640 screen after the amount was typed (box %v, window %v)", id,
					eval[[]float64](t, ctx, `(() => { const b = document.getElementById("`+id+`").getBoundingClientRect(); return [b.top, b.bottom]; })()`),
					eval[float64](t, ctx, `window.innerHeight`))
			}
		}
		noSideScroll(t, ctx, 360, "till at 360×640")
		screenshotScreen(t, ctx, "pos-sl-quote-360x640")
		do(t, ctx, chromedp.KeyEvent("\r"), waitJS(`document.getElementById("result").className === "result ok" && !document.getElementById("result").hidden`))
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`localStorage.removeItem("citycard.pos.lang")`))
	})
}

// TestBrowserTillPairing pairs a till from the console: the merchant page's "Pair a till"
// shows a QR code of /pos#pair=CODE; the till opens it, signs in with a key of its own, and
// the code leaves the address bar. The shop's other till stays signed in; the code works once.
func TestBrowserTillPairing(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	m, key := a.merchantKey(t, "Kavarna Pri vodnjaku")

	console := newTab(t, tabs)
	do(t, console, viewport(1280, 900), chromedp.Navigate(a.URL+"/admin"), waitJS(`!document.getElementById("signin").hidden`),
		chromedp.SendKeys(chromedp.ID("token"), a.adminToken+"\r"), chromedp.Navigate(a.URL+"/admin#merchants"),
		waitJS(`document.querySelectorAll("#merchants tr").length >= 12`),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#merchants tr")].find(tr => tr.textContent.includes("Kavarna Pri vodnjaku")).querySelector("button").click()`),
		waitJS(`!document.getElementById("merchant-pair").hidden`), chromedp.Click(chromedp.ID("merchant-pair")),
		waitJS(`document.getElementById("pair-qr").complete && document.getElementById("pair-qr").naturalWidth > 0`))
	url := eval[string](t, console, `document.getElementById("pair-qr").dataset.url`)
	code := jsText(t, console, "#pair-code-shown")
	if !strings.HasPrefix(url, a.URL+"/pos#pair=") || !strings.HasSuffix(url, code) || len(code) != 14 {
		t.Fatalf("pairing URL %q, code %q", url, code)
	}
	screenshotScreen(t, console, "admin-pair-1280")

	till := newTab(t, tabs)
	do(t, till, viewport(360, 740), chromedp.Navigate(url), waitJS(`!document.getElementById("till").hidden`))
	if got := jsText(t, till, "#who"); got != m.Name {
		t.Errorf("paired till signed in as %q, want %q", got, m.Name)
	}
	if got := eval[string](t, till, `location.href`); strings.Contains(got, "pair") {
		t.Errorf("the code is still in the address: %s", got)
	}
	if got := eval[string](t, till, `localStorage.getItem("citycard.pos.key")`); !strings.HasPrefix(got, "ccm_") || got == key {
		t.Errorf("the till keeps %q, want a key of its own", got)
	}
	if got := a.apiStatus(t, "GET", "/api/v1/pos/me", key); got != 200 {
		t.Errorf("the shop's other key after pairing: %d, want 200", got)
	}
	// The same code again, on another device: refused, said in the till's words.
	do(t, till, chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Navigate(url), chromedp.Reload(),
		waitJS(`document.getElementById("pair-error").textContent !== ""`))
	if got := jsText(t, till, "#pair-error"); !strings.Contains(got, "wrong, used or expired") {
		t.Errorf("a used code says %q", got)
	}
	screenshot(t, till, "pos-pair-used-360")
}

// TestBrowserTillPairingCamera pairs a till by scanning the console's pairing QR code with the
// till's camera on the sign-in screen (Chromium's fake camera plays a video of the code).
func TestBrowserTillPairingCamera(t *testing.T) {
	a := startLiveApp(t)
	m, _ := a.merchantKey(t, "Vinoteka Belveder")
	url := a.URL + "/pos#pair=" + mustPairingCode(t, a.db, m.ID) // what the console's QR code holds
	video := filepath.Join(t.TempDir(), "pair.y4m")
	if err := writeQRVideo(video, url); err != nil {
		t.Fatal(err)
	}
	ctx := newTab(t, newBrowser(t,
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-video-capture", video)))
	do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"), waitJS(`!document.getElementById("pair-scan").hidden`),
		chromedp.Click(chromedp.ID("pair-scan")), waitJS(`!document.getElementById("till").hidden`))
	if got := jsText(t, ctx, "#who"); got != m.Name {
		t.Errorf("paired by camera as %q, want %q", got, m.Name)
	}
	if !eval[bool](t, ctx, `document.getElementById("camera").hidden`) {
		t.Error("the camera is still on after pairing")
	}
}

// A card scanned while the answer about the card before is still on its way: the till shows
// the card at hand when the late answer comes, never the customer before's offers.
func TestBrowserTillLatestCard(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	_, key := a.merchantKey(t, "Pretorska palača")
	second := a.demoCard(t, "koper-72h")
	if strings.HasSuffix(a.demo.CardURL, second.Token) {
		t.Fatal("the two cards are one")
	}
	ctx := newTab(t, tabs)
	do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/pos"),
		chromedp.SendKeys(chromedp.ID("key"), key+"\r"), waitJS(`!document.getElementById("till").hidden`))
	release := holdFirstRequest(t, ctx, "*/api/v1/pos/check*")
	do(t, ctx, chromedp.KeyEvent(a.demo.CardURL+"\r"), chromedp.KeyEvent(a.srv.cardURL("koper", second.Token)+"\r"),
		waitJS(`!document.getElementById("card-panel").hidden`))
	want := card.FormatNumber(second.Number)
	if got := jsText(t, ctx, "#card-number"); got != want {
		t.Fatalf("the till shows card %q, want the card scanned last %q", got, want)
	}
	release()
	do(t, ctx, waitJS(`Number(document.body.dataset.dropped || 0) >= 1 || document.getElementById("card-number").textContent !== `+jsString(want)))
	if got := jsText(t, ctx, "#card-number"); got != want {
		t.Fatalf("after the late answer about the first card the till shows card %q, want the second card %q", got, want)
	}
}
