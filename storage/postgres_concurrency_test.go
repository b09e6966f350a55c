package storage

// PostgreSQL only: what several service instances writing one database at once must keep
// (issue 13). An "instance" is a *DB opened with Open on the same URL: its own pool, caches and
// change listener, exactly as a separate process has. Each test gets a fresh schema from
// storagetest.Postgres (skipped without CITYCARD_TEST_POSTGRES, failed under CI).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

// pgInstances is one fresh PostgreSQL schema and the instances opened on it, all on one clock.
type pgInstances struct {
	dsn   string
	clock *fixedClock
	dbs   []*DB
}

// openPostgresInstances opens n instances on a fresh PostgreSQL schema, one after the other
// (the first migrates it), with a shared fixed clock at 2026-10-15 10:00 UTC; each is closed
// when the test ends (before the schema is dropped).
func openPostgresInstances(t *testing.T, n int, opts ...Option) *pgInstances {
	t.Helper()
	p := &pgInstances{dsn: storagetest.Postgres(t), clock: &fixedClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}}
	for range n {
		p.open(t, opts...)
	}
	return p
}

// open opens one more instance on the schema and returns it.
func (p *pgInstances) open(t *testing.T, opts ...Option) *DB {
	t.Helper()
	db, err := Open(context.Background(), p.dsn, testLoc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if db.Engine() != "postgres" {
		t.Fatalf("instance on %s runs %s", p.dsn, db.Engine())
	}
	db.SetClock(p.clock.Now)
	t.Cleanup(func() { db.Close() })
	p.dbs = append(p.dbs, db)
	return db
}

// retries is the sum of the instances' engine retries.
func (p *pgInstances) retries() uint64 {
	var n uint64
	for _, db := range p.dbs {
		n += db.EngineRetries()
	}
	return n
}

// raceRedeem runs n redemptions at the same moment, the i-th through dbs[i%len(dbs)] with the
// request req(i) returns, and returns each one's redemption, replayed flag and error.
func raceRedeem(dbs []*DB, n int, req func(i int) (merchant.RedeemRequest, card.Ref)) ([]merchant.Redemption, []bool, []error) {
	out, replayed, errs := make([]merchant.Redemption, n), make([]bool, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, ref := req(i)
			<-start
			out[i], replayed[i], errs[i] = dbs[i%len(dbs)].Redeem(context.Background(), r, ref)
		}()
	}
	close(start)
	wg.Wait()
	return out, replayed, errs
}

