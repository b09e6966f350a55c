package main

import (
	"context"
	"crypto/sha256"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

const testMetricsToken = "metrics-test-token-0123456789abcdef"

// withMetricsToken configures the server as CITYCARD_METRICS_TOKEN=token would.
func (ts *testServer) withMetricsToken(token string) {
	sum := sha256.Sum256([]byte(token))
	ts.s.metricsTokenHash = sum[:]
}

// scrape fetches /metrics with the metrics token and parses it.
func (ts *testServer) scrape() map[string]*dto.MetricFamily {
	ts.t.Helper()
	resp := ts.must(200, "GET", "/metrics", "", asKey(testMetricsToken), nil)
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		ts.t.Fatalf("Content-Type %q, want Prometheus text", ct)
	}
	return parseMetrics(ts.t, string(resp.body))
}

func parseMetrics(t testing.TB, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics are not Prometheus text: %v\n%s", err, text)
	}
	return mfs
}

// metricValue is the value of the series of family name with exactly these labels (counter,
// gauge or untyped; a histogram's sample count), and whether it exists.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		}
	}
	return 0, false
}

// TestMetricsAfterRedemption: after redemptions of each kind the scrape has them by result,
// the requests by route template and status, their latency, the writer's batches and commits,
// the WAL's size, the caches and the Go runtime.
func TestMetricsAfterRedemption(t *testing.T) {
	ts := newTestServer(t)
	ts.withMetricsToken(testMetricsToken)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna Loggia", "restaurant")
	once := ts.mustOffer(m.ID, "Kava", `"kind":"percent","value":"10","limit":"once","municipal_share":"50"`)
	c := ts.mustCard("koper-72h", "Ana Novak", "sl")
	ts.mustRedeem(key, c.Token, once.ID, "12.30", "k1")
	if r := ts.redeem(key, c.Token, once.ID, "12.30", "k1"); r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("second request with k1 not replayed: %d %s", r.status, r.body)
	}
	wantError(t, ts.redeem(key, c.Token, once.ID, "12.30", "k2"), 409, "limit_reached")
	ts.must(200, "POST", "/api/v1/pos/check", `{"card":"`+c.Token+`"}`, asKey(key), nil) // a miss: the redemption changed the card
	ts.must(200, "POST", "/api/v1/pos/check", `{"card":"`+c.Token+`"}`, asKey(key), nil) // a hit
	ts.must(200, "GET", "/api/v1/cards/"+c.ID, "", asAdmin, nil)

	mfs := ts.scrape()
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"citycard_redemptions_total", map[string]string{"result": "completed"}, 1},
		{"citycard_redemptions_total", map[string]string{"result": "replayed"}, 1},
		{"citycard_redemptions_total", map[string]string{"result": "limit_reached"}, 1},
		{"citycard_http_requests_total", map[string]string{"method": "POST", "route": "/api/v1/pos/redemptions", "status": "201"}, 2},
		{"citycard_http_requests_total", map[string]string{"method": "POST", "route": "/api/v1/pos/redemptions", "status": "409"}, 1},
		{"citycard_http_requests_total", map[string]string{"method": "GET", "route": "/api/v1/cards/:id", "status": "200"}, 1},
		{"citycard_http_request_duration_seconds", map[string]string{"method": "POST", "route": "/api/v1/pos/redemptions"}, 3},
	} {
		got, ok := metricValue(mfs, tc.name, tc.labels)
		if !ok || got != tc.want {
			t.Errorf("%s%v = %v (present %v), want %v", tc.name, tc.labels, got, ok, tc.want)
		}
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
	}{
		{"citycard_writer_batch_size", nil},
		{"citycard_writer_commit_duration_seconds", nil},
		{"citycard_wal_size_bytes", nil},
		{"citycard_cache_hits_total", map[string]string{"cache": "cards"}},
		{"citycard_cache_misses_total", map[string]string{"cache": "cards"}},
		{"citycard_cache_hits_total", map[string]string{"cache": "merchant_by_key"}},
	} {
		if storagetest.OnPostgres() && (tc.name == "citycard_wal_size_bytes" || tc.labels["cache"] == "cards") {
			continue // SQLite's log; PostgreSQL keeps no card in memory (docs/postgres.md)
		}
		if got, ok := metricValue(mfs, tc.name, tc.labels); !ok || got <= 0 {
			t.Errorf("%s%v = %v (present %v), want > 0", tc.name, tc.labels, got, ok)
		}
	}
	if got, ok := metricValue(mfs, "citycard_db_pool_connections_max", nil); !ok || (got > 0) != storagetest.OnPostgres() {
		t.Errorf("citycard_db_pool_connections_max = %v (present %v), want > 0 on PostgreSQL only", got, ok)
	}
	for _, name := range []string{"citycard_writer_queue_depth", "citycard_wal_restarts_total", "citycard_db_retries_total",
		"citycard_db_pool_connections_in_use", "citycard_db_pool_waits_total", "go_goroutines", "process_resident_memory_bytes"} {
		if mfs[name] == nil {
			t.Errorf("no %s in the scrape", name)
		}
	}
	// No label carries an id, a token or a raw path.
	for name, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), c.ID) || strings.Contains(l.GetValue(), c.Token[:20]) {
					t.Errorf("%s has label %s=%q: a raw path", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
}

// TestMetricsRefused: without CITYCARD_METRICS_TOKEN the main port has no metrics (404); with
// it, no secret, a wrong one and the admin token are 401.
func TestMetricsRefused(t *testing.T) {
	ts := newTestServer(t)
	wantError(t, ts.do("GET", "/metrics", "", nil), 404, "not_found")
	wantError(t, ts.do("GET", "/metrics", "", asKey(testMetricsToken)), 404, "not_found")
	ts.withMetricsToken(testMetricsToken)
	wantError(t, ts.do("GET", "/metrics", "", nil), 401, "unauthorized")
	wantError(t, ts.do("GET", "/metrics", "", asKey(testMetricsToken+"x")), 401, "unauthorized")
	wantError(t, ts.do("GET", "/metrics", "", asAdmin), 401, "unauthorized")
	ts.scrape()
}

// TestMetricsRouteLabel: every request is labelled with its route template, including one
// that a middleware refused before its route ran, and a path of no route is "unmatched".
func TestMetricsRouteLabel(t *testing.T) {
	ts := newTestServer(t)
	ts.withMetricsToken(testMetricsToken)
	ts.do("GET", "/api/v1/cards/crd_secret1", "", nil)                   // 401 in requireAdmin
	ts.do("GET", "/api/v1/cards/crd_secret2", "", asAdmin)               // 404 in the handler
	ts.do("POST", "/api/v1/pos/redemptions/red_secret3/void", "{}", nil) // 401 in requireMerchant
	ts.do("GET", "/c/AQABsecret4", "", nil)                              // a card page
	ts.do("GET", "/no/such/secret5", "", nil)                            // no route
	ts.do("GET", "/static/secret6.js", "", nil)                          // a wildcard
	ts.do("GET", "/api/v1/public/cards/secret7/", "", nil)               // a trailing slash
	mfs := ts.scrape()
	for _, tc := range []struct{ method, route, status string }{
		{"GET", "/api/v1/cards/:id", "401"},
		{"GET", "/api/v1/cards/:id", "404"},
		{"POST", "/api/v1/pos/redemptions/:id/void", "401"},
		{"GET", "/c/:token", "404"},
		{"GET", "unmatched", "404"},
		{"GET", "/static/*", "404"},
		{"GET", "/api/v1/public/cards/:token", "422"},
	} {
		labels := map[string]string{"method": tc.method, "route": tc.route, "status": tc.status}
		if got, ok := metricValue(mfs, "citycard_http_requests_total", labels); !ok || got != 1 {
			t.Errorf("requests%v = %v (present %v), want 1", labels, got, ok)
		}
	}
	for _, m := range mfs["citycard_http_requests_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if strings.Contains(l.GetValue(), "secret") {
				t.Errorf("label %s=%q holds a raw path", l.GetName(), l.GetValue())
			}
		}
	}
}

