package storage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/storagetest"
)

// salesPointSeq makes each test sales point's secret different.
var salesPointSeq int

// mustSalesPoint creates a sales point of koper issuing products at commission bp and
// returns it with the SHA-256 of its secret.
func mustSalesPoint(tb testing.TB, db *DB, name string, bp int64, products ...string) (merchant.SalesPoint, []byte) {
	tb.Helper()
	salesPointSeq++
	sum := sha256.Sum256([]byte("ccs_test_" + strconv.Itoa(salesPointSeq)))
	p := merchant.SalesPoint{Name: name, Products: products, CommissionBP: bp}
	if err := db.CreateSalesPoint(WithActor(context.Background(), "admin", ""), "koper", &p, sum[:]); err != nil {
		tb.Fatal(err)
	}
	return p, sum[:]
}

func mustSell(tb testing.TB, db *DB, kr *card.Keyring, token []byte, product, holder string) card.Card {
	tb.Helper()
	c, err := db.IssueSale(context.Background(), kr, token, product, holder, "it")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func mustVerify(tb testing.TB, db *DB) LedgerCheck {
	tb.Helper()
	chk, err := db.VerifyLedger(context.Background(), "koper")
	if err != nil {
		tb.Fatal(err)
	}
	return chk
}

// TestSaleIssueCancel: a sales point issues only its products, with the guest's name as the
// card's holder (never in the ledger); it cancels its own cards strictly within 30 minutes
// of their issue and before any use, once; the month's sales line adds up per card.
func TestSaleIssueCancel(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := context.Background()
	hotel, token := mustSalesPoint(t, db, "Hotel Histria", 1250, "koper-72h")
	_, otherToken := mustSalesPoint(t, db, "TIC Koper", 1000, "koper-72h")

	c := mustSell(t, db, f.kr, token, "koper-72h", "Giulia Rossi")
	if c.SalesPoint != hotel.ID || c.Holder != "Giulia Rossi" || c.Lang != "it" {
		t.Fatalf("card: sales point %q holder %q lang %q", c.SalesPoint, c.Holder, c.Lang)
	}
	if _, err := db.IssueSale(ctx, f.kr, token, "koper-none", "", ""); !errors.Is(err, merchant.ErrProductNotAllowed) {
		t.Fatalf("a product not its own: %v, want product_not_allowed", err)
	}
	var holderInLedger int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM ledger WHERE reason LIKE '%Giulia%' OR card_id LIKE '%Giulia%'`).Scan(&holderInLedger); err != nil || holderInLedger != 0 {
		t.Fatalf("the guest's name is in the ledger (%d, %v)", holderInLedger, err)
	}

	// The window's edges: 29:59 may, 30:00 and 30:01 may not.
	for _, tc := range []struct {
		after time.Duration
		want  error
	}{
		{29*time.Minute + 59*time.Second, nil},
		{30 * time.Minute, merchant.ErrCancelWindowOver},
		{30*time.Minute + time.Second, merchant.ErrCancelWindowOver},
	} {
		start := clock.Now()
		cd := mustSell(t, db, f.kr, token, "koper-72h", "")
		clock.Add(tc.after)
		got, err := db.CancelSale(ctx, token, cd.ID, "guest changed plans")
		if !errors.Is(err, tc.want) {
			t.Fatalf("cancel %v after the issue: %v, want %v", tc.after, err, tc.want)
		}
		if err == nil && (got.Status(clock.Now()) != card.StatusBlocked || got.BlockReason != "guest changed plans") {
			t.Fatalf("cancelled card: %s %q", got.Status(clock.Now()), got.BlockReason)
		}
		clock.Set(start.Add(time.Hour))
	}
	// Twice, another's card, a used card, a rotated secret.
	cd := mustSell(t, db, f.kr, token, "koper-72h", "")
	if _, err := db.CancelSale(ctx, otherToken, cd.ID, ""); !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("another sales point's card: %v, want not found", err)
	}
	if _, err := db.CancelSale(ctx, token, f.card.ID, ""); !errors.Is(err, card.ErrNotFound) {
		t.Fatalf("the office's card: %v, want not found", err)
	}
	if _, err := db.CancelSale(ctx, token, cd.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelSale(ctx, token, cd.ID, ""); !errors.Is(err, merchant.ErrAlreadyCancelled) {
		t.Fatalf("second cancel: %v, want already cancelled", err)
	}
	used := mustSell(t, db, f.kr, token, "koper-72h", "")
	if _, _, err := db.Redeem(ctx, merchant.RedeemRequest{MerchantID: f.unlimited.MerchantID, CardInput: used.Token, OfferID: f.unlimited.ID,
		Amount: 1000, IdempotencyKey: "used"}, card.Ref{Number: used.Number, FromToken: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.CancelSale(ctx, token, used.ID, ""); !errors.Is(err, merchant.ErrCancelWindowOver) {
		t.Fatalf("a used card: %v, want cancel_window_over", err)
	}
	newSum := sha256.Sum256([]byte("rotated"))
	if err := db.RotateSalesPointToken(ctx, "koper", hotel.ID, newSum[:]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.IssueSale(ctx, f.kr, token, "koper-72h", "", ""); !errors.Is(err, ErrKeyRevoked) {
		t.Fatalf("the old secret: %v, want key revoked", err)
	}
	if _, err := db.SalesPointByTokenHash(ctx, token); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("the old secret still finds its sales point: %v", err)
	}

	// The hotel issued 6 cards (2 cancelled) at 25.00 with 12.5 %: 312.5 rounds to 313 a card.
	rep, err := db.MonthReport(ctx, "koper", merchant.MonthOf(clock.Now(), testLoc))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Sales) != 1 {
		t.Fatalf("sales lines: %+v", rep.Sales)
	}
	l := rep.Sales[0]
	want := merchant.SalesFigures{Cards: 4, Cancelled: 2, Amount: 4 * 2500, Commission: 4 * 313}
	if l.SalesFigures != want || l.Name != "Hotel Histria" || len(l.Products) != 1 || l.Products[0].SalesFigures != want {
		t.Fatalf("sales line %+v, want %+v", l, want)
	}
	if chk := mustVerify(t, db); !chk.OK {
		t.Fatalf("verify: %s at %s", chk.Problem, chk.FirstBad)
	}
	cards, _, err := db.Cards(ctx, CardFilter{Town: "koper", SalesPoint: hotel.ID}, Page{})
	if err != nil || len(cards) != 6 {
		t.Fatalf("the office's search by sales point: %d cards, %v", len(cards), err)
	}
}

// TestSaleLedgerTamper: an issue or a cancel edited or removed, in the ledger or in the sales
// row, is found by the verification.
func TestSaleLedgerTamper(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"issue amount in the ledger", `UPDATE ledger SET amount_cents = amount_cents - 100 WHERE kind = 'sale'`},
		{"price in the sales row", `UPDATE sales SET price_cents = price_cents - 100`},
		{"commission in the sales row", `UPDATE sales SET commission_cents = 0`},
		{"issue entry removed", `DELETE FROM ledger WHERE kind = 'sale'`},
		{"cancel entry removed", `DELETE FROM ledger WHERE kind = 'sale_cancel'`},
		{"cancel undone in the sales row", `UPDATE sales SET cancelled_at = NULL`},
		{"sales row moved to another sales point", `UPDATE sales SET sales_point_id = (SELECT id FROM sales_points WHERE name = 'TIC Koper')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, clock := MustOpenDB(t)
			f := mustFixture(t, db)
			_, token := mustSalesPoint(t, db, "Hotel Histria", 1000, "koper-72h")
			mustSalesPoint(t, db, "TIC Koper", 1000, "koper-72h")
			c := mustSell(t, db, f.kr, token, "koper-72h", "")
			clock.Add(time.Minute)
			if _, err := db.CancelSale(context.Background(), token, c.ID, ""); err != nil {
				t.Fatal(err)
			}
			mustSell(t, db, f.kr, token, "koper-72h", "")
			if chk := mustVerify(t, db); !chk.OK {
				t.Fatalf("before: %s", chk.Problem)
			}
			storagetest.Open(t, db.Path()).MustExec(tc.sql)
			chk := mustVerify(t, db)
			if chk.OK {
				t.Fatalf("verify did not see %s", tc.name)
			}
			t.Logf("%s: %s at %s", tc.name, chk.Problem, chk.FirstBad)
		})
	}
}

