package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/postgres"
)

// offlineReq is an offline till's sale of o on the fixture's card, made at at on terminal.
func (f fixture) offlineReq(o merchant.Offer, key, terminal string, at time.Time) (merchant.RedeemRequest, card.Ref) {
	req, ref := f.req(o, key, 1000)
	req.Terminal, req.OccurredAt = terminal, &at
	return req, ref
}

// mustConflictFixture is the fixture with its card's once offer used online, so that every
// offline sale of it after that is a limit_reached conflict. The card is issued and used a
// day before the clock's time, so offline sales dated up to a day back come after its issue
// (an earlier one would be the conflict card_not_yet_issued).
func mustConflictFixture(t *testing.T, db *DB, clock *fixedClock) fixture {
	t.Helper()
	now := clock.Now()
	clock.Set(now.Add(-24 * time.Hour))
	defer clock.Set(now)
	f := mustFixture(t, db)
	if _, _, err := f.redeem(db, f.once, "online-once", 1000); err != nil {
		t.Fatal(err)
	}
	return f
}

func openConflictCount(t *testing.T, db *DB, merchantID string) int64 {
	t.Helper()
	return pgCount(t, db, `SELECT count(*) FROM redemptions WHERE merchant_id = ? AND conflict_reason IS NOT NULL AND decision IS NULL`, merchantID)
}

// TestConflictCap: a merchant's open conflicts stop at the cap; the sale past it is refused
// with ErrTooManyConflicts and leaves nothing behind (no row, no key), so the same item sent
// again after a decision is recorded; replays and completed sales are not affected.
func TestConflictCap(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustConflictFixture(t, db, clock)
	ctx := context.Background()
	db.SetMaxOpenConflicts(3)
	at := clock.Now().Add(-time.Hour)
	var first merchant.Redemption
	for i := range 3 {
		req, ref := f.offlineReq(f.once, fmt.Sprintf("c%d", i), "till-1", at)
		r, _, err := db.Redeem(ctx, req, ref)
		if err != nil || r.ConflictReason != "limit_reached" {
			t.Fatalf("conflict %d: %+v, %v", i, r, err)
		}
		if i == 0 {
			first = r
		}
	}
	rows := pgCount(t, db, `SELECT count(*) FROM redemptions`)
	req, ref := f.offlineReq(f.once, "c3", "till-2", at)
	if _, _, err := db.Redeem(ctx, req, ref); !errors.Is(err, merchant.ErrTooManyConflicts) {
		t.Fatalf("the 4th open conflict: %v, want ErrTooManyConflicts", err)
	}
	if got := pgCount(t, db, `SELECT count(*) FROM redemptions`); got != rows {
		t.Fatalf("a refused sale left %d rows, want %d", got, rows)
	}
	if got := pgCount(t, db, `SELECT count(*) FROM idempotency_keys WHERE key = 'c3'`); got != 0 {
		t.Fatalf("a refused sale bound its key")
	}
	// A replay of a recorded conflict still answers; a sale that completes is not capped.
	req0, ref0 := f.offlineReq(f.once, "c0", "till-1", at)
	if r, replayed, err := db.Redeem(ctx, req0, ref0); err != nil || !replayed || r.ID != first.ID {
		t.Fatalf("replay past the cap: %+v replayed=%v %v", r, replayed, err)
	}
	if req, ref := f.offlineReq(f.unlimited, "ok", "till-2", at); true {
		if r, _, err := db.Redeem(ctx, req, ref); err != nil || r.ConflictReason != "" {
			t.Fatalf("a completed offline sale past the cap: %+v %v", r, err)
		}
	}
	// Once the office decides one, the refused item goes in as it was.
	if _, err := db.DecideConflict(ctx, "koper", first.ID, merchant.DecisionRejected, "x"); err != nil {
		t.Fatal(err)
	}
	if r, replayed, err := db.Redeem(ctx, req, ref); err != nil || replayed || r.ConflictReason != "limit_reached" || r.Terminal != "till-2" {
		t.Fatalf("the refused item sent again: %+v replayed=%v %v", r, replayed, err)
	}
	if got := openConflictCount(t, db, f.merchant.ID); got != 3 {
		t.Fatalf("%d open conflicts, want 3", got)
	}
	// No cap: SetMaxOpenConflicts(0).
	db.SetMaxOpenConflicts(0)
	req, ref = f.offlineReq(f.once, "c4", "till-1", at)
	if _, _, err := db.Redeem(ctx, req, ref); err != nil {
		t.Fatalf("without a cap: %v", err)
	}
}

