package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
)

// instancesOf returns db and, on a database other processes share (PostgreSQL), n-1 more
// instances opened on it with db's clock: each its own pool, caches and change listener, as a
// separate service process has. On SQLite it is db alone (one process writes the file).
func instancesOf(t *testing.T, db *DB, clock *fixedClock, n int) []*DB {
	t.Helper()
	out := []*DB{db}
	if !db.eng.Shared() {
		return out
	}
	for range n - 1 {
		other, err := Open(context.Background(), db.Path(), testLoc)
		if err != nil {
			t.Fatal(err)
		}
		other.SetClock(clock.Now)
		t.Cleanup(func() { other.Close() })
		out = append(out, other)
	}
	return out
}

// pair×pair: eight tills use one pairing code at the same moment, through several instances on
// PostgreSQL, for ten codes in a row. Exactly one pairs and gets a key; the seven others get
// merchant.ErrPairingInvalid, and the merchant ends with exactly the winner's key among its
// paired keys (a key stored for a loser would be a till nobody knows of that can redeem).
func TestRacePairPair(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	dbs := instancesOf(t, db, clock, 3)
	ctx := context.Background()
	const rounds, n = 10, 8
	bad := 0
	for round := range rounds {
		sum := sha256.Sum256(fmt.Appendf(nil, "code-%d", round))
		if _, err := db.CreatePairing(ctx, "koper", f.merchant.ID, sum[:], 10*time.Minute); err != nil {
			t.Fatal(err)
		}
		keys := make([][]byte, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			k := sha256.Sum256(fmt.Appendf(nil, "till-%d-%d", round, i))
			keys[i] = k[:]
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = dbs[i%len(dbs)].UsePairing(ctx, sum[:], keys[i])
			}()
		}
		close(start)
		wg.Wait()
		winner, won, lost := -1, 0, 0
		for i, err := range errs {
			switch {
			case err == nil:
				winner, won = i, won+1
			case errors.Is(err, merchant.ErrPairingInvalid):
				lost++
			default:
				t.Fatalf("round %d, till %d: %v", round, i, err)
			}
		}
		var stored [][]byte
		rows, err := db.reader(ctx).query(`SELECT key_hash FROM merchant_keys WHERE merchant_id = ?`, f.merchant.ID)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k []byte
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			stored = append(stored, k)
		}
		rows.Close()
		if won != 1 || lost != n-1 || len(stored) != 1 || !bytes.Equal(stored[0], keys[winner]) {
			bad++
			t.Errorf("round %d: %d tills paired, %d got pairing_invalid, %d paired keys stored: want 1, %d and the winner's key alone",
				round, won, lost, len(stored), n-1)
		}
		for i := range keys {
			_, err := db.MerchantByKeyHash(ctx, keys[i])
			if want := i == winner; (err == nil) != want {
				t.Errorf("round %d: till %d's key valid=%v, want %v (%v)", round, i, err == nil, want, err)
			}
		}
		// The next round starts from a merchant without paired keys.
		if err := db.SetMerchantKey(ctx, "koper", f.merchant.ID, mustKeyHash(0)); err != nil {
			t.Fatal(err)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d codes were used by more than one till", bad, rounds)
	}
}
