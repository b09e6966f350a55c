package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/storage/engine"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

// TestMaxWritesBoundsConcurrentWrites: with MaxWrites 2, 8 writes started at once never run
// more than 2 at a time, all of them commit, and a write whose caller gives up while it
// waits for its turn is not run.
func TestMaxWritesBoundsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	eng, err := postgres.Open(ctx, storagetest.Postgres(t), postgres.Options{MaxConns: 8, MaxWrites: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	var running, peak, done atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := eng.Update(ctx, func(tx engine.Tx) error {
				n := running.Add(1)
				defer running.Add(-1)
				for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
				}
				_, err := tx.Exec(`SELECT pg_sleep(0.05)`)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			done.Add(1)
		}()
	}
	wg.Wait()
	if p, d := peak.Load(), done.Load(); p != 2 || d != 8 {
		t.Fatalf("%d writes at once at most and %d committed, want 2 and 8", p, d)
	}

	// Both slots taken: a caller whose context ends while it waits gets its error, and its
	// write never runs.
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			eng.Update(ctx, func(engine.Tx) error { started <- struct{}{}; <-release; return nil })
		}()
	}
	<-started
	<-started
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	ran := false
	err = eng.Update(wctx, func(engine.Tx) error { ran = true; return nil })
	close(release)
	wg.Wait()
	if err == nil || ran {
		t.Fatalf("a write waiting past its context: err %v, ran %v", err, ran)
	}
}