// TestRaceConflictCap: many offline sales that are all conflicts, at once, against a cap of
// K: exactly K are recorded and the others refused with ErrTooManyConflicts, round after round
// (the office rejects the K between rounds). The count and the insert must be one step.
func TestRaceConflictCap(t *testing.T) {
	db, clock := MustOpenDB(t)
	raceConflictCap(t, []*DB{db}, clock)
}

// TestPostgresRaceConflictCapInstances is TestRaceConflictCap through two service instances
// at each isolation level PostgreSQL writes may run at (postgres.Options.Isolation).
func TestPostgresRaceConflictCapInstances(t *testing.T) {
	for _, iso := range []string{"read committed", "repeatable read", "serializable"} {
		t.Run(iso, func(t *testing.T) {
			p := openPostgresInstances(t, 2, WithPostgres(postgres.Options{Isolation: iso}))
			raceConflictCap(t, p.dbs, p.clock)
		})
	}
}

func raceConflictCap(t *testing.T, dbs []*DB, clock *fixedClock) {
	db := dbs[0]
	f := mustConflictFixture(t, db, clock)
	ctx := context.Background()
	const k, n, rounds = 5, 24, 6
	for _, d := range dbs {
		d.SetMaxOpenConflicts(k)
	}
	at := clock.Now().Add(-time.Hour)
	over := 0
	for round := range rounds {
		rs, _, errs := raceRedeem(dbs, n, func(i int) (merchant.RedeemRequest, card.Ref) {
			return f.offlineReq(f.once, fmt.Sprintf("r%d-%d", round, i), fmt.Sprintf("till-%d", i%3), at)
		})
		recorded, refused := 0, 0
		for i, err := range errs {
			switch {
			case err == nil && rs[i].ConflictReason == "limit_reached":
				recorded++
			case errors.Is(err, merchant.ErrTooManyConflicts):
				refused++
			default:
				t.Fatalf("round %d, sale %d: %+v, %v", round, i, rs[i], err)
			}
		}
		open := openConflictCount(t, db, f.merchant.ID)
		if open != k || recorded != k || refused != n-k {
			t.Errorf("round %d: %d recorded, %d refused, %d open; want %d, %d, %d", round, recorded, refused, open, k, n-k, k)
			over++
		}
		ids, _, err := db.OpenConflictIDs(ctx, "koper", ConflictFilter{MerchantID: f.merchant.ID}, merchant.MaxBulkDecisions)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.DecideConflicts(ctx, "koper", ids, merchant.DecisionRejected, "round "+fmt.Sprint(round)); err != nil {
			t.Fatal(err)
		}
	}
	if over > 0 {
		t.Fatalf("%s: the cap of %d did not hold in %d of %d rounds", db.Engine(), k, over, rounds)
	}
}

// mustConflictSpread records open conflicts of f's merchant: 3 limit_reached on till-1, 2 on
// till-2, and 2 card_expired on till-2 (the card used online at the clock's time, expired
// 72 hours later). It leaves the clock 80 hours on.
func mustConflictSpread(t *testing.T, db *DB, clock *fixedClock, f fixture) {
	t.Helper()
	ctx := context.Background()
	start := clock.Now()
	clock.Set(start.Add(80 * time.Hour))
	sale := func(o merchant.Offer, key, terminal string, at time.Time, reason string) {
		req, ref := f.offlineReq(o, key, terminal, at)
		r, _, err := db.Redeem(ctx, req, ref)
		if err != nil || r.ConflictReason != reason {
			t.Fatalf("%s: %+v %v, want a %s conflict", key, r, err, reason)
		}
	}
	for i := range 3 {
		sale(f.once, fmt.Sprintf("l1-%d", i), "till-1", start.Add(10*time.Hour), "limit_reached")
	}
	for i := range 2 {
		sale(f.once, fmt.Sprintf("l2-%d", i), "till-2", start.Add(11*time.Hour), "limit_reached")
		sale(f.unlimited, fmt.Sprintf("e2-%d", i), "till-2", start.Add(75*time.Hour), "card_expired")
	}
}