// pgCount runs a count query through db.
func pgCount(t *testing.T, db *DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.reader(context.Background()).queryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkChain checks town's ledger from every instance: VerifyLedger OK with want entries, the
// chain's seqs exactly 1..want, and the town's ledger_heads row equal to its last entry.
func checkChain(t *testing.T, dbs []*DB, town string, want int64) {
	t.Helper()
	ctx := context.Background()
	for i, db := range dbs {
		chk, err := db.VerifyLedger(ctx, town)
		if err != nil {
			t.Fatalf("instance %d: verify %s: %v", i, town, err)
		}
		if !chk.OK || chk.Entries != want {
			t.Fatalf("instance %d: %s's ledger: OK=%v entries %d (want %d): %s at %s", i, town, chk.OK, chk.Entries, want, chk.Problem, chk.FirstBad)
		}
		var n, lo, hi int64
		if err := db.reader(ctx).queryRow(`SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM ledger WHERE town = ?`, town).
			Scan(&n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if n != want || (want > 0 && (lo != 1 || hi != want)) {
			t.Fatalf("instance %d: %s's ledger holds %d entries, seq %d..%d: want 1..%d without a gap", i, town, n, lo, hi, want)
		}
		if want == 0 {
			continue
		}
		var headSeq int64
		var headHash []byte
		if err := db.reader(ctx).queryRow(`SELECT seq, hash FROM ledger_heads WHERE town = ?`, town).Scan(&headSeq, &headHash); err != nil {
			t.Fatalf("instance %d: %s's ledger head: %v", i, town, err)
		}
		lastSeq, lastHash, err := ledgerHead(db.reader(ctx), town)
		if err != nil {
			t.Fatal(err)
		}
		if headSeq != lastSeq || !bytes.Equal(headHash, lastHash[:]) || !bytes.Equal(headHash, chk.Head[:]) {
			t.Fatalf("instance %d: %s's ledger_heads is seq %d %x, the last entry seq %d %x, the verified head %x",
				i, town, headSeq, headHash, lastSeq, lastHash, chk.Head)
		}
	}
}

// onceRace redeems the fixture card's once offer 48 times at once, spread over dbs, and
// checks that exactly one succeeded, 47 got merchant.ErrLimitReached, one row was stored
// and the ledger verifies with one entry from every instance.
func onceRace(t *testing.T, dbs []*DB, f fixture) {
	t.Helper()
	const n = 48
	_, _, errs := raceRedeem(dbs, n, func(i int) (merchant.RedeemRequest, card.Ref) {
		return f.req(f.once, "once-"+strconv.Itoa(i), 1000)
	})
	ok, limited := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, merchant.ErrLimitReached):
			limited++
		default:
			t.Fatalf("redemption %d through instance %d: %v", i, i%len(dbs), err)
		}
	}
	if ok != 1 || limited != n-1 {
		t.Fatalf("%d successes and %d limit_reached, want 1 and %d", ok, limited, n-1)
	}
	if rows := pgCount(t, dbs[0], `SELECT count(*) FROM redemptions WHERE offer_id = ?`, f.once.ID); rows != 1 {
		t.Fatalf("%d redemptions stored, want 1", rows)
	}
	checkChain(t, dbs, "koper", 1)
}

// 48 tills redeem one card's once offer at the same moment through one instance.
func TestPostgresOnceRedemption48(t *testing.T) {
	p := openPostgresInstances(t, 1)
	onceRace(t, p.dbs, mustFixture(t, p.dbs[0]))
	t.Logf("engine retries: %d", p.retries())
}

// The same with the 48 split over three instances on one database: the partial unique index
// on live redemptions decides, not any one process.
func TestPostgresOnceRedemption48ThreeInstances(t *testing.T) {
	p := openPostgresInstances(t, 3)
	onceRace(t, p.dbs, mustFixture(t, p.dbs[0]))
	t.Logf("engine retries: %d", p.retries())
}

// 48-way once under SERIALIZABLE (what CockroachDB runs): the losers meet real serialization
// failures (40001), are retried, and still exactly one redemption is recorded.
func TestPostgresOnceRedemption48Serializable(t *testing.T) {
	p := openPostgresInstances(t, 3, WithPostgres(postgres.Options{Isolation: "serializable"}))
	onceRace(t, p.dbs, mustFixture(t, p.dbs[0]))
	t.Logf("engine retries under serializable: %d", p.retries())
}

// A till retrying one redemption 20 times with one Idempotency-Key, the retries landing on
// three instances at once: one redemption is recorded, every answer is that redemption, and
// all but one say replayed. With a once offer the losers meet the limit's unique index before
// the key's, and must still answer the replay, not limit_reached.
func TestPostgresIdempotencyKeyAcrossInstances(t *testing.T) {
	for _, limit := range []string{"unlimited", "once"} {
		t.Run(limit, func(t *testing.T) {
			p := openPostgresInstances(t, 3)
			f := mustFixture(t, p.dbs[0])
			o := map[string]merchant.Offer{"unlimited": f.unlimited, "once": f.once}[limit]
			const n = 20
			out, replayed, errs := raceRedeem(p.dbs, n, func(int) (merchant.RedeemRequest, card.Ref) {
				return f.req(o, "retry-1", 2345)
			})
			fresh := 0
			for i, err := range errs {
				if err != nil {
					t.Errorf("attempt %d through instance %d: %v", i, i%3, err)
					continue
				}
				if out[i].ID != out[0].ID && errs[0] == nil {
					t.Errorf("attempt %d answered redemption %s, attempt 0 %s", i, out[i].ID, out[0].ID)
				}
				if !replayed[i] {
					fresh++
				}
			}
			if t.Failed() {
				t.FailNow()
			}
			if fresh != 1 {
				t.Fatalf("%d answers not replayed, want exactly 1", fresh)
			}
			if rows := pgCount(t, p.dbs[1], `SELECT count(*) FROM redemptions`); rows != 1 {
				t.Fatalf("%d redemptions stored, want 1", rows)
			}
			if keys := pgCount(t, p.dbs[2], `SELECT count(*) FROM idempotency_keys`); keys != 1 {
				t.Fatalf("%d idempotency keys stored, want 1", keys)
			}
			checkChain(t, p.dbs, "koper", 1)
			t.Logf("engine retries: %d", p.retries())
		})
	}
}

