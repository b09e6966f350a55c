package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/tools"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

const (
	testAdminToken = "cca_test-admin-token-0123456789abcdef"
	testPublicURL  = "https://card.koper.example"
)

var testLoc = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		panic(err)
	}
	return loc
}()

// testClock is the settable clock of every test of the package: the database's (db.SetClock)
// and the rate limiters' (limiter.now).
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// testServer is the real app over a real database (SQLite in a temporary directory, or
// PostgreSQL with CITYCARD_TEST_ENGINE=postgres), built by newTestServer.
type testServer struct {
	t     testing.TB
	s     *server
	app   *fiber.App
	db    *storage.DB
	clock *testClock // nil with realClock()
	admin string     // the admin token
	url   string     // with live(): the base URL it serves on, also cfg.PublicURL
	demo  tools.DemoResult

	stopOnce sync.Once
}

// testNow is where every test's clock starts: Thursday 15 October 2026, 12:00 in Koper.
var testNow = time.Date(2026, 10, 15, 12, 0, 0, 0, testLoc)

// testOptions is what newTestServer's options set.
type testOptions struct {
	dsn        string
	shared     *testServer
	storeOpts  []storage.Option
	asServe    bool
	clock      *testClock
	realClock  bool
	now        time.Time
	admin      string
	publicURL  string
	rateLimit  *int
	config     []func(*Config)
	log        io.Writer
	demo       bool
	live       bool
	wrapListen func(net.Listener) net.Listener
}

// testOption is an option of newTestServer.
type testOption func(*testOptions)

// onDSN opens the database dsn, which may already hold data (default: a fresh one,
// storagetest.DSN): several servers on one PostgreSQL URL are several service instances, each
// with its own pool, caches and change listener, sharing the keyring the first one created.
func onDSN(dsn string) testOption { return func(o *testOptions) { o.dsn = dsn } }

// onDBOf builds another app on ts's database handle, keyring and clock (not another instance:
// the same *storage.DB).
func onDBOf(ts *testServer) testOption { return func(o *testOptions) { o.shared = ts } }

// withStore passes storage.Open these options.
func withStore(opts ...storage.Option) testOption {
	return func(o *testOptions) { o.storeOpts = append(o.storeOpts, opts...) }
}

// asServed opens the database as serve does (openStore): its first town is the configured
// one (Config.Town, its languages and public URL) and the conflict cap is the configured one;
// without it the database starts with storage's default town.
func asServed() testOption { return func(o *testOptions) { o.asServe = true } }

// at starts the test's clock at t (default testNow).
func at(t time.Time) testOption { return func(o *testOptions) { o.now = t } }

// withClock makes c the database's clock (shared with another test server).
func withClock(c *testClock) testOption { return func(o *testOptions) { o.clock = c } }

// realClock leaves the database on the real clock (the browser and load tests).
func realClock() testOption { return func(o *testOptions) { o.realClock = true } }

// withAdmin sets the admin token (default testAdminToken).
func withAdmin(token string) testOption { return func(o *testOptions) { o.admin = token } }

// publicURL sets Config.PublicURL (default testPublicURL).
func publicURL(u string) testOption { return func(o *testOptions) { o.publicURL = u } }

// rateLimit sets Config.RateLimit, requests a minute per address (0: none; default the
// service's default).
func rateLimit(n int) testOption { return func(o *testOptions) { o.rateLimit = &n } }

// withConfig changes the configuration after the other options set it.
func withConfig(f func(*Config)) testOption {
	return func(o *testOptions) { o.config = append(o.config, f) }
}

// logTo sends the server's log to w (default the test's log).
func logTo(w io.Writer) testOption { return func(o *testOptions) { o.log = w } }

// seeded seeds the demo data (two towns, merchants, cards, redemptions) as of the clock's now.
func seeded() testOption { return func(o *testOptions) { o.demo = true } }

// live serves the app on 127.0.0.1:0 until the test ends (Config.Addr and PublicURL are that
// address), for what app.Test cannot do: a browser, a load client. wrap, if given, wraps the
// listener.
func live(wrap ...func(net.Listener) net.Listener) testOption {
	return func(o *testOptions) {
		o.live = true
		for _, w := range wrap {
			o.wrapListen = w
		}
	}
}

