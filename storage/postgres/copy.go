package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// This file holds what `citycard migrate-db` needs on the PostgreSQL side: the tables in an
// order a copy can fill them in, a check that the target holds no rows, COPY into a table,
// and the identities moved past the copied keys. The copy runs in one transaction (see
// Import), so a failed run leaves the target with its tables and no rows.

// Tables is every table of the schema (migrations/*.sql) but schema_migrations, each after the
// tables its foreign keys name: the order a copy fills them in and Empty looks at them.
// TestTablesCoverTheSchema checks it against the catalogue.
var Tables = []string{
	"settings",
	"signing_keys",
	"checkpoint_keys",
	"towns",
	"products",
	"product_codes",
	"product_towns",
	"batches",
	"cards",
	"merchants",
	"offers",
	"redemptions",
	"idempotency_keys",
	"audit",
	"ledger",
	"ledger_heads",
	"rollup_days",
	"rollup_months",
	"rollup_card_uses",
	"rollup_cards",
	"month_closes",
	"ledger_checkpoints",
	"merchant_keys",
	"pairings",
	"office_tokens",
	"leases",
}

// Conn is what the copy needs of a connection: pgx.Tx, *pgx.Conn and *pgxpool.Pool all are.
// Statements name tables without a schema: they are the first schema of the search_path.
type Conn interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Column is one column of a table: its name and its PostgreSQL type as format_type prints it
// ("bigint", "text", "bytea", "double precision").
type Column struct {
	Name string
	Type string
}

// Columns returns table's columns in their order and its primary key's columns in key order.
func Columns(ctx context.Context, c Conn, table string) (cols []Column, key []string, err error) {
	rows, err := c.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a
		WHERE a.attrelid = to_regclass(quote_ident($1)) AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, table)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var col Column
		if err := rows.Scan(&col.Name, &col.Type); err != nil {
			rows.Close()
			return nil, nil, err
		}
		cols = append(cols, col)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	if len(cols) == 0 {
		return nil, nil, fmt.Errorf("table %s is not in the target's schema (search_path): were the migrations applied?", table)
	}
	err = c.QueryRow(ctx, `SELECT coalesce((SELECT array_agg(a.attname ORDER BY u.i)
		FROM pg_constraint k, unnest(k.conkey) WITH ORDINALITY u(n, i), pg_attribute a
		WHERE k.conrelid = to_regclass(quote_ident($1)) AND k.contype = 'p'
			AND a.attrelid = k.conrelid AND a.attnum = u.n), '{}')`, table).Scan(&key)
	if err != nil {
		return nil, nil, err
	}
	if len(key) == 0 {
		return nil, nil, fmt.Errorf("table %s has no primary key", table)
	}
	return cols, key, nil
}

// Empty reports the first table of the target's schema that holds a row, and how many rows it
// holds, or "" when every table is empty or there is none yet. schema_migrations does not
// count: a database whose migrations ran but that holds no data is empty. Tables are looked at
// in the order of Tables, then any other table of the schema by name, so the table named is
// the one a person would look at first (towns before redemptions).
func Empty(ctx context.Context, c Conn) (table string, rows int64, err error) {
	names, err := schemaTables(ctx, c)
	if err != nil {
		return "", 0, err
	}
	for _, name := range names {
		var found bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+pgx.Identifier{name}.Sanitize()+`)`).Scan(&found); err != nil {
			return "", 0, fmt.Errorf("table %s: %w", name, err)
		}
		if !found {
			continue
		}
		if err := c.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&rows); err != nil {
			return "", 0, fmt.Errorf("table %s: %w", name, err)
		}
		return name, rows, nil
	}
	return "", 0, nil
}

// Truncate deletes every row of every table of the current schema but schema_migrations, in
// one statement (so foreign keys between them hold), and restarts their identities. It takes
// a transaction because the tables' own triggers (audit's append-only one among them) are
// turned off for it, as Import does, and on again before the commit.
func Truncate(ctx context.Context, tx pgx.Tx) error {
	names, err := schemaTables(ctx, tx)
	if err != nil || len(names) == 0 {
		return err
	}
	ids := make([]string, len(names))
	for i, n := range names {
		ids[i] = pgx.Identifier{n}.Sanitize()
		if _, err := tx.Exec(ctx, `ALTER TABLE `+ids[i]+` DISABLE TRIGGER USER`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `TRUNCATE `+strings.Join(ids, ", ")+` RESTART IDENTITY`); err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+id+` ENABLE TRIGGER USER`); err != nil {
			return err
		}
	}
	return nil
}

