package storage

import (
	"context"
	"testing"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// The read path is cached; every write must show on the very next read.
func TestReadCacheFollowsWrites(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	ref := card.Ref{Number: f.card.Number, FromToken: true}
	reason := func() error {
		t.Helper()
		_, states, err := db.CheckCard(ctx, f.merchant.ID, ref)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range states {
			if st.Offer.ID == f.once.ID {
				return st.Reason
			}
		}
		return merchant.ErrOfferNotFound
	}
	if err := reason(); err != nil {
		t.Fatalf("before use: %v", err)
	}
	r, _, err := f.redeem(db, f.once, "a", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if err := reason(); err != merchant.ErrLimitReached {
		t.Fatalf("after redeem: %v, want limit reached", err)
	}
	if _, err := db.Void(ctx, "koper", r.ID, "", "test"); err != nil {
		t.Fatal(err)
	}
	if err := reason(); err != nil {
		t.Fatalf("after void: %v", err)
	}
	if _, err := db.SetBlocked(ctx, "koper", f.card.ID, true, "lost"); err != nil {
		t.Fatal(err)
	}
	if err := reason(); err != card.ErrBlocked {
		t.Fatalf("after block: %v", err)
	}
	if _, err := db.UpdateOffer(ctx, "koper", f.once.ID, func(o *merchant.Offer) error { o.Active = false; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := reason(); err != merchant.ErrOfferNotFound {
		t.Fatalf("after deactivating the offer it is still listed: %v", err)
	}
	m, err := db.MerchantByKeyHash(ctx, mustKeyHash(0))
	if err != nil || m.Status != merchant.StatusActive {
		t.Fatalf("merchant by key: %+v %v", m, err)
	}
	if _, err := db.UpdateMerchant(ctx, "koper", f.merchant.ID, func(m *merchant.Merchant) error { m.Status = merchant.StatusSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	if m, _ := db.MerchantByKeyHash(ctx, mustKeyHash(0)); m.Status != merchant.StatusSuspended {
		t.Fatalf("suspension not seen by the key lookup: %s", m.Status)
	}
	if err := db.SetMerchantKey(ctx, "koper", f.merchant.ID, mustKeyHash(9)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.MerchantByKeyHash(ctx, mustKeyHash(0)); err != merchant.ErrNotFound {
		t.Fatalf("old key after rotation: %v", err)
	}
}

// CacheStats counts a first lookup as a miss and the same lookup again as a hit, per cache.
func TestCacheStatsCountHitsAndMisses(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	stats := func() map[string]CacheStat {
		out := map[string]CacheStat{}
		for _, s := range db.CacheStats() {
			out[s.Name] = s
		}
		return out
	}
	before := stats()
	if len(before) != 4 {
		t.Fatalf("CacheStats has %d caches, want 4: %v", len(before), before)
	}
	ref := card.Ref{Number: f.card.Number, FromToken: true}
	for range 3 {
		if _, _, err := db.CheckCard(ctx, f.merchant.ID, ref); err != nil {
			t.Fatal(err)
		}
	}
	after := stats()
	for _, name := range []string{"merchant_by_id", "offers", "cards"} {
		hits, misses := after[name].Hits-before[name].Hits, after[name].Misses-before[name].Misses
		wantHits, wantMisses := uint64(2), uint64(1)
		if name == "cards" && db.eng.Shared() {
			wantHits, wantMisses = 0, 3 // other processes redeem too: cards are never kept
		}
		if misses != wantMisses || hits != wantHits {
			t.Errorf("%s: %d hits and %d misses after three checks of one card, want %d and %d", name, hits, misses, wantHits, wantMisses)
		}
	}
}
