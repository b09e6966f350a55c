package storage

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// openProcess opens db's database once more, as another process would (the CLI, or an
// instance started later), on db's clock.
func openProcess(t *testing.T, db *DB, clock *fixedClock) *DB {
	t.Helper()
	other, err := Open(context.Background(), db.Path(), testLoc)
	if err != nil {
		t.Fatal(err)
	}
	other.SetClock(clock.Now)
	t.Cleanup(func() { other.Close() })
	return other
}

// tokenKID is the id of the key that signed token.
func tokenKID(t *testing.T, token string) uint16 {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) < 3 {
		t.Fatalf("token %q: %v", token, err)
	}
	return binary.BigEndian.Uint16(raw[1:3])
}

// rotate×redeem: tills redeem at every instance (three on PostgreSQL, one on SQLite) while
// `keys rotate` runs in a process of its own; once the new key signs, cards an instance
// started after the rotation issues are redeemed at every instance at once. No redemption is
// refused as card_invalid (an instance that has not heard of the rotation yet must still
// verify the new key's cards), and every acknowledged redemption is in the books.
func TestRaceRotateRedeem(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	dbs := instancesOf(t, db, clock, 3)
	krs := make([]*card.Keyring, len(dbs))
	for i, d := range dbs {
		var err error
		if krs[i], err = d.Keyring(ctx, ""); err != nil {
			t.Fatal(err)
		}
	}
	cli := openProcess(t, db, clock)

	var mu sync.Mutex
	acked, invalid := 0, 0
	redeemAt := func(i int, token, idem string) {
		ref, err := krs[i%len(krs)].ParseInput(token, false)
		if err == nil {
			_, _, err = dbs[i%len(dbs)].Redeem(ctx, merchant.RedeemRequest{MerchantID: f.merchant.ID, CardInput: token,
				OfferID: f.unlimited.ID, Amount: 1000, Terminal: fmt.Sprintf("till-%d", i), IdempotencyKey: idem}, ref)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			acked++
		case errors.Is(err, card.ErrInvalid):
			invalid++
		default:
			t.Errorf("till %d: %v", i, err)
		}
	}

	// The rotation, while tills redeem a card of the first key everywhere.
	const n = 24
	var wg sync.WaitGroup
	start := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		<-start
		if _, err := cli.AddSigningKey(ctx, "", clock.Now().Add(time.Hour)); err != nil {
			t.Error(err)
		}
	}()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			redeemAt(i, f.card.Token, fmt.Sprintf("old-%d", i))
		}()
	}
	close(start)
	wg.Wait()

	// The new key's time comes; an instance started now issues cards, signed by it, and
	// tills take them to every instance at once.
	clock.Add(2 * time.Hour)
	later := openProcess(t, db, clock)
	kr, err := later.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	cards, err := later.CreateCards(ctx, "koper", kr, "koper-72h", 3, "", "sl")
	if err != nil {
		t.Fatal(err)
	}
	if kid := tokenKID(t, cards[0].Token); kid != 2 {
		t.Fatalf("a card issued after the new key's time is signed by key %d, want 2", kid)
	}
	start = make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c := cards[i%len(cards)]
			redeemAt(i, c.Token, fmt.Sprintf("new-%d", i))
		}()
	}
	close(start)
	wg.Wait()

	if invalid > 0 || acked != 2*n {
		t.Errorf("%d of %d redemptions refused as card_invalid during and after a rotation; %d acknowledged", invalid, 2*n, acked)
	}
	var stored int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM redemptions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	chk, err := db.VerifyLedger(ctx, "koper")
	if err != nil {
		t.Fatal(err)
	}
	if stored != acked || !chk.OK || chk.Entries != int64(acked) {
		t.Fatalf("%d redemptions acknowledged, %d stored, ledger ok=%v with %d entries (%s)", acked, stored, chk.OK, chk.Entries, chk.Problem)
	}
}

