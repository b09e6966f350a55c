package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/citycard/citycard/storage"
)

// TestBrowserSell: the counter page of a sales point (the demo's Hotel Histria in Koper), in
// Slovene at 360 px and in Italian at 1280 px: signs in with the secret, issues a card with
// the guest's name and language, shows its QR code large, lists today's cards and withdraws
// one; an answer about today's cards that comes after a newer one is dropped.
func TestBrowserSell(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	secret := a.demo.Towns[0].SalesPointToken
	if secret == "" {
		t.Fatal("the demo printed no sales point secret")
	}

	issue := func(t *testing.T, ctx context.Context, holder, guestLang string) {
		t.Helper()
		before := eval[int](t, ctx, `document.querySelectorAll("#today li").length`)
		do(t, ctx, chromedp.Click(chromedp.CSS(`#products input[value="koper-72h"]`)),
			chromedp.SendKeys(chromedp.ID("holder"), holder), chromedp.SetValue(chromedp.ID("guest-lang"), guestLang),
			chromedp.Click(chromedp.ID("issue")),
			waitJS(`!document.getElementById("issued").hidden && document.getElementById("issued-qr").complete && document.getElementById("issued-qr").naturalWidth > 0`),
			waitJS(`document.querySelectorAll("#today li").length === `+strconv.Itoa(before+1)))
	}

	for _, tc := range []struct {
		name, lang    string
		width, height int64
		signin, issue string // the sign-in heading and the issue button in the language
		issued        string // the issued panel's heading starts so
		withdraw      string
	}{
		{"sl-360", "sl", 360, 740, "Prijava prodajnega mesta", "Izdaj kartico", "Koper Card izdana", "Prekliči"},
		{"it-1280", "it", 1280, 900, "Accesso del punto vendita", "Emetti la carta", "Koper Card emessa", "Ritira"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := newTab(t, tabs)
			do(t, ctx, browserLanguage(tc.lang), viewport(tc.width, tc.height), chromedp.Navigate(a.URL+"/healthz"),
				chromedp.Evaluate[chromedp.Void](`localStorage.clear()`), chromedp.Navigate(a.URL+"/sell"),
				waitJS(`!document.getElementById("signin").hidden`))
			if got := jsText(t, ctx, "#signin h1"); got != tc.signin {
				t.Errorf("sign-in heading %q, want %q", got, tc.signin)
			}
			screenshot(t, ctx, "sell-"+tc.name+"-signin")
			do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), secret+"\r"), waitJS(`!document.getElementById("desk").hidden`),
				waitJS(`document.querySelectorAll("#products input").length === 2`))
			if got := jsText(t, ctx, "#issue"); got != tc.issue {
				t.Errorf("issue button %q, want %q", got, tc.issue)
			}
			if got := jsText(t, ctx, "#who"); got != "Hotel Histria" {
				t.Errorf("signed in as %q", got)
			}
			issue(t, ctx, "Giulia Rossi", "it")
			if got := jsText(t, ctx, "#issued-title"); !strings.HasPrefix(got, tc.issued) {
				t.Errorf("issued heading %q, want %q", got, tc.issued)
			}
			// The QR code is large: most of a phone's width, and on the screen.
			if w := eval[float64](t, ctx, `document.getElementById("issued-qr").getBoundingClientRect().width`); w < 250 {
				t.Errorf("the QR code is %.0f px wide, too small for a phone's camera", w)
			}
			number := strings.ReplaceAll(jsText(t, ctx, "#issued-number"), " ", "")
			cards, _, err := a.db.Cards(t.Context(), storage.CardFilter{Town: "koper", Number: number}, storage.Page{Limit: 1})
			if err != nil || len(cards) != 1 || cards[0].Holder != "Giulia Rossi" || cards[0].Lang != "it" || cards[0].SalesPoint == "" {
				t.Fatalf("the issued card %s: %+v, %v", number, cards, err)
			}
			if tc.width < 700 {
				noSideScroll(t, ctx, int(tc.width), "/sell")
			}
			screenshot(t, ctx, "sell-"+tc.name+"-issued")

			// Withdraw it: the button is on today's newest card; the card is blocked.
			if got := jsText(t, ctx, "#today li:first-child button.withdraw"); got != tc.withdraw {
				t.Errorf("withdraw button %q, want %q", got, tc.withdraw)
			}
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
				chromedp.Click(chromedp.CSS("#today li:first-child button.withdraw")),
				waitJS(`document.querySelector("#today li:first-child").classList.contains("blocked")`))
			c, err := a.db.Card(t.Context(), "koper", cards[0].ID)
			if err != nil || c.BlockedAt == nil {
				t.Fatalf("the withdrawn card: %+v, %v", c, err)
			}
			if tc.width < 700 {
				noSideScroll(t, ctx, int(tc.width), "/sell")
			}
			screenshot(t, ctx, "sell-"+tc.name+"-today")
		})
	}

	t.Run("an older answer about today's cards is dropped", func(t *testing.T) {
		ctx := newTab(t, tabs)
		do(t, ctx, viewport(360, 740), chromedp.Navigate(a.URL+"/healthz"), chromedp.Evaluate[chromedp.Void](`localStorage.clear()`),
			chromedp.Navigate(a.URL+"/sell"), waitJS(`!document.getElementById("signin").hidden`),
			chromedp.SendKeys(chromedp.ID("key"), secret+"\r"), waitJS(`!document.getElementById("desk").hidden`),
			waitJS(`document.querySelectorAll("#products input").length === 2`))
		release := holdFirstRequest(t, ctx, "*/api/v1/sales/cards?limit=*")
		before := eval[int](t, ctx, `document.querySelectorAll("#today li").length`)
		// The first issue's list request is held; the second issue's goes through and shows both.
		do(t, ctx, chromedp.Click(chromedp.ID("issue")), waitJS(`!document.getElementById("issued").hidden`))
		first := jsText(t, ctx, "#issued-number")
		do(t, ctx, chromedp.Click(chromedp.ID("issue")), waitJS(`document.getElementById("issued-number").textContent !== "`+first+`"`),
			waitJS(`document.querySelectorAll("#today li").length === `+strconv.Itoa(before+2)))
		release()
		do(t, ctx, waitJS(`Number(document.body.dataset.dropped || 0) >= 1`))
		if got := eval[int](t, ctx, `document.querySelectorAll("#today li").length`); got != before+2 {
			t.Errorf("after the old answer came, today lists %d cards, want %d", got, before+2)
		}
	})
}
