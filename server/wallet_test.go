package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/server/wallet"
	"github.com/citycard/citycard/server/wallet/wallettest"
	"github.com/citycard/citycard/storage/storagetest"
	"github.com/golang-jwt/jwt/v5"
)

// fakeAPNs is Apple's push service as a local HTTP/2 TLS server that asks for a client
// certificate; down makes it answer 503.
type fakeAPNs struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	got  []apnsPush
}

type apnsPush struct {
	token, topic, proto string
	clientCert          bool
}

func newFakeAPNs(t *testing.T) *fakeAPNs {
	f := &fakeAPNs{}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			http.Error(w, `{"reason":"ServiceUnavailable"}`, http.StatusServiceUnavailable)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/gone") {
			http.Error(w, `{"reason":"Unregistered"}`, http.StatusGone)
			return
		}
		f.mu.Lock()
		f.got = append(f.got, apnsPush{token: strings.TrimPrefix(r.URL.Path, "/3/device/"), topic: r.Header.Get("apns-topic"),
			proto: r.Proto, clientCert: r.TLS != nil && len(r.TLS.PeerCertificates) > 0})
		f.mu.Unlock()
	}))
	f.srv.EnableHTTP2 = true
	f.srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
	f.srv.StartTLS()
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAPNs) pushes() []apnsPush {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]apnsPush(nil), f.got...)
}

// fakeGoogle is Google's OAuth token endpoint and the Wallet REST API: it records each
// object's state PATCHed.
type fakeGoogle struct {
	srv     *httptest.Server
	mu      sync.Mutex
	patched map[string][]string // object id → states
	tokens  int
}

func newFakeGoogle(t *testing.T) *fakeGoogle {
	f := &fakeGoogle{patched: map[string][]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		switch {
		case r.Method == "POST" && r.URL.Path == "/token":
			if r.FormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.FormValue("assertion") == "" {
				http.Error(w, "bad grant", http.StatusBadRequest)
				return
			}
			f.tokens++
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"access_token":"fake-token","expires_in":3600,"token_type":"Bearer"}`)
		case r.Method == "PATCH" && strings.HasPrefix(r.URL.Path, "/walletobjects/v1/genericObject/"):
			if r.Header.Get("Authorization") != "Bearer fake-token" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			var body struct{ State string }
			json.NewDecoder(r.Body).Decode(&body)
			id := strings.TrimPrefix(r.URL.Path, "/walletobjects/v1/genericObject/")
			f.patched[id] = append(f.patched[id], body.State)
			io.WriteString(w, `{}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGoogle) states(id string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.patched[id]...)
}

const testIssuerID = "3388000000012345678"

// walletConfigured configures both wallets against the fakes, with a test CA's certificate.
func walletConfigured(t *testing.T, apns *fakeAPNs, google *fakeGoogle) (testOption, wallettest.Chain) {
	chain := wallettest.NewChain(t, time.Now().AddDate(1, 0, 0))
	key, _ := wallettest.ServiceAccount(t, google.srv.URL+"/token")
	roots := x509.NewCertPool()
	roots.AddCert(apns.srv.Certificate())
	wc := walletConfigFor(t, chain, key)
	wc.APNsURL, wc.GoogleAPI, wc.apnsTLS = apns.srv.URL, google.srv.URL, &tls.Config{RootCAs: roots}
	return withConfig(func(c *Config) { c.Wallet = wc }), chain
}

// walletConfigFor configures both wallets with the test CA's pass certificate and a Google
// service account's key, written to the test's temporary directory (the APNs and Wallet API
// addresses are Apple's and Google's: set them to fakes before delivering anything).
func walletConfigFor(t testing.TB, chain wallettest.Chain, googleKey []byte) WalletConfig {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return WalletConfig{AppleCert: write("pass.p12", chain.P12), ApplePassword: wallettest.Password, AppleWWDR: write("wwdr.pem", chain.WWDRPEM),
		ApplePassTypeID: wallettest.PassTypeID, AppleTeamID: wallettest.TeamID,
		GoogleKey: write("google.json", googleKey), GoogleIssuerID: testIssuerID}
}

// passJSON unzips a .pkpass and returns its pass.json.
func passJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	for _, f := range z.File {
		if f.Name == "pass.json" {
			r, _ := f.Open()
			defer r.Close()
			var out map[string]any
			if err := json.NewDecoder(r).Decode(&out); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}
	t.Fatal("no pass.json")
	return nil
}

