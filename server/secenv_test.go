package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// secEnv is a server on a fresh database with two merchants (A with an offer of each limit,
// B with one offer) and a card, for the hardening tests: limits, audit, authorization.
type secEnv struct {
	t       testing.TB
	s       *server
	app     *fiber.App
	db      *storage.DB
	clock   *testClock
	dbPath  string
	logs    *lockedBuffer
	admin   string
	keyA    string
	keyB    string
	merchA  merchant.Merchant
	merchB  merchant.Merchant
	offerA  merchant.Offer // unlimited, merchant A
	onceA   merchant.Offer // once, merchant A
	offerB  merchant.Offer // unlimited, merchant B
	card    card.Card
	product card.Product
}

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newSecEnv(t testing.TB, limit int, opts ...storage.Option) *secEnv {
	t.Helper()
	return newSecEnvWith(t, limit, withStore(opts...))
}

// newSecEnvWith is newSecEnv with more options of newTestServer (after its own).
func newSecEnvWith(t testing.TB, limit int, opts ...testOption) *secEnv {
	t.Helper()
	ctx := context.Background()
	logs := &lockedBuffer{}
	ts := newTestServer(t, append([]testOption{rateLimit(limit), at(time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)),
		withAdmin(newSecret("cca")), publicURL(defaultConfig().PublicURL), logTo(logs)}, opts...)...)
	e := &secEnv{t: t, s: ts.s, app: ts.app, db: ts.db, clock: ts.clock, dbPath: ts.s.cfg.DB, logs: logs, admin: ts.admin}
	keys := ts.s.keys

	e.product = card.Product{Town: "koper", Code: "koper-72h", Name: map[string]string{"en": "Koper Card"}, ValidityHours: 72, PriceCents: 2500, Audience: "tourist"}
	if err := e.db.CreateProduct(ctx, &e.product); err != nil {
		t.Fatal(err)
	}
	cards, err := e.db.CreateCards(ctx, "koper", keys, e.product.Code, 1, "Ana Novak", "en")
	if err != nil {
		t.Fatal(err)
	}
	e.card = cards[0]
	e.keyA, e.keyB = newSecret("ccm"), newSecret("ccm")
	for _, m := range []struct {
		m         *merchant.Merchant
		name, key string
	}{{&e.merchA, "Kavarna A", e.keyA}, {&e.merchB, "Kavarna B", e.keyB}} {
		*m.m = merchant.Merchant{Town: "koper", Name: m.name, Category: "restaurant"}
		sum := sha256.Sum256([]byte(m.key))
		if err := e.db.CreateMerchant(ctx, m.m, sum[:]); err != nil {
			t.Fatal(err)
		}
	}
	for _, o := range []struct {
		o     *merchant.Offer
		m     string
		limit string
	}{{&e.offerA, e.merchA.ID, "unlimited"}, {&e.onceA, e.merchA.ID, "once"}, {&e.offerB, e.merchB.ID, "unlimited"}} {
		*o.o = merchant.Offer{MerchantID: o.m, Title: map[string]string{"en": "10% off"}, Kind: merchant.KindPercent,
			Value: 1000, Limit: o.limit, MunicipalShare: 5000, Active: true}
		if err := e.db.CreateOffer(ctx, "koper", o.o); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// secReq is one request of a test.
type secReq struct {
	method, path, secret, body string
	header                     map[string]string
}

// do sends r to the app and returns the response with its body read.
func (e *secEnv) do(r secReq) (*http.Response, []byte) {
	e.t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if r.secret != "" {
		req.Header.Set("Authorization", "Bearer "+r.secret)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
		if k == "Host" {
			req.Host = v
		}
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	observeError(r.method, r.path, resp.StatusCode, b)
	return resp, b
}

// listen serves the app on a local port until the test ends and returns its base URL, for
// what app.Test cannot show (answers fasthttp gives before the app runs).
func (e *secEnv) listen() string {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	go e.app.Listener(lingering(ln)) // as serve does
	e.t.Cleanup(func() { e.app.ShutdownWithTimeout(5 * time.Second) })
	return "http://" + ln.Addr().String()
}

// doHTTP is do over a real connection to base.
func (e *secEnv) doHTTP(base string, r secReq) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(r.method, base+r.path, strings.NewReader(r.body))
	if err != nil {
		e.t.Fatal(err)
	}
	if r.secret != "" {
		req.Header.Set("Authorization", "Bearer "+r.secret)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	observeError(r.method, r.path, resp.StatusCode, b)
	return resp, b
}

// errorCodeOf is the contract code of an error body, or "".
func errorCodeOf(b []byte) string {
	var eb errorBody
	json.Unmarshal(b, &eb)
	return eb.Error.Code
}
