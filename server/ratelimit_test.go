package main

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// newTestClock is a testClock for the limiters, at 10:00 UTC on 15 October 2026.
func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
}

func TestLimiterBucket(t *testing.T) {
	clock := newTestClock()
	l := newLimiter(60, 3) // one a second, bursts of three
	l.now = clock.Now
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a"); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.take("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("4th request: ok=%v wait=%v, want refused with a wait of at most 1s", ok, wait)
	}
	if ok, _ := l.take("b"); !ok {
		t.Fatal("another key shares the first key's bucket")
	}
	clock.Add(time.Second)
	if ok, _ := l.take("a"); !ok {
		t.Fatal("a token did not come back after a second")
	}
	if ok, _ := l.peek("a"); ok {
		t.Fatal("peek saw a token that was just spent")
	}
	clock.Add(time.Hour)
	for i := 0; i < 3; i++ {
		if ok, _ := l.take("a"); !ok {
			t.Fatal("the bucket did not refill to its burst")
		}
	}
	if ok, _ := l.take("a"); ok {
		t.Fatal("the bucket refilled beyond its burst")
	}
}

func TestLimiterMemoryIsBounded(t *testing.T) {
	clock := newTestClock()
	l := newLimiter(60, 5)
	l.now, l.max = clock.Now, 100
	for i := 0; i < 1000; i++ {
		l.take("addr-" + strconv.Itoa(i))
		if n := l.len(); n > 100 {
			t.Fatalf("%d keys held, bound is 100", n)
		}
	}
	// Idle buckets are full again after burst/rate = 5 s and are dropped.
	clock.Add(10 * time.Second)
	l.take("fresh")
	if n := l.len(); n != 1 {
		t.Fatalf("%d keys held after every other key went idle, want 1", n)
	}
	// peek never adds a key.
	l.peek("never-taken")
	if n := l.len(); n != 1 {
		t.Fatalf("peek added a key: %d held", n)
	}
}

func TestRateLimitPublic(t *testing.T) {
	e := newSecEnv(t, 5)
	for i := 0; i < 5; i++ {
		if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/public/offers"}); resp.StatusCode != 200 {
			t.Fatalf("request %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
	for _, path := range []string{"/api/v1/public/offers", "/c/" + e.card.Token, "/api/v1/public/cards/" + e.card.Token} {
		resp, body := e.do(secReq{method: "GET", path: path})
		if resp.StatusCode != 429 {
			t.Fatalf("GET %s over the limit: %d, want 429", path, resp.StatusCode)
		}
		if !strings.HasPrefix(path, "/c/") && errorCodeOf(body) != "rate_limited" {
			t.Fatalf("GET %s: body %s, want code rate_limited", path, body)
		}
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Fatalf("Retry-After %q, want 1 to 60 seconds", resp.Header.Get("Retry-After"))
		}
	}
	// Health probes and the admin are not limited by address.
	if resp, _ := e.do(secReq{method: "GET", path: "/healthz"}); resp.StatusCode != 200 {
		t.Fatalf("/healthz over the limit: %d, want 200", resp.StatusCode)
	}
	for i := 0; i < 10; i++ {
		if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: e.admin}); resp.StatusCode != 200 {
			t.Fatalf("admin request %d: %d, want 200", i+1, resp.StatusCode)
		}
	}
}