// TestWalletNotConfigured: without certificates both endpoints answer 404
// wallet_not_configured and the card page shows no badge.
func TestWalletNotConfigured(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	c := ts.mustCard("koper-72h", "", "en")
	wantError(t, ts.do("GET", "/api/v1/public/cards/"+c.Token+"/pass.pkpass", "", nil), 404, "wallet_not_configured")
	wantError(t, ts.do("GET", "/api/v1/public/cards/"+c.Token+"/google-wallet", "", nil), 404, "wallet_not_configured")
	wantError(t, ts.do("GET", "/wallet/v1/passes/pass.x/"+c.ID, "", hdr{"Authorization": "ApplePass x"}), 404, "wallet_not_configured")
	page := ts.do("GET", "/c/"+c.Token, "", nil)
	if bytes.Contains(page.body, []byte("Apple Wallet")) || bytes.Contains(page.body, []byte("Google Wallet")) {
		t.Error("the card page shows a wallet badge without a wallet configured")
	}
}

// TestWalletPassKitEndToEnd: the PassKit web service against the server: register, block
// the card, the fake APNs (HTTP/2, client certificate) gets one push for the device with the
// pass type as apns-topic, the serials list names the card, the latest pass is voided (and
// 304 when unchanged); unregister; a wrong token is 401.
func TestWalletPassKitEndToEnd(t *testing.T) {
	apns, google := newFakeAPNs(t), newFakeGoogle(t)
	opt, _ := walletConfigured(t, apns, google)
	ts := newTestServer(t, opt)
	ts.mustProduct("koper-72h", 72, "tourist")
	c := ts.mustCard("koper-72h", "Ana", "sl")
	ctx := context.Background()

	resp := ts.must(200, "GET", "/api/v1/public/cards/"+c.Token+"/pass.pkpass", "", nil, nil)
	if got := resp.header.Get("Content-Type"); got != "application/vnd.apple.pkpass" {
		t.Errorf("Content-Type %q", got)
	}
	pj := passJSON(t, resp.body)
	auth, _ := pj["authenticationToken"].(string)
	if pj["serialNumber"] != c.ID || len(auth) < 16 || pj["webServiceURL"] != testPublicURL+"/wallet" || pj["voided"] != nil {
		t.Fatalf("pass.json %v", pj)
	}
	if bc := pj["barcodes"].([]any)[0].(map[string]any); bc["message"] != c.QRURL {
		t.Errorf("barcode %v, want the card's QR URL %s", bc, c.QRURL)
	}
	reg := "/wallet/v1/devices/dev-1/registrations/" + wallettest.PassTypeID + "/" + c.ID
	good, bad := hdr{"Authorization": "ApplePass " + auth}, hdr{"Authorization": "ApplePass " + strings.Repeat("0", len(auth))}
	wantError(t, ts.do("POST", reg, `{"pushToken":"ptok-1"}`, bad), 401, "unauthorized")
	wantError(t, ts.do("POST", reg, `{"pushToken":"ptok-1"}`, nil), 401, "unauthorized")
	ts.must(201, "POST", reg, `{"pushToken":"ptok-1"}`, good, nil)
	ts.must(200, "POST", reg, `{"pushToken":"ptok-1"}`, good, nil)
	// A second device whose token APNs says is gone (410): pushed once, then forgotten.
	reg2 := "/wallet/v1/devices/dev-2/registrations/" + wallettest.PassTypeID + "/" + c.ID
	ts.must(201, "POST", reg2, `{"pushToken":"gone"}`, good, nil)
	serials := "/wallet/v1/devices/dev-1/registrations/" + wallettest.PassTypeID
	var list struct {
		SerialNumbers []string `json:"serialNumbers"`
		LastUpdated   string   `json:"lastUpdated"`
	}
	ts.must(200, "GET", serials, "", nil, &list)
	if len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != c.ID {
		t.Fatalf("serials %+v", list)
	}
	ts.must(204, "GET", serials+"?passesUpdatedSince="+list.LastUpdated, "", nil, nil)
	latest := "/wallet/v1/passes/" + wallettest.PassTypeID + "/" + c.ID
	lm := ts.must(200, "GET", latest, "", good, nil).header.Get("Last-Modified")
	ts.must(304, "GET", latest, "", good.with("If-Modified-Since", lm), nil)
	wantError(t, ts.do("GET", latest, "", bad), 401, "unauthorized")

	if n := ts.s.walletRound(ctx); n != 0 {
		t.Fatalf("%d deliveries before any change", n)
	}
	ts.clock.Add(2 * time.Second)
	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", `{"reason":"lost"}`, asAdmin, nil)
	if n := ts.s.walletRound(ctx); n != 2 {
		t.Fatalf("%d deliveries after the block, want 2 (one to a gone device)", n)
	}
	if regs, _ := ts.db.WalletRegistrations(ctx, c.ID); len(regs) != 1 || regs[0].DeviceID != "dev-1" {
		t.Fatalf("registrations after APNs said 410: %+v", regs)
	}
	got := apns.pushes()
	if len(got) != 1 || got[0].token != "ptok-1" || got[0].topic != wallettest.PassTypeID || got[0].proto != "HTTP/2.0" || !got[0].clientCert {
		t.Fatalf("APNs got %+v, want one HTTP/2 push to ptok-1 with topic %s and a client certificate", got, wallettest.PassTypeID)
	}
	ts.must(200, "GET", serials+"?passesUpdatedSince="+list.LastUpdated, "", nil, &list)
	if len(list.SerialNumbers) != 1 || list.SerialNumbers[0] != c.ID {
		t.Fatalf("serials after the block %+v", list)
	}
	resp = ts.must(200, "GET", latest, "", good.with("If-Modified-Since", lm), nil)
	if pj := passJSON(t, resp.body); pj["voided"] != true {
		t.Fatalf("the latest pass after the block is not voided: %v", pj["voided"])
	}
	if n := ts.s.walletRound(ctx); n != 0 {
		t.Fatalf("%d deliveries in a round with nothing new", n)
	}
	ts.must(200, "DELETE", reg, "", good, nil)
	ts.must(204, "GET", serials, "", nil, nil)
	wantError(t, ts.do("DELETE", reg, "", bad), 401, "unauthorized")
	ts.must(200, "POST", "/wallet/v1/log", `{"logs":["a message"]}`, nil, nil)
	ts.clock.Add(2 * time.Second)
	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/unblock", ``, asAdmin, nil)
	if n := ts.s.walletRound(ctx); n != 0 || len(apns.pushes()) != 1 {
		t.Fatalf("an unregistered device was pushed: %d deliveries", n)
	}
}

