package storage

import (
	"context"
	"crypto/sha256"
	"github.com/citycard/citycard/storage/storagetest"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

var testLoc = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		panic(err)
	}
	return loc
}()

// fixedClock is a settable clock for tests.
type fixedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fixedClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fixedClock) Set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *fixedClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// MustOpenDB opens a fresh database in a temporary directory with a fixed clock at
// 2026-10-15 10:00 UTC, closed when the test ends.
func MustOpenDB(tb testing.TB) (*DB, *fixedClock) {
	tb.Helper()
	db, err := Open(context.Background(), storagetest.DSN(tb), testLoc)
	if err != nil {
		tb.Fatal(err)
	}
	clock := &fixedClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clock.Now)
	tb.Cleanup(func() { db.Close() })
	return db, clock
}

// fixture is a product, a card, a merchant and one offer of each limit.
type fixture struct {
	kr                     *card.Keyring
	card                   card.Card
	merchant, other        merchant.Merchant
	once, daily, unlimited merchant.Offer
}

func mustFixture(tb testing.TB, db *DB) fixture {
	tb.Helper()
	ctx := context.Background()
	var f fixture
	var err error
	if f.kr, err = db.Keyring(ctx, ""); err != nil {
		tb.Fatal(err)
	}
	p := card.Product{Town: "koper", Code: "koper-72h", Name: map[string]string{"en": "Koper Card 72 h"}, ValidityHours: 72, PriceCents: 2500, Audience: "tourist"}
	if err := db.CreateProduct(ctx, &p); err != nil {
		tb.Fatal(err)
	}
	cards, err := db.CreateCards(ctx, "koper", f.kr, p.Code, 1, "Ana Novak", "sl")
	if err != nil {
		tb.Fatal(err)
	}
	f.card = cards[0]
	for i, m := range []*merchant.Merchant{&f.merchant, &f.other} {
		*m = merchant.Merchant{Town: "koper", Name: "Kavarna " + strconv.Itoa(i), Category: "restaurant"}
		if err := db.CreateMerchant(ctx, m, mustKeyHash(i)); err != nil {
			tb.Fatal(err)
		}
	}
	for limit, o := range map[string]*merchant.Offer{"once": &f.once, "daily": &f.daily, "unlimited": &f.unlimited} {
		*o = merchant.Offer{MerchantID: f.merchant.ID, Title: map[string]string{"en": limit}, Kind: merchant.KindPercent,
			Value: 1000, Limit: limit, MunicipalShare: 5000, Active: true}
		if err := db.CreateOffer(ctx, "koper", o); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// mustKeyHash is the stored hash of the fixture's i-th merchant key.
func mustKeyHash(i int) []byte {
	sum := sha256.Sum256([]byte("key" + strconv.Itoa(i)))
	return sum[:]
}

func (f fixture) req(o merchant.Offer, key string, amount int64) (merchant.RedeemRequest, card.Ref) {
	return merchant.RedeemRequest{MerchantID: o.MerchantID, CardInput: f.card.Token, OfferID: o.ID, Amount: amount, Terminal: "till-1", IdempotencyKey: key},
		card.Ref{Number: f.card.Number, FromToken: true}
}

func TestOpenChecksPragmasAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.db")
	db, err := Open(context.Background(), path, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	var mode string
	var sync int
	write, read := sqliteConns(t, db)
	write.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	write.QueryRow(`PRAGMA synchronous`).Scan(&sync)
	if mode != "wal" || sync != 2 {
		t.Fatalf("journal_mode=%s synchronous=%d, want wal and 2", mode, sync)
	}
	if _, err := read.Exec(`CREATE TABLE x (a)`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
	db.Close()
	db, err = Open(context.Background(), path, testLoc) // migrations are not applied twice
	if err != nil {
		t.Fatal(err)
	}
	var n int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM schema_migrations`).Scan(&n)
	if n < 1 {
		t.Fatalf("%d migrations recorded", n)
	}
	db.Close()
}

func TestConcurrentOnceRedemption(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	const n = 50
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			req, ref := f.req(f.once, "key-"+strconv.Itoa(i), 1000)
			<-start
			_, _, errs[i] = db.Redeem(context.Background(), req, ref)
		}(i)
	}
	close(start)
	wg.Wait()
	ok, limited := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case err == merchant.ErrLimitReached:
			limited++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if ok != 1 || limited != n-1 {
		t.Fatalf("%d successes and %d limit_reached, want 1 and %d", ok, limited, n-1)
	}
	var rows int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM redemptions`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d redemptions stored, want 1", rows)
	}
}

func TestIdempotentReplay(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	req, ref := f.req(f.unlimited, "k1", 2345)
	r1, replayed, err := db.Redeem(ctx, req, ref)
	if err != nil || replayed {
		t.Fatalf("first redeem: %v, replayed=%v", err, replayed)
	}
	if r1.Discount != 235 || r1.MunicipalShare != 118 {
		t.Fatalf("discount %d share %d, want 235 and 118", r1.Discount, r1.MunicipalShare)
	}
	clock.Add(time.Minute)
	r2, replayed, err := db.Redeem(ctx, req, ref)
	if err != nil || !replayed || r2 != r1 {
		t.Fatalf("replay = %+v, %v, %v; want the original %+v", r2, replayed, err, r1)
	}
	// Voiding does not change what the replay answers.
	if _, err := db.Void(ctx, "koper", r1.ID, "", "test"); err != nil {
		t.Fatal(err)
	}
	r3, _, err := db.Redeem(ctx, req, ref)
	if err != nil || r3 != r1 {
		t.Fatalf("replay after void = %+v, %v", r3, err)
	}
	req.Amount = 1000
	if _, _, err := db.Redeem(ctx, req, ref); err != merchant.ErrIdempotencyMismatch {
		t.Fatalf("same key, other body: %v, want ErrIdempotencyMismatch", err)
	}
	// The same key at another merchant is another key.
	req2, _ := f.req(f.unlimited, "k1", 1000)
	req2.MerchantID = f.other.ID
	if _, _, err := db.Redeem(ctx, req2, ref); err != merchant.ErrOfferNotFound {
		t.Fatalf("other merchant: %v, want ErrOfferNotFound", err)
	}
	var rows int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM redemptions`).Scan(&rows)
	if rows != 1 {
		t.Fatalf("%d redemptions stored, want 1", rows)
	}
}

func TestFailedRedemptionBindsNoKey(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	if _, _, err := f.redeem(db, f.once, "a", 100); err != nil {
		t.Fatal(err)
	}
	// Fails on the limit; the key stays free for a later, different request.
	if _, _, err := f.redeem(db, f.once, "b", 100); err != merchant.ErrLimitReached {
		t.Fatalf("second once: %v", err)
	}
	if _, replayed, err := f.redeem(db, f.unlimited, "b", 100); err != nil || replayed {
		t.Fatalf("key of a failed request reused: %v replayed=%v", err, replayed)
	}
}

// redeem redeems o on the fixture's card with an Idempotency-Key and amount in cents.
func (f fixture) redeem(db *DB, o merchant.Offer, key string, amount int64) (merchant.Redemption, bool, error) {
	req, ref := f.req(o, key, amount)
	return db.Redeem(context.Background(), req, ref)
}

func TestVoidFreesLimitKeepsActivation(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	r, _, err := f.redeem(db, f.once, "a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := db.Card(ctx, "koper", f.card.ID)
	if c.ActivatedAt == nil || !c.ExpiresAt.Equal(clock.Now().Add(72*time.Hour)) {
		t.Fatalf("card after first redemption: activated %v expires %v", c.ActivatedAt, c.ExpiresAt)
	}
	if _, err := db.Void(ctx, "koper", r.ID, f.other.ID, "wrong"); err != merchant.ErrNotFound {
		t.Fatalf("void by another merchant: %v, want ErrNotFound", err)
	}
	clock.Add(card.ActivationGrace + time.Second) // past the grace in which a void undoes the activation
	v, err := db.Void(ctx, "koper", r.ID, f.merchant.ID, "wrong item")
	if err != nil || v.Status() != merchant.RedemptionVoided || v.VoidReason != "wrong item" {
		t.Fatalf("void = %+v, %v", v, err)
	}
	if _, err := db.Void(ctx, "koper", r.ID, "", "again"); err != merchant.ErrAlreadyVoided {
		t.Fatalf("void twice: %v", err)
	}
	// The card stays activated: its validity clock, once past the grace, is not wound back.
	if c, _ := db.Card(ctx, "koper", f.card.ID); c.ActivatedAt == nil {
		t.Fatal("a void de-activated the card")
	}
	if _, _, err := f.redeem(db, f.once, "b", 1000); err != nil {
		t.Fatalf("once offer after void: %v", err)
	}
}

// TestVoidWithinGraceUndoesActivation: the void and the card's return to not-yet-activated are
// one transaction, and the card's next use starts its validity afresh.
func TestVoidWithinGraceUndoesActivation(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	r, _, err := f.redeem(db, f.once, "a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	clock.Add(card.ActivationGrace)
	if _, err := db.Void(ctx, "koper", r.ID, "", "wrong card"); err != nil {
		t.Fatal(err)
	}
	c, _ := db.Card(ctx, "koper", f.card.ID)
	if c.ActivatedAt != nil || c.ExpiresAt != nil || c.Status(clock.Now()) != card.StatusIssued {
		t.Fatalf("card after a void within the grace: activated %v expires %v", c.ActivatedAt, c.ExpiresAt)
	}
	clock.Add(time.Hour)
	if _, _, err := f.redeem(db, f.once, "b", 1000); err != nil {
		t.Fatal(err)
	}
	if c, _ := db.Card(ctx, "koper", f.card.ID); c.ActivatedAt == nil || !c.ActivatedAt.Equal(clock.Now()) || !c.ExpiresAt.Equal(clock.Now().Add(72*time.Hour)) {
		t.Fatalf("next use: activated %v expires %v, want from %v", c.ActivatedAt, c.ExpiresAt, clock.Now())
	}
}

func TestDailyLimitAcrossLocalMidnight(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	clock.Set(time.Date(2026, 10, 15, 21, 30, 0, 0, time.UTC)) // 23:30 local
	if _, _, err := f.redeem(db, f.daily, "a", 1000); err != nil {
		t.Fatal(err)
	}
	clock.Add(20 * time.Minute) // 23:50 local
	if _, _, err := f.redeem(db, f.daily, "b", 1000); err != merchant.ErrLimitReached {
		t.Fatalf("same local day: %v", err)
	}
	clock.Add(20 * time.Minute) // 00:10 local, next day
	if _, _, err := f.redeem(db, f.daily, "c", 1000); err != nil {
		t.Fatalf("next local day: %v", err)
	}
}

func TestRedeemErrors(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	req, ref := f.req(f.unlimited, "x", 1000)
	bad := ref
	bad.Number = "000000000000"
	if _, _, err := db.Redeem(ctx, req, bad); err != card.ErrNotFound {
		t.Fatalf("unknown card: %v", err)
	}
	r2 := req
	r2.OfferID = "off_nope"
	if _, _, err := db.Redeem(ctx, r2, ref); err != merchant.ErrOfferNotFound {
		t.Fatalf("unknown offer: %v", err)
	}
	if _, err := db.SetBlocked(ctx, "koper", f.card.ID, true, "lost"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.Redeem(ctx, req, ref); err != card.ErrBlocked {
		t.Fatalf("blocked: %v", err)
	}
	db.SetBlocked(ctx, "koper", f.card.ID, false, "")
	if _, _, err := db.Redeem(ctx, req, ref); err != nil {
		t.Fatal(err)
	}
	clock.Add(72 * time.Hour)
	req.IdempotencyKey = "y"
	if _, _, err := db.Redeem(ctx, req, ref); err != card.ErrExpired {
		t.Fatalf("expired: %v", err)
	}
}

func TestPagination(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	for i := 0; i < 7; i++ {
		if _, _, err := f.redeem(db, f.unlimited, strconv.Itoa(i), int64(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	var seen []int64
	page := Page{Limit: 3}
	for {
		items, next, err := db.Redemptions(ctx, RedemptionFilter{Town: "koper", MerchantID: f.merchant.ID}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range items {
			seen = append(seen, r.Amount)
		}
		if next == "" {
			break
		}
		page.Cursor = next
	}
	if len(seen) != 7 || seen[0] != 106 || seen[6] != 100 {
		t.Fatalf("pages gave %v, want 106..100 newest first", seen)
	}
	if _, _, err := db.Redemptions(ctx, RedemptionFilter{Town: "koper"}, Page{Cursor: "garbage!"}); err != ErrBadCursor {
		t.Fatalf("bad cursor: %v", err)
	}
	items, _, _ := db.Redemptions(ctx, RedemptionFilter{Town: "koper", MerchantID: f.other.ID}, Page{})
	if len(items) != 0 {
		t.Fatalf("other merchant sees %d redemptions", len(items))
	}
}

func TestMonthReportLeavesOutVoided(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	r, _, err := f.redeem(db, f.unlimited, "a", 2345)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.redeem(db, f.unlimited, "b", 1000); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Void(ctx, "koper", r.ID, "", "mistake"); err != nil {
		t.Fatal(err)
	}
	m, _ := merchant.ParseMonth("2026-10")
	rep, err := db.MonthReport(ctx, "koper", m)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Redemptions != 1 || rep.Totals.Voided != 1 || rep.Totals.Discount != 100 || rep.Totals.CardsIssued != 1 || rep.Totals.CardsActivated != 1 {
		t.Fatalf("totals = %+v", rep.Totals)
	}
}

func BenchmarkRedeemSerial(b *testing.B) {
	db, _ := MustOpenDB(b)
	f := mustFixture(b, db)
	i := 0
	for b.Loop() {
		i++
		if _, _, err := f.redeem(db, f.unlimited, strconv.Itoa(i), 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedeemConcurrent64 also reports the redemptions' p99 latency and the write-ahead
// log's size at the end: a checkpoint that made the writer wait shows in the first, one that
// could not keep up in the second (run with -benchtime 5s or more to see either).
func BenchmarkRedeemConcurrent64(b *testing.B) {
	db, _ := MustOpenDB(b)
	f := mustFixture(b, db)
	var mu sync.Mutex
	i := 0
	var took []time.Duration
	b.SetParallelism(64 / max(1, runtimeGOMAXPROCS()))
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() { mu.Lock(); took = append(took, mine...); mu.Unlock() }()
		for pb.Next() {
			mu.Lock()
			i++
			key := strconv.Itoa(i)
			mu.Unlock()
			start := time.Now()
			if _, _, err := f.redeem(db, f.unlimited, key, 1000); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(start))
		}
	})
	if len(took) > 0 {
		slices.Sort(took)
		b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(db.WALSize())/(1<<20), "wal-MiB")
}

func runtimeGOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
