package storage

// The race suite (issue 17): operations that touch the same money run N-way at once, on the
// engine under test (storagetest: SQLite by default, PostgreSQL with CITYCARD_TEST_ENGINE),
// and every case asserts exactly one winner where one is due and books that balance
// (checkBooks). On PostgreSQL the racers go through several instances (raceInstances), each
// with its own pool, as several service processes would.
//
// The harness (raceN, oneWinner, acked, checkBooks, raceInstances, jsonReport) is meant for
// every race case of the package, not only this file's.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// raceN runs call(0), …, call(n-1) in n goroutines that all wait at one start barrier until
// every goroutine is running, so the calls begin together; it returns each call's error by
// index once all have returned.
func raceN(n int, call func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = call(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// oneWinner reports how many of errs are nil (the winners) and fails the test (Errorf, so a
// caller can count bad rounds) unless exactly one is nil and every other is lost (the
// contract's answer to the losers, e.g. merchant.ErrAlreadyDecided). It returns the winner's
// index, or -1.
func oneWinner(t *testing.T, what string, errs []error, lost error) (winner, winners int) {
	t.Helper()
	winner = -1
	var other []string
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			winner = i
		case !errors.Is(err, lost):
			other = append(other, err.Error())
		}
	}
	if winners != 1 || len(other) > 0 {
		t.Errorf("%s: %d of %d calls won (want 1), %d failed otherwise than %q: %v", what, winners, len(errs), len(other), lost, other)
	}
	return winner, winners
}

// money is what one redemption moves, in cents.
type money struct{ amount, discount, share int64 }

func (m money) add(o money) money {
	return money{m.amount + o.amount, m.discount + o.discount, m.share + o.share}
}

func moneyOf(r merchant.Redemption) money { return money{r.Amount, r.Discount, r.MunicipalShare} }

// acked is what the successful calls of a test acknowledged, by redemption id: a completed
// sale (or an accepted conflict) adds its money, a void subtracts it. Safe for concurrent use.
type acked struct {
	mu    sync.Mutex
	money map[string]money
}

func newAcked() *acked { return &acked{money: map[string]money{}} }

// sale records an acknowledged completed sale or accepted conflict.
func (a *acked) sale(r merchant.Redemption) {
	a.mu.Lock()
	a.money[r.ID] = a.money[r.ID].add(moneyOf(r))
	a.mu.Unlock()
}

// void records an acknowledged void of r.
func (a *acked) void(r merchant.Redemption) {
	a.mu.Lock()
	m := moneyOf(r)
	a.money[r.ID] = a.money[r.ID].add(money{-m.amount, -m.discount, -m.share})
	a.mu.Unlock()
}

// jsonReport renders a report as the frozen document of a test's close, so that checkBooks
// can read the frozen totals back.
func jsonReport(r merchant.Report) ([]byte, error) { return json.Marshal(r) }

