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
