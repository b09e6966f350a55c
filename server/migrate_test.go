package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/tools"
	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

// migrate runs "citycard migrate-db --from from --to to" and returns its output.
func migrate(t *testing.T, from, to string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"migrate-db", "--from", from, "--to", to},
		func(string) string { return "" }, &out, &errOut)
	return out.String() + errOut.String(), err
}

// TestMigrateDBDemo moves the demo database (two towns, September closed in both) to
// PostgreSQL: every table is copied, each town's ledger and closed month is checked, and a
// second run into the same target is refused, naming a table.
func TestMigrateDBDemo(t *testing.T) {
	to := storagetest.Postgres(t)
	ctx := context.Background()
	from := filepath.Join(t.TempDir(), "demo.db")
	db := newTestServer(t, onDSN(from), seeded(), logTo(io.Discard)).db
	september, _ := merchant.ParseMonth("2026-09")
	for _, town := range db.TownCodes() {
		if _, err := db.CloseMonth(ctx, town, september, encodeReport); err != nil {
			t.Fatalf("close %s %s: %v", town, september, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	out, err := migrate(t, from, to)
	if err != nil {
		t.Fatalf("migrate-db: %v\n%s", err, out)
	}
	for _, want := range []string{"koper: ledger ok", "ptuj: ledger ok", "1 closed month identical", "migrate-db: done",
		"  redemptions: 41 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("the output has no %q:\n%s", want, out)
		}
	}
	sameRows(t, from, to)

	// The service opens the copy, and a new row gets the seq after the copied ones.
	pg, err := storage.Open(ctx, to, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	if got := pg.TownCodes(); strings.Join(got, ",") != "koper,ptuj" {
		t.Errorf("towns on PostgreSQL: %v", got)
	}
	tok, err := pg.CreateOfficeToken(ctx, "koper", "after the move", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pg.Close()
	var last, seq int64
	if err := storagetest.Open(t, from).QueryRow(`SELECT max(seq) FROM office_tokens`).Scan(&last); err != nil {
		t.Fatal(err)
	}
	if err := storagetest.Open(t, to).QueryRow(`SELECT seq FROM office_tokens WHERE id = ?`, tok.ID).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if seq != last+1 {
		t.Errorf("the first office token made on PostgreSQL has seq %d, want %d", seq, last+1)
	}

	out, err = migrate(t, from, to)
	if err == nil || !strings.Contains(err.Error(), "not empty") || !strings.Contains(err.Error(), "in table signing_keys") {
		t.Fatalf("a second migrate-db into the same target: %v\n%s", err, out)
	}
}

// TestMigrateDBUpgradeFixture moves the database of the last release before towns, upgraded
// by this build, to PostgreSQL: its two closed months (one with an adjustment after its
// close) come out byte-identical.
func TestMigrateDBUpgradeFixture(t *testing.T) {
	to := storagetest.Postgres(t)
	from := upgradedFixture(t)
	out, err := migrate(t, from, to)
	if err != nil {
		t.Fatalf("migrate-db: %v\n%s", err, out)
	}
	if !strings.Contains(out, "piran: ledger ok") || !strings.Contains(out, "2 closed months identical") {
		t.Errorf("output:\n%s", out)
	}
	sameRows(t, from, to)
}

// TestMigrateDBFailureLeavesTargetEmpty: a value PostgreSQL cannot hold, in a table copied
// late, stops the copy naming it, and the target keeps no row of what was copied before.
func TestMigrateDBFailureLeavesTargetEmpty(t *testing.T) {
	to := storagetest.Postgres(t)
	from := upgradedFixture(t)
	raw := storagetest.Open(t, from)
	raw.MustExec(`INSERT INTO audit (town, actor, action, target, created_at) VALUES ('piran', 'cli', 'test.nul', 'a' || char(0) || 'b', 1)`)
	out, err := migrate(t, from, to)
	if err == nil || !strings.Contains(err.Error(), "column target") || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("migrate-db of a NUL in audit.target: %v\n%s", err, out)
	}
	conn, err := pgx.Connect(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if table, n, err := postgres.Empty(context.Background(), conn); err != nil || table != "" {
		t.Fatalf("after a failed migrate-db the target has %d rows in %q (%v)", n, table, err)
	}
}

// TestMigrateDBChecks: the checks after the copy are real. A source whose ledger does not
// verify is copied but reported, and a target whose product names differ from the source's
// gives a different products CSV.
func TestMigrateDBChecks(t *testing.T) {
	from := upgradedFixture(t)
	to := storagetest.Postgres(t)
	m, err := storage.MigrateDB(context.Background(), from, to, nil)
	if err != nil {
		t.Fatalf("migrate-db: %v", err)
	}
	storagetest.Open(t, to).MustExec(`UPDATE products SET name_json = '{"sl":"Drugo ime"}'`)
	cfg := defaultConfig()
	cfg.Loc = testLoc
	err = tools.CheckMigration(context.Background(), from, to, m, cfg.forTools(), compareMonth, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CSV table products differs") {
		t.Fatalf("check of a target with other product names: %v", err)
	}

	from = upgradedFixture(t)
	storagetest.Open(t, from).MustExec(`UPDATE ledger SET amount_cents = amount_cents + 1 WHERE seq = 3`)
	out, err := migrate(t, from, storagetest.Postgres(t))
	if err == nil || !strings.Contains(err.Error(), "its check failed: piran: the source's ledger does not verify (first bad 3") {
		t.Fatalf("migrate-db of a source whose ledger does not verify: %v\n%s", err, out)
	}
}

func TestMigrateDBRefusesWrongArguments(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", filepath.Join(dir, "x.db")}, "--to postgres://… is required"},
		{[]string{"--from", filepath.Join(dir, "x.db"), "--to", filepath.Join(dir, "y.db")}, "--to must be a postgres://"},
		{[]string{"--from", "postgres://a@b/c", "--to", "postgres://a@b/d"}, "is PostgreSQL"},
		{[]string{"--from", filepath.Join(dir, "missing.db"), "--to", "postgres://a@127.0.0.1:1/d"}, "no such file"},
	} {
		var out bytes.Buffer
		err := run(context.Background(), append([]string{"migrate-db"}, tc.args...), func(string) string { return "" }, &out, &out)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("migrate-db %v: %v, want %q", tc.args, err, tc.want)
		}
	}
}

// upgradedFixture is storage/testdata/upgrade-v1.db in a temporary directory, upgraded by
// this build (its town piran).
func upgradedFixture(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../storage/testdata/upgrade-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(context.Background(), path, testLoc, storage.WithTown(storage.DefaultTown("piran", testLoc)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// sameRows checks that every table has as many rows on PostgreSQL as in SQLite (their values
// are compared by storage/postgres's TestCopyFromSQLite; the ledgers and closed months by
// migrate-db itself).
func sameRows(t *testing.T, from, to string) {
	t.Helper()
	lite := storagetest.Open(t, from)
	pg := storagetest.Open(t, to)
	for _, table := range postgres.Tables {
		var a, b int64
		if err := lite.QueryRow(`SELECT count(*) FROM ` + table).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := pg.QueryRow(`SELECT count(*) FROM ` + table).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("%s: %d rows in SQLite, %d on PostgreSQL", table, a, b)
		}
	}
}

// TestMigrateDBLiveSource copies a source that a service keeps writing, before, during and
// after the copy: the copy is the snapshot of one moment (its row counts and ledger heads
// are the snapshot's), it verifies, and its check does not fail because the source moved on.
func TestMigrateDBLiveSource(t *testing.T) {
	to := storagetest.Postgres(t)
	ctx := context.Background()
	from := filepath.Join(t.TempDir(), "live.db")
	ts := newTestServer(t, onDSN(from), seeded(), logTo(io.Discard))
	db, cfg := ts.db, ts.s.cfg
	redeem := liveRedeemer(t, db)

	// The writer redeems until told to stop, and says after each commit that it made one.
	wrote, stop, failed := make(chan struct{}, 1<<16), make(chan struct{}), make(chan error, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := redeem(i); err != nil {
				failed <- err
				return
			}
			select {
			case wrote <- struct{}{}:
			default: // as many are waiting to be counted as the buffer holds
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()
	// Three more redemptions commit on the source while the copy is at its redemptions:
	// after its snapshot was taken, before it ends.
	waitWrites := func(n int) {
		for range n {
			select {
			case <-wrote:
			case err := <-failed:
				t.Errorf("the writer: %v", err)
				return
			}
		}
	}
	waitWrites(1)
	progress := func(table string, done, total int64) {
		if table == "redemptions" && done == 0 {
			for len(wrote) > 0 {
				<-wrote
			}
			waitWrites(3)
		}
	}
	m, err := storage.MigrateDB(ctx, from, to, progress)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := tools.CheckMigration(ctx, from, to, m, cfg.forTools(), compareMonth, &out); err != nil {
		t.Fatalf("the check of a copy of a live source: %v\n%s", err, out.String())
	}
	waitWrites(1) // the source goes on after the check too

	// The target is the snapshot: its redemptions are as many as the copy counted, fewer
	// than the source has now, and its ledger ends at the head the snapshot had.
	var copied int64
	for _, c := range m.Tables {
		if c.Table == "redemptions" {
			copied = c.Rows
		}
	}
	var onTarget, inSource int64
	if err := storagetest.Open(t, to).QueryRow(`SELECT count(*) FROM redemptions`).Scan(&onTarget); err != nil {
		t.Fatal(err)
	}
	if err := storagetest.Open(t, from).QueryRow(`SELECT count(*) FROM redemptions`).Scan(&inSource); err != nil {
		t.Fatal(err)
	}
	if onTarget != copied || inSource < copied+4 {
		t.Fatalf("redemptions: %d copied, %d on the target, %d in the source now (want 4 or more written since the snapshot)", copied, onTarget, inSource)
	}
	pg, err := storage.OpenReadOnly(ctx, to, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	for _, town := range m.Towns {
		chk, err := pg.VerifyLedger(ctx, town)
		if want := m.Heads[town]; err != nil || !chk.OK || chk.Entries != want.Entries || chk.Head != want.Head {
			t.Fatalf("%s on the target: %+v, %v; the snapshot's ledger: %d entries", town, chk, err, want.Entries)
		}
	}
}

// liveRedeemer returns a function that makes redemption i at a demo merchant of koper with
// one of its cards, by an offer any number of uses allows.
func liveRedeemer(t *testing.T, db *storage.DB) func(i int) error {
	t.Helper()
	ctx := context.Background()
	merchants, _, err := db.Merchants(ctx, "koper", storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	cards, _, err := db.Cards(ctx, storage.CardFilter{Town: "koper"}, storage.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, mer := range merchants {
		offers, _, err := db.Offers(ctx, "koper", mer.ID, storage.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range offers {
			if o.Limit != merchant.LimitUnlimited || !o.Active {
				continue
			}
			for _, c := range cards {
				redeem := func(i int) error {
					_, _, err := db.Redeem(ctx, merchant.RedeemRequest{MerchantID: mer.ID, CardInput: c.Token, OfferID: o.ID,
						Amount: 5000, IdempotencyKey: fmt.Sprintf("live-%d", i)}, card.Ref{Number: c.Number, FromToken: true})
					return err
				}
				if redeem(-1) == nil {
					return redeem
				}
			}
		}
	}
	t.Fatal("no demo card and offer of koper to redeem with")
	return nil
}

// TestMigrateDBFailedCheckEmptiesTarget: a copy whose check fails is emptied again, so a run
// once the cause is fixed finds the target empty and succeeds.
func TestMigrateDBFailedCheckEmptiesTarget(t *testing.T) {
	to := storagetest.Postgres(t)
	from := upgradedFixture(t)
	raw := storagetest.Open(t, from)
	raw.MustExec(`UPDATE ledger SET amount_cents = amount_cents + 1 WHERE seq = 3`)
	out, merr := migrate(t, from, to)
	if merr == nil || !strings.Contains(merr.Error(), "the source's ledger does not verify (first bad 3") {
		t.Fatalf("migrate-db of a source whose ledger does not verify: %v\n%s", merr, out)
	}
	conn, err := pgx.Connect(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if table, n, err := postgres.Empty(context.Background(), conn); err != nil || table != "" {
		t.Fatalf("after a failed check the target has %d rows in %q (%v); migrate-db said %v\n%s", n, table, err, merr, out)
	}
	raw.MustExec(`UPDATE ledger SET amount_cents = amount_cents - 1 WHERE seq = 3`)
	if out, err := migrate(t, from, to); err != nil || !strings.Contains(out, "migrate-db: done") {
		t.Fatalf("migrate-db again once the source is mended: %v\n%s", err, out)
	}
	sameRows(t, from, to)
}