// TestWalletGoogle: the save link's JWT verifies with the service account's public key and
// has the contract's claims; a block PATCHes the object to INACTIVE, an expiry to EXPIRED.
func TestWalletGoogle(t *testing.T) {
	apns, google := newFakeAPNs(t), newFakeGoogle(t)
	opt, _ := walletConfigured(t, apns, google)
	ts := newTestServer(t, opt)
	ts.mustProduct("koper-72h", 72, "tourist")
	c := ts.mustCard("koper-72h", "", "it")
	ctx := context.Background()

	resp := ts.must(302, "GET", "/api/v1/public/cards/"+c.Token+"/google-wallet", "", nil, nil)
	if loc := resp.header.Get("Location"); !strings.HasPrefix(loc, wallet.SaveURLBase) {
		t.Fatalf("Location %q", loc)
	}
	var out struct{ URL string }
	ts.must(200, "GET", "/api/v1/public/cards/"+c.Token+"/google-wallet?format=json", "", nil, &out)
	raw := strings.TrimPrefix(out.URL, wallet.SaveURLBase)
	claims := jwt.MapClaims{}
	if _, err := jwt.ParseWithClaims(raw, claims, func(tk *jwt.Token) (any, error) { return ts.s.wallet.google.PublicKey(), nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithAudience("google")); err != nil {
		t.Fatalf("the JWT does not verify: %v", err)
	}
	if claims["iss"] != "wallet@test.iam.gserviceaccount.com" || claims["typ"] != "savetowallet" {
		t.Errorf("claims %v", claims)
	}
	if o, _ := claims["origins"].([]any); len(o) != 1 || o[0] != testPublicURL {
		t.Errorf("origins %v", claims["origins"])
	}
	obj := claims["payload"].(map[string]any)["genericObjects"].([]any)[0].(map[string]any)
	bc := obj["barcode"].(map[string]any)
	if obj["id"] != testIssuerID+"."+c.ID || bc["value"] != c.QRURL || bc["type"] != "QR_CODE" || obj["state"] != "ACTIVE" ||
		!strings.Contains(bc["alternateText"].(string), c.Number[:4]) {
		t.Errorf("object %v", obj)
	}
	if _, ok := obj["validTimeInterval"]; ok {
		t.Error("validTimeInterval before the card's validity is known")
	}
	wantError(t, ts.do("GET", "/api/v1/public/cards/"+c.Token+"/google-wallet?format=xml", "", nil), 400, "invalid_request")

	ts.clock.Add(time.Second)
	ts.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", `{"reason":"lost"}`, asAdmin, nil)
	if n := ts.s.walletRound(ctx); n != 1 {
		t.Fatalf("%d deliveries after the block, want 1", n)
	}
	if got := google.states(testIssuerID + "." + c.ID); len(got) != 1 || got[0] != "INACTIVE" {
		t.Fatalf("the object's states %v, want [INACTIVE]", got)
	}
	// Expiry is found by the worker's sweep: the card's activation deadline passes.
	c2 := ts.mustCard("koper-72h", "", "it")
	ts.must(200, "GET", "/api/v1/public/cards/"+c2.Token+"/google-wallet?format=json", "", nil, nil)
	ts.clock.Add(400 * 24 * time.Hour)
	if n := ts.s.walletRound(ctx); n != 1 {
		t.Fatalf("%d deliveries after the expiry, want 1", n)
	}
	if got := google.states(testIssuerID + "." + c2.ID); len(got) != 1 || got[0] != "EXPIRED" {
		t.Fatalf("the expired object's states %v, want [EXPIRED]", got)
	}
}

// TestWalletPushRetriedAcrossRestart: with the push service down a change is retried, a
// redemption meanwhile is unaffected, nothing is lost when the server stops: a new server
// on the same database delivers it once the service is back.
func TestWalletPushRetriedAcrossRestart(t *testing.T) {
	apns, google := newFakeAPNs(t), newFakeGoogle(t)
	opt, _ := walletConfigured(t, apns, google)
	dsn := storagetest.DSN(t)
	ts := newTestServer(t, opt, onDSN(dsn))
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"price","value":"1.00","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "en")
	ctx := context.Background()
	pj := passJSON(t, ts.must(200, "GET", "/api/v1/public/cards/"+c.Token+"/pass.pkpass", "", nil, nil).body)
	ts.must(201, "POST", "/wallet/v1/devices/dev-9/registrations/"+wallettest.PassTypeID+"/"+c.ID, `{"pushToken":"ptok-9"}`,
		hdr{"Authorization": "ApplePass " + pj["authenticationToken"].(string)}, nil)

	apns.down.Store(true)
	// The first redemption activates the card: the worker's sweep finds it, the redemption
	// itself writes nothing of the wallet's.
	start := time.Now()
	ts.mustRedeem(key, c.Token, o.ID, "3.00", "r1")
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a redemption took %v with the push service down", took)
	}
	for range 3 {
		if n := ts.s.walletRound(ctx); n != 0 {
			t.Fatalf("delivered %d with the push service down", n)
		}
		ts.clock.Add(time.Hour)
	}
	if n, _ := ts.db.WalletOutboxPending(ctx); n != 1 {
		t.Fatalf("%d pending, want 1", n)
	}
	ts.mustRedeem(key, c.Token, o.ID, "3.00", "r2") // still selling
	ts.stop()
	ts.db.Close()

	apns.down.Store(false)
	ts2 := newTestServer(t, opt, onDSN(dsn), withClock(ts.clock))
	ts.clock.Add(2 * time.Hour)
	if n := ts2.s.walletRound(ctx); n != 1 {
		t.Fatalf("the new server delivered %d, want 1", n)
	}
	if got := apns.pushes(); len(got) != 1 || got[0].token != "ptok-9" {
		t.Fatalf("APNs got %+v", got)
	}
	if n, _ := ts2.db.WalletOutboxPending(ctx); n != 0 {
		t.Fatalf("%d still pending", n)
	}
	// The latest pass shows the activation.
	pj = passJSON(t, ts2.must(200, "GET", "/wallet/v1/passes/"+wallettest.PassTypeID+"/"+c.ID, "",
		hdr{"Authorization": "ApplePass " + pj["authenticationToken"].(string)}, nil).body)
	if _, ok := pj["expirationDate"]; !ok {
		t.Error("the pass of the activated card has no expirationDate")
	}
}

