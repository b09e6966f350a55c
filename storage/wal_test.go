package storage

import (
	"context"
	"github.com/citycard/citycard/storage/sqlite"
	"github.com/citycard/citycard/storage/storagetest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestWALStaysBounded runs sustained redemptions from 64 callers, with readers alongside, and
// checks that the write-ahead log stays bounded and shrinks back once the load stops. Before
// the checkpointer restarted the log it only grew, by 7 to 24 KB a redemption (59 MiB after
// 8,000 here, 683 MiB in 10 s of .ci/loadtest), and never shrank.
func TestWALStaysBounded(t *testing.T) {
	storagetest.SkipOnPostgres(t, "the write-ahead log")
	if testing.Short() {
		t.Skip("sustained load")
	}
	const (
		writes = 5000             // some 35 MiB of log without a restart
		limit  = 16 << 20         // the bound the log must stay under
		maxRun = 20 * time.Second // a slow machine (or -race) stops earlier and still checks
	)
	db, _ := MustOpenDB(t)
	// A lower limit than sqlite.WALLimit's, so that a few seconds of writes show the difference.
	if err := db.setWALLimit(2 << 20); err != nil {
		t.Fatal(err)
	}
	f := mustFixture(t, db)
	obs := &countingObserver{}
	db.SetObserver(obs)
	ctx := context.Background()
	deadline := time.Now().Add(maxRun)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				i := next.Add(1)
				if i > writes {
					return
				}
				if _, _, err := f.redeem(db, f.unlimited, "wal-"+strconv.FormatInt(i, 10), 1000); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Readers keep snapshots of the log open, as tills and reports do, a read a millisecond.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
				if _, _, err := db.Redemptions(ctx, RedemptionFilter{Town: "koper"}, Page{Limit: 50}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	var peak int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			peak = max(peak, db.WALSize())
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	wg.Wait()
	close(stop)
	readers.Wait()
	<-sampled
	done := min(next.Load(), writes)
	t.Logf("%d redemptions, WAL peak %.1f MiB, %d restarts, writer paused at most %v",
		done, float64(peak)/(1<<20), obs.restarts.Load(), time.Duration(obs.maxPause.Load()))
	if peak > limit {
		t.Fatalf("write-ahead log reached %.1f MiB under constant writes, want at most %d MiB", float64(peak)/(1<<20), limit>>20)
	}
	// Once the load stops, the file is at most sqlite.WALLimit: journal_size_limit cut it back when
	// the log restarted.
	if got := db.WALSize(); got > sqlite.WALLimit {
		t.Fatalf("write-ahead log is %d bytes after the load, want at most %d", got, sqlite.WALLimit)
	}

}

// countingObserver counts what the checkpointer reports.
type countingObserver struct {
	batches, restarts atomic.Int64
	writes            atomic.Int64
	maxPause          atomic.Int64
}

func (o *countingObserver) BatchCommitted(n int, _ time.Duration) {
	o.batches.Add(1)
	o.writes.Add(int64(n))
}

func (o *countingObserver) WALRestarted(ok bool, paused time.Duration) {
	if ok {
		o.restarts.Add(1)
	}

	for {
		cur := o.maxPause.Load()
		if int64(paused) <= cur || o.maxPause.CompareAndSwap(cur, int64(paused)) {
			return
		}
	}
}

// TestWALRestartBacksOffForALongRead: a read that keeps an old snapshot (a long report, a
// backup) stops the log from restarting. The checkpointer then retries with a growing
// back-off, so the writer is paused a handful of times, not after every group commit, and
// every write still succeeds.
func TestWALRestartBacksOffForALongRead(t *testing.T) {
	storagetest.SkipOnPostgres(t, "the write-ahead log")
	if testing.Short() {
		t.Skip("sustained load")
	}
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	if err := db.setWALLimit(256 << 10); err != nil {
		t.Fatal(err)
	}
	obs := &busyObserver{}
	db.SetObserver(obs)
	// The long read: a transaction on a snapshot taken now, held while the writes go on.
	_, read := sqliteConns(t, db)
	rtx, err := read.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer rtx.Rollback()
	var n int
	if err := rtx.QueryRow(`SELECT count(*) FROM redemptions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				key := "long-" + strconv.FormatInt(next.Add(1), 10)
				if _, _, err := f.redeem(db, f.unlimited, key, 1000); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	busy, ok := obs.busy.Load(), obs.ok.Load()
	t.Logf("%d redemptions, %d restarts refused by the reader, %d done, log %.1f MiB",
		next.Load(), busy, ok, float64(db.WALSize())/(1<<20))
	if busy == 0 {
		t.Fatal("the log never needed a restart: too few writes to test the back-off")
	}
	// 0.1 + 0.2 + 0.4 + 0.8 s of back-off fit in 2 s: five tries, with room for a slow machine.
	if busy > 10 {
		t.Fatalf("%d restarts tried while the reader held the log, want a handful (back-off)", busy)
	}
}

// busyObserver counts restarts by result.
type busyObserver struct{ ok, busy atomic.Int64 }

func (o *busyObserver) BatchCommitted(int, time.Duration) {}

func (o *busyObserver) WALRestarted(ok bool, _ time.Duration) {
	if ok {
		o.ok.Add(1)
	} else {
		o.busy.Add(1)
	}
}
