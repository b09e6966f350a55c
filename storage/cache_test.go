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
