package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/postgres"
)

// TestTablesCoverTheSchema checks postgres.Tables against the catalogue: every table of the
// schema once, and every table after the tables its foreign keys name.
func TestTablesCoverTheSchema(t *testing.T) {
	ctx := context.Background()
	conn := postgresSchema(t, ctx)
	rows, err := conn.Query(ctx, `SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind = 'r'
		AND relname <> 'schema_migrations' ORDER BY relname`)
	if err != nil {
		t.Fatal(err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(postgres.Tables)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		t.Fatalf("the schema's tables are\n  %v\npostgres.Tables has\n  %v", have, want)
	}
	rows, err = conn.Query(ctx, `SELECT c.relname, f.relname FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid JOIN pg_class f ON f.oid = k.confrelid
		WHERE k.contype = 'f' AND c.relnamespace = current_schema()::regnamespace AND c.relname <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var child, parent string
		if err := rows.Scan(&child, &parent); err != nil {
			t.Fatal(err)
		}
		n++
		if slices.Index(postgres.Tables, parent) >= slices.Index(postgres.Tables, child) {
			t.Errorf("postgres.Tables has %s before %s, whose rows its foreign key names", child, parent)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("%d foreign keys: is the catalogue read right?", n)
	}
}

// TestCopyFromSQLite copies the upgrade fixture (a release before towns, upgraded by
// storage.Open) into a fresh PostgreSQL schema with the copy primitives, and checks that every
// table holds the same rows, that rollup_cards was copied and not counted again by its
// trigger, that the triggers work again after the copy and that the identities go on past the
// copied keys.
func TestCopyFromSQLite(t *testing.T) {
	ctx := context.Background()
	conn := postgresSchema(t, ctx)
	lite := upgradedFixture(t)

	if table, n, err := postgres.Empty(ctx, conn); err != nil || table != "" {
		t.Fatalf("Empty on a fresh schema = %q, %d, %v", table, n, err)
	}
	src, err := lite.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Rollback()
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	copied := map[string]int64{}
	for _, table := range postgres.Tables {
		var last int64
		n, err := postgres.CopyTable(ctx, tx, src, table, func(done int64) { last = done })
		if err != nil {
			t.Fatal(err)
		}
		if last != n {
			t.Errorf("%s: the last progress said %d rows, the copy %d", table, last, n)
		}
		copied[table] = n
	}
	if err := postgres.ResetIdentities(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"towns", "cards", "redemptions", "ledger", "rollup_card_uses", "rollup_cards", "month_closes", "audit"} {
		if copied[table] == 0 {
			t.Errorf("no row of %s copied: the fixture should have some", table)
		}
	}

	for _, table := range postgres.Tables {
		want := dumpSQLite(t, lite, conn, table)
		have := dumpPostgres(t, conn, table)
		if len(want) != len(have) {
			t.Errorf("%s: %d rows in SQLite, %d on PostgreSQL", table, len(want), len(have))
			continue
		}
		for i := range want {
			if !reflect.DeepEqual(want[i], have[i]) {
				t.Errorf("%s row %d:\n  SQLite     %v\n  PostgreSQL %v", table, i+1, want[i], have[i])
				break
			}
		}
	}

	first := ""
	for _, table := range postgres.Tables {
		if copied[table] > 0 {
			first = table
			break
		}
	}
	if table, n, err := postgres.Empty(ctx, conn); err != nil || table != first || n != copied[first] {
		t.Fatalf("Empty after the copy = %q, %d, %v; want %s, %d", table, n, err, first, copied[first])
	}

	// The identities go on past the copied keys.
	var maxSeq, seq int64
	if err := conn.QueryRow(ctx, `SELECT max(seq) FROM audit`).Scan(&maxSeq); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `INSERT INTO audit (actor, action, created_at) VALUES ('cli', 'test.copy', 1) RETURNING seq`).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	if seq != maxSeq+1 {
		t.Errorf("the next audit seq is %d, want %d", seq, maxSeq+1)
	}
	// The triggers are on again: the audit refuses an update, a new card use counts in.
	if _, err := conn.Exec(ctx, `UPDATE audit SET target = 'x' WHERE seq = $1`, seq); err == nil || !strings.Contains(err.Error(), "audit is append-only") {
		t.Errorf("an update of the audit after the copy: %v, want refused as append-only", err)
	}
	var before, after int64
	count := `SELECT coalesce(sum(cards), 0) FROM rollup_cards`
	if err := conn.QueryRow(ctx, count).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO rollup_card_uses (town, month, scope, key, card_id, uses) VALUES ('piran', '2031-01', 'all', '', 'card_test', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, count).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before+1 {
		t.Errorf("rollup_cards counts %d cards after a new use, %d before: the trigger is not on", after, before)
	}
}

// TestCopyRefusesWhatPostgreSQLCannotHold: text with a NUL character is refused with the
// table, column and row named, and the transaction leaves no row behind.
func TestCopyRefusesWhatPostgreSQLCannotHold(t *testing.T) {
	ctx := context.Background()
	conn := postgresSchema(t, ctx)
	lite, err := sql.Open("sqlite3", "file:"+filepath.Join(t.TempDir(), "bad.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	if _, err := lite.Exec(`CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
		INSERT INTO settings VALUES ('a', 'fine'), ('b', 'nul' || char(0) || 'inside')`); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = postgres.CopyTable(ctx, tx, lite, "settings", nil)
	tx.Rollback(ctx)
	if err == nil || !strings.Contains(err.Error(), "settings row 2, column value") || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("CopyTable of a NUL in text: %v", err)
	}
	if table, _, err := postgres.Empty(ctx, conn); err != nil || table != "" {
		t.Fatalf("after a failed copy Empty = %q, %v", table, err)
	}
}

// upgradedFixture copies storage/testdata/upgrade-v1.db to a temporary file, upgrades it with
// storage.Open (in the town piran) and returns it opened read-only.
func upgradedFixture(t *testing.T) *sql.DB {
	t.Helper()
	raw, err := os.ReadFile("../testdata/upgrade-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(context.Background(), path, loc, storage.WithTown(storage.DefaultTown("piran", loc)))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	lite, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	return lite
}

// dumpSQLite reads every row of table in primary key order, each value as dumpPostgres reads
// PostgreSQL's, for comparison.
func dumpSQLite(t *testing.T, lite *sql.DB, conn *pgx.Conn, table string) [][]string {
	t.Helper()
	cols, key, err := postgres.Columns(context.Background(), conn, table)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range cols {
		names = append(names, `"`+c.Name+`"`)
	}
	rows, err := lite.Query(`SELECT ` + strings.Join(names, ", ") + ` FROM ` + table + ` ORDER BY ` + strings.Join(key, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, render(vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dumpPostgres(t *testing.T, conn *pgx.Conn, table string) [][]string {
	t.Helper()
	_, key, err := postgres.Columns(context.Background(), conn, table)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), `SELECT * FROM `+table+` ORDER BY `+strings.Join(key, ", "))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, render(vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// render prints values so the same value reads the same from either engine: bytes as hex
// (SQLite may hand a BLOB's bytes or a TEXT's), numbers and text as Go prints them.
func render(vals []any) []string {
	out := make([]string, len(vals))
	for i, v := range vals {
		switch x := v.(type) {
		case nil:
			out[i] = "NULL"
		case []byte:
			out[i] = fmt.Sprintf("x'%x'", x)
		case string:
			out[i] = fmt.Sprintf("%q", x)
		default:
			out[i] = fmt.Sprint(x)
		}
	}
	return out
}