// loadFixture is two towns (koper and ptuj) with a merchant and an unlimited offer each, and
// cards of a network product both accept.
type loadFixture struct {
	offers []merchant.Offer // koper's, ptuj's
	cards  []card.Card
}

func mustLoadFixture(t *testing.T, db *DB, cards int) loadFixture {
	t.Helper()
	ctx := context.Background()
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	kr, err := db.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	net := card.Product{Code: "net-72h", Name: map[string]string{"en": "Network"}, ValidityHours: 72, PriceCents: 4000,
		Audience: "tourist", Towns: []string{"koper", "ptuj"}}
	if err := db.CreateProduct(ctx, &net); err != nil {
		t.Fatal(err)
	}
	var f loadFixture
	for i, town := range []string{"koper", "ptuj"} {
		sum := sha256.Sum256([]byte("load-key-" + town))
		m := merchant.Merchant{Town: town, Name: "Trgovina " + town, Category: "shop"}
		if err := db.CreateMerchant(ctx, &m, sum[:]); err != nil {
			t.Fatal(err)
		}
		o := merchant.Offer{MerchantID: m.ID, Title: map[string]string{"en": "10 %"}, Kind: merchant.KindPercent, Value: 1000,
			Limit: "unlimited", MunicipalShare: 2500 * int64(i+1), Active: true}
		if err := db.CreateOffer(ctx, town, &o); err != nil {
			t.Fatal(err)
		}
		f.offers = append(f.offers, o)
	}
	if f.cards, err = db.CreateCards(ctx, "koper", kr, net.Code, cards, "", ""); err != nil {
		t.Fatal(err)
	}
	return f
}

