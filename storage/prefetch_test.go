package storage

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
	"github.com/citycard/citycard/storage/storagetest"
)

// TestServedRowScan: a prefetched row converts its values as database/sql's Scan does for
// what pgx decodes, NULL into the Null types, and fails with an error (never a panic) for what
// it cannot convert.
func TestServedRowScan(t *testing.T) {
	at := time.Date(2026, 12, 8, 3, 0, 0, 0, time.UTC)
	raw := []byte{1, 2, 3}
	row := servedRow{rows: [][]any{{int64(7), int32(1), int16(0), "s", raw, true, nil, nil, 2.5, at, int32(42), "active", int64(9), nil}}}
	var (
		i64    int64
		b1, b0 bool
		s      string
		bs     []byte
		flag   bool
		ns     sql.NullString
		ni     sql.NullInt64
		f      float64
		tm     time.Time
		n32    int32
		status namedString
		anyV   any
		nf     sql.NullFloat64
	)
	if err := row.Scan(&i64, &b1, &b0, &s, &bs, &flag, &ns, &ni, &f, &tm, &n32, &status, &anyV, &nf); err != nil {
		t.Fatal(err)
	}
	if i64 != 7 || !b1 || b0 || s != "s" || string(bs) != string(raw) || !flag || ns.Valid || ni.Valid || f != 2.5 ||
		!tm.Equal(at) || n32 != 42 || status != "active" || anyV != int64(9) || nf.Valid {
		t.Errorf("scanned %v %v %v %q %v %v %v %v %v %v %v %q %v %v", i64, b1, b0, s, bs, flag, ns, ni, f, tm, n32, status, anyV, nf)
	}
	bs[0] = 9
	if raw[0] != 1 {
		t.Error("a scanned []byte shares the prefetched row's memory")
	}
	// Values into the Null types and an int.
	var ns2 sql.NullString
	var ni2 sql.NullInt64
	var n int
	if err := (servedRow{rows: [][]any{{"x", int32(5), int64(6)}}}).Scan(&ns2, &ni2, &n); err != nil {
		t.Fatal(err)
	}
	if !ns2.Valid || ns2.String != "x" || !ni2.Valid || ni2.Int64 != 5 || n != 6 {
		t.Errorf("scanned %v %v %d", ns2, ni2, n)
	}
	if err := (servedRow{rows: [][]any{}}).Scan(&n); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("no rows: %v, want sql.ErrNoRows", err)
	}
	boom := errors.New("boom")
	if err := (servedRow{err: boom}).Scan(&n); err != boom {
		t.Errorf("a failed query: %v, want its error", err)
	}
	for _, c := range []struct {
		src  any
		dest any
		want string
	}{
		{nil, new(int64), "NULL"},
		{"x", new(int64), "string"},
		{int64(2), new(bool), "not 0 or 1"},
		{int64(1 << 40), new(int32), "out of range"},
		{at, new(int64), "time.Time"},
		{struct{}{}, new(string), "struct"},
		{int64(1), nil, "pointer"},
		{int64(1), (*int64)(nil), "pointer"},
		{int64(1), new(chan int), "chan"},
	} {
		err := (servedRow{rows: [][]any{{c.src}}}).Scan(c.dest)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%T into %T: %v, want an error naming %q", c.src, c.dest, err, c.want)
		}
	}
	if err := (servedRow{rows: [][]any{{int64(1), int64(2)}}}).Scan(&n); err == nil {
		t.Error("two columns into one destination: no error")
	}
}

// roundTrips is the engine's count of write round trips (PostgreSQL), 0 elsewhere.
func roundTrips(db *DB) uint64 {
	if e, ok := db.eng.(interface{ RoundTrips() uint64 }); ok {
		return e.RoundTrips()
	}
	return 0
}

// TestRedeemPrefetch: on PostgreSQL a redemption sends its reads ahead in one round trip and
// every one of them is served to its reader (a reader whose query drifted from the one sent
// ahead would miss it and make its own round trip); on SQLite nothing is sent ahead. It logs
// the round trips of a redemption's write with and without prefetching.
func TestRedeemPrefetch(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithMerchantKey(context.Background(), mustKeyHash(0))
	redeem := func(o merchant.Offer, key string) {
		t.Helper()
		req, ref := f.req(o, key, 1000)
		if _, _, err := db.Redeem(ctx, req, ref); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
	}
	redeem(f.unlimited, "warm") // activates the card (one more statement) and fills the caches
	trips := func(key string, o merchant.Offer) uint64 {
		before := roundTrips(db)
		redeem(o, key)
		return roundTrips(db) - before
	}
	served, missed := db.prefetchServed.Load(), db.prefetchMissed.Load()
	with := trips("with", f.unlimited)
	onceWith := trips("once-with", f.once) // the offer's uses: none before
	gotServed, gotMissed := db.prefetchServed.Load()-served, db.prefetchMissed.Load()-missed
	// replay, the merchant key, merchant, card, offer, the card's uses: 6 a redemption.
	want := uint64(2 * 6)
	if !storagetest.OnPostgres() {
		want = 0
	}
	if gotServed != want || gotMissed != 0 {
		t.Errorf("%s: %d prefetched reads served and %d missed in two redemptions, want %d and 0", db.Engine(), gotServed, gotMissed, want)
	}
	// A replay reads its redemption after the key: the rest sent ahead is dropped, not served.
	req, ref := f.req(f.unlimited, "with", 1000)
	if _, replayed, err := db.Redeem(ctx, req, ref); err != nil || !replayed {
		t.Fatalf("replay: %v %v", replayed, err)
	}
	db.noPrefetch = true
	without := trips("without", f.unlimited)
	onceWithout := trips("once-without", f.daily)
	db.noPrefetch = false
	// Without: its six reads one by one (a member runs without a savepoint, townwrite.go).
	if storagetest.OnPostgres() && with+5 != without {
		t.Errorf("round trips of a redemption: %d with prefetching, %d without: want 5 fewer", with, without)
	}
	t.Logf("%s: round trips of a redemption's write (a batch of one): %d (%d for a once offer) with prefetching, %d (%d) without",
		db.Engine(), with, onceWith, without, onceWithout)
}

