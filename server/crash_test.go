package main

import (
	"fmt"
	"github.com/citycard/citycard/storage/storagetest"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// integrityOK runs PRAGMA integrity_check on the file with an ordinary connection, which also
// recovers the WAL after a crash, as the next start would.
func integrityOK(t *testing.T, path string) {
	t.Helper()
	db, err := storagetest.SQLOpen(t, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s: %q, %v", path, res, err)
	}
}

// testCrashSafety: the service is killed with SIGKILL in the middle of concurrent redemptions, three times.
// Every redemption it acknowledged (201) is there after the restart, the file passes
// integrity_check, and a till retrying each unanswered request with its Idempotency-Key ends
// with exactly one redemption per key.
func testCrashSafety(t *testing.T, bin string) {
	dbPath := storagetest.DSN(t)
	p := startBinary(t, bin, dbPath)
	f := setupBinary(t, p, 40)

	const rounds, workers, perRound = 3, 8, 150
	var acked, unanswered, bodies idSet // Idempotency-Key -> redemption id; -> the body sent
	var seq atomic.Int64
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			p = startBinary(t, bin, dbPath)
		}
		start, startUnanswered := acked.len(), unanswered.len()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var failure atomic.Value
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					n := seq.Add(1)
					key := fmt.Sprintf("crash-%d-%d", round, n)
					body := secRedeemBody(f.tokens[n%int64(len(f.tokens))], f.offer, fmt.Sprintf("%d.%02d", 5+n%50, n%100))
					bodies.put(key, body)
					var r redemptionJSON
					status, err := p.call("POST", "/api/v1/pos/redemptions", f.key, body, map[string]string{"Idempotency-Key": key}, &r)
					switch {
					case status == 201:
						acked.put(key, r.ID)
					case status == 0: // no answer: the process died with the request in flight
						unanswered.put(key, body)
						return
					default:
						failure.Store(err)
						return
					}
				}
			}()
		}
		deadline := time.Now().Add(20 * time.Second)
		for acked.len()-start < perRound && time.Now().Before(deadline) && failure.Load() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		p.wait(t, 10*time.Second)
		close(stop)
		wg.Wait()
		if err := failure.Load(); err != nil {
			t.Fatalf("round %d: a redemption under load failed: %v", round, err)
		}
		if acked.len() == start {
			t.Fatalf("round %d: nothing acknowledged before the kill", round)
		}
		integrityOK(t, dbPath)
		t.Logf("round %d: killed with SIGKILL after %d acknowledged redemptions (%d unanswered in flight)",
			round, acked.len()-start, unanswered.len()-startUnanswered)
	}

	p = startBinary(t, bin, dbPath)
	found := p.allRedemptionIDs(t)
	missing := 0
	for _, id := range acked.m {
		if !found[id] {
			missing++
		}
	}
	t.Logf("acknowledged %d, found %d of them after the restarts (%d rows stored, %d requests unanswered at the kills)",
		acked.len(), acked.len()-missing, len(found), unanswered.len())
	if missing > 0 {
		t.Fatalf("%d acknowledged redemptions are missing after SIGKILL", missing)
	}
	if len(found) > acked.len()+unanswered.len() {
		t.Fatalf("%d redemptions stored, more than the %d requests sent", len(found), acked.len()+unanswered.len())
	}
	// The tills retry what got no answer, with the same key: each key ends as one redemption.
	for key, body := range unanswered.m {
		if _, err := p.call("POST", "/api/v1/pos/redemptions", f.key, body, map[string]string{"Idempotency-Key": key}, nil); err != nil {
			t.Fatalf("retry of %s: %v", key, err)
		}
	}
	// And a retry of an acknowledged one replays it.
	replays := 0
	for key, id := range acked.m {
		var r redemptionJSON
		if _, err := p.call("POST", "/api/v1/pos/redemptions", f.key, bodies.m[key], map[string]string{"Idempotency-Key": key}, &r); err != nil || r.ID != id {
			t.Fatalf("retry of acknowledged %s: %v, redemption %s, want %s", key, err, r.ID, id)
		}
		if replays++; replays == 50 {
			break
		}
	}
	if after := p.allRedemptionIDs(t); len(after) != acked.len()+unanswered.len() {
		t.Fatalf("after the retries %d redemptions, want one per key: %d", len(after), acked.len()+unanswered.len())
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.wait(t, 30*time.Second); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	integrityOK(t, dbPath)
}