// checkBooks asserts that town's books balance for the months from..to, to the cent:
//   - ledger verify is ok;
//   - every month's view reads (no 409 ledger_mismatch), and its report (the frozen one of a
//     closed month, which must have been rendered with jsonReport) has totals equal to its
//     statements: the items plus the month's adjustments;
//   - every redemption is counted, over all the months' items and adjustments, exactly as
//     the successful calls acknowledged it (a): the frozen report of its month plus later
//     months' adjustments and late bookings hold what was acknowledged, nothing more or less.
func checkBooks(t *testing.T, db *DB, town string, from, to merchant.Month, a *acked) {
	t.Helper()
	ctx := context.Background()
	chk, err := db.VerifyLedger(ctx, town)
	if err != nil || !chk.OK {
		t.Errorf("ledger verify: %+v, %v", chk, err)
	}
	counted := map[string]money{}
	for m := from; m.String() <= to.String(); m = m.Next() {
		v, err := db.MonthView(ctx, town, m, true, "")
		if err != nil {
			t.Errorf("the view of %s: %v", m, err)
			continue
		}
		rep := v.Report
		if v.Closed != nil {
			rep = merchant.Report{}
			if err := json.Unmarshal(v.Closed.Report, &rep); err != nil {
				t.Fatalf("the frozen report of %s (not rendered with jsonReport?): %v", m, err)
			}
		}
		var sum money
		for _, r := range v.Items {
			sum = sum.add(moneyOf(r))
			counted[r.ID] = counted[r.ID].add(moneyOf(r))
		}
		var adj money
		for _, x := range rep.Adjustments.Items {
			d := money{x.Amount, x.Discount, x.MunicipalShare}
			adj = adj.add(d)
			counted[x.RedemptionID] = counted[x.RedemptionID].add(d)
		}
		if got := (money{rep.Adjustments.Amount, rep.Adjustments.Discount, rep.Adjustments.MunicipalShare}); got != adj {
			t.Errorf("%s: adjustments total %+v, their items %+v", m, got, adj)
		}
		if got, want := (money{rep.Totals.Amount, rep.Totals.Discount, rep.Totals.MunicipalShare}), sum.add(adj); got != want {
			t.Errorf("%s (closed %v): report totals %+v, statements (items %d + adjustments %d) %+v", m, v.Closed != nil, got, len(v.Items), len(rep.Adjustments.Items), want)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	var wrong []string
	for id, want := range a.money {
		if got := counted[id]; got != want {
			wrong = append(wrong, fmt.Sprintf("%s counted %+v, acknowledged %+v", id, got, want))
		}
	}
	for id, got := range counted {
		if _, ok := a.money[id]; !ok && got != (money{}) {
			wrong = append(wrong, fmt.Sprintf("%s counted %+v, never acknowledged", id, got))
		}
	}
	if len(wrong) > 0 {
		sort.Strings(wrong)
		t.Errorf("%d redemptions are not counted as acknowledged in %s..%s, e.g. %v", len(wrong), from, to, wrong[:min(3, len(wrong))])
	}
}

// raceInstances returns the instances the racers of a test go through: on PostgreSQL db
// and n-1 more opened on its DSN (on the same clock), as separate service processes would
// be; on SQLite, whose one writer per file is the design, db alone.
func raceInstances(t *testing.T, db *DB, clock *fixedClock, n int) []*DB {
	t.Helper()
	dbs := []*DB{db}
	if !storagetest.OnPostgres() {
		return dbs
	}
	for range n - 1 {
		o, err := Open(context.Background(), db.Path(), db.Loc)
		if err != nil {
			t.Fatal(err)
		}
		o.SetClock(clock.Now)
		t.Cleanup(func() { o.Close() })
		dbs = append(dbs, o)
	}
	return dbs
}

var raceKey atomic.Int64

// offlineSale syncs an offline sale of offer o on card cd that happened at at, through db.
func offlineSale(db *DB, o merchant.Offer, cd card.Card, amount int64, at time.Time) (merchant.Redemption, error) {
	at = at.UTC()
	r, _, err := db.Redeem(context.Background(), merchant.RedeemRequest{MerchantID: o.MerchantID, CardInput: cd.Token, OfferID: o.ID,
		Amount: amount, Terminal: "till-race", IdempotencyKey: "race-" + strconv.FormatInt(raceKey.Add(1), 10), OccurredAt: &at},
		card.Ref{Number: cd.Number, FromToken: true})
	return r, err
}

// mustConflict syncs an offline sale on the blocked card cd: a conflict (card_blocked).
func mustConflict(t *testing.T, db *DB, o merchant.Offer, cd card.Card, amount int64, at time.Time) merchant.Redemption {
	t.Helper()
	r, err := offlineSale(db, o, cd, amount, at)
	if err != nil || r.ConflictReason == "" {
		t.Fatalf("offline sale on a blocked card: %+v, %v (want a conflict)", r, err)
	}
	return r
}

func mustBlock(t *testing.T, db *DB, cd card.Card) {
	t.Helper()
	if _, err := db.SetBlocked(context.Background(), "koper", cd.ID, true, "lost"); err != nil {
		t.Fatal(err)
	}
}

func mustMonth(s string) merchant.Month {
	m, err := merchant.ParseMonth(s)
	if err != nil {
		panic(err)
	}
	return m
}

// Six accepts and rejects of one conflict at once: exactly one decides, the others are
// already_decided, and the conflict is booked exactly when the winner accepted it.
func TestRaceDecideDecide(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	dbs := raceInstances(t, c.db, c.clock, 3)
	ctx := context.Background()
	c.clock.Set(time.Date(2026, 10, 15, 12, 0, 0, 0, testLoc))
	mustBlock(t, c.db, c.cards[0])
	a := newAcked()
	const rounds, n = 10, 6
	bad := 0
	for round := range rounds {
		r := mustConflict(t, c.db, c.offers[round%len(c.offers)], c.cards[0], 1000+int64(round), c.clock.Now().Add(-time.Hour))
		results := make([]merchant.Redemption, n)
		decision := func(i int) string {
			if i%2 == 0 {
				return merchant.DecisionAccepted
			}
			return merchant.DecisionRejected
		}
		errs := raceN(n, func(i int) error {
			var err error
			results[i], err = dbs[i%len(dbs)].DecideConflict(ctx, "koper", r.ID, decision(i), "race")
			return err
		})
		w, winners := oneWinner(t, fmt.Sprintf("round %d", round), errs, merchant.ErrAlreadyDecided)
		if winners != 1 {
			bad++
		}
		for i, err := range errs {
			if err == nil && decision(i) == merchant.DecisionAccepted {
				a.sale(results[i])
			}
		}
		if w >= 0 {
			got, err := c.db.Redemption(ctx, "koper", r.ID)
			if err != nil || got.Decision != decision(w) {
				t.Errorf("round %d: stored decision %q (%v), the winner's %q", round, got.Decision, err, decision(w))
			}
		}
	}
	if bad > 0 {
		t.Errorf("more or fewer than one winner in %d of %d rounds", bad, rounds)
	}
	checkBooks(t, c.db, "koper", mustMonth("2026-10"), mustMonth("2026-10"), a)
}

// Six voids of one redemption at once: exactly one voids, the others are already_voided,
// and the redemption's money leaves the month once.
func TestRaceVoidVoid(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	dbs := raceInstances(t, c.db, c.clock, 3)
	ctx := context.Background()
	a := newAcked()
	const rounds, n = 10, 6
	// All on one day, merchant and offer: the redemptions share their rollup rows, so a void
	// booked twice shows in the totals rather than in a CHECK.
	var rs []merchant.Redemption
	for i := range rounds {
		r := c.redeem(t, time.Date(2026, 10, 15, 10, i, 0, 0, testLoc), c.offers[0], c.cards[i], 1000+int64(i))
		a.sale(r)
		rs = append(rs, r)
	}
	c.clock.Set(time.Date(2026, 10, 15, 18, 0, 0, 0, testLoc))
	bad := 0
	for round, r := range rs {
		results := make([]merchant.Redemption, n)
		errs := raceN(n, func(i int) error {
			var err error
			results[i], err = dbs[i%len(dbs)].Void(ctx, "koper", r.ID, "", "race")
			return err
		})
		if _, winners := oneWinner(t, fmt.Sprintf("round %d", round), errs, merchant.ErrAlreadyVoided); winners != 1 {
			bad++
		}
		for i, err := range errs {
			if err == nil {
				a.void(results[i])
			}
		}
	}
	if bad > 0 {
		t.Errorf("more or fewer than one winner in %d of %d rounds", bad, rounds)
	}
	checkBooks(t, c.db, "koper", mustMonth("2026-10"), mustMonth("2026-10"), a)
}

// closeRace runs, for each of months, one close of the month at once with n other calls
// (call(month, i), i ≥ 1), on the first morning of the next month; prepare runs before
// each month's race, with the clock in that month. The close must succeed, or fail with
// merchant.ErrConflictsOpen and then succeed when run again after the race; every other call
// must succeed. With afterCheck the other calls start when the close has made its checks in
// a read snapshot and begins its write (closeAfterCheck), so that they overlap the write.
func closeRace(t *testing.T, c *city, dbs []*DB, months []merchant.Month, n int, afterCheck bool, prepare func(m merchant.Month), call func(m merchant.Month, i int) error) {
	t.Helper()
	ctx := context.Background()
	for _, m := range months {
		start, _ := m.Range(testLoc)
		c.clock.Set(start.Add(9*24*time.Hour + 10*time.Hour))
		if prepare != nil {
			prepare(m)
		}
		_, end := m.Range(testLoc)
		c.clock.Set(end.Add(9 * time.Hour))
		writing := make(chan struct{})
		var once sync.Once
		begin := func() { once.Do(func() { close(writing) }) }
		if afterCheck {
			closeAfterCheck = begin
		} else {
			begin()
		}
		errs := raceN(n+1, func(i int) error {
			if i == 0 {
				defer begin() // a close that failed before its write releases the others too
				_, err := dbs[0].CloseMonth(ctx, "koper", m, jsonReport)
				return err
			}
			<-writing
			return call(m, i)
		})
		closeAfterCheck = nil
		if errors.Is(errs[0], merchant.ErrConflictsOpen) {
			_, errs[0] = c.db.CloseMonth(ctx, "koper", m, jsonReport)
		}
		if errs[0] != nil {
			t.Errorf("the close of %s: %v", m, errs[0])
		}
		failed := 0
		for _, err := range errs[1:] {
			if err != nil {
				failed++
				t.Logf("%s: %v", m, err)
			}
		}
		if failed > 0 {
			t.Errorf("%s: %d of %d calls racing the close failed", m, failed, n)
		}
	}
}

// Many voids of a month's redemptions while the month closes: each void lands either in the
// month before it is frozen or as an adjustment of the next; none is lost, and the close
// neither fails nor leaves statements that answer ledger_mismatch.
func TestRaceVoidClose(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	dbs := raceInstances(t, c.db, c.clock, 3)
	ctx := context.Background()
	a := newAcked()
	const n = 40
	rs := map[merchant.Month][]merchant.Redemption{}
	months := []merchant.Month{mustMonth("2026-10"), mustMonth("2026-11"), mustMonth("2026-12")}
	closeRace(t, c, dbs, months, n, false, func(m merchant.Month) {
		at := c.clock.Now()
		for i := range n {
			r := c.redeem(t, at.Add(time.Duration(i)*time.Minute), c.offers[i%len(c.offers)], c.cards[i%len(c.cards)], 500+int64(i))
			a.sale(r)
			rs[m] = append(rs[m], r)
		}
		c.clock.Set(at.Add(n * time.Minute))
	}, func(m merchant.Month, i int) error {
		r, err := dbs[i%len(dbs)].Void(ctx, "koper", rs[m][i-1].ID, "", "race")
		if err == nil {
			a.void(r)
		}
		return err
	})
	checkBooks(t, c.db, "koper", months[0], months[len(months)-1].Next(), a)
}

// Conflicts synced and accepted while their month closes: each accepted conflict is counted
// once, in its month before the close or in the month of the decision after it.
func TestRaceAcceptClose(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	dbs := raceInstances(t, c.db, c.clock, 3)
	ctx := context.Background()
	mustBlock(t, c.db, c.cards[0])
	a := newAcked()
	const n = 30
	months := []merchant.Month{mustMonth("2026-10"), mustMonth("2026-11"), mustMonth("2026-12")}
	closeRace(t, c, dbs, months, n, true, nil, func(m merchant.Month, i int) error {
		db := dbs[i%len(dbs)]
		_, end := m.Range(testLoc)
		r, err := offlineSale(db, c.offers[i%len(c.offers)], c.cards[0], 700+int64(i), end.Add(-time.Duration(i)*time.Minute))
		if err != nil {
			return err
		}
		if r.ConflictReason == "" {
			return fmt.Errorf("a sale on a blocked card is no conflict: %+v", r)
		}
		if r, err = db.DecideConflict(ctx, "koper", r.ID, merchant.DecisionAccepted, ""); err == nil {
			a.sale(r)
		}
		return err
	})
	checkBooks(t, c.db, "koper", months[0], months[len(months)-1].Next(), a)
}

// Offline sales of a month's last hour synced while the month closes: each completed sale is
// counted once, in its month before the close or in the month it was recorded in after it.
func TestRaceOfflineSaleClose(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	dbs := raceInstances(t, c.db, c.clock, 3)
	a := newAcked()
	const n = 40
	months := []merchant.Month{mustMonth("2026-10"), mustMonth("2026-11"), mustMonth("2026-12")}
	closeRace(t, c, dbs, months, n, false, nil, func(m merchant.Month, i int) error {
		_, end := m.Range(testLoc)
		r, err := offlineSale(dbs[i%len(dbs)], c.offers[i%len(c.offers)], c.cards[1+i%(len(c.cards)-1)], 900+int64(i), end.Add(-time.Duration(i)*time.Minute))
		if err != nil {
			return err
		}
		if r.ConflictReason != "" {
			return fmt.Errorf("an offline sale became a conflict: %s", r.ConflictReason)
		}
		a.sale(r)
		return nil
	})
	checkBooks(t, c.db, "koper", months[0], months[len(months)-1].Next(), a)
}