// TestWalletWorkersRace: two instances' workers on one database, racing over many queued
// pushes, deliver each exactly once (both engines).
func TestWalletWorkersRace(t *testing.T) {
	apns, google := newFakeAPNs(t), newFakeGoogle(t)
	opt, _ := walletConfigured(t, apns, google)
	dsn := storagetest.DSN(t)
	a := newTestServer(t, opt, onDSN(dsn))
	b := newTestServer(t, opt, onDSN(dsn), withClock(a.clock))
	a.mustProduct("koper-72h", 72, "tourist")
	const n = 20
	for i := range n {
		c := a.mustCard("koper-72h", "", "en")
		pj := passJSON(t, a.must(200, "GET", "/api/v1/public/cards/"+c.Token+"/pass.pkpass", "", nil, nil).body)
		for _, dev := range []string{"d1", "d2"} {
			a.must(201, "POST", "/wallet/v1/devices/"+dev+"/registrations/"+wallettest.PassTypeID+"/"+c.ID,
				`{"pushToken":"`+dev+"-"+c.ID+`"}`, hdr{"Authorization": "ApplePass " + pj["authenticationToken"].(string)}, nil)
		}
		a.must(200, "POST", "/api/v1/cards/"+c.ID+"/block", `{"reason":"lost"}`, asAdmin, nil)
		_ = i
	}
	ctx := context.Background()
	var total atomic.Int64
	var wg sync.WaitGroup
	for _, ts := range []*testServer{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			total.Add(int64(ts.s.walletRound(ctx)))
		}()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, p := range apns.pushes() {
		seen[p.token]++
	}
	if len(seen) != 2*n || total.Load() != 2*n {
		t.Fatalf("%d tokens pushed, %d deliveries recorded; want %d each", len(seen), total.Load(), 2*n)
	}
	for tok, k := range seen {
		if k != 1 {
			t.Errorf("%s pushed %d times", tok, k)
		}
	}
}

