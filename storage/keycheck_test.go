package storage

import (
	"context"
	"errors"
	"github.com/citycard/citycard/merchant"
	"testing"
)

// A till's write re-checks its key inside its own transaction: after the key is rotated (here
// through the same database; on PostgreSQL possibly through another instance whose cache still
// knows the old key), a redemption or a void made with the old key is refused, and with the
// new key it goes through.
func TestTillWritesRecheckTheirKey(t *testing.T) {
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	oldKey := WithMerchantKey(ctx, mustKeyHash(0))
	req, ref := f.req(f.unlimited, "k-1", 1000)
	r, _, err := db.Redeem(oldKey, req, ref)
	if err != nil {
		t.Fatalf("redeem with the merchant's key: %v", err)
	}
	newHash := mustKeyHash(99)
	if err := db.SetMerchantKey(ctx, "koper", f.merchant.ID, newHash); err != nil {
		t.Fatal(err)
	}
	req, ref = f.req(f.unlimited, "k-2", 1000)
	if _, _, err := db.Redeem(oldKey, req, ref); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("redeem with the rotated key: %v, want ErrKeyRevoked", err)
	}
	if _, err := db.Void(oldKey, "koper", r.ID, f.merchant.ID, "wrong amount"); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("void with the rotated key: %v, want ErrKeyRevoked", err)
	}
	newKey := WithMerchantKey(ctx, newHash)
	if _, _, err := db.Redeem(newKey, req, ref); err != nil {
		t.Fatalf("redeem with the new key: %v", err)
	}
	if _, err := db.Void(newKey, "koper", r.ID, f.merchant.ID, "wrong amount"); err != nil {
		t.Fatalf("void with the new key: %v", err)
	}
}

// An office's write re-checks its token inside its transaction: after the token is revoked
// (on PostgreSQL possibly through another instance), a write made with it is refused.
func TestOfficeWritesRecheckTheirToken(t *testing.T) {
	db, _ := MustOpenDB(t)
	ctx := context.Background()
	tok, err := db.CreateOfficeToken(ctx, "koper", "desk", mustKeyHash(7))
	if err != nil {
		t.Fatal(err)
	}
	office := WithOfficeToken(WithActor(ctx, tok.ID, "req-1"), tok.ID)
	m := merchant.Merchant{Town: "koper", Name: "Kavarna", Category: "restaurant"}
	if err := db.CreateMerchant(office, &m, mustKeyHash(8)); err != nil {
		t.Fatalf("a write with a live token: %v", err)
	}
	if err := db.RevokeOfficeToken(ctx, "koper", tok.ID); err != nil {
		t.Fatal(err)
	}
	m2 := merchant.Merchant{Town: "koper", Name: "Bar", Category: "bar"}
	if err := db.CreateMerchant(office, &m2, mustKeyHash(9)); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("a write with a revoked token: %v, want ErrKeyRevoked", err)
	}
	if _, err := db.Merchant(ctx, "koper", m2.ID); err == nil {
		t.Fatal("the refused write left its merchant")
	}
}
