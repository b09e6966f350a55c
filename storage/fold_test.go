package storage

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
	"github.com/citycard/citycard/storage/sqlite"
	"github.com/citycard/citycard/storage/storagetest"
)

// writerHold parks SQLite's writer on a write of its own, so that the writes queued meanwhile
// make its next group commit, in the order they were queued (queue waits for each).
type writerHold struct {
	t       *testing.T
	eng     *sqlite.Engine
	release chan struct{}
	done    chan error
}

func holdWriter(t *testing.T, db *DB) *writerHold {
	t.Helper()
	eng, ok := db.eng.(*sqlite.Engine)
	if !ok {
		t.Skip("SQLite's writer only: PostgreSQL has no group commit of all writes")
	}
	h := &writerHold{t: t, eng: eng, release: make(chan struct{}), done: make(chan error, 1)}
	started := make(chan struct{})
	go func() {
		h.done <- eng.Update(context.Background(), func(engine.Tx) error { close(started); <-h.release; return nil })
	}()
	<-started
	return h
}

// queue starts call and returns once it waits in the writer's queue; its result comes on the
// channel returned.
func (h *writerHold) queue(call func() error) <-chan error {
	h.t.Helper()
	before := h.eng.QueueDepth()
	out := make(chan error, 1)
	go func() { out <- call() }()
	deadline := time.Now().Add(10 * time.Second)
	for h.eng.QueueDepth() == before {
		if time.Now().After(deadline) {
			h.t.Fatal("the write never reached the writer's queue")
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

func (h *writerHold) letGo() {
	close(h.release)
	if err := <-h.done; err != nil {
		h.t.Fatal(err)
	}
}

// TestFoldedGroupCommit: on SQLite the redemptions of one group commit share what they book
// (the ledger entries, the head, the rollups, the audit entries: written once, at the group's
// end). A write that does not fold, queued between them, reads what the ones before it booked
// (the fold is written first); a redemption that fails leaves nothing of its own in the fold;
// the chain verifies and the books hold exactly what was acknowledged.
func TestFoldedGroupCommit(t *testing.T) {
	if storagetest.OnPostgres() {
		t.Skip("SQLite's writer only")
	}
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	a := newAcked()
	r0, _, err := f.redeem(db, f.unlimited, "r0", 1000)
	if err != nil {
		t.Fatal(err)
	}
	a.sale(r0)
	entries := func(q querier) (n int) {
		if err := q.queryRow(`SELECT count(*) FROM ledger WHERE town = 'koper'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := entries(db.reader(ctx))

	h := holdWriter(t, db)
	till := WithActor(ctx, "merchant:"+f.unlimited.MerchantID, "req")
	redeem := func(o merchant.Offer, key string, amount int64) (merchant.Redemption, error) {
		req, ref := f.req(o, key, amount)
		r, _, err := db.Redeem(till, req, ref)
		return r, err
	}
	var b1, b2, b3, b4 merchant.Redemption
	e1 := h.queue(func() (err error) { b1, err = redeem(f.unlimited, "b1", 1200); return })
	e2 := h.queue(func() (err error) { b2, err = redeem(f.once, "b2", 1300); return })
	e3 := h.queue(func() (err error) { b3, err = redeem(f.once, "b3", 1400); return }) // the once offer's second use
	var seen int
	eRead := h.queue(func() error {
		return db.update(ctx, func(tx *Tx) error { seen = entries(tx); return nil })
	})
	var v0 merchant.Redemption
	eVoid := h.queue(func() (err error) { v0, err = db.Void(ctx, "koper", r0.ID, "", "mistake"); return })
	e4 := h.queue(func() (err error) { b4, err = redeem(f.unlimited, "b4", 1500); return })
	h.letGo()

	for name, c := range map[string]<-chan error{"b1": e1, "b2": e2, "read": eRead, "void": eVoid, "b4": e4} {
		if err := <-c; err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if err := <-e3; !errors.Is(err, merchant.ErrLimitReached) {
		t.Fatalf("the once offer's second use in the same group: %v, want limit_reached", err)
	}
	if seen != before+2 {
		t.Errorf("a write queued after two folded redemptions saw %d ledger entries, want %d: the fold was not written before it", seen, before+2)
	}
	a.sale(b1)
	a.sale(b2)
	a.void(v0)
	a.sale(b4)
	if b3.ID != "" {
		t.Errorf("the refused redemption has an id %s", b3.ID)
	}
	if got := entries(db.reader(ctx)); got != before+4 {
		t.Errorf("%d ledger entries after the group, want %d (b1, b2, the void, b4)", got, before+4)
	}
	// The chain in the order the writes were queued.
	rows, err := db.reader(ctx).query(`SELECT kind, redemption_id FROM ledger WHERE town = 'koper' AND seq > ? ORDER BY seq`, before)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var kind, id string
		if err := rows.Scan(&kind, &id); err != nil {
			t.Fatal(err)
		}
		got = append(got, kind+":"+id)
	}
	rows.Close()
	want := []string{"redemption:" + b1.ID, "redemption:" + b2.ID, "void:" + r0.ID, "redemption:" + b4.ID}
	if len(got) != len(want) {
		t.Fatalf("chain %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("chain %v, want %v", got, want)
		}
	}
	var audits int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM audit WHERE action = 'redemption.create' AND target IN (?, ?, ?)`, b1.ID, b2.ID, b4.ID).Scan(&audits); err != nil || audits != 3 {
		t.Errorf("audit entries of the folded redemptions: %d (%v), want 3", audits, err)
	}
	m, _ := merchant.ParseMonth("2026-10")
	checkBooks(t, db, "koper", m, m, a)
}

// TestFoldedGroupCommitFails: if what a group folded cannot be written, the group commit fails
// as a whole: every write of it that had succeeded gets the error and nothing of the group is
// kept (a write that failed on its own keeps its own error).
func TestFoldedGroupCommitFails(t *testing.T) {
	if storagetest.OnPostgres() {
		t.Skip("SQLite's writer only")
	}
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	h := holdWriter(t, db)
	e1 := h.queue(func() error { _, _, err := f.redeem(db, f.unlimited, "c1", 1000); return err })
	broken := errors.New("broken flush")
	eBreak := h.queue(func() error {
		return db.eng.(engine.Folder).UpdateFolding(ctx, func(t engine.Tx) error {
			b := t.(engine.Folding).Batch()
			prev := b.Flush
			b.Flush = func() error {
				if prev != nil {
					if err := prev(); err != nil {
						return err
					}
				}
				return broken
			}
			return nil
		})
	})
	e2 := h.queue(func() error { _, _, err := f.redeem(db, f.once, "c2", 1000); return err })
	e3 := h.queue(func() error { _, _, err := f.redeem(db, f.once, "c3", 1000); return err })
	h.letGo()
	for name, c := range map[string]<-chan error{"c1": e1, "the breaking write": eBreak, "c2": e2} {
		if err := <-c; !errors.Is(err, broken) {
			t.Errorf("%s: %v, want the group's failure", name, err)
		}
	}
	if err := <-e3; !errors.Is(err, merchant.ErrLimitReached) {
		t.Errorf("c3 (failed on its own): %v, want limit_reached", err)
	}
	var n int
	if err := db.reader(ctx).queryRow(`SELECT (SELECT count(*) FROM redemptions) + (SELECT count(*) FROM ledger WHERE kind = 'redemption') + (SELECT count(*) FROM idempotency_keys)`).Scan(&n); err != nil || n != 0 {
		t.Errorf("%d rows of the failed group kept (%v)", n, err)
	}
	if _, _, err := f.redeem(db, f.once, "c4", 1000); err != nil {
		t.Fatalf("a redemption after the failed group: %v", err)
	}
	chk, err := db.VerifyLedger(ctx, "koper")
	if err != nil || !chk.OK {
		t.Errorf("ledger verify: %+v, %v", chk, err)
	}
}
