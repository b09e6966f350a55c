package storage

import (
	"context"
	"github.com/citycard/citycard/storage/storagetest"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
)

// ledgerCity is a city with a few ledger entries of every kind (see mustLedgerCity).
type ledgerCity struct {
	*city
	rs []merchant.Redemption
}

// mustLedgerCity books, in this order:
//
//	1  redemption rs[0], 30 September
//	2  September closes (and a checkpoint of 2 entries is signed)
//	3  redemption rs[1], 2 October
//	4  adjustment: rs[0] voided on 3 October
//	5  redemption rs[2]
//	6  void of rs[2]
//	7  redemption rs[3]
func mustLedgerCity(t *testing.T) *ledgerCity {
	t.Helper()
	c := mustCity(t, storagetest.DSN(t), testLoc)
	l := &ledgerCity{city: c}
	l.rs = append(l.rs, c.redeem(t, time.Date(2026, 9, 30, 18, 0, 0, 0, testLoc), c.offers[0], c.cards[0], 2345))
	c.clock.Set(time.Date(2026, 10, 1, 9, 0, 0, 0, testLoc))
	sep, _ := merchant.ParseMonth("2026-09")
	if _, err := c.db.CloseMonth(context.Background(), "koper", sep, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); err != nil {
		t.Fatal(err)
	}
	l.rs = append(l.rs, c.redeem(t, time.Date(2026, 10, 2, 10, 0, 0, 0, testLoc), c.offers[1], c.cards[1], 1000))
	c.void(t, time.Date(2026, 10, 3, 10, 0, 0, 0, testLoc), l.rs[0].ID)
	l.rs = append(l.rs, c.redeem(t, time.Date(2026, 10, 4, 10, 0, 0, 0, testLoc), c.offers[2], c.cards[2], 500))
	c.void(t, time.Date(2026, 10, 4, 10, 5, 0, 0, testLoc), l.rs[2].ID)
	l.rs = append(l.rs, c.redeem(t, time.Date(2026, 10, 5, 10, 0, 0, 0, testLoc), c.offers[3], c.cards[3], 777))
	return l
}

