package storage

import (
	"context"
	"errors"
	"strconv"
	"strings"
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

// TestTownBatchOptimisticMembers: the members of a town's batch run without savepoints
// (townwrite.go, Tx.optimistic). A member that fails before writing leaves nothing behind
// and the batch goes on; one that fails after a write makes the batch run again with a
// savepoint per member, where its write is undone alone: in both cases the other members
// are committed and the failing one's write is not.
func TestTownBatchOptimisticMembers(t *testing.T) {
	if !storagetest.OnPostgres() {
		t.Skip("a town's batches are PostgreSQL's")
	}
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	warm, ref := f.req(f.unlimited, "warm", 1000)
	if _, _, err := db.Redeem(ctx, warm, ref); err != nil { // the town's ledger head
		t.Fatal(err)
	}
	refused := errors.New("refused by the member's rule")
	for _, tc := range []struct {
		name       string
		writeFirst bool // the failing member writes before it fails
		redos      uint64
	}{{"fails before writing", false, 0}, {"fails after a write", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			const n, bad = 10, 4
			before := db.batchRedos.Load()
			h := holdLedger(t, db, "koper")
			prefix := strings.ReplaceAll(tc.name, " ", "-") + "-"
			_, errs, _ := h.race(n, func(i int) (merchant.Redemption, error) {
				return merchant.Redemption{}, db.updateInTown(ctx, "koper", func(tx *Tx) error {
					if _, _, err := lockHead(tx, "koper"); err != nil {
						return err
					}
					if i == bad && !tc.writeFirst {
						return refused
					}
					if err := tx.execDeferred(`INSERT INTO settings (key, value) VALUES (?, 'y')`, prefix+strconv.Itoa(i)); err != nil {
						return err
					}
					if i == bad {
						return refused
					}
					return nil
				})
			}, func() error { return nil })
			for i, err := range errs {
				if i == bad && !errors.Is(err, refused) {
					t.Errorf("member %d: %v, want its own error", i, err)
				}
				if i != bad && err != nil {
					t.Errorf("member %d: %v", i, err)
				}
			}
			var stored int
			if err := db.reader(ctx).queryRow(`SELECT count(*) FROM settings WHERE key LIKE ?`, prefix+"%").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if stored != n-1 {
				t.Errorf("%d members' rows stored, want %d (the failing member's write undone, every other kept)", stored, n-1)
			}
			if got := db.batchRedos.Load() - before; got != tc.redos {
				t.Errorf("the batch ran again with savepoints %d times, want %d", got, tc.redos)
			}
		})
	}
}
