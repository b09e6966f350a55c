package i18n

import (
	"strings"
	"testing"

	"github.com/citycard/citycard/merchant"
)

func TestOfferTerms(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	names := map[string]map[string]string{"koper-72h": {"sl": "Koper Card 72 ur", "it": "Koper Card 72 ore", "en": "Koper Card 72 hours"}}
	tests := []struct {
		name string
		o    merchant.Offer
		lang string
		want string
	}{
		{"percent, minimum, cap, once, in Slovene", merchant.Offer{Kind: "percent", Value: 1000, MinAmount: i64(2000), MaxDiscount: i64(500), Limit: "once"}, "sl",
			"10 % popusta | ob nakupu vsaj 20,00\u00a0€ | popust največ 5,00\u00a0€ | enkrat na kartico"},
		{"percent with a fraction, daily, in Italian", merchant.Offer{Kind: "percent", Value: 1250, Limit: "daily"}, "it",
			"sconto del 12,5 % | una volta al giorno"},
		{"amount, in English", merchant.Offer{Kind: "amount", Value: 500, Limit: "unlimited"}, "en", "€5.00 off | as often as you like"},
		{"price with dates and products, in Italian", merchant.Offer{Kind: "price", Value: 1200, Limit: "once", ValidFrom: "2026-06-01", ValidUntil: "2026-09-30", Products: []string{"koper-72h"}}, "it",
			"a 12,00\u00a0€ | una volta per carta | dal 1/6/2026 al 30/9/2026 | solo con Koper Card 72 ore"},
		{"free, from a date, in German, a product without a German name", merchant.Offer{Kind: "free", Limit: "once", ValidFrom: "2026-06-01", Products: []string{"koper-72h", "gone"}}, "de",
			"gratis | einmal pro Karte | ab 01.06.2026 | nur mit Koper Card 72 hours, gone"},
		{"until a date, thousands, in Slovene", merchant.Offer{Kind: "amount", Value: 123456, Limit: "once", ValidUntil: "2026-12-31"}, "sl",
			"1.234,56\u00a0€ popusta | enkrat na kartico | do 31. 12. 2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := strings.Join(OfferTerms(tt.o, tt.lang, names), " | "); got != tt.want {
				t.Fatalf("terms\n got %q\nwant %q", got, tt.want)
			}
		})
	}
	// A title falls back to English before the other languages (issue 19).
	if got := OfferTitle(map[string]string{"en": "Free coffee", "it": "Caffè gratis"}, "de"); got != "Free coffee" {
		t.Fatalf("OfferTitle = %q", got)
	}
}

// TestOfferTitleFallback: a title is in the first of the reader's languages it has, then
// English, then the town's: an Italian tourist at Ptuj reads the English title, not the
// Slovene one.
func TestOfferTitleFallback(t *testing.T) {
	ptuj := map[string]string{"sl": "Brezplačna kava", "en": "Free coffee"}
	for _, tc := range []struct {
		name          string
		title         map[string]string
		query, accept string
		town          []string
		want          string
	}{
		{"Italian at Ptuj, English title exists", ptuj, "it", "it-IT,it;q=0.9", []string{"sl"}, "Free coffee"},
		{"Italian who also reads Slovene", ptuj, "", "it,sl;q=0.8,en;q=0.5", []string{"sl"}, "Brezplačna kava"},
		{"German, a Slovene title only", map[string]string{"sl": "Brezplačna kava"}, "de", "", []string{"sl"}, "Brezplačna kava"},
		{"no English: the town's own before others", map[string]string{"de": "Kaffee", "it": "Caffè", "sl": "Kava"}, "en", "", []string{"sl", "it"}, "Kava"},
		{"reader's language", map[string]string{"it": "Caffè", "sl": "Kava", "en": "Coffee"}, "", "it", []string{"sl"}, "Caffè"},
	} {
		readers := ReaderLangs(tc.query, tc.accept)
		if got := OfferTitleFor(tc.title, readers, tc.town); got != tc.want {
			t.Errorf("%s: %q (readers %v), want %q", tc.name, got, readers, tc.want)
		}
	}
	if got := ReaderLangs("de", "it;q=0.5, sl, fr, en;q=0"); strings.Join(got, ",") != "de,sl,it" {
		t.Errorf("ReaderLangs = %v", got)
	}
}
