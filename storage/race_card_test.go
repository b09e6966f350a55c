package storage

// Races of a redemption with a change of what it is checked against (issue 17, "What to
// build" 2): redeem×block and redeem×offer change, on both engines (CITYCARD_TEST_ENGINE).
//
// The oracle is the order of the audit log. Every write here is audited in its own
// transaction just before it commits (the redemption's entry after its ledger entry, the
// block's and the offer change's after their UPDATE), so a redemption whose audit entry comes
// after the block's (or the offer change's) completed after that change: it must not exist
// (block, deactivation) or must carry the new discount (value change).
//
// On SQLite one writer serialises everything, so the test simply races the writes. On
// PostgreSQL a race needs luck to show, so the test forces the worst interleaving: it holds
// the town's ledger head (the last lock a redemption takes before it commits) from a
// connection of its own, starts the redemptions, waits until every one of them is waiting for
// a lock (they have read the card and the offer by then, on the code before the fix), then
// starts the block or the offer change and waits until it has either committed or is waiting
// for a lock itself, and only then lets the redemptions go.

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

const raceCardN = 8

// openRaceDB is MustOpenDB with room for every racing write at once on PostgreSQL (by
// default an instance runs 4 writes at a time and queues the rest in Go, where a lock wait
// could not be seen).
func openRaceDB(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), storagetest.DSN(t), testLoc,
		WithPostgres(postgres.Options{MaxConns: 2 * raceCardN, MaxWrites: raceCardN + 2}))
	if err != nil {
		t.Fatal(err)
	}
	clock := &fixedClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clock.Now)
	t.Cleanup(func() { db.Close() })
	return db
}

// raceAudit is one audited write in commit order: its action and target.
type raceAudit struct {
	seq            int64
	action, target string
}

