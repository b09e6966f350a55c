package main

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserCardDates opens an active card's page in Slovene and Italian at a phone's and a
// desktop's width: its validity is written the language's way with the month's name and the
// last valid minute, and the line fits.
func TestBrowserCardDates(t *testing.T) {
	a := startLiveApp(t)
	tabs := newBrowser(t)
	url := a.cardURL(t, "koper-resident")
	want := map[string]*regexp.Regexp{
		"sl": regexp.MustCompile(`^do \d{1,2}\. (januarja|februarja|marca|aprila|maja|junija|julija|avgusta|septembra|oktobra|novembra|decembra) \d{4}, \d\d:\d\d$`),
		"it": regexp.MustCompile(`^fino al \d{1,2} (gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre) \d{4}, \d\d:\d\d$`),
	}
	for _, lang := range []string{"sl", "it"} {
		for _, width := range []int64{360, 1280} {
			t.Run(lang+"-"+strconv.FormatInt(width, 10), func(t *testing.T) {
				ctx := newTab(t, tabs)
				do(t, ctx, viewport(width, 800), chromedp.Navigate(url+"?lang="+lang), waitJS(`document.getElementById("qr").complete`))
				if got := nbsp(jsText(t, ctx, ".until")); !want[lang].MatchString(got) {
					t.Errorf("%s: validity %q, want %s", lang, got, want[lang])
				}
				noSideScroll(t, ctx, int(width), "card page")
				screenshot(t, ctx, "card-dates-"+lang+"-"+strconv.FormatInt(width, 10))
			})
		}
	}
}
