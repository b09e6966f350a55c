package storage

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

// walletFixture records the fixture card's pass and registers devices for it.
func walletFixture(t *testing.T, db *DB, devices int) fixture {
	t.Helper()
	ctx := context.Background()
	f := mustFixture(t, db)
	if _, err := db.WalletPassFor(ctx, f.card.ID, strings.Repeat("a", 64), false); err != nil {
		t.Fatal(err)
	}
	for i := range devices {
		if created, err := db.RegisterWalletDevice(ctx, fmt.Sprintf("dev-%d", i), f.card.ID, fmt.Sprintf("tok-%d", i)); err != nil || !created {
			t.Fatalf("register: %v, created %v", err, created)
		}
	}
	return f
}

// TestRaceWalletClaim: workers racing over the outbox claim each row exactly once (both
// engines). Without the claim's condition (claimed_until in the past) rows read by two
// workers at once go to both.
func TestRaceWalletClaim(t *testing.T) {
	db := openRaceDB(t)
	const devices = 12
	f := walletFixture(t, db, devices)
	ctx := context.Background()
	for round := range 5 {
		if err := db.QueueWalletUpdate(ctx, f.card.ID, "erase"); err != nil {
			t.Fatal(err)
		}
		claimed := make([][]WalletDelivery, raceCardN)
		errs := raceN(raceCardN, func(i int) error {
			var err error
			claimed[i], err = db.ClaimWalletDeliveries(ctx, fmt.Sprintf("w%d", i), devices, time.Minute)
			return err
		})
		by := map[int64]int{}
		for i, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range claimed[i] {
				by[d.Seq]++
				if ok, err := db.WalletDelivered(ctx, d.Seq, fmt.Sprintf("w%d", i)); err != nil || !ok {
					t.Fatalf("delivered: %v %v", ok, err)
				}
			}
		}
		if len(by) != devices {
			t.Errorf("round %d: %d rows claimed, want %d", round, len(by), devices)
		}
		for seq, k := range by {
			if k != 1 {
				t.Errorf("round %d: row %d claimed by %d workers", round, seq, k)
			}
		}
	}
	if n, _ := db.WalletOutboxPending(ctx); n != 0 {
		t.Errorf("%d pending", n)
	}
}