// newTestServer is the one way the package's tests start a server: by default on a fresh
// database, with a testClock at testNow, the admin token testAdminToken, the public URL
// testPublicURL and the log in the test's log; opts change that.
func newTestServer(t testing.TB, opts ...testOption) *testServer {
	t.Helper()
	ctx := context.Background()
	o := testOptions{now: testNow, admin: testAdminToken, publicURL: testPublicURL}
	for _, opt := range opts {
		opt(&o)
	}
	cfg := defaultConfig()
	cfg.PublicURL, cfg.Loc, cfg.AdminToken = o.publicURL, testLoc, o.admin
	if o.rateLimit != nil {
		cfg.RateLimit = *o.rateLimit
	}
	var ln net.Listener
	if o.live {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		cfg.Addr = ln.Addr().String()
		cfg.PublicURL = "http://" + cfg.Addr
		if o.wrapListen != nil {
			ln = o.wrapListen(ln)
		}
	}
	switch {
	case o.shared != nil:
		cfg.DB = o.shared.s.cfg.DB
	case o.dsn != "":
		cfg.DB = o.dsn
	default:
		cfg.DB = storagetest.DSN(t)
	}
	for _, f := range o.config {
		f(&cfg)
	}

	ts := &testServer{t: t, admin: cfg.AdminToken}
	var keys *card.Keyring
	var err error
	switch {
	case o.shared != nil:
		ts.db, keys, ts.clock = o.shared.db, o.shared.s.keys, o.shared.clock
	case o.asServe:
		if ts.db, keys, ts.admin, _, err = openStore(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ts.db.Close() })
	default:
		if ts.db, err = storage.Open(ctx, cfg.DB, cfg.Loc, o.storeOpts...); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ts.db.Close() })
	}
	if o.shared == nil && !o.realClock {
		ts.clock = o.clock
		if ts.clock == nil {
			ts.clock = &testClock{t: o.now}
		}
		ts.db.SetClock(ts.clock.Now)
	}
	if keys == nil {
		if keys, err = ts.db.Keyring(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	var w io.Writer = testWriter{t}
	if o.log != nil {
		w = o.log
	}
	ts.s = newServer(cfg, ts.db, keys, ts.admin, slog.New(slog.NewTextHandler(w, nil)))
	if o.demo {
		now := time.Now()
		if ts.clock != nil {
			now = ts.clock.Now()
		}
		if ts.demo, err = seedDemo(ctx, ts.db, keys, cfg.PublicURL, ts.s.cardURL, now); err != nil {
			t.Fatal(err)
		}
		if ts.clock != nil {
			ts.db.SetClock(ts.clock.Now) // seedDemo leaves the real clock behind
		}
	}
	if err := ts.s.startWallet(cfg.Wallet, io.Discard, ts.s.log); err != nil {
		t.Fatal(err)
	}
	ts.app = ts.s.app()
	if o.live {
		ts.url = cfg.PublicURL
		go ts.app.Listener(ln)
		t.Cleanup(ts.stop)
	}
	return ts
}

// stop shuts a live() server down; its port then refuses connections.
func (ts *testServer) stop() {
	ts.stopOnce.Do(func() { ts.app.ShutdownWithTimeout(5 * time.Second) })
}

// testWriter sends the server's log to the test's log, so a 500 shows its cause.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// asAdmin and asKey are the Authorization headers of the admin and of a merchant key.
var asAdmin = asKey(testAdminToken)

func asKey(secret string) hdr { return hdr{"Authorization": "Bearer " + secret} }

// hdr is a request's headers.
type hdr map[string]string

// with returns h plus one more header.
func (h hdr) with(k, v string) hdr {
	out := hdr{k: v}
	for k2, v2 := range h {
		out[k2] = v2
	}
	return out
}

// response is what the app answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends one request through the app. A body is sent as JSON.
func (ts *testServer) do(method, path, body string, h hdr) response {
	ts.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := ts.app.Test(req, -1)
	if err != nil {
		ts.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		ts.t.Fatal(err)
	}
	observeError(method, path, resp.StatusCode, b)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// must is do, failing the test unless the status is want; it decodes a JSON answer into v.
func (ts *testServer) must(want int, method, path, body string, h hdr, v any) response {
	ts.t.Helper()
	resp := ts.do(method, path, body, h)
	if resp.status != want {
		ts.t.Fatalf("%s %s %s: status %d, want %d: %s", method, path, body, resp.status, want, resp.body)
	}
	if v != nil {
		if err := json.Unmarshal(resp.body, v); err != nil {
			ts.t.Fatalf("%s %s: decode %s: %v", method, path, resp.body, err)
		}
	}
	return resp
}

// errorCode checks that the body has the contract's error shape, exactly
// {"error":{"code","message"}} plus, for an invalid field, "field" (a non-empty JSON path),
// and returns the code.
func (r response) errorCode(t testing.TB) string {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &outer); err != nil || len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("error body %s is not {\"error\":{…}}", r.body)
	}
	var inner map[string]any
	if err := json.Unmarshal(outer["error"], &inner); err != nil || len(inner) != 2 && len(inner) != 3 {
		t.Fatalf("error body %s: want exactly code and message (and field)", r.body)
	}
	if f, ok := inner["field"]; len(inner) == 3 && (!ok || f == "" || inner["code"] != "invalid_request") {
		t.Fatalf("error body %s: the third member must be the field of an invalid_request", r.body)
	}
	code, ok1 := inner["code"].(string)
	msg, ok2 := inner["message"].(string)
	if !ok1 || !ok2 || code == "" || msg == "" {
		t.Fatalf("error body %s: code and message must be non-empty strings", r.body)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
	return code
}

// wantError fails the test unless resp is the error status and code.
func wantError(t testing.TB, resp response, status int, code string) {
	t.Helper()
	if resp.status != status {
		t.Fatalf("status %d, want %d: %s", resp.status, status, resp.body)
	}
	if got := resp.errorCode(t); got != code {
		t.Fatalf("code %q, want %q: %s", got, code, resp.body)
	}
}

// mustProduct creates a product valid for hours hours (validity_days if hours is negative).
func (ts *testServer) mustProduct(code string, hours int, audience string) productJSON {
	ts.t.Helper()
	validity := fmt.Sprintf(`"validity_hours":%d`, hours)
	if hours < 0 {
		validity = fmt.Sprintf(`"validity_days":%d`, -hours)
	}
	var p productJSON
	ts.must(201, "POST", "/api/v1/products", fmt.Sprintf(`{"code":%q,"name":{"sl":"Kartica %[1]s","it":"Carta %[1]s","en":"Card %[1]s","de":"Karte %[1]s"},%s,"price":"25.00","audience":%q}`,
		code, validity, audience), asAdmin, &p)
	return p
}

// mustMerchant creates a merchant and returns it with its API key.
func (ts *testServer) mustMerchant(name, category string) (merchantJSON, string) {
	ts.t.Helper()
	var out struct {
		Merchant merchantJSON `json:"merchant"`
		APIKey   string       `json:"api_key"`
	}
	ts.must(201, "POST", "/api/v1/merchants", fmt.Sprintf(`{"name":%q,"category":%q,"address":"Titov trg 1, Koper","lat":45.5481,"lon":13.7302}`, name, category), asAdmin, &out)
	if out.APIKey == "" {
		ts.t.Fatal("no api_key")
	}
	return out.Merchant, out.APIKey
}

// mustOffer creates an offer of merchantID from its JSON fields (without braces) and a title
// in the four languages: "<title> SL", "<title> IT", "<title> EN", "<title> DE".
func (ts *testServer) mustOffer(merchantID, title, fields string) offerJSON {
	ts.t.Helper()
	var o offerJSON
	body := fmt.Sprintf(`{"title":{"sl":"%[1]s SL","it":"%[1]s IT","en":"%[1]s EN","de":"%[1]s DE"},%s}`, title, fields)
	ts.must(201, "POST", "/api/v1/merchants/"+merchantID+"/offers", body, asAdmin, &o)
	return o
}

// mustCard issues one card.
func (ts *testServer) mustCard(product, holder, lang string) cardJSON {
	ts.t.Helper()
	var c cardJSON
	ts.must(201, "POST", "/api/v1/cards", fmt.Sprintf(`{"product":%q,"holder":%q,"lang":%q}`, product, holder, lang), asAdmin, &c)
	return c
}

// redeem posts a redemption at a till with an Idempotency-Key.
func (ts *testServer) redeem(key, cardInput, offerID, amount, idem string) response {
	ts.t.Helper()
	return ts.do("POST", "/api/v1/pos/redemptions",
		fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":%q,"terminal":"till-1"}`, cardInput, offerID, amount),
		asKey(key).with("Idempotency-Key", idem))
}

// mustRedeem is redeem that must succeed.
func (ts *testServer) mustRedeem(key, cardInput, offerID, amount, idem string) redemptionJSON {
	ts.t.Helper()
	resp := ts.redeem(key, cardInput, offerID, amount, idem)
	if resp.status != 201 {
		ts.t.Fatalf("redeem %s: status %d: %s", amount, resp.status, resp.body)
	}
	var r redemptionJSON
	if err := json.Unmarshal(resp.body, &r); err != nil {
		ts.t.Fatal(err)
	}
	return r
}

// forge changes one character of a token in its middle.
func forge(token string) string {
	i := len(token) / 2
	c := byte('A')
	if token[i] == 'A' {
		c = 'B'
	}
	return token[:i] + string(c) + token[i+1:]
}

func TestHealthz(t *testing.T) {
	ts := newTestServer(t)
	var body map[string]string
	ts.must(200, "GET", "/healthz", "", nil, &body)
	if body["status"] != "ok" {
		t.Fatalf("healthz %v", body)
	}
}
