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
