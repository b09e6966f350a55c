package main

import (
	"strings"
	"testing"
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