// A key rotated in by another process verifies at once at a running process, on the first
// token of it (before any reload or notification), while tokens of key ids that were never
// stored cost at most keyMissBurst reads of the keys at once and one a second after: a flood
// of forged key ids does not reach the database.
func TestUnknownKeyIDReadsKeysBounded(t *testing.T) {
	db, err := Open(context.Background(), storagetest.DSN(t), testLoc, WithKeyReload(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &fixedClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clock.Now)
	ctx := context.Background()
	kr, err := db.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	// Another process rotates and signs at once; no notification reaches this one in time
	// (none exists on SQLite), yet the card verifies here.
	cli := openProcess(t, db, clock)
	if _, err := cli.AddSigningKey(ctx, "", clock.Now()); err != nil {
		t.Fatal(err)
	}
	ckr, err := cli.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	num, _ := card.NewNumber()
	tok, err := ckr.Sign(num)
	if err != nil || tokenKID(t, tok) != 2 {
		t.Fatalf("the other process signs with key %d (%v), want 2", tokenKID(t, tok), err)
	}
	if got, err := kr.Verify(tok); err != nil || got != num {
		t.Fatalf("a card of the key another process just rotated in: %q, %v", got, err)
	}

	// Forged key ids: above the highest stored, and below it (never stored: ids only grow).
	forge := func(kid uint16) string {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		binary.BigEndian.PutUint16(raw[1:3], kid)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	before, began := db.keys.loads.Load(), time.Now()
	for i := range 500 {
		for _, kid := range []uint16{uint16(3 + i%100), 0} {
			if _, err := kr.Verify(forge(kid)); !errors.Is(err, card.ErrInvalid) {
				t.Fatalf("forged key id %d: %v", kid, err)
			}
		}
	}
	loads := db.keys.loads.Load() - before
	if limit := uint64(keyMissBurst) + uint64(time.Since(began)/keyMissEvery) + 1; loads > limit {
		t.Fatalf("1000 tokens of forged key ids read the keys %d times, want at most %d", loads, limit)
	}
}

// ActivateSigningKey makes a rotated key sign at once, in this process without waiting; an
// unknown or already active key is refused.
func TestActivateSigningKey(t *testing.T) {
	db, clock := MustOpenDB(t)
	ctx := context.Background()
	kr, err := db.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	k, err := db.AddSigningKey(ctx, "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.Now().Add(KeyGrace); k.ID != 2 || !k.ActivatesAt.Equal(want) {
		t.Fatalf("rotated key %d activates at %s, want key 2 at %s", k.ID, k.ActivatesAt, want)
	}
	if kr.CurrentID() != 1 || !kr.Has(2) {
		t.Fatalf("after the rotation: signs with %d, holds key 2 %v; want 1 and true", kr.CurrentID(), kr.Has(2))
	}
	if _, err := db.ActivateSigningKey(ctx, 1); !errors.Is(err, ErrSigningKeyActive) {
		t.Fatalf("activate the first key: %v, want ErrSigningKeyActive", err)
	}
	if _, err := db.ActivateSigningKey(ctx, 9); !errors.Is(err, ErrSigningKeyNotFound) {
		t.Fatalf("activate key 9: %v, want ErrSigningKeyNotFound", err)
	}
	if _, err := db.ActivateSigningKey(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if kr.CurrentID() != 2 {
		t.Fatalf("after keys activate 2 the keyring signs with %d", kr.CurrentID())
	}
	if _, err := db.ActivateSigningKey(ctx, 2); !errors.Is(err, ErrSigningKeyActive) {
		t.Fatalf("activate key 2 again: %v, want ErrSigningKeyActive", err)
	}
}

// CITYCARD_SIGNING_KEY: the key named signs on the instance configured with it whatever else
// is stored or active; stored on a database that had keys, it is a rotated key to the other
// instances, signing there only after KeyGrace.
func TestSeededKeyring(t *testing.T) {
	db, clock := MustOpenDB(t)
	ctx := context.Background()
	kr, err := db.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	seed := base64.StdEncoding.EncodeToString(make([]byte, 32))
	seeded := openProcess(t, db, clock)
	skr, err := seeded.Keyring(ctx, seed)
	if err != nil {
		t.Fatal(err)
	}
	if skr.CurrentID() != 2 {
		t.Fatalf("the configured key is %d, want 2", skr.CurrentID())
	}
	db.reloadKeys(ctx)
	if kr.CurrentID() != 1 || !kr.Has(2) {
		t.Fatalf("another instance signs with %d and holds the configured key %v; want 1 and true", kr.CurrentID(), kr.Has(2))
	}
	if _, err := db.AddSigningKey(ctx, "", clock.Now()); err != nil {
		t.Fatal(err)
	}
	seeded.reloadKeys(ctx)
	if kr.CurrentID() != 3 || skr.CurrentID() != 2 {
		t.Fatalf("after key 3 signs: the other instance signs with %d (want 3), the configured one with %d (want 2)", kr.CurrentID(), skr.CurrentID())
	}
}