// tamper runs SQL on the database file through a connection of its own, as someone with the
// file (and the sqlite3 shell) could.
func (l *ledgerCity) tamper(t *testing.T, stmts ...string) {
	t.Helper()
	raw, err := storagetest.SQLOpen(t, l.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func (l *ledgerCity) verify(t *testing.T) LedgerCheck {
	t.Helper()
	chk, err := l.db.VerifyLedger(context.Background(), "koper")
	if err != nil {
		t.Fatal(err)
	}
	return chk
}

func TestLedgerVerifies(t *testing.T) {
	l := mustLedgerCity(t)
	chk := l.verify(t)
	if !chk.OK || chk.Entries != 7 {
		t.Fatalf("verify = %+v, want ok with 7 entries", chk)
	}
	var head []byte
	l.db.reader(context.Background()).queryRow(`SELECT hash FROM ledger WHERE seq = 7`).Scan(&head)
	if string(head) != string(chk.Head[:]) {
		t.Fatalf("head %x, last entry's hash %x", chk.Head, head)
	}
	// Each entry's hash is its canonical content chained to the one before.
	rows, err := l.db.reader(context.Background()).query(`SELECT ` + ledgerColumns + ` FROM ledger ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var prev [32]byte
	var kinds []string
	for rows.Next() {
		var e merchant.LedgerEntry
		var h []byte
		if err := scanLedgerEntry(rows, &e, &h); err != nil {
			t.Fatal(err)
		}
		if got := e.Hash(prev); string(got[:]) != string(h) {
			t.Fatalf("entry %d: stored %x, computed %x", e.Seq, h, got)
		}
		copy(prev[:], h)
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "redemption close redemption adjustment redemption void redemption" {
		t.Fatalf("kinds = %s", got)
	}
}

func TestLedgerVerifyDetectsTampering(t *testing.T) {
	// The city's ledger: 1 rs[0], 2 close of September, 3 rs[1], 4 adjustment of rs[0],
	// 5 rs[2], 6 void of rs[2], 7 rs[3]; a checkpoint was signed at the close (2 entries).
	for _, tc := range []struct {
		name      string
		sql       func(l *ledgerCity) []string
		wantBad   string
		wantWords string
	}{
		{"amount edited in redemptions", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET amount_cents = 99999 WHERE id = '` + l.rs[1].ID + `'`}
		}, "3", "amount"},
		{"share edited in redemptions", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET share_cents = share_cents + 1 WHERE id = '` + l.rs[3].ID + `'`}
		}, "7", "municipal share"},
		{"card number edited in redemptions", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET card_number = '999999999999' WHERE id = '` + l.rs[3].ID + `'`}
		}, "7", "card number"},
		{"terminal edited in redemptions", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET terminal = 'elsewhere' WHERE id = '` + l.rs[1].ID + `'`}
		}, "3", "terminal"},
		{"amount edited in the ledger", func(l *ledgerCity) []string {
			return []string{`UPDATE ledger SET amount_cents = 1 WHERE seq = 5`}
		}, "5", "hash"},
		{"amount edited in both", func(l *ledgerCity) []string {
			return []string{`UPDATE ledger SET amount_cents = 501 WHERE seq = 5`,
				`UPDATE redemptions SET amount_cents = 501 WHERE id = '` + l.rs[2].ID + `'`}
		}, "5", "hash"},
		{"redemption row deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM idempotency_keys WHERE redemption_id = '` + l.rs[1].ID + `'`,
				`DELETE FROM redemptions WHERE id = '` + l.rs[1].ID + `'`}
		}, "3", "not in the redemptions table"},
		{"ledger row deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM ledger WHERE seq = 3`}
		}, "3", "missing"},
		{"last ledger row deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM ledger WHERE seq = 7`}
		}, "7", "no ledger entry"},
		{"void undone", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET voided_at = NULL, void_reason = '' WHERE id = '` + l.rs[2].ID + `'`}
		}, "6", "voided_at"},
		{"void added", func(l *ledgerCity) []string {
			return []string{`UPDATE redemptions SET voided_at = 1, void_reason = 'x' WHERE id = '` + l.rs[3].ID + `'`}
		}, "8", "void of redemption"},
		{"redemption added", func(l *ledgerCity) []string {
			return []string{`INSERT INTO redemptions (id, card_id, card_number, merchant_id, offer_id, product_code, category,
					amount_cents, discount_cents, share_cents, created_at)
				SELECT 'red_forged', card_id, card_number, merchant_id, offer_id, product_code, category, 100, 10, 5, created_at
				FROM redemptions WHERE id = '` + l.rs[3].ID + `'`}
		}, "8", "no ledger entry"},
		{"frozen report edited", func(l *ledgerCity) []string {
			return []string{`UPDATE month_closes SET report = '{"totals":{}}'`}
		}, "close:2026-09", "SHA-256"},
		{"chain rewritten before a close", func(l *ledgerCity) []string {
			// Someone recomputing the hashes after an edit still cannot match the head the
			// close recorded (and handed to the municipality).
			return []string{`UPDATE month_closes SET ledger_entries = 2`}
		}, "2", "close of 2026-09"},
		{"month close deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM month_closes`}
		}, "2", "month_closes has no row"},
		{"checkpoint forged", func(l *ledgerCity) []string {
			return []string{`UPDATE ledger_checkpoints SET entries = 1`}
		}, "1", "signature does not verify"},
		// The rollups the reports and statements are built from.
		{"rollup day amount raised", func(l *ledgerCity) []string {
			return []string{`UPDATE rollup_days SET share_cents = share_cents + 100000 WHERE date = '2026-10-05'`}
		}, "rollup_days:2026-10-05|", "share_cents"},
		{"rollup day added", func(l *ledgerCity) []string {
			return []string{`INSERT INTO rollup_days (town, date, merchant_id, offer_id, product_code, category, share_cents)
				VALUES ('koper', '2026-10-20', 'mer_x', 'off_x', 'koper-72h', 'shop', 500000)`}
		}, "rollup_days:2026-10-20|mer_x|off_x|koper-72h|shop", "no entry"},
		{"rollup month amount raised", func(l *ledgerCity) []string {
			return []string{`UPDATE rollup_months SET share_cents = share_cents + 100000 WHERE month = '2026-10'`}
		}, "rollup_months:2026-10|", "share_cents"},
		{"rollup month deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM rollup_months WHERE month = '2026-09'`}
		}, "rollup_months:2026-09|", "missing"},
		{"card use deleted", func(l *ledgerCity) []string {
			return []string{`DELETE FROM rollup_card_uses WHERE month = '2026-10' AND scope = 'merchant'`}
		}, "rollup_card_uses:2026-10|merchant|", "missing"},
		{"distinct cards raised", func(l *ledgerCity) []string {
			return []string{`UPDATE rollup_cards SET cards = cards + 7 WHERE month = '2026-10' AND scope = 'all'`}
		}, "rollup_cards:2026-10|all|", "cards is"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := mustLedgerCity(t)
			l.tamper(t, tc.sql(l)...)
			chk := l.verify(t)
			// A rollup row is named by its table and key; only the key's start is known here.
			match := chk.FirstBad == tc.wantBad || strings.HasPrefix(tc.wantBad, "rollup_") && strings.HasPrefix(chk.FirstBad, tc.wantBad)
			if chk.OK || !match || !strings.Contains(chk.Problem, tc.wantWords) {
				t.Fatalf("verify = %+v, want first_bad %s and a problem about %q", chk, tc.wantBad, tc.wantWords)
			}
			if strings.HasPrefix(chk.FirstBad, "rollup_") && (chk.Rollup == nil || !strings.HasPrefix(chk.FirstBad, chk.Rollup.Table+":")) {
				t.Fatalf("rollup = %+v for %s", chk.Rollup, chk.FirstBad)
			}
		})
	}
}

func TestLedgerEntryPerWrite(t *testing.T) {
	// A failed redemption books nothing; a replayed one books nothing again.
	db, _ := MustOpenDB(t)
	f := mustFixture(t, db)
	if _, _, err := f.redeem(db, f.once, "a", 1000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.redeem(db, f.once, "a", 1000); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.redeem(db, f.once, "b", 1000); err != merchant.ErrLimitReached {
		t.Fatal(err)
	}
	var n int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM ledger`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d ledger entries, want 1", n)
	}
	chk, err := db.VerifyLedger(context.Background(), "koper")
	if err != nil || !chk.OK || chk.Entries != 1 {
		t.Fatalf("verify = %+v, %v", chk, err)
	}
}