// auditOrder returns the audit entries of the given actions, oldest first.
func auditOrder(t *testing.T, db *DB, actions ...string) []raceAudit {
	t.Helper()
	rows, err := db.reader(context.Background()).query(`SELECT seq, action, target FROM audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []raceAudit
	for rows.Next() {
		var a raceAudit
		if err := rows.Scan(&a.seq, &a.action, &a.target); err != nil {
			t.Fatal(err)
		}
		for _, x := range actions {
			if a.action == x {
				out = append(out, a)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// ledgerHolder holds town's ledger head on PostgreSQL from its own connection, so that every
// redemption of the town stops just before its commit, and counts the backends waiting for a
// lock. On SQLite it does nothing.
type ledgerHolder struct {
	t    *testing.T
	conn *sql.DB
	tx   *sql.Tx
	db   *DB
	town string
}

func holdLedger(t *testing.T, db *DB, town string) *ledgerHolder {
	t.Helper()
	h := &ledgerHolder{t: t, db: db, town: town}
	if !storagetest.OnPostgres() {
		return h
	}
	conn, err := sql.Open("pgx", db.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h.conn = conn
	if h.tx, err = conn.Begin(); err != nil {
		t.Fatal(err)
	}
	var one int
	if err := h.tx.QueryRow(`SELECT 1 FROM ledger_heads WHERE town = $1 FOR UPDATE`, town).Scan(&one); err != nil {
		t.Fatalf("hold %s's ledger head: %v", town, err)
	}
	return h
}

// waiting is the number of other backends of the database waiting for a lock.
func (h *ledgerHolder) waiting() int {
	h.t.Helper()
	var n int
	if err := h.conn.QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// waitFor polls until cond holds; it fails the test after a minute (a lock never taken).
func (h *ledgerHolder) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			// What every backend waits for, to tell a lock nobody takes from a wrong count.
			rows, _ := h.conn.Query(`SELECT pid, coalesce(wait_event_type,''), coalesce(wait_event,''), state, left(query, 80) FROM pg_stat_activity WHERE datname = current_database()`)
			for rows != nil && rows.Next() {
				var pid int
				var a, b, c, d string
				rows.Scan(&pid, &a, &b, &c, &d)
				h.t.Logf("%d %s %s %s %s", pid, a, b, c, d)
			}
			h.t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// race starts the redemptions (n of them, each calling redeem(i)), parks them on the held
// ledger head (PostgreSQL), then runs change and, once it has committed or waits for a lock,
// releases the ledger. It returns each redemption's result and whether change had returned
// before the redemptions were let go (PostgreSQL only: every redemption was parked then).
func (h *ledgerHolder) race(n int, redeem func(i int) (merchant.Redemption, error), change func() error) ([]merchant.Redemption, []error, bool) {
	h.t.Helper()
	out, errs := make([]merchant.Redemption, n), make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = redeem(i)
		}()
	}
	changed := make(chan error, 1)
	if h.tx == nil {
		close(start)
		changed <- change()
		wg.Wait()
		if err := <-changed; err != nil {
			h.t.Fatalf("change: %v", err)
		}
		return out, errs, false
	}
	close(start)
	// Each redemption waits for the head on its own, or the town's batch does for those in
	// it and the ones queued behind it (townwrite.go).
	var parked int
	h.waitFor(strconv.Itoa(n)+" redemptions waiting for a lock", func() bool {
		parked = h.waiting()
		return parked >= n || (parked >= 1 && h.db.townWritesPending(h.town) >= n)
	})
	go func() { changed <- change() }()
	var early bool
	var changeErr error
	h.waitFor("the change to commit or wait for a lock", func() bool {
		select {
		case changeErr = <-changed:
			early = true
			return true
		default:
			return h.waiting() >= parked+1
		}
	})
	if err := h.tx.Rollback(); err != nil {
		h.t.Fatal(err)
	}
	wg.Wait()
	if !early {
		changeErr = <-changed
	}
	if changeErr != nil {
		h.t.Fatalf("change: %v", changeErr)
	}
	return out, errs, early
}

// checkStored checks that every acknowledged redemption is stored as it was answered and has
// its ledger entry, and that town's ledger verifies with want entries.
func checkStored(t *testing.T, db *DB, town string, acked []merchant.Redemption, want int64) {
	t.Helper()
	ctx := context.Background()
	for _, r := range acked {
		got, err := db.Redemption(ctx, town, r.ID)
		if err != nil {
			t.Fatalf("acknowledged redemption %s: %v", r.ID, err)
		}
		if got.Discount != r.Discount || got.Status() != merchant.RedemptionCompleted {
			t.Fatalf("redemption %s stored with discount %d, %s; answered %d, completed", r.ID, got.Discount, got.Status(), r.Discount)
		}
		var n int
		if err := db.reader(ctx).queryRow(`SELECT count(*) FROM ledger WHERE town = ? AND redemption_id = ?`, town, r.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("acknowledged redemption %s has %d ledger entries", r.ID, n)
		}
	}
	chk, err := db.VerifyLedger(ctx, town)
	if err != nil {
		t.Fatal(err)
	}
	if !chk.OK || chk.Entries != want {
		t.Fatalf("ledger: ok=%v entries %d (want %d): %s at %s", chk.OK, chk.Entries, want, chk.Problem, chk.FirstBad)
	}
}

// TestRaceRedeemBlock: N redemptions of one card while the office blocks it. None may
// complete after the block committed; every acknowledged one is in the books.
func TestRaceRedeemBlock(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithActor(context.Background(), "admin", "")
	// One use first: the card is active and the town's ledger head exists.
	warm, ref := f.req(f.unlimited, "warm", 1000)
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
		t.Fatal(err)
	}
	h := holdLedger(t, db, "koper")
	out, errs, early := h.race(raceCardN, func(i int) (merchant.Redemption, error) {
		req, ref := f.req(f.unlimited, "race-"+strconv.Itoa(i), 1000)
		r, _, err := db.Redeem(ctx, req, ref)
		return r, err
	}, func() error {
		_, err := db.SetBlocked(ctx, "koper", f.card.ID, true, "lost")
		return err
	})
	var acked []merchant.Redemption
	for i, err := range errs {
		switch {
		case err == nil:
			acked = append(acked, out[i])
		case errors.Is(err, card.ErrBlocked):
		default:
			t.Fatalf("redemption %d: %v", i, err)
		}
	}
	if early && len(acked) > 0 {
		t.Errorf("the block committed while all %d redemptions waited, and %d of them completed after it", raceCardN, len(acked))
	}
	blockSeq, late := int64(0), 0
	for _, a := range auditOrder(t, db, "card.block", "redemption.create") {
		switch {
		case a.action == "card.block":
			blockSeq = a.seq
		case blockSeq != 0:
			late++
		}
	}
	if blockSeq == 0 {
		t.Fatal("no card.block in the audit log")
	}
	if late > 0 {
		t.Errorf("%d of %d acknowledged redemptions completed after the block committed", late, len(acked))
	}
	checkStored(t, db, "koper", acked, int64(1+len(acked)))
	t.Logf("%s: %d of %d redemptions acknowledged, %d refused as blocked; the block returned before the redemptions were let go: %v",
		db.Engine(), len(acked), raceCardN, raceCardN-len(acked), early)
}

// TestRaceRedeemOfferChange: N redemptions of one offer, each by its own card, while the
// office switches the offer off or doubles its value. A redemption completed after the change
// committed must not exist (switched off) or must have the new discount (value changed); every
// redemption's discount is the one of the offer version it was checked against.
func TestRaceRedeemOfferChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(o *merchant.Offer)
	}{
		{"deactivate", func(o *merchant.Offer) { o.Active = false }},
		{"value", func(o *merchant.Offer) { o.Value = 2000 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := openRaceDB(t)
			f := mustFixture(t, db)
			ctx := WithActor(context.Background(), "admin", "")
			warm, ref := f.req(f.unlimited, "warm", 1000)
			if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
				t.Fatal(err)
			}
			cards, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, raceCardN, "", "")
			if err != nil {
				t.Fatal(err)
			}
			h := holdLedger(t, db, "koper")
			out, errs, early := h.race(raceCardN, func(i int) (merchant.Redemption, error) {
				c := cards[i]
				req := merchant.RedeemRequest{MerchantID: f.merchant.ID, CardInput: c.Token, OfferID: f.unlimited.ID,
					Amount: 1000, Terminal: "till-1", IdempotencyKey: "race-" + strconv.Itoa(i)}
				r, _, err := db.Redeem(ctx, req, card.Ref{Number: c.Number, FromToken: true})
				return r, err
			}, func() error {
				_, err := db.UpdateOffer(ctx, "koper", f.unlimited.ID, func(o *merchant.Offer) error { tc.change(o); return nil })
				return err
			})
			acked := map[string]merchant.Redemption{}
			var list []merchant.Redemption
			for i, err := range errs {
				switch {
				case err == nil:
					acked[out[i].ID] = out[i]
					list = append(list, out[i])
				case errors.Is(err, merchant.ErrOfferInactive):
				default:
					t.Fatalf("redemption %d: %v", i, err)
				}
			}
			changed, late, wrong := false, 0, 0
			for _, a := range auditOrder(t, db, "offer.update", "redemption.create") {
				if a.action == "offer.update" {
					changed = true
					continue
				}
				r, ok := acked[a.target]
				if !ok {
					continue // the warm-up
				}
				want := int64(100) // 10 % of 10.00, the offer before the change
				if changed {
					late++
					want = 200 // 20 %, or nothing at all for an offer switched off
				}
				if r.Discount != want || (changed && tc.name == "deactivate") {
					wrong++
				}
			}
			if !changed {
				t.Fatal("no offer.update in the audit log")
			}
			if early && tc.name == "deactivate" && len(acked) > 0 {
				t.Errorf("the offer was switched off while all %d redemptions waited, and %d of them completed after it", raceCardN, len(acked))
			}
			if wrong > 0 {
				t.Errorf("%d of %d acknowledged redemptions do not match the offer as it was when they completed (%d completed after the change)", wrong, len(acked), late)
			}
			checkStored(t, db, "koper", list, int64(1+len(list)))
			t.Logf("%s: %d of %d redemptions acknowledged, %d after the change; the change returned before the redemptions were let go: %v",
				db.Engine(), len(acked), raceCardN, late, early)
		})
	}
}

// lockWaiters is the number of backends of db's PostgreSQL database waiting for a lock, seen
// from a connection of the test's own; on SQLite it is always 0 (one writer, no row locks).
func lockWaiters(t *testing.T, db *DB) func() int {
	t.Helper()
	if !storagetest.OnPostgres() {
		return func() int { return 0 }
	}
	conn, err := sql.Open("pgx", db.Path())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	h := &ledgerHolder{t: t, conn: conn}
	return h.waiting
}

// TestRaceOfferPatchPatch: N PATCHes of one offer at once, each changing another field. Every
// change must be in the stored offer at the end: none is lost to a write that read the offer
// before it committed.
//
// On PostgreSQL the test forces the worst interleaving: each change function (called inside
// UpdateOffer's write, after it has read the offer) waits until every other PATCH has either
// read the offer too, returned, or waits for a lock. Reading unlocked, all N read the same
// version and each write undoes the others'; reading the row locked, one at a time reads it,
// the others wait for the lock and then read what it wrote. On SQLite the writes run one
// after another anyway.
func TestRaceOfferPatchPatch(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithActor(context.Background(), "admin", "")
	maxD, minA := int64(500), int64(200)
	changes := []struct {
		name  string
		apply func(o *merchant.Offer)
		has   func(o merchant.Offer) bool
	}{
		{"title", func(o *merchant.Offer) { o.Title = map[string]string{"en": o.Title["en"], "sl": "neomejeno"} },
			func(o merchant.Offer) bool { return o.Title["sl"] == "neomejeno" }},
		{"value", func(o *merchant.Offer) { o.Value = 1500 }, func(o merchant.Offer) bool { return o.Value == 1500 }},
		{"max_discount", func(o *merchant.Offer) { o.MaxDiscount = &maxD },
			func(o merchant.Offer) bool { return o.MaxDiscount != nil && *o.MaxDiscount == maxD }},
		{"min_amount", func(o *merchant.Offer) { o.MinAmount = &minA },
			func(o merchant.Offer) bool { return o.MinAmount != nil && *o.MinAmount == minA }},
		{"valid_from", func(o *merchant.Offer) { o.ValidFrom = "2026-01-01" }, func(o merchant.Offer) bool { return o.ValidFrom == "2026-01-01" }},
		{"valid_until", func(o *merchant.Offer) { o.ValidUntil = "2027-12-31" }, func(o merchant.Offer) bool { return o.ValidUntil == "2027-12-31" }},
		{"municipal_share", func(o *merchant.Offer) { o.MunicipalShare = 4000 }, func(o merchant.Offer) bool { return o.MunicipalShare == 4000 }},
		{"products", func(o *merchant.Offer) { o.Products = []string{"koper-72h"} },
			func(o merchant.Offer) bool { return len(o.Products) == 1 && o.Products[0] == "koper-72h" }},
	}
	n := len(changes)
	waiters := lockWaiters(t, db)
	var mu sync.Mutex
	inside, done := 0, 0
	// ready: every PATCH has read the offer, returned, or waits for a lock (PostgreSQL).
	ready := func() bool {
		mu.Lock()
		in, d := inside, done
		mu.Unlock()
		return in+d+waiters() >= n
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := make(chan struct{})
	for i, c := range changes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = db.UpdateOffer(ctx, "koper", f.unlimited.ID, func(o *merchant.Offer) error {
				mu.Lock()
				inside++
				mu.Unlock()
				defer func() {
					mu.Lock()
					inside--
					done++
					mu.Unlock()
				}()
				if storagetest.OnPostgres() {
					deadline := time.Now().Add(time.Minute)
					for !ready() {
						if time.Now().After(deadline) {
							return errors.New("waited a minute for the other PATCHes")
						}
						time.Sleep(2 * time.Millisecond)
					}
				}
				c.apply(o)
				return nil
			})
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("PATCH %s: %v", changes[i].name, err)
		}
	}
	o, err := db.Offer(ctx, "koper", f.unlimited.ID)
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, c := range changes {
		if !c.has(o) {
			lost = append(lost, c.name)
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d concurrent PATCHes lost: %v", len(lost), n, lost)
	}
	t.Logf("%s: %d of %d concurrent PATCHes kept", db.Engine(), n-len(lost), n)
}

// TestRaceRedeemSuspend: N redemptions at one merchant while the office suspends it. None
// may complete after the suspension committed; every acknowledged one is in the books.
func TestRaceRedeemSuspend(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithActor(context.Background(), "admin", "")
	warm, ref := f.req(f.unlimited, "warm", 1000)
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
		t.Fatal(err)
	}
	cards, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, raceCardN, "", "")
	if err != nil {
		t.Fatal(err)
	}
	h := holdLedger(t, db, "koper")
	out, errs, early := h.race(raceCardN, func(i int) (merchant.Redemption, error) {
		c := cards[i]
		req := merchant.RedeemRequest{MerchantID: f.merchant.ID, CardInput: c.Token, OfferID: f.unlimited.ID,
			Amount: 1000, Terminal: "till-1", IdempotencyKey: "race-" + strconv.Itoa(i)}
		r, _, err := db.Redeem(ctx, req, card.Ref{Number: c.Number, FromToken: true})
		return r, err
	}, func() error {
		_, err := db.UpdateMerchant(ctx, "koper", f.merchant.ID, func(m *merchant.Merchant) error {
			m.Status = merchant.StatusSuspended
			return nil
		})
		return err
	})
	var acked []merchant.Redemption
	for i, err := range errs {
		switch {
		case err == nil:
			acked = append(acked, out[i])
		case errors.Is(err, merchant.ErrSuspended):
		default:
			t.Fatalf("redemption %d: %v", i, err)
		}
	}
	if early && len(acked) > 0 {
		t.Errorf("the suspension committed while all %d redemptions waited, and %d of them completed after it", raceCardN, len(acked))
	}
	suspendSeq, late := int64(0), 0
	for _, a := range auditOrder(t, db, "merchant.update", "redemption.create") {
		switch {
		case a.action == "merchant.update":
			suspendSeq = a.seq
		case suspendSeq != 0:
			late++
		}
	}
	if suspendSeq == 0 {
		t.Fatal("no merchant.update in the audit log")
	}
	if late > 0 {
		t.Errorf("%d of %d acknowledged redemptions completed after the suspension committed", late, len(acked))
	}
	checkStored(t, db, "koper", acked, int64(1+len(acked)))
	t.Logf("%s: %d of %d redemptions acknowledged, %d refused as suspended; the suspension returned before the redemptions were let go: %v",
		db.Engine(), len(acked), raceCardN, raceCardN-len(acked), early)
}