// TestTownBatchPrefetchFailure (PostgreSQL): a member whose prefetched read fails fails with
// that read's error, whether it reads the answer or not, and the batch's other members commit;
// a deadlock reported by a prefetched read makes the whole batch run again.
func TestTownBatchPrefetchFailure(t *testing.T) {
	if !storagetest.OnPostgres() {
		t.Skip("prefetching is PostgreSQL's (SQLite sends nothing ahead)")
	}
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	warm, ref := f.req(f.unlimited, "warm", 1000) // the town's ledger head, to hold
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`CREATE FUNCTION prefetch_deadlock() RETURNS bigint LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'forced deadlock' USING ERRCODE = '40P01'; END $$`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	const n, reads, ignores, deadlocks = 10, 3, 6, 8
	var deadlocked atomic.Bool
	h := holdLedger(t, db, "koper")
	retriesBefore := db.EngineRetries()
	var mu sync.Mutex
	runs := make([]int, n)
	_, errs, _ := h.race(n, func(i int) (merchant.Redemption, error) {
		key := "prefetch-" + strconv.Itoa(i)
		return merchant.Redemption{}, db.updateInTown(ctx, "koper", func(tx *Tx) error {
			mu.Lock()
			runs[i]++
			mu.Unlock()
			if _, _, err := lockHead(tx, "koper"); err != nil {
				return err
			}
			check := engine.Query{SQL: `SELECT count(*) FROM settings WHERE key = ?`, Args: []any{key}}
			qs := []engine.Query{check}
			switch {
			case i == reads || i == ignores:
				qs = append(qs, engine.Query{SQL: `SELECT 1 / (count(*) - count(*)) FROM settings WHERE key = ?`, Args: []any{key}}, check)
			case i == deadlocks && !deadlocked.Swap(true):
				qs = append(qs, engine.Query{SQL: `SELECT prefetch_deadlock()`})
			}
			tx.prefetch(qs...)
			var have int
			if err := tx.queryRow(check.SQL, check.Args...).Scan(&have); err != nil {
				return err
			}
			if i == reads {
				var x int64
				if err := tx.queryRow(qs[1].SQL, qs[1].Args...).Scan(&x); err != nil {
					return err
				}
				return errors.New("the failing read was answered")
			}
			return tx.execDeferred(`INSERT INTO settings (key, value) VALUES (?, 'y')`, key)
		})
	}, func() error { return nil })
	for i, err := range errs {
		var pe *pgconn.PgError
		switch {
		case i == reads || i == ignores:
			if !errors.As(err, &pe) || pe.Code != "22012" {
				t.Errorf("member %d (a failing prefetched read): %v, want the division by zero (22012)", i, err)
			}
		case err != nil:
			t.Errorf("member %d: %v", i, err)
		}
	}
	var stored int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM settings WHERE key LIKE 'prefetch-%'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n-2 {
		t.Errorf("%d members committed, want %d", stored, n-2)
	}
	if !deadlocked.Load() || db.EngineRetries() == retriesBefore || runs[deadlocks] < 2 {
		t.Errorf("the deadlock of a prefetched read: batch retried %d times, its member ran %d times; want the batch run again",
			db.EngineRetries()-retriesBefore, runs[deadlocks])
	}
	t.Logf("member runs %v, engine retries %d", runs, db.EngineRetries()-retriesBefore)
}

type namedString string

// TestTownBatchPrefetchRoundTrips (PostgreSQL) logs the round trips of redemptions parked on
// their town's ledger head and committed in batches, per redemption, with and without
// prefetching, and checks that prefetching saves at least five a member.
func TestTownBatchPrefetchRoundTrips(t *testing.T) {
	if !storagetest.OnPostgres() {
		t.Skip("round trips are PostgreSQL's")
	}
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithMerchantKey(context.Background(), mustKeyHash(0))
	warm, ref := f.req(f.unlimited, "warm", 1000)
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
		t.Fatal(err)
	}
	const n = 8
	perMember := func(name string) float64 {
		commits := &countingObserver{}
		db.SetObserver(commits)
		defer db.SetObserver(nil)
		before := roundTrips(db)
		h := holdLedger(t, db, "koper")
		_, errs, _ := h.race(n, func(i int) (merchant.Redemption, error) {
			req, ref := f.req(f.unlimited, name+strconv.Itoa(i), 1000)
			r, _, err := db.Redeem(ctx, req, ref)
			return r, err
		}, func() error { return nil })
		for i, err := range errs {
			if err != nil {
				t.Fatalf("%s %d: %v", name, i, err)
			}
		}
		trips := roundTrips(db) - before
		t.Logf("%s: %d redemptions in %d transactions: %d round trips, %.1f a redemption", name, n, commits.batches.Load(), trips, float64(trips)/n)
		return float64(trips) / n
	}
	with := perMember("with")
	db.noPrefetch = true
	without := perMember("without")
	db.noPrefetch = false
	if with+5 > without {
		t.Errorf("%.1f round trips a redemption with prefetching, %.1f without: want at least 5 fewer", with, without)
	}
}
