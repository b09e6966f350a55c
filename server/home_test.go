package main

import (
	"strings"
	"testing"
)

func TestHomePage(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-resident", -365, "resident")
	m, _ := ts.mustMerchant("Kavarna Loggia", "bar")
	ts.mustOffer(m.ID, "Coffee", `"kind":"percent","value":"10","limit":"daily","min_amount":"3.00","municipal_share":"37"`)
	museum, _ := ts.mustMerchant("Pokrajinski muzej", "museum")
	ts.mustOffer(museum.ID, "Entry", `"kind":"free","limit":"once","products":["koper-72h"]`)

	tests := []struct {
		name, path, accept, lang string
		want                     []string
	}{
		{"Italian from the browser", "/", "it-IT,it;q=0.9,en;q=0.5", "it", []string{`<html lang="it" data-town="koper">`, "Che cos&#39;è la carta?", "Coffee IT",
			"sconto del 10 %", "con un acquisto di almeno 3,00\u00a0€", "una volta al giorno", "Caffè e bar", "Musei", "Entry IT",
			"solo con Carta koper-72h", "Carta koper-resident", "per i residenti", "25,00\u00a0€", "valida 72 h dal primo utilizzo",
			"2 vantaggi in 2 luoghi", `href="/pos"`, `href="/admin"`}},
		{"Slovene chosen", "/?lang=sl", "de", "sl", []string{`<html lang="sl" data-town="koper">`, "Kako do kartice", "Coffee SL", "10 % popusta", "Kavarne in bari",
			"velja do konca 365. dneva od prve uporabe", `aria-current="true">sl</a>`}},
		{"English for a language the town does not write", "/", "fr-FR", "en", []string{"What is the card?", "Coffee EN", "€25.00"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ts.do("GET", tt.path, "", hdr{"Accept-Language": tt.accept})
			if resp.status != 200 || !strings.HasPrefix(resp.header.Get("Content-Type"), "text/html") || resp.header.Get("Content-Language") != tt.lang {
				t.Fatalf("status %d, %s, Content-Language %q", resp.status, resp.header.Get("Content-Type"), resp.header.Get("Content-Language"))
			}
			body := string(resp.body)
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("the page does not say %q", w)
				}
			}
			if strings.Contains(body, "37 %") || strings.Contains(body, "37\u00a0%") || strings.Contains(body, "37%") {
				t.Error("the municipality's share is on the public page")
			}
		})
	}
	// Not a JSON 404 any more; other unknown paths still are.
	wantError(t, ts.do("GET", "/nothing-here", "", nil), 404, "not_found")
}