func TestRateLimitPerMerchantKey(t *testing.T) {
	e := newSecEnv(t, 3)
	e.s.limits.addr = nil // all test requests come from one address: look at the key's limit alone
	check := func(key string) int {
		resp, _ := e.do(secReq{method: "POST", path: "/api/v1/pos/check", secret: key, body: `{"card":"` + e.card.Token + `"}`})
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ {
		if got := check(e.keyA); got != 200 {
			t.Fatalf("merchant A request %d: %d, want 200", i+1, got)
		}
	}
	if got := check(e.keyA); got != 429 {
		t.Fatalf("merchant A over its limit: %d, want 429", got)
	}
	if got := check(e.keyB); got != 200 {
		t.Fatalf("merchant B after A hit its limit: %d, want 200", got)
	}
}

func TestRateLimitTillByAddress(t *testing.T) {
	e := newSecEnv(t, 3)
	e.s.limits.merchant = nil
	codes := []int{}
	for i := 0; i < 4; i++ {
		key := e.keyA
		if i%2 == 1 {
			key = e.keyB // two keys from one address share the address's limit
		}
		resp, _ := e.do(secReq{method: "POST", path: "/api/v1/pos/check", secret: key, body: `{"card":"` + e.card.Token + `"}`})
		codes = append(codes, resp.StatusCode)
	}
	if codes[2] != 200 || codes[3] != 429 {
		t.Fatalf("statuses %v, want the 4th request from one address refused with 429", codes)
	}
}

func TestRateLimitZeroTurnsItOff(t *testing.T) {
	e := newSecEnv(t, 0)
	for i := 0; i < 200; i++ {
		if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/public/offers"}); resp.StatusCode != 200 {
			t.Fatalf("request %d with CITYCARD_RATE_LIMIT=0: %d, want 200", i+1, resp.StatusCode)
		}
	}
	cfg, _, err := parseConfig("serve", nil, func(k string) string {
		if k == "CITYCARD_RATE_LIMIT" {
			return "0"
		}
		return ""
	}, nil)
	if err != nil || cfg.RateLimit != 0 {
		t.Fatalf("CITYCARD_RATE_LIMIT=0 parsed as %d, %v", cfg.RateLimit, err)
	}
}

// A client that sent too many wrong secrets gets 429 for its next wrong ones, even with rate
// limiting off; a right secret from the same address still gets in.
func TestFailedSigninLimit(t *testing.T) {
	e := newSecEnv(t, 0)
	clock := newTestClock()
	e.s.limits.signin.now = clock.Now
	// Right secrets never count.
	for i := 0; i < 3*signinFailBurst; i++ {
		if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: e.admin}); resp.StatusCode != 200 {
			t.Fatalf("admin request %d: %d", i+1, resp.StatusCode)
		}
	}
	for i := 0; i < signinFailBurst; i++ {
		secret := "ccm_guess" + strconv.Itoa(i)
		if i%2 == 0 {
			secret = "" // a missing secret is a failure too
		}
		path := "/api/v1/pos/check"
		if i%3 == 0 {
			path = "/api/v1/merchants"
		}
		if resp, _ := e.do(secReq{method: "POST", path: path, secret: secret, body: `{}`}); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	for _, r := range []secReq{
		{method: "GET", path: "/api/v1/cards", secret: "cca_wrong"},
		{method: "POST", path: "/api/v1/pos/check", secret: "ccm_wrong", body: `{"card":"` + e.card.Token + `"}`},
		{method: "GET", path: "/api/v1/cards"},
	} {
		resp, body := e.do(r)
		if resp.StatusCode != 429 || errorCodeOf(body) != "rate_limited" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s with a wrong secret after %d failures: %d %s (Retry-After %q), want 429 rate_limited", r.method, r.path,
				signinFailBurst, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	// Public endpoints take no secret and stay open.
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/public/offers"}); resp.StatusCode != 200 {
		t.Fatalf("public endpoint for a blocked address: %d, want 200", resp.StatusCode)
	}
	clock.Add(time.Minute / signinFailPerMinute)
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_wrong"}); resp.StatusCode != 401 {
		t.Fatalf("a wrong secret after the wait: %d, want 401", resp.StatusCode)
	}
}

