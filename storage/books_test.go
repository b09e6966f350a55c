package storage

import (
	"bytes"
	"context"
	"errors"
	"github.com/citycard/citycard/storage/storagetest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
)

// A read-only open leaves the file byte for byte as it was, works on a file nobody may
// write, migrates nothing and refuses to write.
func TestOpenReadOnlyChangesNothing(t *testing.T) {
	storagetest.SkipOnPostgres(t, "compares the database file's bytes, times and mode")
	l := mustLedgerCity(t)
	l.db.Close()
	before, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(l.path, old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(l.path, 0o444); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Another zone than the rollups': a read-only open reads them in theirs, rebuilding nothing.
	db, err := OpenReadOnly(ctx, l.path, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if loc := db.TownLoc("koper"); loc.String() != testLoc.String() {
		t.Errorf("TownLoc = %s, want the rollups' zone %s", loc, testLoc)
	}
	chk, err := db.VerifyLedger(ctx, "koper")
	if err != nil || !chk.OK || chk.Entries != 7 {
		t.Fatalf("verify read-only = %+v, %v", chk, err)
	}
	oct, _ := merchant.ParseMonth("2026-10")
	if v, err := db.MonthView(ctx, "koper", oct, true, ""); err != nil || v.Report.Totals.Redemptions != 2 || len(v.Items) != 2 {
		t.Fatalf("October read-only = %+v, %v", v, err)
	}
	if _, err := db.AddSigningKey(ctx, "", time.Time{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("a write read-only: %v, want ErrReadOnly", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(old) {
		t.Fatalf("the file changed: same bytes %v, mtime %v", bytes.Equal(before, after), fi.ModTime())
	}
	if _, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "missing.db"), testLoc); err == nil || !strings.Contains(err.Error(), "missing.db") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
}

// A database an older build wrote is not migrated by a read-only open: it is refused.
func TestOpenReadOnlyRefusesAnOldSchema(t *testing.T) {
	l := mustLedgerCity(t)
	l.db.Close()
	l.tamper(t, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	before, _ := os.ReadFile(l.path)
	_, err := OpenReadOnly(context.Background(), l.path, testLoc)
	if err == nil || !strings.Contains(err.Error(), "older citycard") {
		t.Fatalf("read-only open of an old schema: %v", err)
	}
	if after, _ := os.ReadFile(l.path); !bytes.Equal(before, after) {
		t.Fatal("the file changed")
	}
}

// Someone with the file deletes the newest entries with their redemptions and rollups, all
// consistently: the chain alone still verifies, the checkpoint signed before does not let it.
func TestCheckpointDetectsDeletedTail(t *testing.T) {
	l := mustLedgerCity(t)
	ctx := context.Background()
	l.clock.Set(time.Date(2026, 10, 6, 9, 0, 0, 0, testLoc))
	cp, signed, err := l.db.CheckpointIfDue(ctx, merchant.CheckpointDaily, time.Hour, 24*time.Hour)
	if err != nil || !signed || cp.Entries != 7 {
		t.Fatalf("checkpoint = %+v, %v, %v", cp, signed, err)
	}
	// Not due again: nothing moved and it is an hour old.
	l.clock.Set(time.Date(2026, 10, 6, 10, 0, 0, 0, testLoc))
	if _, signed, err := l.db.CheckpointIfDue(ctx, merchant.CheckpointDaily, time.Hour, 24*time.Hour); err != nil || signed {
		t.Fatalf("signed again with nothing new: %v %v", signed, err)
	}
	// Delete rs[3] (entry 7) with everything it touched, as an attacker with the file would:
	// the rollups are rebuilt from the shortened ledger by the service's own code.
	r := l.rs[3]
	l.db.Close()
	l.tamper(t, `DELETE FROM ledger WHERE seq = 7`,
		`UPDATE ledger_heads SET seq = 6, hash = (SELECT hash FROM ledger WHERE town = 'koper' AND seq = 6)`,
		`DELETE FROM idempotency_keys WHERE redemption_id = '`+r.ID+`'`,
		`DELETE FROM redemptions WHERE id = '`+r.ID+`'`,
		`UPDATE towns SET rollup_zone = ''`)
	db, err := Open(ctx, l.path, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The stored checkpoint sees it ...
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || chk.OK || chk.FirstBad != "7" {
		t.Fatalf("verify with the stored checkpoint = %+v %v", chk, err)
	}
	// ... and without it, the cut is invisible.
	l.tamper(t, `DELETE FROM ledger_checkpoints WHERE entries = 7`)
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
		t.Fatalf("the consistent cut is not what this test thinks: %+v %v", chk, err)
	}
	// With the checkpoint kept elsewhere (the municipality's copy), it is seen.
	chk, err := db.VerifyLedger(ctx, "koper", cp)
	if err != nil {
		t.Fatal(err)
	}
	if chk.OK || chk.FirstBad != "7" || !strings.Contains(chk.Problem, "checkpoint of 7 entries") {
		t.Fatalf("verify with the checkpoint = %+v", chk)
	}
	// A checkpoint someone edited does not verify.
	forged := cp
	forged.Entries = 6
	if chk, _ := db.VerifyLedger(ctx, "koper", forged); chk.OK || !strings.Contains(chk.Problem, "signature") {
		t.Fatalf("verify with a forged checkpoint = %+v", chk)
	}
}

// Deleting a month's close row does not reopen the month: the ledger remembers the close.
func TestDeletedMonthCloseIsRefused(t *testing.T) {
	l := mustLedgerCity(t)
	ctx := context.Background()
	l.tamper(t, `DELETE FROM month_closes WHERE month = '2026-09'`)
	sep, _ := merchant.ParseMonth("2026-09")
	if _, _, err := l.db.ClosedMonth(ctx, "koper", sep); !errors.Is(err, merchant.ErrLedgerMismatch) {
		t.Fatalf("ClosedMonth: %v, want ErrLedgerMismatch", err)
	}
	if _, err := l.db.MonthView(ctx, "koper", sep, true, ""); !errors.Is(err, merchant.ErrLedgerMismatch) {
		t.Fatalf("MonthView: %v, want ErrLedgerMismatch", err)
	}
	if _, err := l.db.CloseMonth(ctx, "koper", sep, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); !errors.Is(err, merchant.ErrLedgerMismatch) {
		t.Fatalf("close again: %v, want ErrLedgerMismatch", err)
	}
	if chk := l.verify(t); chk.OK || !strings.Contains(chk.Problem, "month_closes has no row") {
		t.Fatalf("verify = %+v", chk)
	}
}

// A month whose rollups were raised is not frozen: the close refuses and names the row.
func TestCloseRefusesRollupsThatDifferFromTheLedger(t *testing.T) {
	l := mustLedgerCity(t)
	ctx := context.Background()
	l.tamper(t, `UPDATE rollup_months SET share_cents = share_cents + 500000 WHERE month = '2026-10'`)
	l.clock.Set(time.Date(2026, 11, 2, 9, 0, 0, 0, testLoc))
	oct, _ := merchant.ParseMonth("2026-10")
	_, err := l.db.CloseMonth(ctx, "koper", oct, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil })
	if !errors.Is(err, merchant.ErrLedgerMismatch) || !strings.Contains(err.Error(), "rollup_months") {
		t.Fatalf("close = %v, want ErrLedgerMismatch naming rollup_months", err)
	}
	if _, ok, _ := l.db.ClosedMonth(ctx, "koper", oct); ok {
		t.Fatal("October closed anyway")
	}
	l.tamper(t, `UPDATE rollup_months SET share_cents = share_cents - 500000 WHERE month = '2026-10'`)
	// Checked in a snapshot, then a void of an October redemption is booked and the rollups
	// raised before the close's write: the write sees the new entry and checks again.
	closeAfterCheck = func() {
		closeAfterCheck = nil
		l.void(t, time.Date(2026, 11, 2, 9, 1, 0, 0, testLoc), l.rs[3].ID)
		l.tamper(t, `UPDATE rollup_days SET share_cents = share_cents + 500000 WHERE date = '2026-10-02'`)
	}
	defer func() { closeAfterCheck = nil }()
	_, err = l.db.CloseMonth(ctx, "koper", oct, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil })
	if !errors.Is(err, merchant.ErrLedgerMismatch) || !strings.Contains(err.Error(), "rollup_days") {
		t.Fatalf("close after a change since the check = %v, want ErrLedgerMismatch naming rollup_days", err)
	}
	// Undone, it closes, and the month's own check passes for months with adjustments too.
	l.tamper(t, `UPDATE rollup_days SET share_cents = share_cents - 500000 WHERE date = '2026-10-02'`)
	if _, err := l.db.CloseMonth(ctx, "koper", oct, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); err != nil {
		t.Fatal(err)
	}
}

// A month's view is one snapshot: a redemption committed between its reads is in neither its
// report nor its items.
func TestMonthViewIsOneSnapshot(t *testing.T) {
	l := mustLedgerCity(t)
	ctx := context.Background()
	oct, _ := merchant.ParseMonth("2026-10")
	l.clock.Set(time.Date(2026, 10, 20, 9, 0, 0, 0, testLoc))
	viewBetweenReads = func() {
		viewBetweenReads = nil
		l.redeem(t, time.Date(2026, 10, 20, 10, 0, 0, 0, testLoc), l.offers[5], l.cards[5], 4000)
	}
	defer func() { viewBetweenReads = nil }()
	v, err := l.db.MonthView(ctx, "koper", oct, true, "")
	if err != nil {
		t.Fatal(err)
	}
	var share int64
	for _, r := range v.Items {
		share += r.MunicipalShare
	}
	for _, a := range v.Report.Adjustments.Items {
		share += a.MunicipalShare
	}
	if len(v.Items) != v.Report.Totals.Redemptions || share != v.Report.Totals.MunicipalShare {
		t.Fatalf("%d items (share %d) under totals %+v", len(v.Items), share, v.Report.Totals)
	}
	if after, _ := l.db.MonthView(ctx, "koper", oct, true, ""); len(after.Items) != len(v.Items)+1 {
		t.Fatalf("the write between the reads did not happen: %d items then %d", len(v.Items), len(after.Items))
	}
}

// A month closed before closes were ledger entries gets its entry at the next start, and the
// books verify.
func TestClosesBackfilledIntoTheLedger(t *testing.T) {
	path := storagetest.DSN(t)
	c := mustCity(t, path, testLoc)
	ctx := context.Background()
	c.redeem(t, time.Date(2026, 9, 20, 12, 0, 0, 0, testLoc), c.offers[0], c.cards[0], 1000)
	c.clock.Set(time.Date(2026, 10, 1, 9, 0, 0, 0, testLoc))
	sep, _ := merchant.ParseMonth("2026-09")
	if _, err := c.db.CloseMonth(ctx, "koper", sep, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); err != nil {
		t.Fatal(err)
	}
	c.db.Close()
	// What the file looked like before: the close without its entry or checkpoint.
	l := &ledgerCity{city: c}
	l.tamper(t, `DELETE FROM ledger WHERE kind = 'close'`, `DELETE FROM ledger_checkpoints`,
		`INSERT INTO settings (key, value) VALUES ('ledger_close_backfill', 'pending')`)
	db, err := Open(ctx, path, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	chk, err := db.VerifyLedger(ctx, "koper")
	if err != nil || !chk.OK || chk.Entries != 2 {
		t.Fatalf("verify after the backfill = %+v, %v", chk, err)
	}
	var kind, id string
	db.reader(context.Background()).queryRow(`SELECT kind, redemption_id FROM ledger WHERE seq = 2`).Scan(&kind, &id)
	if kind != merchant.LedgerClose || id != "close:koper:2026-09" {
		t.Fatalf("entry 2 = %s %s", kind, id)
	}
}

// Entries hashed as version 1 (before the card number and terminal were covered) keep
// verifying as version 1 next to version 2 entries.
func TestVersion1EntriesKeepVerifying(t *testing.T) {
	l := mustLedgerCity(t)
	// Rewrite entries 1 and 3 (redemptions) as version 1 entries would have been hashed, and
	// rechain the rest.
	rows, err := l.db.reader(context.Background()).query(`SELECT ` + ledgerColumns + ` FROM ledger ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var entries []merchant.LedgerEntry
	for rows.Next() {
		var e merchant.LedgerEntry
		var h []byte
		if err := scanLedgerEntry(rows, &e, &h); err != nil {
			t.Fatal(err)
		}
		if e.Seq == 1 || e.Seq == 3 {
			e.Version = 1
		}
		entries = append(entries, e)
	}
	rows.Close()
	raw := storagetest.Open(t, l.path)
	var prev [32]byte
	for _, e := range entries {
		h := e.Hash(prev)
		raw.MustExec(`UPDATE ledger SET version = ?, hash = ? WHERE seq = ?`, e.Version, h[:], e.Seq)
		prev = h
	}
	first := entries[0].Hash([32]byte{})
	raw.MustExec(`UPDATE ledger_heads SET hash = ?`, prev[:])
	raw.MustExec(`DELETE FROM ledger_checkpoints`)
	raw.MustExec(`UPDATE month_closes SET ledger_head = ?`, first[:])
	if chk := l.verify(t); !chk.OK || chk.Entries != 7 {
		t.Fatalf("verify with version 1 entries = %+v", chk)
	}
	// A version 1 entry does not cover the terminal; its amounts it does.
	l.tamper(t, `UPDATE redemptions SET terminal = 'elsewhere' WHERE id = '`+l.rs[1].ID+`'`)
	if chk := l.verify(t); !chk.OK {
		t.Fatalf("verify = %+v: a version 1 entry has no terminal to compare", chk)
	}
	l.tamper(t, `UPDATE redemptions SET amount_cents = amount_cents + 1 WHERE id = '`+l.rs[1].ID+`'`)
	if chk := l.verify(t); chk.OK || chk.FirstBad != "3" || !strings.Contains(chk.Problem, "amount") {
		t.Fatalf("verify = %+v, want entry 3's amount", chk)
	}
}
