package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"testing"
	"time"

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
			// The privacy notice of the sales point's town, in the page's language.
			if got := eval[string](t, ctx, `document.getElementById("link-privacy").getAttribute("href")`); got != "/privacy?lang="+tc.lang+"&town=koper" {
				t.Errorf("privacy link %q, want Koper's notice in %s", got, tc.lang)
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
			waitJS(`document.querySelectorAll("#products input").length === 2`),
			// today's list, as the sign-in loaded it
			waitJS(`document.getElementById("today").children.length > 0 || !document.getElementById("today-empty").hidden`))
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

// TestBrowserConsoleSales: the console's finance tab lists the month's sales point lines (the
// report's) and downloads their statements; the card list filters by sales point. In Slovene
// at 1280 px and Italian at 360 px.
func TestBrowserConsoleSales(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	sum := sha256.Sum256([]byte(a.demo.Towns[0].SalesPointToken))
	if _, err := a.db.IssueSale(t.Context(), a.srv.keys, sum[:], "koper-72h", "", ""); err != nil {
		t.Fatal(err)
	}
	month := time.Now().In(a.srv.cfg.Loc).Format("2006-01")
	for _, run := range []struct {
		lang, title string
		width       int
	}{{"sl", "Prodajna mesta", 1280}, {"it", "Punti vendita", 360}} {
		t.Run(run.lang+"-"+strconv.Itoa(run.width), func(t *testing.T) {
			ct := openConsole(t, a, tabs, run.lang, run.width, "#report")
			ctx := ct.ctx
			do(t, ctx, waitJS(`!document.getElementById("report").hidden`),
				chromedp.SetValue(chromedp.ID("report-month"), month), chromedp.Click(chromedp.CSS(`#report-form button[type=submit]`)),
				waitJS(`document.getElementById("report").dataset.month === "`+month+`" && document.querySelectorAll("#sales tr td.main").length > 0`))
			if got := jsText(t, ctx, "#sales-panel h2"); got != run.title {
				t.Errorf("the panel's title %q, want %q", got, run.title)
			}
			if got := jsText(t, ctx, "#sales tr td.main"); got != "Hotel Histria" {
				t.Errorf("the first sales line is %q", got)
			}
			do(t, ctx, chromedp.Click(chromedp.ID("sp-pdf")))
			if typ, pdf := ct.fetched(t, "/api/v1/reports/sales-statements?month="+month+"&format=pdf"); typ != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
				t.Errorf("sales statements PDF (%s): %.20q", typ, pdf)
			}
			ct.check(t, "console-sales-"+run.lang)

			// The cards tab: only the hotel's cards when it is chosen.
			do(t, ctx, chromedp.Navigate(a.URL+"/admin#cards"), waitJS(`document.querySelectorAll("#cards-sp option").length === 3`),
				chromedp.SetValue(chromedp.ID("cards-sp"), a.salesPointID(t, "Hotel Histria")),
				chromedp.Evaluate[chromedp.Void](`document.getElementById("cards-sp").dispatchEvent(new Event("change"))`),
				waitJS(`document.querySelectorAll("#cards tr").length === 8`))
			ct.check(t, "console-cards-by-sales-point-"+run.lang)
		})
	}
}

// salesPointID is the id of Koper's demo sales point called name.
func (a *liveApp) salesPointID(t *testing.T, name string) string {
	t.Helper()
	ps, _, err := a.db.SalesPoints(t.Context(), "koper", storage.Page{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if p.Name == name {
			return p.ID
		}
	}
	t.Fatalf("no sales point %q", name)
	return ""
}
