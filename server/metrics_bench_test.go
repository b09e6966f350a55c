package main

import (
	"fmt"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// BenchmarkHandler measures one request through the app's handler, middleware included,
// without a network or a client: what each request costs the server's CPU. Run before and
// after a change to the middleware to see its cost (docs/operations.md gives the figures).
func BenchmarkHandler(b *testing.B) {
	ts := newTestServer(b)
	ts.s.cfg.RateLimit = 0
	ts.s.limits = newLimits(0)
	ts.s.limits.signin = newLimiter(1_000_000_000, 1_000_000_000) // the wrong secret is asked every time
	ts.app = ts.s.app()
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna Loggia", "restaurant")
	o := ts.mustOffer(m.ID, "Kava", `"kind":"percent","value":"10","limit":"unlimited","municipal_share":"50"`)
	c := ts.mustCard("koper-72h", "Ana Novak", "sl")
	handler := ts.app.Handler()
	cases := []struct {
		name, method, path, body, auth string
	}{
		{"healthz", "GET", "/healthz", "", ""},
		{"check", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, c.Token), key},
		{"quote", "POST", "/api/v1/pos/quote", fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":"12.30"}`, c.Token, o.ID), key},
		{"unauthorized", "GET", "/api/v1/cards/crd_x", "", "wrong"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var rc fasthttp.RequestCtx
			for b.Loop() {
				rc.Request.Reset()
				rc.Response.Reset()
				rc.Request.Header.SetMethod(tc.method)
				rc.Request.SetRequestURI(tc.path)
				if tc.body != "" {
					rc.Request.Header.SetContentType("application/json")
					rc.Request.SetBodyString(tc.body)
				}
				if tc.auth != "" {
					rc.Request.Header.Set("Authorization", "Bearer "+tc.auth)
				}
				handler(&rc)
				if st := rc.Response.StatusCode(); st >= 300 && tc.name != "unauthorized" {
					b.Fatalf("status %d: %s", st, rc.Response.Body())
				}
			}
		})
	}
}

// BenchmarkMetricsMiddleware is the metrics middleware's own cost: the same trivial route with
// and without it (the difference is what every request pays for its metrics).
func BenchmarkMetricsMiddleware(b *testing.B) {
	ts := newTestServer(b)
	for _, withMetrics := range []bool{false, true} {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		if withMetrics {
			app.Use(ts.s.metrics.middleware)
		}
		app.Get("/api/v1/cards/:id", func(c *fiber.Ctx) error { return c.SendStatus(fiber.StatusNoContent) })
		m := newMetrics(ts.db)
		m.routes = newRouteMatcher(app.GetRoutes(true))
		ts.s.metrics = m
		handler := app.Handler()
		name := "bare"
		if withMetrics {
			name = "metrics"
		}
		b.Run(name, func(b *testing.B) {
			var rc fasthttp.RequestCtx
			for b.Loop() {
				rc.Request.Reset()
				rc.Response.Reset()
				rc.Request.Header.SetMethod("GET")
				rc.Request.SetRequestURI("/api/v1/cards/crd_0123456789abcdef")
				handler(&rc)
			}
		})
	}
}