// A stranger cannot lock out the office or a till: after 100 failed sign-ins from one address,
// the admin token and a merchant key from that same address still get in, and a key of the
// wrong role still gets 403, not 429.
func TestFailedSigninsNeverLockOutValidSecrets(t *testing.T) {
	e := newSecEnv(t, 0)
	for i := 0; i < 100; i++ {
		r := secReq{method: "GET", path: "/api/v1/cards", secret: "cca_guess" + strconv.Itoa(i)}
		if i%2 == 1 {
			r = secReq{method: "POST", path: "/api/v1/pos/check", secret: "ccm_guess" + strconv.Itoa(i), body: `{}`}
		}
		if resp, _ := e.do(r); resp.StatusCode != 401 && resp.StatusCode != 429 {
			t.Fatalf("failure %d: %d, want 401 or 429", i+1, resp.StatusCode)
		}
	}
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_guess"}); resp.StatusCode != 429 {
		t.Fatalf("wrong secret after 100 failures: %d, want 429", resp.StatusCode)
	}
	for _, tc := range []struct {
		r    secReq
		want int
	}{
		{secReq{method: "GET", path: "/api/v1/cards", secret: e.admin}, 200},
		{secReq{method: "POST", path: "/api/v1/cards", secret: e.admin, body: `{"product":"koper-72h"}`}, 201},
		{secReq{method: "POST", path: "/api/v1/pos/check", secret: e.keyA, body: `{"card":"` + e.card.Token + `"}`}, 200},
		{secReq{method: "GET", path: "/api/v1/pos/me", secret: e.keyB}, 200},
		{secReq{method: "GET", path: "/api/v1/cards", secret: e.keyA}, 403},
		{secReq{method: "GET", path: "/api/v1/pos/me", secret: e.admin}, 403},
	} {
		if resp, body := e.do(tc.r); resp.StatusCode != tc.want {
			t.Fatalf("%s %s after 100 failures: %d %s, want %d", tc.r.method, tc.r.path, resp.StatusCode, body, tc.want)
		}
	}
}

// Failures from many addresses together are capped too, so a botnet cannot make the service
// hash wrong secrets at will; a valid secret still gets in.
func TestFailedSigninGlobalCap(t *testing.T) {
	e := newSecEnv(t, 0)
	e.s.trusted, _ = parseTrustedProxies("0.0.0.0") // app.Test's peer: each request names its own client
	clock := newTestClock()
	e.s.limits.signinAll.now = clock.Now
	got429 := 0
	for i := 0; i < signinGlobalBurst+10; i++ {
		xff := map[string]string{"X-Forwarded-For": "198.51." + strconv.Itoa(i/250) + "." + strconv.Itoa(i%250)}
		resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_guess", header: xff})
		if resp.StatusCode == 429 {
			got429++
		}
	}
	if got429 != 10 {
		t.Fatalf("%d of %d failures from distinct addresses got 429, want the 10 over the global burst", got429, signinGlobalBurst+10)
	}
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: e.admin}); resp.StatusCode != 200 {
		t.Fatalf("admin while the global cap is spent: %d, want 200", resp.StatusCode)
	}
}

// X-Forwarded-For from a peer that is not a trusted proxy is ignored: varying it does not give
// a client fresh buckets.
func TestForwardedForIgnoredFromUntrustedPeer(t *testing.T) {
	e := newSecEnv(t, 0)
	for i := 0; i < signinFailBurst; i++ {
		xff := map[string]string{"X-Forwarded-For": "203.0.113." + strconv.Itoa(i)}
		if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_wrong", header: xff}); resp.StatusCode != 401 {
			t.Fatalf("failure %d: %d, want 401", i+1, resp.StatusCode)
		}
	}
	xff := map[string]string{"X-Forwarded-For": "192.0.2.77"}
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_wrong", header: xff}); resp.StatusCode != 429 {
		t.Fatalf("a new X-Forwarded-For from an untrusted peer: %d, want 429 (the peer's bucket)", resp.StatusCode)
	}
}

