package storage

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// TestSaleBeforeIssueIsAConflict (issue 17, observation 5): an offline sale dated before the
// card's issue is recorded as the conflict card_not_yet_issued and activates nothing; a sale
// dated at the issue itself is a plain redemption that activates the card then. Before the
// rule, the sale 71 hours back completed and left a 72-hour card with one hour to live.
func TestSaleBeforeIssueIsAConflict(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	for i, tc := range []struct {
		name       string
		before     time.Duration // occurred_at = issued_at - before
		wantReason string
	}{
		{"at issue", 0, ""},
		{"1 ms before issue", time.Millisecond, "card_not_yet_issued"},
		{"71 h before issue", 71 * time.Hour, "card_not_yet_issued"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cards, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, 1, "", "")
			if err != nil {
				t.Fatal(err)
			}
			c := cards[0]
			clock.Add(time.Minute) // the sale is synced a minute after the issue
			at := c.IssuedAt.Add(-tc.before)
			req := merchant.RedeemRequest{MerchantID: f.merchant.ID, CardInput: c.Token, OfferID: f.unlimited.ID,
				Amount: 1000, Terminal: "till-1", IdempotencyKey: "k" + string(rune('a'+i)), OccurredAt: &at}
			r, _, err := db.Redeem(ctx, req, card.Ref{Number: c.Number, FromToken: true})
			if err != nil {
				t.Fatal(err)
			}
			if got := r.ConflictReason; got != tc.wantReason {
				t.Fatalf("conflict_reason = %q, want %q", got, tc.wantReason)
			}
			got, err := db.Card(ctx, "koper", c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantReason != "" {
				if got.ActivatedAt != nil {
					t.Fatalf("a sale before the issue activated the card at %v (issued %v)", *got.ActivatedAt, c.IssuedAt)
				}
				if s := got.Status(clock.Now()); s != card.StatusIssued {
					t.Fatalf("status = %s, want issued", s)
				}
				return
			}
			if got.ActivatedAt == nil || !got.ActivatedAt.Equal(c.IssuedAt) || !got.ExpiresAt.Equal(c.IssuedAt.Add(72*time.Hour)) {
				t.Fatalf("activated %v expires %v, want from the issue %v", got.ActivatedAt, got.ExpiresAt, c.IssuedAt)
			}
		})
	}
}