// TestDecideConflictsBulk: the groups count a town's open conflicts by till and reason; a
// filter selects them; a bulk decision decides each once, books the accepted ones, audits
// each, and answers per id for those it did not decide (decided already, not a conflict,
// another town's or no such id); the ledger verifies.
func TestDecideConflictsBulk(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustConflictFixture(t, db, clock)
	ctx := context.Background()
	mustConflictSpread(t, db, clock, f)

	groups, err := db.ConflictGroups(ctx, "koper")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, g := range groups {
		got[g.MerchantID+"/"+g.Terminal+"/"+g.Reason] = g.Open
	}
	m := f.merchant.ID
	want := map[string]int{m + "/till-1/limit_reached": 3, m + "/till-2/limit_reached": 2, m + "/till-2/card_expired": 2}
	if fmt.Sprint(got) != fmt.Sprint(want) || groups[0].Open != 3 {
		t.Fatalf("groups %v, want %v, the largest first", got, want)
	}
	if _, err := db.ConflictGroups(ctx, ""); err == nil {
		t.Fatal("groups without a town")
	}

	ids, total, err := db.OpenConflictIDs(ctx, "koper", ConflictFilter{Terminal: "till-2", HasTerminal: true, Reason: "limit_reached"}, 1)
	if err != nil || total != 2 || len(ids) != 1 {
		t.Fatalf("till-2's limit_reached: %v of %d, %v", ids, total, err)
	}
	for _, c := range []struct {
		f    ConflictFilter
		want int
	}{
		{ConflictFilter{}, 7},
		{ConflictFilter{MerchantID: m}, 7},
		{ConflictFilter{MerchantID: f.other.ID}, 0},
		{ConflictFilter{Terminal: "", HasTerminal: true}, 0},
		{ConflictFilter{Reason: "card_expired"}, 2},
		{ConflictFilter{Month: merchant.Month{Year: 2026, Month: time.October}}, 7},
		{ConflictFilter{Month: merchant.Month{Year: 2026, Month: time.November}}, 0},
	} {
		if _, n, err := db.OpenConflictIDs(ctx, "koper", c.f, 10); err != nil || n != c.want {
			t.Errorf("filter %+v: %d, %v; want %d", c.f, n, err, c.want)
		}
	}
	if _, n, err := db.OpenConflictIDs(ctx, "ptuj", ConflictFilter{}, 10); err != nil || n != 0 {
		t.Errorf("another town sees %d of koper's conflicts (%v)", n, err)
	}

	// Accept till-1's three, with one of them decided before and an unknown id among them.
	ids, _, err = db.OpenConflictIDs(ctx, "koper", ConflictFilter{Terminal: "till-1", HasTerminal: true}, 10)
	if err != nil || len(ids) != 3 {
		t.Fatalf("till-1: %v %v", ids, err)
	}
	if _, err := db.DecideConflict(ctx, "koper", ids[1], merchant.DecisionRejected, "one by one"); err != nil {
		t.Fatal(err)
	}
	var done string
	if err := db.reader(ctx).queryRow(`SELECT id FROM redemptions WHERE conflict_reason IS NULL LIMIT 1`).Scan(&done); err != nil {
		t.Fatal(err)
	}
	ledgerBefore := pgCount(t, db, `SELECT count(*) FROM ledger WHERE town = 'koper'`)
	out, err := db.DecideConflicts(WithActor(ctx, "office", "req-1"), "koper", append(ids, "red_nosuch", done), merchant.DecisionAccepted, "bulk")
	if err != nil {
		t.Fatal(err)
	}
	wantErr := []error{nil, merchant.ErrAlreadyDecided, nil, merchant.ErrNotFound, merchant.ErrNotConflict}
	for i, d := range out {
		if !errors.Is(d.Err, wantErr[i]) || (d.Err == nil) != (wantErr[i] == nil) {
			t.Errorf("result %d (%s): %v, want %v", i, d.ID, d.Err, wantErr[i])
		}
		if d.Err == nil && (d.Redemption.Decision != merchant.DecisionAccepted || d.Redemption.DecisionNote != "bulk") {
			t.Errorf("result %d: %+v", i, d.Redemption)
		}
	}
	if got := pgCount(t, db, `SELECT count(*) FROM ledger WHERE town = 'koper'`); got != ledgerBefore+2 {
		t.Errorf("ledger grew by %d entries, want 2", got-ledgerBefore)
	}
	if got := pgCount(t, db, `SELECT count(*) FROM audit WHERE action = 'redemption.accept' AND town = 'koper' AND request_id = 'req-1'`); got != 2 {
		t.Errorf("%d accept audit entries, want 2", got)
	}
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
		t.Fatalf("verify: %+v %v", chk, err)
	}
	// Another town's office decides none of koper's conflicts.
	ids, _, _ = db.OpenConflictIDs(ctx, "koper", ConflictFilter{}, 10)
	out, err = db.DecideConflicts(ctx, "ptuj", ids, merchant.DecisionRejected, "")
	if err != nil || len(out) != 4 {
		t.Fatalf("ptuj deciding koper's: %+v %v", out, err)
	}
	for _, d := range out {
		if !errors.Is(d.Err, merchant.ErrNotFound) {
			t.Errorf("ptuj decided koper's %s: %v", d.ID, d.Err)
		}
	}
	// The whole call is refused for a bad decision, note or size.
	for _, c := range []struct {
		ids            []string
		decision, note string
	}{{ids, "maybe", ""}, {ids, merchant.DecisionAccepted, string(make([]byte, 301))}, {make([]string, merchant.MaxBulkDecisions+1), merchant.DecisionAccepted, ""}} {
		if _, err := db.DecideConflicts(ctx, "koper", c.ids, c.decision, c.note); !errors.Is(err, card.ErrInvalidInput) {
			t.Errorf("decision %q with %d ids: %v, want invalid input", c.decision, len(c.ids), err)
		}
	}
}

