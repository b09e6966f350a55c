package main

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestPages checks what the browser tests take for granted, without a browser: the pages and
// their assets are served, with a strict Content-Security-Policy.
func TestPages(t *testing.T) {
	a := startLiveApp(t)
	app := a.srv.app()
	token := strings.TrimPrefix(a.demo.CardURL, a.URL+"/c/")
	tests := []struct {
		name, path string
		wantStatus int
		wantType   string
		wantBody   string
	}{
		{"card page", "/c/" + token + "?lang=sl", 200, "text/html", "Ugodnosti"},
		{"card page, unknown card", "/c/AQABAAAA5NdXh5ay", 404, "text/html", "Card not found"},
		{"manifest", "/c/" + token + "/manifest.webmanifest", 200, "application/manifest+json", `"start_url":"/c/` + token + `"`},
		{"manifest of a forged token is JSON", "/c/x" + token[1:] + "/manifest.webmanifest", 422, "application/json", "card_invalid"},
		{"service worker", "/sw.js", 200, "text/javascript", `"citycard-` + assetVersion + `"`},
		{"till", "/pos", 200, "text/html", "/static/pos.js?v=" + assetVersion},
		{"till links its manifest", "/pos", 200, "text/html", `<link rel="manifest" href="/pos/manifest.webmanifest">`},
		{"till manifest", "/pos/manifest.webmanifest", 200, "application/manifest+json", `"scope":"/pos","short_name":"Till","start_url":"/pos"`},
		{"console", "/admin", 200, "text/html", "/static/admin.js?v=" + assetVersion},
		{"vendored QR decoder", "/static/vendor/jsQR.js", 200, "text/javascript", "jsQR"},
		{"icon", "/static/icon-192.png", 200, "image/png", ""},
		{"no escape from static", "/static/..%2f..%2fpage.go", 404, "application/json", "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := app.Test(httptest.NewRequest("GET", tt.path, nil), -1)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
			}
			if got := resp.Header.Get("Content-Type"); !strings.HasPrefix(got, tt.wantType) {
				t.Errorf("Content-Type = %q, want %s", got, tt.wantType)
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body does not contain %q", tt.wantBody)
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "worker-src 'self'", "manifest-src 'self'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("Content-Security-Policy %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("Content-Security-Policy allows unsafe sources: %q", csp)
			}
		})
	}
}

func TestPosMeTimezone(t *testing.T) {
	a := startLiveApp(t)
	_, key := a.merchantKey(t, "Pretorska palača")
	req := httptest.NewRequest("GET", "/api/v1/pos/me", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := a.srv.app().Test(req, -1)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Timezone string `json:"timezone"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if got, want := body.Timezone, "Europe/Ljubljana"; got != want {
		t.Errorf("timezone = %q, want %q (the till asks for today's redemptions in it)", got, want)
	}
}
