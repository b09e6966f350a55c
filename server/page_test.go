package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
)

func TestCardPageLanguages(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	tests := []struct {
		name   string
		query  string
		accept string
		lang   string
	}{
		{"query sl", "?lang=sl", "", "SL"},
		{"query it", "?lang=it", "de-DE,de;q=0.9", "IT"},
		{"query en", "?lang=en", "", "EN"},
		{"query de", "?lang=de", "", "DE"},
		{"accept-language de", "", "de-AT,de;q=0.9,en;q=0.5", "DE"},
		{"accept-language it by weight", "", "fr;q=1,en;q=0.4,it;q=0.8", "IT"},
		{"card language without a preference", "", "", "SL"}, // the fresh card was issued in sl
		{"unknown query falls back", "?lang=xx", "en", "EN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := hdr{}
			if tt.accept != "" {
				h["Accept-Language"] = tt.accept
			}
			resp := ts.must(200, "GET", "/c/"+w.fresh.Token+tt.query, "", h, nil)
			page := string(resp.body)
			if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
				t.Fatalf("Content-Type %q", ct)
			}
			if got := resp.header.Get("Referrer-Policy"); got != "no-referrer" {
				t.Fatalf("Referrer-Policy %q, want no-referrer", got)
			}
			if got, want := resp.header.Get("Content-Language"), strings.ToLower(tt.lang); got != want {
				t.Fatalf("Content-Language %q, want %q", got, want)
			}
			if !strings.Contains(page, `lang="`+strings.ToLower(tt.lang)+`"`) {
				t.Fatalf("page is not marked lang=%s", strings.ToLower(tt.lang))
			}
			// Every benefit is there in the page's language, and in no other.
			for _, title := range []string{"Once", "Unlimited", "Min", "Museum"} {
				if !strings.Contains(page, title+" "+tt.lang) {
					t.Fatalf("page has no %q", title+" "+tt.lang)
				}
				for _, other := range []string{"SL", "IT", "EN", "DE"} {
					if other != tt.lang && strings.Contains(page, title+" "+other) {
						t.Fatalf("%s page has %q", tt.lang, title+" "+other)
					}
				}
			}
			if strings.Contains(page, "Ana Novak") || strings.Contains(page, "Novak") {
				t.Fatal("the card page shows the holder's name")
			}
			if !strings.Contains(page, "/c/"+w.fresh.Token+"/qr.png") {
				t.Fatal("the card page has no QR code")
			}
		})
	}
}

func TestCardPageNotFound(t *testing.T) {
	w := newWorld(t)
	for _, path := range []string{"/c/" + forge(w.fresh.Token), "/c/" + w.unknownToken, "/c/" + w.fresh.Number, "/c/x?lang=de"} {
		resp := w.ts.do("GET", path, "", nil)
		if resp.status != 404 {
			t.Fatalf("%s: status %d, want 404", path, resp.status)
		}
		if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("%s: Content-Type %q, want HTML", path, ct)
		}
		if got := resp.header.Get("Referrer-Policy"); got != "no-referrer" {
			t.Fatalf("%s: Referrer-Policy %q, want no-referrer", path, got)
		}
		if !strings.Contains(string(resp.body), "<html") {
			t.Fatalf("%s: not a page: %s", path, resp.body)
		}
	}
	if page := string(w.ts.do("GET", "/c/x?lang=de", "", nil).body); !strings.Contains(page, "Karte nicht gefunden") {
		t.Fatalf("German not-found page: %s", page)
	}
}

// TestCardPageDates: the card page writes its dates as the reader's language does, with the
// month's name and the last valid minute ("fino al 29 ottobre 2027, 23:59"), never the
// Slovene "6. 12. 2027" on an Italian page.
func TestCardPageDates(t *testing.T) {
	w := newWorld(t)
	months := map[string]string{
		"it": "(gennaio|febbraio|marzo|aprile|maggio|giugno|luglio|agosto|settembre|ottobre|novembre|dicembre)",
		"sl": "(januarja|februarja|marca|aprila|maja|junija|julija|avgusta|septembra|oktobra|novembra|decembra)",
	}
	for _, tc := range []struct{ lang, activate, until, numeric string }{
		{"it", `Da attivare entro il \d{1,2} ` + months["it"] + ` \d{4}, \d\d:\d\d`, `fino al \d{1,2} ` + months["it"] + ` \d{4}, \d\d:\d\d`, `\d{1,2}/\d{1,2}/\d{4}`},
		{"sl", `Aktivirajte jo do \d{1,2}\. ` + months["sl"] + ` \d{4}, \d\d:\d\d`, `do \d{1,2}\. ` + months["sl"] + ` \d{4}, \d\d:\d\d`, `\d{1,2}\. \d{1,2}\. \d{4}`},
	} {
		fresh := string(w.ts.must(200, "GET", "/c/"+w.fresh.Token+"?lang="+tc.lang, "", nil, nil).body)
		if !regexp.MustCompile(tc.activate).MatchString(fresh) {
			t.Errorf("%s: the fresh card's page does not say %s", tc.lang, tc.activate)
		}
		used := string(w.ts.must(200, "GET", "/c/"+w.used.Token+"?lang="+tc.lang, "", nil, nil).body)
		if !regexp.MustCompile(tc.until).MatchString(used) {
			t.Errorf("%s: the used card's page does not say %s", tc.lang, tc.until)
		}
		// The other language's numeric dates never show.
		other := map[string]string{"it": `\d{1,2}\. \d{1,2}\. \d{4}`, "sl": `\d{1,2}/\d{1,2}/\d{4}`}[tc.lang]
		if m := regexp.MustCompile(other).FindString(used + fresh); m != "" {
			t.Errorf("%s page writes %q", tc.lang, m)
		}
	}
}

// TestCardPageTitleFallback: an offer's title falls back along the reader's languages, then
// English, then the town's: an Italian at Ptuj reads the English title, not the Slovene.
func TestCardPageTitleFallback(t *testing.T) {
	states := []storage.OfferState{
		{Offer: merchant.Offer{Title: map[string]string{"sl": "Brezplačna kava", "en": "Free coffee"}}, Merchant: merchant.Merchant{Category: "bar"}},
		{Offer: merchant.Offer{Title: map[string]string{"sl": "Vstopnica"}}, Merchant: merchant.Merchant{Category: "museum"}},
	}
	got := groupBenefits(states, i18n.ReaderLangs("", "it-IT,it;q=0.9"), []string{"sl"}, []string{"sl"}, time.UTC, nil)
	var titles []string
	for _, g := range got {
		for _, it := range g.Items {
			titles = append(titles, it.Offer)
		}
	}
	if strings.Join(titles, "|") != "Free coffee|Vstopnica" {
		t.Errorf("an Italian at Ptuj reads %v", titles)
	}
	// In a network the Slovene title is shown beside the English one, in its own language.
	if l := got[0].Items[0].Local; len(l) != 1 || l[0].Lang != "sl" || l[0].Text != "Brezplačna kava" {
		t.Errorf("local titles %v", l)
	}
}