// TestRaceDecideConflictsBulk: two offices' bulk decisions (accept all, reject all) and single
// decisions on the same conflicts at once: every conflict is decided exactly once, the ledger
// holds an entry for each accepted one only and verifies. (It rests on DecideConflict's own
// exactly-once write.)
func TestRaceDecideConflictsBulk(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustConflictFixture(t, db, clock)
	ctx := context.Background()
	mustConflictSpread(t, db, clock, f)
	ids, _, err := db.OpenConflictIDs(ctx, "koper", ConflictFilter{}, 10)
	if err != nil || len(ids) != 7 {
		t.Fatal(ids, err)
	}
	ledgerBefore := pgCount(t, db, `SELECT count(*) FROM ledger WHERE town = 'koper'`)
	const racers = 6
	outs := make([][]ConflictDecision, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d := []string{merchant.DecisionAccepted, merchant.DecisionRejected}[i%2]
			outs[i], errs[i] = db.DecideConflicts(ctx, "koper", ids, d, fmt.Sprint("racer ", i))
		}()
	}
	close(start)
	wg.Wait()
	won := map[string]int{}
	accepted := 0
	for i := range racers {
		if errs[i] != nil {
			t.Fatalf("racer %d: %v", i, errs[i])
		}
		for _, d := range outs[i] {
			switch {
			case d.Err == nil:
				won[d.ID]++
				if d.Redemption.Decision == merchant.DecisionAccepted {
					accepted++
				}
			case !errors.Is(d.Err, merchant.ErrAlreadyDecided):
				t.Fatalf("racer %d, %s: %v", i, d.ID, d.Err)
			}
		}
	}
	for _, id := range ids {
		if won[id] != 1 {
			t.Errorf("%s: decided by %d racers, want exactly 1", id, won[id])
		}
	}
	if got := pgCount(t, db, `SELECT count(*) FROM ledger WHERE town = 'koper'`); got != ledgerBefore+int64(accepted) {
		t.Errorf("ledger grew by %d, %d accepted", got-ledgerBefore, accepted)
	}
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
		t.Fatalf("verify: %+v %v", chk, err)
	}
}