// TestRaceSaleCancelRedeem: a sales point cancels a card while a till redeems it, many times
// over (on PostgreSQL through two instances, as two service processes): exactly one wins each
// time (the card cancelled and the redemption refused as blocked, or the redemption completed
// and the cancel refused), and the books verify.
func TestRaceSaleCancelRedeem(t *testing.T) {
	db := openRaceDB(t)
	clock := &fixedClock{t: time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)}
	db.SetClock(clock.Now)
	dbs := raceInstances(t, db, clock, 2)
	f := mustFixture(t, db)
	_, token := mustSalesPoint(t, db, "Hotel Histria", 1000, "koper-72h")
	ctx := WithActor(context.Background(), "admin", "")
	cancels, redeems := 0, 0
	for round := range 12 {
		c := mustSell(t, db, f.kr, token, "koper-72h", "")
		errs := raceN(2, func(i int) error {
			if i == 0 {
				_, err := dbs[0].CancelSale(ctx, token, c.ID, "race")
				return err
			}
			_, _, err := dbs[len(dbs)-1].Redeem(ctx, merchant.RedeemRequest{MerchantID: f.unlimited.MerchantID, CardInput: c.Token, OfferID: f.unlimited.ID,
				Amount: 1000, IdempotencyKey: "race-" + strconv.Itoa(round)}, card.Ref{Number: c.Number, FromToken: true})
			return err
		})
		switch {
		case errs[0] == nil && errors.Is(errs[1], card.ErrBlocked):
			cancels++
		case errs[1] == nil && errors.Is(errs[0], merchant.ErrCancelWindowOver):
			redeems++
		default:
			t.Fatalf("round %d: cancel %v, redeem %v: want exactly one to win", round, errs[0], errs[1])
		}
	}
	if chk := mustVerify(t, db); !chk.OK {
		t.Fatalf("verify: %s at %s", chk.Problem, chk.FirstBad)
	}
	t.Logf("%s: the cancel won %d rounds, the redemption %d", db.Engine(), cancels, redeems)
}

