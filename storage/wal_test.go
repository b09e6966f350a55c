package storage

import (
	"context"
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
	if testing.Short() {
		t.Skip("sustained load")
	}
	const (
		writes = 5000             // some 35 MiB of log without a restart
		limit  = 16 << 20         // the bound the log must stay under
		maxRun = 20 * time.Second // a slow machine (or -race) stops earlier and still checks
	)
	db, _ := MustOpenDB(t)
	// A lower limit than WALLimit's, so that a few seconds of writes show the difference.
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
				if _, _, err := db.Redemptions(ctx, RedemptionFilter{}, Page{Limit: 50}); err != nil {
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
	// Once the load stops, the file is at most WALLimit: journal_size_limit cut it back when
	// the log restarted.
	if got := db.WALSize(); got > WALLimit {
		t.Fatalf("write-ahead log is %d bytes after the load, want at most %d", got, WALLimit)
	}

}

// countingObserver counts what the checkpointer reports.
type countingObserver struct {
	batches, restarts atomic.Int64
	maxPause          atomic.Int64
}

func (o *countingObserver) BatchCommitted(int, time.Duration) { o.batches.Add(1) }

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