// schemaTables lists the ordinary tables of the current schema but schema_migrations, those of
// Tables first in its order.
func schemaTables(ctx context.Context, c Conn) ([]string, error) {
	rows, err := c.Query(ctx, `SELECT relname FROM pg_class
		WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p') AND relname <> 'schema_migrations'`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	rank := func(n string) int {
		if i := slices.Index(Tables, n); i >= 0 {
			return i
		}
		return len(Tables)
	}
	sort.Slice(names, func(i, j int) bool {
		ri, rj := rank(names[i]), rank(names[j])
		return ri < rj || ri == rj && names[i] < names[j]
	})
	return names, nil
}

// Import copies the rows of src into table's columns with COPY, and returns how many it
// copied. It takes a transaction because it turns the table's own triggers off for the copy
// (ALTER TABLE … DISABLE TRIGGER USER, which needs the table's owner) and on again: a copy
// is a copy, nothing may be derived from it twice (rollup_card_uses' trigger would count
// rollup_cards up again over the copied rollup_cards); if the copy fails, the rollback undoes
// the switch with the rows.
func Import(ctx context.Context, tx pgx.Tx, table string, columns []string, src pgx.CopyFromSource) (int64, error) {
	if !slices.Contains(Tables, table) {
		return 0, fmt.Errorf("import into %s: not a table of citycard's schema", table)
	}
	var triggers bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_trigger
		WHERE tgrelid = to_regclass(quote_ident($1)) AND NOT tgisinternal)`, table).Scan(&triggers); err != nil {
		return 0, fmt.Errorf("import into %s: %w", table, err)
	}
	name := pgx.Identifier{table}.Sanitize()
	if triggers {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+name+` DISABLE TRIGGER USER`); err != nil {
			return 0, fmt.Errorf("import into %s: turning its triggers off for the copy (the copying role must own the tables): %w", table, err)
		}
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, src)
	if err != nil {
		return n, fmt.Errorf("import into %s: %w", table, err)
	}
	if triggers {
		if _, err := tx.Exec(ctx, `ALTER TABLE `+name+` ENABLE TRIGGER USER`); err != nil {
			return n, fmt.Errorf("import into %s: turning its triggers on again: %w", table, err)
		}
	}
	return n, nil
}

// Source is the database a copy reads: *sql.DB or *sql.Tx (a read transaction, so every table
// is read from one state of the source).
type Source interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// CopyTable copies every row of table from src into the same table of the target, in primary
// key order, and returns how many it copied. The columns are the target's, by name and in its
// order (the source must have them all: both engines' schemas are the same); the SELECT is
// plain SQL with quoted names. progress is as NewRowSource's.
func CopyTable(ctx context.Context, tx pgx.Tx, src Source, table string, progress func(done int64)) (int64, error) {
	cols, key, err := Columns(ctx, tx, table)
	if err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		quoted[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	order := make([]string, len(key))
	for i, k := range key {
		order[i] = pgx.Identifier{k}.Sanitize()
	}
	rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+pgx.Identifier{table}.Sanitize()+
		` ORDER BY `+strings.Join(order, ", "))
	if err != nil {
		return 0, fmt.Errorf("read %s from the source: %w", table, err)
	}
	defer rows.Close()
	rs := NewRowSource(rows, table, cols, progress)
	n, err := Import(ctx, tx, table, names, rs)
	if err != nil {
		if rs.Err() != nil { // the source's error, which COPY only reports as its own failure
			return n, fmt.Errorf("read %s from the source: %w", table, rs.Err())
		}
		return n, err
	}
	if n != rs.Rows() {
		return n, fmt.Errorf("import into %s: COPY stored %d rows of the %d read", table, n, rs.Rows())
	}
	return n, nil
}

// ResetIdentities moves every identity column of the schema past the largest value its table
// holds, so the next row inserted without it gets the next number, as SQLite's rowid would
// (a copy inserts the keys it read, which an identity does not count).
func ResetIdentities(ctx context.Context, c Conn) error {
	rows, err := c.Query(ctx, `SELECT c.relname, a.attname FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND a.attidentity <> '' AND NOT a.attisdropped
		ORDER BY c.relname`)
	if err != nil {
		return err
	}
	type identity struct{ table, column string }
	ids, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (identity, error) {
		var id identity
		err := r.Scan(&id.table, &id.column)
		return id, err
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		t, col := pgx.Identifier{id.table}.Sanitize(), pgx.Identifier{id.column}.Sanitize()
		// setval(…, max + 1, false): the next value is max + 1 (1 on an empty table).
		if _, err := c.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(`+col+`), 0) + 1, false) FROM `+t,
			t, id.column); err != nil {
			return fmt.Errorf("identity of %s.%s: %w", id.table, id.column, err)
		}
	}
	return nil
}