// TestRouteMatcher covers the templates a middleware-refused request is matched against.
func TestRouteMatcher(t *testing.T) {
	ts := newTestServer(t)
	rm := ts.s.metrics.routes
	for _, tc := range []struct{ method, path, want string }{
		{"GET", "/api/v1/cards", "/api/v1/cards"},
		{"GET", "/api/v1/cards/", "/api/v1/cards"},
		{"GET", "/api/v1/cards/crd_1", "/api/v1/cards/:id"},
		{"HEAD", "/api/v1/cards/crd_1", "/api/v1/cards/:id"},
		{"GET", "/api/v1/cards/crd_1/qr.png", "/api/v1/cards/:id/qr.png"},
		{"POST", "/api/v1/cards/crd_1/block", "/api/v1/cards/:id/block"},
		{"DELETE", "/api/v1/cards/crd_1", "unmatched"},
		{"GET", "/api/v1/cards/crd_1/extra/more", "unmatched"},
		{"GET", "/api/v1/cards//qr.png", "unmatched"},
		{"GET", "/static/a/b.css", "/static/*"},
		{"GET", "/nope", "unmatched"},
	} {
		if got := rm.match(tc.method, tc.path); got != tc.want {
			t.Errorf("match(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

// TestMetricsSeparateAddress serves the metrics on their own listener, as
// CITYCARD_METRICS_ADDR does: open without a token, and with one only to its bearer.
func TestMetricsSeparateAddress(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	get := func(secret string) (int, string) { return getAt(t, ts, "/metrics", secret) }
	st, body := get("")
	if st != 200 {
		t.Fatalf("separate address without a token configured: %d %s", st, body)
	}
	mfs := parseMetrics(t, body)
	if got, ok := metricValue(mfs, "citycard_http_requests_total", map[string]string{"method": "POST", "route": "/api/v1/products", "status": "201"}); !ok || got != 1 {
		t.Fatalf("product creation not counted: %v %v", got, ok)
	}
	// Go's profiles are there too, under the same rule; never on the main port.
	if st, body := getAt(t, ts, "/debug/pprof/", ""); st != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("profiles' index on the separate address: %d %.200s", st, body)
	}
	if r := ts.do("GET", "/debug/pprof/", "", nil); r.status == 200 {
		t.Fatal("the profiles are served on the main port")
	}
	ts.withMetricsToken(testMetricsToken)
	if st, body := get(""); st != 401 || !strings.Contains(body, `"unauthorized"`) {
		t.Fatalf("separate address with a token set, none sent: %d %s", st, body)
	}
	if st, _ := get(testMetricsToken); st != 200 {
		t.Fatalf("separate address with the token: %d", st)
	}
	if st, _ := getAt(t, ts, "/debug/pprof/", ""); st != 401 {
		t.Fatalf("profiles with a token set, none sent: %d", st)
	}
	if st, _ := getAt(t, ts, "/debug/pprof/", testMetricsToken); st != 200 {
		t.Fatalf("profiles with the token: %d", st)
	}
}

// getAt GETs path from the metrics' own listener (serveMetrics) with secret as bearer ("" none).
func getAt(t *testing.T, ts *testServer, path, secret string) (int, string) {
	t.Helper()
	{
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ts.s.serveMetrics(ctx, ln) }()
		defer func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serveMetrics: %v", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("serveMetrics did not stop")
			}
		}()
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+path, nil)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
}

