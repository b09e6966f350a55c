package main

import (
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Abuse limits. Three sets of token buckets, all in memory (one process owns the database, so
// one process sees every request):
//
//   - per client address, on the public pages and API and on the till endpoints;
//   - per merchant, on the till endpoints, once the key is known to be good;
//   - failed sign-ins per client address, on every endpoint that takes a secret, and for all
//     addresses together. These always apply, whatever CITYCARD_RATE_LIMIT says. The secret
//     is looked at first (a hash and an indexed lookup, cheap): a valid one always gets in,
//     so a stranger sending wrong secrets from a till's address (or a shared proxy's) cannot
//     lock the till out. Only a wrong or missing secret from an address over its limit, or
//     while failures from everywhere are over the global cap, is answered 429 instead of
//     401. Secrets are 256-bit random values (the admin token at least 32 characters), so
//     the limits are not what stops guessing: they bound what a stranger's failures cost.
//
// The first two allow CITYCARD_RATE_LIMIT requests a minute with bursts of as many; 0 turns
// them off (load tests). Addresses are the client's as clientKey sees it (trusted proxies).

const (
	// signinFailBurst failed sign-ins are allowed at once from one address, then one more
	// every 60/signinFailPerMinute seconds.
	signinFailBurst     = 20
	signinFailPerMinute = 10
	// signinGlobalBurst failed sign-ins are allowed at once from all addresses together, then
	// signinGlobalPerSecond a second: a botnet of many addresses is bounded too.
	signinGlobalBurst     = 1000
	signinGlobalPerSecond = 100
	// limiterMaxKeys bounds each limiter's memory (about 100 bytes a key).
	limiterMaxKeys = 100_000
)

var errRateLimited = errorf(fiber.StatusTooManyRequests, "rate_limited", "too many requests; retry later")

// limiter is a set of token buckets by key: each holds up to burst tokens and gains rate
// tokens a second. Buckets that have been idle long enough to be full again are the same as
// absent ones, so they are dropped; that keeps memory bounded by the keys active in the last
// refill period, and by max.
type limiter struct {
	mu        sync.Mutex
	rate      float64 // tokens per second
	burst     float64
	max       int
	now       func() time.Time
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newLimiter allows perMinute events a minute per key, in bursts of up to burst.
func newLimiter(perMinute, burst int) *limiter {
	return &limiter{rate: float64(perMinute) / 60, burst: float64(burst), max: limiterMaxKeys, now: time.Now,
		buckets: map[string]*bucket{}}
}

// refillTime is how long an empty bucket takes to be full.
func (l *limiter) refillTime() time.Duration {
	return time.Duration(l.burst / l.rate * float64(time.Second))
}

// level returns key's bucket brought up to now, and whether it exists.
func (l *limiter) level(key string, now time.Time) (*bucket, bool) {
	b, ok := l.buckets[key]
	if !ok {
		return &bucket{tokens: l.burst, last: now}, false
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	return b, true
}

// wait is how long until b holds one token.
func (l *limiter) wait(b *bucket) time.Duration {
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// take spends one token of key. If there is none it spends nothing and returns false and how
// long until there is one.
func (l *limiter) take(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.level(key, now)
	if b.tokens < 1 {
		return false, l.wait(b)
	}
	b.tokens--
	if !ok {
		l.buckets[key] = b
	}
	return true, 0
}

// peek is take without spending: whether key has a token, else how long until it has.
func (l *limiter) peek(key string) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := l.level(key, l.now())
	if b.tokens < 1 {
		return false, l.wait(b)
	}
	return true, 0
}

// len is the number of keys held.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// sweep drops full buckets once a refill period, or when the map is at its bound. If every
// bucket is in use and the bound is reached (many addresses at once), it drops buckets at
// random down to three quarters of the bound: a dropped key starts again with a full bucket,
// which is the price of bounded memory.
func (l *limiter) sweep(now time.Time) {
	if len(l.buckets) < l.max && now.Sub(l.lastSweep) < l.refillTime() {
		return
	}
	l.lastSweep = now
	for k, b := range l.buckets {
		if now.Sub(b.last) >= l.refillTime() {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < l.max*3/4 {
			break
		}
		delete(l.buckets, k)
	}
}

// limits are the server's limiters; addr and merchant are nil when rate limiting is off.
// signinAll has one key, "": the failed sign-ins of every address together.
type limits struct {
	addr, merchant, signin, signinAll *limiter
}

func newLimits(perMinute int) limits {
	l := limits{signin: newLimiter(signinFailPerMinute, signinFailBurst),
		signinAll: newLimiter(signinGlobalPerSecond*60, signinGlobalBurst)}
	if perMinute > 0 {
		l.addr, l.merchant = newLimiter(perMinute, perMinute), newLimiter(perMinute, perMinute)
	}
	return l
}

// rateLimited answers 429 with Retry-After in whole seconds, at least 1.
func rateLimited(c *fiber.Ctx, wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(secs))
	return errRateLimited
}

// limitedByAddress says which paths count against the per-address limit: the public pages
// and API (open data included) and the tills. /healthz (probes) and /static (assets of a page already counted)
// do not; nor do the admin's endpoints, whose secret nobody else holds.
func limitedByAddress(path string) bool {
	return path == "/" || path == "/privacy" || strings.HasPrefix(path, "/c/") || strings.HasPrefix(path, "/t/") || strings.HasPrefix(path, "/api/v1/public/") || strings.HasPrefix(path, "/wallet/") ||
		strings.HasPrefix(path, "/api/v1/pos/") || path == "/api/v1/pos" || path == "/api/v1/reports/open-data"
}

// limitAddress is the per-address limit, a middleware of the whole app.
func (s *server) limitAddress(c *fiber.Ctx) error {
	if s.limits.addr == nil || !limitedByAddress(c.Path()) {
		return c.Next()
	}
	if ok, wait := s.limits.addr.take(s.clientKey(c)); !ok {
		return rateLimited(c, wait)
	}
	return c.Next()
}

// limitMerchant spends one of merchant id's requests; called once its key is known good.
func (s *server) limitMerchant(c *fiber.Ctx, id string) error {
	if s.limits.merchant == nil {
		return nil
	}
	if ok, wait := s.limits.merchant.take(id); !ok {
		return rateLimited(c, wait)
	}
	return nil
}

// signinFailed answers a missing or wrong secret: 401, counted against the client's address
// and the global cap, or 429 without counting when either is spent. Only failures come here,
// so a valid secret is never refused for its address's failures.
func (s *server) signinFailed(c *fiber.Ctx) error {
	key := s.clientKey(c)
	if ok, wait := s.limits.signin.peek(key); !ok {
		return rateLimited(c, wait)
	}
	if ok, wait := s.limits.signinAll.take(""); !ok {
		return rateLimited(c, wait)
	}
	s.limits.signin.take(key)
	return errUnauthorized
}