// Behind a trusted proxy each client has its own buckets, and a client that writes someone
// else's address into X-Forwarded-For (the proxy appends the real one) spends its own.
func TestTrustedProxySeparatesClients(t *testing.T) {
	e := newSecEnv(t, 3)
	e.s.trusted, _ = parseTrustedProxies("10.0.0.0/8, 0.0.0.0") // app.Test's peer is the proxy
	fail := func(xff string) int {
		resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: "cca_wrong", header: map[string]string{"X-Forwarded-For": xff}})
		return resp.StatusCode
	}
	// Client A spoofs B's address; the proxy (and a second one, 10.1.2.3) append A's.
	for i := 0; i < signinFailBurst; i++ {
		if got := fail("192.0.2.2, 192.0.2.1, 10.1.2.3"); got != 401 {
			t.Fatalf("A's failure %d: %d, want 401", i+1, got)
		}
	}
	if got := fail("192.0.2.1"); got != 429 {
		t.Fatalf("A after %d failures: %d, want 429", signinFailBurst, got)
	}
	if got := fail("192.0.2.2"); got != 401 {
		t.Fatalf("B after A spoofed B's address: %d, want 401 (B's own bucket)", got)
	}
	// The per-address request limit of the till and public endpoints follows the client too.
	offers := func(xff string) int {
		resp, _ := e.do(secReq{method: "GET", path: "/api/v1/public/offers", header: map[string]string{"X-Forwarded-For": xff}})
		return resp.StatusCode
	}
	for i := 0; i < 3; i++ {
		if got := offers("192.0.2.1"); got != 200 {
			t.Fatalf("A's request %d: %d, want 200", i+1, got)
		}
	}
	if got := offers("192.0.2.1"); got != 429 {
		t.Fatalf("A over its rate: %d, want 429", got)
	}
	if got := offers("192.0.2.2"); got != 200 {
		t.Fatalf("B while A is over its rate: %d, want 200", got)
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := parseTrustedProxies(" 10.0.0.0/8 , 2001:db8::1, 192.168.1.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer string
		xff  []string
		want string
	}{
		{"192.0.2.9", []string{"198.51.100.1"}, "192.0.2.9"},                         // untrusted peer: header ignored
		{"10.0.0.1", nil, "10.0.0.1"},                                                // trusted, no header
		{"10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"},                       // one proxy
		{"10.0.0.1", []string{"1.1.1.1, 198.51.100.1"}, "198.51.100.1"},              // spoofed left part ignored
		{"10.0.0.1", []string{"1.1.1.1, 198.51.100.1, 192.168.1.1"}, "198.51.100.1"}, // two proxies
		{"10.0.0.1", []string{"1.1.1.1", "198.51.100.1"}, "198.51.100.1"},            // two header lines
		{"10.0.0.1", []string{"10.0.0.7, 10.0.0.8"}, "10.0.0.7"},                     // all trusted: left-most
		{"10.0.0.1", []string{"198.51.100.1, junk"}, "10.0.0.1"},                     // garbage stops the walk
		{"10.0.0.1", []string{"198.51.100.1:4711"}, "198.51.100.1"},                  // with a port
		{"10.0.0.1", []string{"[2001:db8::7]:443"}, "2001:db8::7"},
		{"::ffff:10.0.0.1", []string{"198.51.100.1"}, "198.51.100.1"}, // IPv4-mapped peer
		{"2001:db8::1", []string{"198.51.100.2"}, "198.51.100.2"},
	} {
		var xff [][]byte
		for _, h := range tc.xff {
			xff = append(xff, []byte(h))
		}
		if got := trusted.clientAddr(netip.MustParseAddr(tc.peer), xff); got.String() != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: %s, want %s", tc.peer, tc.xff, got, tc.want)
		}
	}
	if _, err := parseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("10.0.0.0/33 accepted")
	}
	if _, err := parseTrustedProxies("proxy.example"); err == nil {
		t.Error("a host name accepted")
	}
	if a, b := limitKey(netip.MustParseAddr("2001:db8:1:2::1")), limitKey(netip.MustParseAddr("2001:db8:1:2:ffff::9")); a != b {
		t.Errorf("one IPv6 /64 has two keys: %s, %s", a, b)
	}
	cfg, _, err := parseConfig("serve", []string{"--trusted-proxies", "127.0.0.1"}, func(k string) string {
		if k == "CITYCARD_TRUSTED_PROXIES" {
			return "10.0.0.0/8"
		}
		return ""
	}, nil)
	if err != nil || len(cfg.TrustedProxies) != 1 || !cfg.TrustedProxies.contains(netip.MustParseAddr("127.0.0.1")) {
		t.Fatalf("--trusted-proxies did not override the variable: %v, %v", cfg.TrustedProxies, err)
	}
}