// TestRaceWalletSweep: instances sweeping at once queue an activation's updates once, and a
// sweep racing a block queues each change once (both engines).
func TestRaceWalletSweep(t *testing.T) {
	db := openRaceDB(t)
	const devices = 3
	f := walletFixture(t, db, devices)
	ctx := WithActor(context.Background(), "admin", "")
	req, ref := f.req(f.unlimited, "first", 1000)
	if _, _, err := db.Redeem(ctx, req, ref); err != nil {
		t.Fatal(err)
	}
	if n := outboxRows(t, db, f.card.ID); n != 0 {
		t.Fatalf("the redemption queued %d updates itself", n)
	}
	changed := make([]int, raceCardN)
	errs := raceN(raceCardN, func(i int) error {
		var err error
		changed[i], err = db.WalletSweep(ctx, 100)
		return err
	})
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		total += changed[i]
	}
	if total != 1 || outboxRows(t, db, f.card.ID) != devices {
		t.Fatalf("the activation was found %d times and queued %d updates, want 1 and %d", total, outboxRows(t, db, f.card.ID), devices)
	}
	// A sweep racing the block: the block queues, the sweep finds nothing (the pass is
	// blocked, not active).
	errs = raceN(raceCardN, func(i int) error {
		if i == 0 {
			_, err := db.SetBlocked(ctx, "koper", f.card.ID, true, "lost")
			return err
		}
		_, err := db.WalletSweep(ctx, 100)
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := outboxRows(t, db, f.card.ID); got != 2*devices {
		t.Fatalf("%d updates queued after the block, want %d", got, 2*devices)
	}
	p, err := db.WalletPass(ctx, f.card.ID, strings.Repeat("a", 64))
	if err != nil || p.State != card.StatusBlocked {
		t.Fatalf("pass %+v, %v", p, err)
	}
}

func outboxRows(t *testing.T, db *DB, cardID string) int {
	t.Helper()
	var n int
	if err := db.reader(context.Background()).queryRow(`SELECT count(*) FROM wallet_outbox WHERE card_id = ?`, cardID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestWalletErase: what the erasure calls: the final update is queued for every device,
// then the registrations go; the queued pushes stay and a wrong token is ErrWalletAuth.
func TestWalletErase(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := walletFixture(t, db, 2)
	ctx := context.Background()
	if regs, err := db.WalletRegistrations(ctx, f.card.ID); err != nil || len(regs) != 2 || regs[0].PushToken == "" {
		t.Fatalf("registrations %+v, %v", regs, err)
	}
	// The holder's access lists the registrations; the erasure tells both devices and
	// deletes the registrations, in its own transaction.
	if pd, err := db.CardPersonalData(ctx, "koper", f.card.ID); err != nil || len(pd.Wallet) != 2 || pd.Wallet[0].PushToken == "" {
		t.Fatalf("personal data's wallet registrations %+v, %v", pd.Wallet, err)
	}
	if _, err := db.EraseCard(ctx, "koper", f.card.ID, "the holder asked"); err != nil {
		t.Fatal(err)
	}
	if regs, err := db.WalletRegistrations(ctx, f.card.ID); err != nil || len(regs) != 0 {
		t.Fatalf("after the erasure: registrations %+v, %v", regs, err)
	}
	if n := outboxRows(t, db, f.card.ID); n != 2 {
		t.Fatalf("%d queued, want 2", n)
	}
	// A delivered push forgets its device's token.
	claimed, err := db.ClaimWalletDeliveries(ctx, "w1", 10, time.Minute)
	if err != nil || len(claimed) != 2 {
		t.Fatalf("claimed %+v, %v", claimed, err)
	}
	for _, c := range claimed {
		if ok, err := db.WalletDelivered(ctx, c.Seq, "w1"); err != nil || !ok {
			t.Fatalf("delivered %v, %v", ok, err)
		}
	}
	var tokens int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM wallet_outbox WHERE card_id = ? AND target <> ''`, f.card.ID).Scan(&tokens); err != nil || tokens != 0 {
		t.Fatalf("%d delivered pushes keep their push token (%v)", tokens, err)
	}
	if serials, _, err := db.WalletSerialsSince(ctx, "dev-0", time.Time{}); err != nil || len(serials) != 0 {
		t.Fatalf("serials %v %v", serials, err)
	}
	if _, err := db.WalletPass(ctx, f.card.ID, strings.Repeat("b", 64)); err != ErrWalletAuth {
		t.Fatalf("wrong token: %v", err)
	}
	// A card without a pass queues nothing.
	other, err := db.CreateCards(ctx, "koper", f.kr, "koper-72h", 1, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueueWalletUpdate(ctx, other[0].ID, "erase"); err != nil || outboxRows(t, db, other[0].ID) != 0 {
		t.Fatalf("a card without a pass: %v", err)
	}
}

// BenchmarkWalletSweep: a sweep over many live passes of which none changed: what each
// instance's worker pays every round.
func BenchmarkWalletSweep(b *testing.B) {
	db, _ := MustOpenDB(b)
	f := mustFixture(b, db)
	ctx := context.Background()
	const n = 10000
	cards, err := db.CreateCards(ctx, "koper", f.kr, "koper-72h", 1000, "", "")
	if err != nil {
		b.Fatal(err)
	}
	for len(cards) < n {
		more, err := db.CreateCards(ctx, "koper", f.kr, "koper-72h", 1000, "", "")
		if err != nil {
			b.Fatal(err)
		}
		cards = append(cards, more...)
	}
	for _, c := range cards {
		if _, err := db.WalletPassFor(ctx, c.ID, strings.Repeat("a", 64), false); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for range b.N {
		if k, err := db.WalletSweep(ctx, 1000); err != nil || k != 0 {
			b.Fatal(k, err)
		}
	}
}
