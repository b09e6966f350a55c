package main

import (
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserCardTerms: the tourist's card page tells each offer's terms in the page's
// language, before the till does: kind and value, minimum purchase, how often.
func TestBrowserCardTerms(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	want := map[string][]string{
		"sl": {"€2.00 off over €10", "2,00 € popusta", "ob nakupu vsaj 10,00 €", "enkrat na kartico", "10 % popusta", "neomejeno"},
		"it": {"€2.00 off over €10", "sconto di 2,00 €", "con un acquisto di almeno 10,00 €", "una volta per carta", "sconto del 10 %", "senza limiti"},
	}
	for _, lang := range []string{"sl", "it"} {
		for _, width := range []int64{360, 1280} {
			t.Run(lang, func(t *testing.T) {
				ctx := newTab(t, tabs)
				do(t, ctx, viewport(width, 800), chromedp.Navigate(a.demo.CardURL+"?lang="+lang), waitJS(`document.getElementById("qr").complete`))
				// The benefit of Kavarna Pri vodnjaku whose English title is "€2.00 off over €10".
				cafe := nbsp(eval[string](t, ctx, `[...document.querySelectorAll(".benefit")].filter(b => b.textContent.includes("Kavarna Pri vodnjaku")).map(b => b.textContent).join(" / ")`))
				for _, w := range want[lang][1:4] {
					if !strings.Contains(cafe, w) {
						t.Errorf("%s: the café's benefits do not say %q: %s", lang, w, cafe)
					}
				}
				books := nbsp(eval[string](t, ctx, `[...document.querySelectorAll(".benefit")].find(b => b.textContent.includes("Knjigarna Sidro")).textContent`))
				for _, w := range want[lang][4:] {
					if !strings.Contains(books, w) {
						t.Errorf("%s: the bookshop's benefit does not say %q: %s", lang, w, books)
					}
				}
				if all := jsText(t, ctx, ".benefits"); strings.Contains(all, want[lang][0]) || strings.Contains(all, "once per card") {
					t.Errorf("%s: English on the page", lang)
				}
				noSideScroll(t, ctx, int(width), "card page with terms")
				screenshot(t, ctx, "card-terms-"+lang+"-"+strconv.FormatInt(width, 10))
			})
		}
	}
}

// TestBrowserFrontDoor opens a town's page (/t/koper) as a visitor would: in the browser's language, with the
// language links, the benefits by category and the staff's links, at a phone's and a
// desktop's width without sideways scrolling.
func TestBrowserFrontDoor(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	for _, width := range []int64{360, 1280} {
		t.Run(strconv.FormatInt(width, 10), func(t *testing.T) {
			ctx := newTab(t, tabs)
			// The demo has two towns: "/" lists them (TestBrowserTownFace), a town's page is /t/{code}.
			do(t, ctx, browserLanguage("sl-SI,sl;q=0.9"), viewport(width, 800), chromedp.Navigate(a.URL+"/t/koper"))
			if got := eval[string](t, ctx, `document.documentElement.lang`); got != "sl" {
				t.Errorf("front door in %q for a Slovene browser", got)
			}
			if got := jsText(t, ctx, ".offers h3"); got == "" {
				t.Error("no benefit categories")
			}
			if n := eval[int](t, ctx, `document.querySelectorAll(".offers .offer").length`); n < 20 {
				t.Errorf("%d benefits on the front door, want the demo's (at least 20)", n)
			}
			if got := jsText(t, ctx, ".offers"); !strings.Contains(got, "Brezplačen vstop") || !strings.Contains(got, "enkrat na kartico") {
				t.Errorf("benefits not in Slovene: %.200s", got)
			}
			noSideScroll(t, ctx, int(width), "front door")
			screenshot(t, ctx, "home-sl-"+strconv.FormatInt(width, 10))
			do(t, ctx, chromedp.Click(chromedp.CSS(`.langs a[lang="it"]`)), waitJS(`document.documentElement.lang === "it"`))
			if got := jsText(t, ctx, ".intro h2"); got != "Che cos'è la carta?" {
				t.Errorf("after choosing IT the heading is %q", got)
			}
			noSideScroll(t, ctx, int(width), "front door in Italian")
			screenshot(t, ctx, "home-it-"+strconv.FormatInt(width, 10))
			do(t, ctx, chromedp.Click(chromedp.ID("link-pos")), waitJS(`location.pathname === "/pos" && !!document.getElementById("signin")`))
		})
	}
}