// RowSource streams the rows of a database/sql query (the SQLite source's SELECT of one
// table) into COPY, converting each value to what its PostgreSQL column takes: int64 for
// bigint, float64 for double precision, string for text, []byte for bytea, nil for NULL.
// SQLite types a value, not a column, so a value of another type is converted when the
// conversion loses nothing (an integer into a real, text into a blob) and refused otherwise,
// naming the table, column and row.
type RowSource struct {
	rows     *sql.Rows
	table    string
	cols     []Column
	vals     []any
	dest     []any
	n        int64
	err      error
	progress func(done int64)
}

// ProgressEvery is how many rows a RowSource copies between two calls of its progress
// function.
const ProgressEvery = 4096

// NewRowSource reads rows, whose columns are cols in order, for table. progress, if not nil,
// is called with the number of rows read so far every ProgressEvery rows and at the end.
func NewRowSource(rows *sql.Rows, table string, cols []Column, progress func(done int64)) *RowSource {
	s := &RowSource{rows: rows, table: table, cols: cols, vals: make([]any, len(cols)), dest: make([]any, len(cols)), progress: progress}
	for i := range s.dest {
		s.dest[i] = new(any)
	}
	return s
}

// Next reads the next row; false at the end or on an error (see Err).
func (s *RowSource) Next() bool {
	if s.err != nil {
		return false
	}
	if !s.rows.Next() {
		s.err = s.rows.Err()
		if s.progress != nil && s.err == nil {
			s.progress(s.n)
		}
		return false
	}
	if err := s.rows.Scan(s.dest...); err != nil {
		s.err = fmt.Errorf("%s row %d: %w", s.table, s.n+1, err)
		return false
	}
	for i, d := range s.dest {
		v, err := convert(*d.(*any), s.cols[i].Type)
		if err != nil {
			s.err = fmt.Errorf("%s row %d, column %s: %w", s.table, s.n+1, s.cols[i].Name, err)
			return false
		}
		s.vals[i] = v
	}
	s.n++
	if s.progress != nil && s.n%ProgressEvery == 0 {
		s.progress(s.n)
	}
	return true
}

// Values is the current row, converted.
func (s *RowSource) Values() ([]any, error) { return s.vals, s.err }

// Err is the error that ended the rows, if any.
func (s *RowSource) Err() error { return s.err }

// Rows is how many rows were read.
func (s *RowSource) Rows() int64 { return s.n }

// errConvert explains a value a column cannot take.
var errConvert = errors.New("value does not fit the PostgreSQL column")

// convert turns a value database/sql read from SQLite into one of typ's.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			if x == math.Trunc(x) && x >= math.MinInt64 && x < math.MaxInt64 {
				return int64(x), nil
			}
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		case string:
			if n, err := strconv.ParseInt(x, 10, 64); err == nil {
				return n, nil
			}
		case []byte:
			if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
				return n, nil
			}
		}
	case "double precision", "real":
		switch x := v.(type) {
		case float64:
			return x, nil
		case int64:
			return float64(x), nil
		}
	case "text":
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case []byte:
			s = string(x)
		case int64:
			return strconv.FormatInt(x, 10), nil
		default:
			return nil, fmt.Errorf("%w: %T %v in a text column", errConvert, v, v)
		}
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("%w: text that is not UTF-8 (%q)", errConvert, truncate(s))
		}
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%w: text with a NUL character (%q), which PostgreSQL's text cannot hold", errConvert, truncate(s))
		}
		return s, nil
	case "bytea":
		switch x := v.(type) {
		case []byte:
			return x, nil
		case string:
			return []byte(x), nil
		}
	default:
		return nil, fmt.Errorf("%w: the column's type %s is not one the schema uses", errConvert, typ)
	}
	return nil, fmt.Errorf("%w: %T %v in a %s column", errConvert, v, v, typ)
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