// TestWalletCertificateAtStart: an expired pass certificate refuses the start; one expiring
// within 30 days starts with a warning on the console output and its expiry in /metrics.
func TestWalletCertificateAtStart(t *testing.T) {
	dir := t.TempDir()
	cfgFor := func(chain wallettest.Chain) WalletConfig {
		p12, wwdr := filepath.Join(dir, "pass.p12"), filepath.Join(dir, "wwdr.pem")
		os.WriteFile(p12, chain.P12, 0o600)
		os.WriteFile(wwdr, chain.WWDRPEM, 0o600)
		return WalletConfig{AppleCert: p12, ApplePassword: wallettest.Password, AppleWWDR: wwdr,
			ApplePassTypeID: wallettest.PassTypeID, AppleTeamID: wallettest.TeamID}
	}
	expired := cfgFor(wallettest.NewChain(t, time.Now().Add(-time.Hour)))
	if _, _, err := loadWallet(expired, time.Now()); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired certificate: %v", err)
	}
	soon := wallettest.NewChain(t, time.Now().Add(10*24*time.Hour))
	ts := newTestServer(t, withConfig(func(c *Config) { c.Wallet = cfgFor(soon) }))
	var out bytes.Buffer
	if err := ts.s.startWallet(ts.s.cfg.Wallet, &out, ts.s.log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "warning: the pass certificate") || !strings.Contains(out.String(), "renew") {
		t.Errorf("start said %q", out.String())
	}
	var m bytes.Buffer
	if _, err := ts.s.writeMetrics(&m); err != nil {
		t.Fatal(err)
	}
	want := `citycard_wallet_certificate_expiry_seconds{certificate="apple_pass"} ` + strconv.FormatFloat(float64(soon.Pass.NotAfter.Unix()), 'g', -1, 64)
	if !strings.Contains(m.String(), want) {
		t.Errorf("metrics lack %q", want)
	}
}

// TestWalletCertificateInConsole: the network admin's GET /api/v1/me names a wallet
// certificate that expires within 30 days (the console shows it), and none otherwise.
func TestWalletCertificateInConsole(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		left time.Duration
		want int
	}{{10 * 24 * time.Hour, 1}, {300 * 24 * time.Hour, 0}} {
		chain := wallettest.NewChain(t, time.Now().Add(tc.left))
		p12, wwdr := filepath.Join(dir, "pass.p12"), filepath.Join(dir, "wwdr.pem")
		os.WriteFile(p12, chain.P12, 0o600)
		os.WriteFile(wwdr, chain.WWDRPEM, 0o600)
		ts := newTestServer(t, withConfig(func(c *Config) {
			c.Wallet = WalletConfig{AppleCert: p12, ApplePassword: wallettest.Password, AppleWWDR: wwdr,
				ApplePassTypeID: wallettest.PassTypeID, AppleTeamID: wallettest.TeamID}
		}))
		var me meJSON
		ts.must(200, "GET", "/api/v1/me", "", asAdmin, &me)
		if len(me.WalletCertificates) != tc.want {
			t.Errorf("%v left: /api/v1/me names %+v", tc.left, me.WalletCertificates)
		}
		if tc.want == 1 && (me.WalletCertificates[0].Certificate != "apple_pass" || me.WalletCertificates[0].ExpiresAt != timeJSON(chain.Pass.NotAfter)) {
			t.Errorf("certificate %+v", me.WalletCertificates[0])
		}
	}
}
