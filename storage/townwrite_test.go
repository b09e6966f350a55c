package storage

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// TestRaceTownBatchMembers: writes of one town parked on its ledger head (PostgreSQL) commit
// together in a batch (townwrite.go); one member's unique violation (a settings key taken
// before) fails that member alone, after its retries, and every other member is committed.
// On SQLite the writer's group commit gives the same answers.
func TestRaceTownBatchMembers(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	warm, ref := f.req(f.unlimited, "warm", 1000)
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil {
		t.Fatal(err)
	}
	if err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES ('batch-taken', 'x')`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	commits := &countingObserver{}
	db.SetObserver(commits)
	const n, bad = 12, 7
	runs := make([]int, n)
	h := holdLedger(t, db, "koper")
	var mu sync.Mutex
	_, errs, _ := h.race(n, func(i int) (merchant.Redemption, error) {
		key := "batch-" + strconv.Itoa(i)
		if i == bad {
			key = "batch-taken"
		}
		return merchant.Redemption{}, db.updateInTown(ctx, "koper", func(tx *Tx) error {
			mu.Lock()
			runs[i]++
			mu.Unlock()
			if _, _, err := lockHead(tx, "koper"); err != nil {
				return err
			}
			return tx.execDeferred(`INSERT INTO settings (key, value) VALUES (?, 'y')`, key)
		})
	}, func() error { return nil })
	for i, err := range errs {
		switch {
		case i == bad && !db.eng.IsUnique(err):
			t.Errorf("member %d (a taken key): %v, want a unique violation", i, err)
		case i != bad && err != nil:
			t.Errorf("member %d: %v", i, err)
		}
	}
	var stored int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM settings WHERE key LIKE 'batch-%' AND value = 'y'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n-1 {
		t.Errorf("%d members' rows stored, want %d", stored, n-1)
	}
	if runs[bad] < 2 && storagetest.OnPostgres() {
		t.Errorf("the member with the taken key ran %d times, want it retried", runs[bad])
	}
	if storagetest.OnPostgres() && commits.writes.Load() != n {
		t.Errorf("the observer was told of %d writes in the batches, want %d", commits.writes.Load(), n)
	}
	if storagetest.OnPostgres() && commits.batches.Load() >= n {
		t.Errorf("%d transactions for %d writes parked on the town's head: no batch", commits.batches.Load(), n)
	}
	t.Logf("%s: %d writes in %d transactions (the observer saw %d writes); the failing member ran %d times: %v", db.Engine(), n, commits.batches.Load(), commits.writes.Load(), runs[bad], errs[bad])
}