// TestRaceSaleCancelCancel: N cancels of one card at once: exactly one wins, the others are
// told it is already cancelled, and the ledger has one cancel entry.
func TestRaceSaleCancelCancel(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	_, token := mustSalesPoint(t, db, "Hotel Histria", 1000, "koper-72h")
	ctx := context.Background()
	for round := range 4 {
		c := mustSell(t, db, f.kr, token, "koper-72h", "")
		errs := raceN(raceCardN, func(int) error {
			_, err := db.CancelSale(ctx, token, c.ID, "race")
			return err
		})
		oneWinner(t, "cancel round "+strconv.Itoa(round), errs, merchant.ErrAlreadyCancelled)
	}
	var n int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM ledger WHERE kind = 'sale_cancel'`).Scan(&n); err != nil || n != 4 {
		t.Fatalf("%d cancel entries (%v), want 4", n, err)
	}
	if chk := mustVerify(t, db); !chk.OK {
		t.Fatalf("verify: %s at %s", chk.Problem, chk.FirstBad)
	}
}

// TestRaceSaleCancelClose: a card issued in the last minutes of a month is cancelled in the
// first minutes of the next while the month closes: it counts in exactly one way in exactly
// one month (cancelled in the frozen month, or billed there and the cancel refused), never
// cancelled and billed.
func TestRaceSaleCancelClose(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	_, token := mustSalesPoint(t, db, "Hotel Histria", 1000, "koper-72h")
	ctx := WithActor(context.Background(), "admin", "")
	clock := &fixedClock{}
	db.SetClock(clock.Now)
	cancels, closes := 0, 0
	for _, ms := range []string{"2026-11", "2026-12", "2027-01", "2027-02", "2027-03", "2027-04"} {
		m := mustMonth(ms)
		_, end := m.Range(testLoc)
		clock.Set(end.Add(-10 * time.Minute))
		c := mustSell(t, db, f.kr, token, "koper-72h", "")
		clock.Set(end.Add(5 * time.Minute))
		var frozen []byte
		errs := raceN(2, func(i int) error {
			if i == 0 {
				mc, err := db.CloseMonth(ctx, "koper", m, jsonReport)
				frozen = mc.Report
				return err
			}
			_, err := db.CancelSale(ctx, token, c.ID, "race")
			return err
		})
		if errs[0] != nil {
			t.Fatalf("%s: close: %v", m, errs[0])
		}
		var rep merchant.Report
		if err := json.Unmarshal(frozen, &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Sales) != 1 {
			t.Fatalf("%s: frozen sales %+v", m, rep.Sales)
		}
		got := rep.Sales[0].SalesFigures
		switch {
		case errs[1] == nil && got == merchant.SalesFigures{Cancelled: 1}:
			cancels++
		case errors.Is(errs[1], merchant.ErrCancelWindowOver) && got == merchant.SalesFigures{Cards: 1, Amount: 2500, Commission: 250}:
			closes++
		default:
			t.Fatalf("%s: cancel %v, frozen month %+v: the card must count once", m, errs[1], got)
		}
		next, err := db.MonthReport(ctx, "koper", m.Next())
		if err != nil {
			t.Fatal(err)
		}
		if len(next.Sales) != 0 {
			t.Fatalf("%s: the card counts in the next month too: %+v", m, next.Sales)
		}
	}
	if chk := mustVerify(t, db); !chk.OK {
		t.Fatalf("verify: %s at %s", chk.Problem, chk.FirstBad)
	}
	t.Logf("%s: the cancel won %d months, the close %d", db.Engine(), cancels, closes)
}

// BenchmarkIssueSale measures one card issued by a sales point: the card, its sales row and
// its ledger entry in one write.
func BenchmarkIssueSale(b *testing.B) {
	db, _ := MustOpenDB(b)
	f := mustFixture(b, db)
	_, token := mustSalesPoint(b, db, "Hotel Histria", 1000, "koper-72h")
	for b.Loop() {
		mustSell(b, db, f.kr, token, "koper-72h", "")
	}
}

// TestRaceSaleCancelUnblock: the office unblocks a card while its sales point cancels it: a
// cancelled card (never billed) always stays blocked, and unblocking it afterwards is refused.
func TestRaceSaleCancelUnblock(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	_, token := mustSalesPoint(t, db, "Hotel Histria", 1000, "koper-72h")
	ctx := WithActor(context.Background(), "admin", "")
	for round := range 8 {
		c := mustSell(t, db, f.kr, token, "koper-72h", "")
		if _, err := db.SetBlocked(ctx, "koper", c.ID, true, "checking"); err != nil {
			t.Fatal(err)
		}
		errs := raceN(2, func(i int) error {
			if i == 0 {
				_, err := db.CancelSale(ctx, token, c.ID, "race")
				return err
			}
			_, err := db.SetBlocked(ctx, "koper", c.ID, false, "")
			return err
		})
		if errs[0] != nil || (errs[1] != nil && !errors.Is(errs[1], merchant.ErrAlreadyCancelled)) {
			t.Fatalf("round %d: cancel %v, unblock %v", round, errs[0], errs[1])
		}
		got, err := db.Card(ctx, "koper", c.ID)
		if err != nil || got.BlockedAt == nil {
			t.Fatalf("round %d: the cancelled card is not blocked (%v)", round, err)
		}
		if _, err := db.SetBlocked(ctx, "koper", c.ID, false, ""); !errors.Is(err, merchant.ErrAlreadyCancelled) {
			t.Fatalf("round %d: unblocking a cancelled card: %v", round, err)
		}
	}
}
