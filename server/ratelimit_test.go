package main

import (
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// limiterClock is a settable clock for limiters.
type limiterClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *limiterClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *limiterClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestClock() *limiterClock {
	return &limiterClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
}

func TestLimiterBucket(t *testing.T) {
	clock := newTestClock()
	l := newLimiter(60, 3) // one a second, bursts of three
	l.now = clock.now
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
	clock.add(time.Second)
	if ok, _ := l.take("a"); !ok {
		t.Fatal("a token did not come back after a second")
	}
	if ok, _ := l.peek("a"); ok {
		t.Fatal("peek saw a token that was just spent")
	}
	clock.add(time.Hour)
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
	l.now, l.max = clock.now, 100
	for i := 0; i < 1000; i++ {
		l.take("addr-" + strconv.Itoa(i))
		if n := l.len(); n > 100 {
			t.Fatalf("%d keys held, bound is 100", n)
		}
	}
	// Idle buckets are full again after burst/rate = 5 s and are dropped.
	clock.add(10 * time.Second)
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

// A client that sent too many wrong secrets is refused before its next secret is looked at,
// even a right one, and even with rate limiting off.
func TestFailedSigninLimit(t *testing.T) {
	e := newSecEnv(t, 0)
	clock := newTestClock()
	e.s.limits.signin.now = clock.now
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
		{method: "GET", path: "/api/v1/cards", secret: e.admin},
		{method: "POST", path: "/api/v1/pos/check", secret: e.keyA, body: `{"card":"` + e.card.Token + `"}`},
		{method: "GET", path: "/api/v1/cards", secret: "cca_wrong"},
	} {
		resp, body := e.do(r)
		if resp.StatusCode != 429 || errorCodeOf(body) != "rate_limited" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("%s %s after %d failures: %d %s (Retry-After %q), want 429 rate_limited", r.method, r.path,
				signinFailBurst, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	// Public endpoints take no secret and stay open.
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/public/offers"}); resp.StatusCode != 200 {
		t.Fatalf("public endpoint for a blocked address: %d, want 200", resp.StatusCode)
	}
	clock.add(time.Minute / signinFailPerMinute)
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/cards", secret: e.admin}); resp.StatusCode != 200 {
		t.Fatalf("admin after the wait: %d, want 200", resp.StatusCode)
	}
}
