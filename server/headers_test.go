package main

import (
	"net/http"
	"strings"
	"testing"
)

// Every kind of response carries the security headers: JSON, pages, error pages, images,
// assets, CSV, and the errors answered before any middleware runs (a body over the limit).
func TestSecurityHeadersOnEveryKindOfResponse(t *testing.T) {
	e := newSecEnv(t, 1000)
	base := e.listen()
	big := `{"card":"` + strings.Repeat("x", 300<<10) + `"}`
	for _, tc := range []struct {
		name       string
		r          secReq
		wantStatus int
		wantType   string
		real       bool // over a real connection
	}{
		{"health JSON", secReq{method: "GET", path: "/healthz"}, 200, "application/json", false},
		{"card page", secReq{method: "GET", path: "/c/" + e.card.Token}, 200, "text/html", false},
		{"card page that does not open", secReq{method: "GET", path: "/c/not-a-token"}, 404, "text/html", false},
		{"QR code", secReq{method: "GET", path: "/c/" + e.card.Token + "/qr.png"}, 200, "image/png", false},
		{"stylesheet", secReq{method: "GET", path: "/static/card.css"}, 200, "text/css", false},
		{"public API", secReq{method: "GET", path: "/api/v1/public/keys"}, 200, "application/json", false},
		{"CSV report", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10&format=csv", secret: e.admin}, 200, "text/csv", false},
		{"401", secReq{method: "GET", path: "/api/v1/cards"}, 401, "application/json", false},
		{"403", secReq{method: "GET", path: "/api/v1/cards", secret: e.keyA}, 403, "application/json", false},
		{"unknown route", secReq{method: "GET", path: "/nowhere"}, 404, "application/json", false},
		{"body over the limit", secReq{method: "POST", path: "/api/v1/pos/check", secret: e.keyA, body: big}, 413, "application/json", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var body []byte
			if tc.real {
				resp, body = e.doHTTP(base, tc.r)
			} else {
				resp, body = e.do(tc.r)
			}

			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tc.wantStatus, body)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.wantType) {
				t.Fatalf("Content-Type %q, want %s", ct, tc.wantType)
			}
			for h, want := range map[string]string{
				"X-Content-Type-Options": "nosniff",
				"X-Frame-Options":        "DENY",
				"Referrer-Policy":        "no-referrer",
			} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s: %q, want %q", h, got, want)
				}
			}
			csp := resp.Header.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("Content-Security-Policy %q lacks %s", csp, d)
				}
			}
			if tc.wantStatus == 413 && errorCodeOf(body) != "payload_too_large" {
				t.Errorf("body %s, want code payload_too_large", body)
			}
		})
	}
}