// TestMetricsTokenTooShort: a guessable metrics token is refused at start-up.
func TestMetricsTokenTooShort(t *testing.T) {
	env := map[string]string{"CITYCARD_METRICS_TOKEN": "short"}
	_, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CITYCARD_METRICS_TOKEN") {
		t.Fatalf("err = %v, want CITYCARD_METRICS_TOKEN refused", err)
	}
	env["CITYCARD_METRICS_TOKEN"] = testMetricsToken
	env["CITYCARD_METRICS_ADDR"] = "127.0.0.1:9090"
	cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil || cfg.MetricsToken != testMetricsToken || cfg.MetricsAddr != "127.0.0.1:9090" {
		t.Fatalf("cfg %+v, err %v", cfg, err)
	}
}

// TestServeMetricsAddr: `citycard serve` with CITYCARD_METRICS_ADDR serves the metrics on
// that address, says where, and stops it with the service.
func TestServeMetricsAddr(t *testing.T) {
	env := map[string]string{
		"CITYCARD_ADDR":         "127.0.0.1:0",
		"CITYCARD_DB":           storagetest.DSN(t),
		"CITYCARD_METRICS_ADDR": "127.0.0.1:0",
		"CITYCARD_ADMIN_TOKEN":  "cca_serve-metrics-test-0123456789abcdef",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, &stdout, io.Discard)
	}()
	var url string
	for deadline := time.Now().Add(10 * time.Second); url == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, rest, ok := strings.Cut(stdout.String(), "metrics on "); ok {
			url, _, _ = strings.Cut(rest, "\n")
		}
	}
	if url == "" {
		t.Fatalf("no metrics address printed: %q", stdout.String())
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "citycard_wal_size_bytes") {
		t.Fatalf("GET %s: %d %.200s", url, resp.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("the metrics address still answers after the service stopped")
	}
}
