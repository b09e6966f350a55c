package storage

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// conflictCity is a ledger city whose books hold conflicts in every state (see
// mustConflictCity).
type conflictCity struct {
	ledgerCity
	accepted, rejected, open, late, sale merchant.Redemption
}

// mustConflictCity books, in this order (card 1 is blocked on 29 September, so its offline
// sales are conflicts):
//
//	1  September closes
//	2  redemption sale (2 October)
//	3  the accepted conflict of 2 October
//	4  the conflict of 30 September accepted on 3 October: an entry of October
//	5  redemption, 6 its void
//
// and the rejected conflict and the one waiting for a decision, which have no entry.
func mustConflictCity(t *testing.T) *conflictCity {
	t.Helper()
	c := mustCity(t, storagetest.DSN(t), testLoc)
	l := &conflictCity{ledgerCity: ledgerCity{city: c}}
	ctx := context.Background()
	c.clock.Set(time.Date(2026, 9, 29, 10, 0, 0, 0, testLoc))
	if _, err := c.db.SetBlocked(ctx, "koper", c.cards[1].ID, true, "lost"); err != nil {
		t.Fatal(err)
	}
	c.clock.Set(time.Date(2026, 10, 1, 9, 0, 0, 0, testLoc))
	sep, _ := merchant.ParseMonth("2026-09")
	if _, err := c.db.CloseMonth(ctx, "koper", sep, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); err != nil {
		t.Fatal(err)
	}
	l.late = l.offline(t, time.Date(2026, 10, 1, 10, 0, 0, 0, testLoc), time.Date(2026, 9, 30, 20, 0, 0, 0, testLoc), 900)
	l.sale = c.redeem(t, time.Date(2026, 10, 2, 10, 0, 0, 0, testLoc), c.offers[0], c.cards[0], 1000)
	rec := time.Date(2026, 10, 2, 12, 0, 0, 0, testLoc)
	l.accepted = l.offline(t, rec, time.Date(2026, 10, 2, 11, 30, 0, 0, testLoc), 2000)
	l.rejected = l.offline(t, rec, time.Date(2026, 10, 2, 11, 40, 0, 0, testLoc), 3000)
	l.open = l.offline(t, rec, time.Date(2026, 10, 2, 11, 50, 0, 0, testLoc), 4000)
	c.clock.Set(time.Date(2026, 10, 3, 9, 0, 0, 0, testLoc))
	for _, d := range []struct {
		id, decision string
	}{{l.accepted.ID, merchant.DecisionAccepted}, {l.rejected.ID, merchant.DecisionRejected}, {l.late.ID, merchant.DecisionAccepted}} {
		if _, err := c.db.DecideConflict(ctx, "koper", d.id, d.decision, ""); err != nil {
			t.Fatal(err)
		}
	}
	r := c.redeem(t, time.Date(2026, 10, 3, 10, 0, 0, 0, testLoc), c.offers[2], c.cards[2], 500)
	c.void(t, time.Date(2026, 10, 3, 10, 5, 0, 0, testLoc), r.ID)
	return l
}

// offline syncs, at rec, a sale of card 1 that its till made offline at occurred.
func (l *conflictCity) offline(t *testing.T, rec, occurred time.Time, amount int64) merchant.Redemption {
	t.Helper()
	l.clock.Set(rec)
	cityKey++
	o, cd := l.offers[1], l.cards[1]
	r, _, err := l.db.Redeem(context.Background(), merchant.RedeemRequest{MerchantID: o.MerchantID, CardInput: cd.Token,
		OfferID: o.ID, Amount: amount, IdempotencyKey: "k" + strconv.Itoa(cityKey), OccurredAt: &occurred},
		card.Ref{Number: cd.Number, FromToken: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.ConflictReason == "" {
		t.Fatalf("the offline sale of a blocked card is %+v, want a conflict", r)
	}
	return r
}

func TestLedgerVerifyCoversWhatCounts(t *testing.T) {
	// Every redemption entry's row must count, every row that counts must have its entry,
	// and a row no write of the service leaves is named: each case edits only the
	// redemptions table, as someone with the database could, to pay or drop a sale.
	for _, tc := range []struct {
		name      string
		sql       func(l *conflictCity) []string
		wantBad   string
		wantWords string
	}{
		{"accepted conflict flipped to rejected", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = 'rejected' WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "rejected conflict"},
		{"late accepted conflict flipped to rejected", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = 'rejected' WHERE id = '` + l.late.ID + `'`}
		}, "4", "rejected conflict"},
		{"accepted conflict made undecided", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = NULL, decided_at = NULL WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "waiting for the office"},
		{"decision of an accepted conflict unknown", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = 'paid' WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "neither accepted nor rejected"},
		{"conflict reason removed from an accepted conflict", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET conflict_reason = NULL WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "no conflict reason"},
		{"time of the decision removed", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decided_at = NULL WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "without the time"},
		{"accepted conflict voided", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET voided_at = 1, void_reason = 'x' WHERE id = '` + l.accepted.ID + `'`}
		}, "3", "voided conflict"},
		{"decision added to a sale", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = 'rejected', decided_at = 1 WHERE id = '` + l.sale.ID + `'`}
		}, "2", "no conflict reason"},
		{"rejected conflict flipped to accepted", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decision = 'accepted' WHERE id = '` + l.rejected.ID + `'`}
		}, "7", "no ledger entry"},
		{"conflict reason removed from a rejected conflict", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET conflict_reason = NULL, decision = NULL, decided_at = NULL WHERE id = '` + l.rejected.ID + `'`}
		}, "7", "no ledger entry"},
		{"conflict reason removed from an undecided conflict", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET conflict_reason = NULL WHERE id = '` + l.open.ID + `'`}
		}, "7", "no ledger entry"},
		{"rejected conflict without the time of its decision", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET decided_at = NULL WHERE id = '` + l.rejected.ID + `'`}
		}, "7", "without the time"},
		{"undecided conflict voided", func(l *conflictCity) []string {
			return []string{`UPDATE redemptions SET voided_at = 1, void_reason = 'x' WHERE id = '` + l.open.ID + `'`}
		}, "7", "voided conflict"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustConflictCity(t)
			if chk := l.verify(t); !chk.OK || chk.Entries != 6 {
				t.Fatalf("before the edit: verify = %+v, want ok with 6 entries", chk)
			}
			l.tamper(t, tc.sql(l)...)
			chk := l.verify(t)
			if chk.OK || chk.FirstBad != tc.wantBad || !strings.Contains(chk.Problem, tc.wantWords) || chk.RedemptionID == "" {
				t.Fatalf("verify = %+v, want first_bad %s, a redemption and a problem about %q", chk, tc.wantBad, tc.wantWords)
			}
		})
	}
}