// 64 tills, 15 redemptions each, over three instances and two towns: afterwards each town's
// chain, seen from every instance, verifies with exactly one entry per redemption, seq 1..n
// without a gap, and its ledger_heads row is its last entry.
func TestPostgresLoadAcrossInstances(t *testing.T) {
	p := openPostgresInstances(t, 1)
	f := mustLoadFixture(t, p.dbs[0], 40)
	p.open(t) // after the fixture: B and C read the new town at start
	p.open(t)
	const workers, each = 64, 15
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	perTown := make([][2]int64, workers) // redemptions booked per town, by worker
	cents := make([][2]int64, workers)   // and their amounts
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := p.dbs[w%len(p.dbs)]
			for i := range each {
				town := (w + i) % 2
				c := f.cards[(w*each+i)%len(f.cards)]
				amount := int64(500 + 7*w + i)
				r, replayed, err := db.Redeem(ctx, merchant.RedeemRequest{MerchantID: f.offers[town].MerchantID, CardInput: c.Token,
					OfferID: f.offers[town].ID, Amount: amount, Terminal: "till-" + strconv.Itoa(w),
					IdempotencyKey: fmt.Sprintf("load-%d-%d", w, i)}, card.Ref{Number: c.Number, FromToken: true})
				if err != nil || replayed {
					errs <- fmt.Errorf("worker %d, redemption %d: replayed=%v %v", w, i, replayed, err)
					return
				}
				if r.Amount != amount || r.Town != []string{"koper", "ptuj"}[town] {
					errs <- fmt.Errorf("worker %d, redemption %d: %+v", w, i, r)
					return
				}
				perTown[w][town]++
				cents[w][town] += amount
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for i, town := range []string{"koper", "ptuj"} {
		var n, sum int64
		for w := range workers {
			n, sum = n+perTown[w][i], sum+cents[w][i]
		}
		if n == 0 {
			t.Fatalf("no redemption in %s", town)
		}
		if rows := pgCount(t, p.dbs[i], `SELECT count(*) FROM redemptions WHERE town = ?`, town); rows != n {
			t.Fatalf("%s: %d redemptions stored, %d booked", town, rows, n)
		}
		if got := pgCount(t, p.dbs[0], `SELECT coalesce(sum(amount_cents), 0) FROM ledger WHERE town = ?`, town); got != sum {
			t.Fatalf("%s: the ledger's amounts add up to %d, the redemptions to %d", town, got, sum)
		}
		checkChain(t, p.dbs, town, n)
		t.Logf("%s: %d redemptions, chain 1..%d verified from %d instances", town, n, n, len(p.dbs))
	}
	t.Logf("engine retries: %d", p.retries())
}

// Every write's first attempt fails with a serialization failure (SQLSTATE 40001) just before
// COMMIT, on two instances of three, while tills redeem at once: each redemption is retried
// and recorded exactly once (one row, one key, one ledger entry, rollups that match), and the
// engines counted the retries.
func TestPostgresForcedSerializationFailures(t *testing.T) {
	p := openPostgresInstances(t, 1)
	f := mustFixture(t, p.dbs[0])
	forced := WithPostgres(postgres.Options{BeforeCommit: func(attempt int) error {
		if attempt == 0 {
			return postgres.SerializationFailure()
		}
		return nil
	}})
	a, b := p.open(t, forced), p.open(t, forced)
	commits := &countingObserver{}
	a.SetObserver(commits)
	b.SetObserver(commits)
	before := a.EngineRetries() + b.EngineRetries()
	const n = 32
	out, replayed, errs := raceRedeem([]*DB{a, b, p.dbs[0]}, n, func(i int) (merchant.RedeemRequest, card.Ref) {
		return f.req(f.unlimited, "forced-"+strconv.Itoa(i), int64(1000+i))
	})
	var sum int64
	ids := map[string]bool{}
	for i, err := range errs {
		if err != nil || replayed[i] {
			t.Fatalf("redemption %d: replayed=%v %v", i, replayed[i], err)
		}
		if ids[out[i].ID] {
			t.Fatalf("redemption %s answered twice", out[i].ID)
		}
		ids[out[i].ID] = true
		sum += out[i].Amount
	}
	// Each transaction through a or b failed once before it committed: a redemption's own,
	// or its town's batch (townwrite.go), which holds one or more.
	if got, want := a.EngineRetries()+b.EngineRetries()-before, uint64(commits.batches.Load()); got < want || want == 0 {
		t.Fatalf("%d retries counted on the forced instances, want at least %d (one per transaction through them)", got, want)
	}
	db := p.dbs[0]
	if rows := pgCount(t, db, `SELECT count(*) FROM redemptions`); rows != n {
		t.Fatalf("%d redemptions stored, want %d", rows, n)
	}
	for id := range ids {
		if got := pgCount(t, db, `SELECT count(*) FROM redemptions WHERE id = ?`, id); got != 1 {
			t.Fatalf("redemption %s stored %d times", id, got)
		}
		if got := pgCount(t, db, `SELECT count(*) FROM ledger WHERE redemption_id = ?`, id); got != 1 {
			t.Fatalf("redemption %s has %d ledger entries", id, got)
		}
	}
	if keys := pgCount(t, db, `SELECT count(*) FROM idempotency_keys`); keys != n {
		t.Fatalf("%d idempotency keys stored, want %d", keys, n)
	}
	if got := pgCount(t, db, `SELECT coalesce(sum(amount_cents), 0) FROM ledger`); got != sum {
		t.Fatalf("the ledger's amounts add up to %d, the acknowledged redemptions to %d", got, sum)
	}
	checkChain(t, p.dbs, "koper", n)
	// A retried write in the other direction: a void through a forced instance.
	first := out[0]
	if _, err := a.Void(context.Background(), "koper", first.ID, "", "test"); err != nil {
		t.Fatal(err)
	}
	checkChain(t, p.dbs, "koper", n+1)
	t.Logf("retries on the forced instances: %d for %d redemptions (about %d through them, in %d transactions) and a void",
		a.EngineRetries()+b.EngineRetries()-before, n, 2*n/3, commits.batches.Load())
}

// within polls cond every 10 ms until it holds or d has passed.
func within(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The caches of one instance must not let it accept what another has just changed (issue 13,
// point 3). B's caches are warmed (a till check, the key lookup), then A suspends the
// merchant, switches an offer off, blocks the card and rotates the key: B refuses the
// redemption at once each time (Redeem reads the merchant, offer and card in its own
// transaction), B's till view drops the switched-off offer within 2 s, and the old key and a
// revoked office token stop resolving on B within 2 s (LISTEN/NOTIFY).
func TestPostgresCachesAcrossInstances(t *testing.T) {
	p := openPostgresInstances(t, 2)
	a, b := p.dbs[0], p.dbs[1]
	ctx := context.Background()
	f := mustFixture(t, a)
	_, ref := f.req(f.once, "", 0)
	oldKey := mustKeyHash(0)
	// warm fills B's caches: the merchant and its active offers (a till check), the key.
	warm := func(t *testing.T, offers int) {
		t.Helper()
		_, states, err := b.CheckCard(ctx, f.merchant.ID, ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(states) != offers {
			t.Fatalf("B's till check lists %d offers, want %d", len(states), offers)
		}
		if m, err := b.MerchantByKeyHash(ctx, oldKey); err != nil || m.ID != f.merchant.ID {
			t.Fatalf("B's key lookup: %+v %v", m, err)
		}
	}
	key := 0
	redeemOnB := func(o merchant.Offer) error {
		key++
		req, ref := f.req(o, "cache-"+strconv.Itoa(key), 1000)
		_, _, err := b.Redeem(ctx, req, ref)
		return err
	}
	activeOffers := func(t *testing.T) map[string]bool {
		_, states, err := b.CheckCard(ctx, f.merchant.ID, ref)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, s := range states {
			ids[s.Offer.ID] = true
		}
		return ids
	}

	t.Run("suspended merchant", func(t *testing.T) {
		warm(t, 3)
		if _, err := a.UpdateMerchant(ctx, "koper", f.merchant.ID, func(m *merchant.Merchant) error {
			m.Status = merchant.StatusSuspended
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := redeemOnB(f.unlimited); !errors.Is(err, merchant.ErrSuspended) {
			t.Fatalf("B redeemed at a merchant A had just suspended: %v", err)
		}
		if !within(2*time.Second, func() bool {
			m, err := b.MerchantByKeyHash(ctx, oldKey)
			return err == nil && m.Status == merchant.StatusSuspended
		}) {
			t.Fatal("B's key lookup still shows the merchant active 2 s after A suspended it")
		}
		if _, err := a.UpdateMerchant(ctx, "koper", f.merchant.ID, func(m *merchant.Merchant) error {
			m.Status = merchant.StatusActive
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := redeemOnB(f.unlimited); err != nil {
			t.Fatalf("B after A reactivated the merchant: %v", err)
		}
	})

	t.Run("offer switched off", func(t *testing.T) {
		warm(t, 3)
		if _, err := a.UpdateOffer(ctx, "koper", f.daily.ID, func(o *merchant.Offer) error {
			o.Active = false
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if err := redeemOnB(f.daily); !errors.Is(err, merchant.ErrOfferInactive) {
			t.Fatalf("B redeemed an offer A had just switched off: %v", err)
		}
		if !within(2*time.Second, func() bool { return !activeOffers(t)[f.daily.ID] }) {
			t.Fatal("B's till check still lists the offer 2 s after A switched it off")
		}
		if got := activeOffers(t); !got[f.once.ID] || !got[f.unlimited.ID] {
			t.Fatalf("B's till check lost the offers still on: %v", got)
		}
	})

	t.Run("blocked card", func(t *testing.T) {
		warm(t, 2) // daily was switched off
		if _, err := a.SetBlocked(ctx, "koper", f.card.ID, true, "lost"); err != nil {
			t.Fatal(err)
		}
		if err := redeemOnB(f.unlimited); !errors.Is(err, card.ErrBlocked) {
			t.Fatalf("B redeemed a card A had just blocked: %v", err)
		}
		c, _, err := b.CheckCard(ctx, f.merchant.ID, ref)
		if err != nil || c.BlockedAt == nil {
			t.Fatalf("B's till check right after the block: blocked_at %v, %v", c.BlockedAt, err)
		}
		if _, err := a.SetBlocked(ctx, "koper", f.card.ID, false, ""); err != nil {
			t.Fatal(err)
		}
		if err := redeemOnB(f.unlimited); err != nil {
			t.Fatalf("B after A unblocked the card: %v", err)
		}
	})

	t.Run("rotated key", func(t *testing.T) {
		warm(t, 2)
		newKey := sha256.Sum256([]byte("rotated"))
		if err := a.SetMerchantKey(ctx, "koper", f.merchant.ID, newKey[:]); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if !within(2*time.Second, func() bool {
			_, err := b.MerchantByKeyHash(ctx, oldKey)
			return errors.Is(err, merchant.ErrNotFound)
		}) {
			t.Fatal("B still accepts the old key 2 s after A rotated it")
		}
		t.Logf("B dropped the old key %v after the rotation", time.Since(start).Round(time.Millisecond))
		if m, err := b.MerchantByKeyHash(ctx, newKey[:]); err != nil || m.ID != f.merchant.ID {
			t.Fatalf("B with the new key: %+v %v", m, err)
		}
	})

	t.Run("revoked office token", func(t *testing.T) {
		sum := sha256.Sum256([]byte("office-token"))
		tok, err := a.CreateOfficeToken(ctx, "koper", "front desk", sum[:])
		if err != nil {
			t.Fatal(err)
		}
		if got, err := b.OfficeTokenByHash(ctx, sum[:]); err != nil || got.ID != tok.ID {
			t.Fatalf("B's token lookup: %+v %v", got, err)
		}
		if err := a.RevokeOfficeToken(ctx, "koper", tok.ID); err != nil {
			t.Fatal(err)
		}
		if !within(2*time.Second, func() bool {
			_, err := b.OfficeTokenByHash(ctx, sum[:])
			return errors.Is(err, ErrTokenNotFound)
		}) {
			t.Fatal("B still accepts the office token 2 s after A revoked it")
		}
	})
}

// When an instance's LISTEN connection breaks, the notifications sent meanwhile are lost:
// it empties every cache when it reconnects. Here a key is changed behind the service's back
// (no notification at all), so only that emptying can make B forget the old key.
func TestPostgresListenerBreakEmptiesCaches(t *testing.T) {
	p := openPostgresInstances(t, 2)
	a, b := p.dbs[0], p.dbs[1]
	ctx := context.Background()
	f := mustFixture(t, a)
	oldKey := mustKeyHash(0)
	if m, err := b.MerchantByKeyHash(ctx, oldKey); err != nil || m.ID != f.merchant.ID {
		t.Fatalf("B's key lookup: %+v %v", m, err)
	}
	raw := storagetest.Open(t, p.dsn)
	raw.MustExec(`UPDATE merchants SET key_hash = ? WHERE id = ?`, mustKeyHash(42), f.merchant.ID)
	if _, err := b.MerchantByKeyHash(ctx, oldKey); err != nil {
		t.Fatalf("B forgot the old key with no notification and no break: %v (the test shows nothing)", err)
	}
	u, _ := url.Parse(p.dsn)
	var ended int
	if err := raw.QueryRow(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = ?`,
		`LISTEN "citycard_`+u.Query().Get("search_path")+`"`).Scan(&ended); err != nil || ended == 0 {
		t.Fatalf("ended %d listening connections (%v), want the instances'", ended, err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := b.MerchantByKeyHash(ctx, oldKey)
		if errors.Is(err, merchant.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after its listener broke, B still answers the old key from its cache: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
