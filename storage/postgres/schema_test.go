package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3" // registers "sqlite3", to read the SQLite catalogue

	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

// TestSchemaMatchesSQLite migrates a fresh PostgreSQL schema (migrations/*.sql) and compares
// it with a fresh SQLite database made by the SQLite engine's migrations: the same tables, the
// same columns in the same order with the same type family, nullability and default, the same
// primary keys, unique constraints and foreign keys, the same named indexes (uniqueness,
// columns or expressions, partial or not), as many CHECK constraints (their text differs by
// dialect, so only their number per table is compared) and the same triggers.
func TestSchemaMatchesSQLite(t *testing.T) {
	ctx := context.Background()
	conn := postgresSchema(t, ctx)

	dir := t.TempDir()
	path := filepath.Join(dir, "citycard.db")
	db, err := storage.Open(ctx, path, time.UTC)
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
	defer lite.Close()

	want, err := sqliteCatalogue(ctx, lite)
	if err != nil {
		t.Fatalf("SQLite catalogue: %v", err)
	}
	have, err := postgresCatalogue(ctx, conn)
	if err != nil {
		t.Fatalf("PostgreSQL catalogue: %v", err)
	}
	if len(want) < 20 {
		t.Fatalf("SQLite has %d tables, want the whole schema (20 or more): is the catalogue read right?", len(want))
	}
	var problems []string
	for _, name := range sortedKeys(want) {
		h, ok := have[name]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s: in SQLite, missing on PostgreSQL", name))
			continue
		}
		problems = append(problems, compareTables(name, want[name], h)...)
	}
	for _, name := range sortedKeys(have) {
		if _, ok := want[name]; !ok {
			problems = append(problems, fmt.Sprintf("table %s: on PostgreSQL, missing in SQLite", name))
		}
	}
	if len(problems) > 0 {
		t.Fatalf("the PostgreSQL schema (storage/postgres/migrations) and SQLite's differ:\n  %s", strings.Join(problems, "\n  "))
	}
}

// TestSchemaComparisonSeesDifferences checks that the comparison is not blind: a column in
// another place, a nullable column, a missing index and another default are each reported.
func TestSchemaComparisonSeesDifferences(t *testing.T) {
	base := func() table {
		return table{
			columns: []column{{"seq", "integer", true, ""}, {"town", "text", true, "''"}, {"note", "text", false, ""}},
			primary: "seq", unique: []string{"id"},
			foreign: []string{"town -> towns(code)"},
			indexes: map[string]string{"x_town": "town,seq"},
			trigger: []string{"x_no_update"},
			checks:  2,
		}
	}
	if p := compareTables("x", base(), base()); len(p) != 0 {
		t.Fatalf("equal tables: %v", p)
	}
	for name, change := range map[string]func(*table){
		"order":    func(x *table) { x.columns[1], x.columns[2] = x.columns[2], x.columns[1] },
		"null":     func(x *table) { x.columns[1].notNull = false },
		"type":     func(x *table) { x.columns[2].family = "blob" },
		"default":  func(x *table) { x.columns[1].dflt = "'koper'" },
		"extra":    func(x *table) { x.columns = append(x.columns, column{"more", "text", false, ""}) },
		"index":    func(x *table) { delete(x.indexes, "x_town") },
		"unique":   func(x *table) { x.indexes["x_town"] = "unique town,seq" },
		"key":      func(x *table) { x.primary = "town,seq" },
		"foreign":  func(x *table) { x.foreign = nil },
		"trigger":  func(x *table) { x.trigger = nil },
		"uniqueon": func(x *table) { x.unique = []string{"id", "town"} },
		"check":    func(x *table) { x.checks-- },
	} {
		changed := base()
		change(&changed)
		if p := compareTables("x", base(), changed); len(p) == 0 {
			t.Errorf("%s: a difference went unreported", name)
		}
	}
}

// postgresSchema opens a fresh schema on CITYCARD_TEST_POSTGRES through the engine, which
// applies migrations/*.sql, and returns a connection to it (closed, and the schema dropped,
// when the test ends).
func postgresSchema(t *testing.T, ctx context.Context) *pgx.Conn {
	t.Helper()
	url := storagetest.Postgres(t)
	eng, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	eng.Close()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// table is what the comparison knows of one table, in terms common to both engines.
type table struct {
	columns []column
	primary string            // the primary key's columns, comma-separated
	unique  []string          // unique constraints' columns (not indexes made by CREATE INDEX), sorted
	foreign []string          // "col,col -> table(col,col)", sorted
	indexes map[string]string // named indexes: ["unique "]columns or expressions[" partial"]
	trigger []string          // trigger names, sorted
	checks  int               // CHECK constraints
}

type column struct {
	name    string
	family  string // integer, real, text, blob
	notNull bool
	dflt    string // normalised: '' for none
}

func compareTables(name string, want, have table) []string {
	var p []string
	add := func(format string, a ...any) { p = append(p, "table "+name+": "+fmt.Sprintf(format, a...)) }
	names := func(cs []column) []string {
		var s []string
		for _, c := range cs {
			s = append(s, c.name)
		}
		return s
	}
	if !slices.Equal(names(want.columns), names(have.columns)) {
		add("columns are\n      SQLite     %s\n      PostgreSQL %s", strings.Join(names(want.columns), ", "), strings.Join(names(have.columns), ", "))
	} else {
		for i, w := range want.columns {
			h := have.columns[i]
			if w.family != h.family {
				add("column %s is %s on SQLite, %s on PostgreSQL", w.name, w.family, h.family)
			}
			if w.notNull != h.notNull {
				add("column %s: NOT NULL is %v on SQLite, %v on PostgreSQL", w.name, w.notNull, h.notNull)
			}
			if w.dflt != h.dflt {
				add("column %s: default %q on SQLite, %q on PostgreSQL", w.name, w.dflt, h.dflt)
			}
		}
	}
	if want.primary != have.primary {
		add("primary key (%s) on SQLite, (%s) on PostgreSQL", want.primary, have.primary)
	}
	if !slices.Equal(want.unique, have.unique) {
		add("unique constraints %v on SQLite, %v on PostgreSQL", want.unique, have.unique)
	}
	if want.checks != have.checks {
		add("%d CHECK constraints on SQLite, %d on PostgreSQL", want.checks, have.checks)
	}
	if !slices.Equal(want.foreign, have.foreign) {
		add("foreign keys %v on SQLite, %v on PostgreSQL", want.foreign, have.foreign)
	}
	for _, n := range sortedKeys(want.indexes) {
		h, ok := have.indexes[n]
		switch {
		case !ok:
			add("index %s (%s) is missing on PostgreSQL", n, want.indexes[n])
		case h != want.indexes[n]:
			add("index %s is (%s) on SQLite, (%s) on PostgreSQL", n, want.indexes[n], h)
		}
	}
	for _, n := range sortedKeys(have.indexes) {
		if _, ok := want.indexes[n]; !ok {
			add("index %s (%s) is on PostgreSQL only", n, have.indexes[n])
		}
	}
	// Every SQLite trigger must have its twin; PostgreSQL may add guards SQLite needs none of
	// (audit_no_truncate: SQLite has no TRUNCATE).
	for _, n := range want.trigger {
		if !slices.Contains(have.trigger, n) {
			add("trigger %s is missing on PostgreSQL", n)
		}
	}
	return p
}

// sqliteCatalogue reads every table of the SQLite database but its own and schema_migrations
// (which each engine makes itself).
func sqliteCatalogue(ctx context.Context, db *sql.DB) (map[string]table, error) {
	names, err := strings1(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite\_%' ESCAPE '\' AND name <> 'schema_migrations' ORDER BY name`)
	if err != nil {
		return nil, err
	}
	tables := map[string]table{}
	for _, name := range names {
		var t table
		t.indexes = map[string]string{}
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", coalesce(dflt_value, ''), pk FROM pragma_table_info(?) ORDER BY cid`, name)
		if err != nil {
			return nil, err
		}
		pk := map[int]string{}
		for rows.Next() {
			var c column
			var typ string
			var n int
			if err := rows.Scan(&c.name, &typ, &c.notNull, &c.dflt, &n); err != nil {
				rows.Close()
				return nil, err
			}
			c.family = strings.ToLower(typ)
			if n > 0 {
				pk[n] = c.name
				// SQLite lets a primary key column of a rowid table hold NULL (a documented
				// quirk) unless it says NOT NULL; PostgreSQL's never does, and no row has one.
				c.notNull = true
			}
			t.columns = append(t.columns, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		var key []string
		for i := 1; i <= len(pk); i++ {
			key = append(key, pk[i])
		}
		t.primary = strings.Join(key, ",")

		rows, err = db.QueryContext(ctx, `SELECT name, "unique", origin, partial FROM pragma_index_list(?)`, name)
		if err != nil {
			return nil, err
		}
		type idx struct {
			name, origin    string
			unique, partial bool
		}
		var list []idx
		for rows.Next() {
			var i idx
			if err := rows.Scan(&i.name, &i.unique, &i.origin, &i.partial); err != nil {
				rows.Close()
				return nil, err
			}
			list = append(list, i)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, i := range list {
			cols, err := strings1(ctx, db, `SELECT coalesce(name, '<expr>') FROM pragma_index_info(?) ORDER BY seqno`, i.name)
			if err != nil {
				return nil, err
			}
			switch i.origin {
			case "pk": // the columns of table_info's pk, already read
			case "u":
				t.unique = append(t.unique, strings.Join(cols, ","))
			default:
				t.indexes[i.name] = describeIndex(i.unique, cols, i.partial)
			}
		}
		sort.Strings(t.unique)

		rows, err = db.QueryContext(ctx, `SELECT id, "from", "table", coalesce("to", '') FROM pragma_foreign_key_list(?) ORDER BY id, seq`, name)
		if err != nil {
			return nil, err
		}
		fks := map[int][3][]string{}
		var ids []int
		for rows.Next() {
			var id int
			var from, to, parent string
			if err := rows.Scan(&id, &from, &parent, &to); err != nil {
				rows.Close()
				return nil, err
			}
			f, ok := fks[id]
			if !ok {
				ids = append(ids, id)
			}
			f[0], f[1], f[2] = append(f[0], from), []string{parent}, append(f[2], to)
			fks[id] = f
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		for _, id := range ids {
			f := fks[id]
			t.foreign = append(t.foreign, fmt.Sprintf("%s -> %s(%s)", strings.Join(f[0], ","), f[1][0], strings.Join(f[2], ",")))
		}
		sort.Strings(t.foreign)

		if t.trigger, err = strings1(ctx, db, `SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? ORDER BY name`, name); err != nil {
			return nil, err
		}
		var create string
		if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&create); err != nil {
			return nil, err
		}
		t.checks = len(checkClause.FindAllString(sqlComment.ReplaceAllString(create, ""), -1))
		tables[name] = t
	}
	return tables, nil
}

// checkClause finds the CHECK constraints in an SQLite CREATE TABLE, once its comments are
// gone (sqlComment).
var (
	checkClause = regexp.MustCompile(`(?i)\bCHECK\s*\(`)
	sqlComment  = regexp.MustCompile(`--[^\n]*`)
)

// pgFamily maps PostgreSQL's types to the SQLite declared type they translate.
var pgFamily = map[string]string{"bigint": "integer", "double precision": "real", "text": "text", "bytea": "blob"}

// pgDefault strips the casts PostgreSQL adds to a stored default ('x'::text).
var pgCast = regexp.MustCompile(`::[a-z ]+$`)

// postgresCatalogue reads every table of the current schema (the first of search_path).
func postgresCatalogue(ctx context.Context, conn *pgx.Conn) (map[string]table, error) {
	rows, err := conn.Query(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
			coalesce(pg_get_expr(d.adbin, d.adrelid), '')
		FROM pg_class c
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' AND c.relname <> 'schema_migrations'
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return nil, err
	}
	tables := map[string]table{}
	for rows.Next() {
		var tname, typ string
		var c column
		if err := rows.Scan(&tname, &c.name, &typ, &c.notNull, &c.dflt); err != nil {
			rows.Close()
			return nil, err
		}
		c.family = pgFamily[typ]
		if c.family == "" {
			c.family = typ
		}
		c.dflt = pgCast.ReplaceAllString(c.dflt, "")
		t := tables[tname]
		if t.indexes == nil { // the first column of the table
			t.indexes = map[string]string{}
		}
		t.columns = append(t.columns, c)
		tables[tname] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Constraints: primary keys, unique constraints and foreign keys, columns in key order.
	rows, err = conn.Query(ctx, `SELECT c.relname, k.contype,
			array(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i),
			coalesce(f.relname, ''),
			array(SELECT a.attname FROM unnest(coalesce(k.confkey, '{}')) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i)
		FROM pg_constraint k
		JOIN pg_class c ON c.oid = k.conrelid
		LEFT JOIN pg_class f ON f.oid = k.confrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND k.contype IN ('p', 'u', 'f')`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, kind, parent string
		var cols, to []string
		if err := rows.Scan(&tname, &kind, &cols, &parent, &to); err != nil {
			rows.Close()
			return nil, err
		}
		t, ok := tables[tname]
		if !ok { // schema_migrations
			continue
		}
		switch kind {
		case "p":
			t.primary = strings.Join(cols, ",")
		case "u":
			t.unique = append(t.unique, strings.Join(cols, ","))
		case "f":
			t.foreign = append(t.foreign, fmt.Sprintf("%s -> %s(%s)", strings.Join(cols, ","), parent, strings.Join(to, ",")))
		}
		tables[tname] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Indexes made by CREATE INDEX (not those behind a constraint); an expression is <expr>,
	// as SQLite's index_info names it.
	rows, err = conn.Query(ctx, `SELECT t.relname, i.relname, x.indisunique, x.indpred IS NOT NULL,
			array(SELECT coalesce(a.attname, '<expr>') FROM unnest(x.indkey::int2[]) WITH ORDINALITY u(n, o)
				LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.n AND u.n > 0 ORDER BY u.o)
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		WHERE t.relnamespace = current_schema()::regnamespace
			AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid AND k.conrelid = x.indrelid)`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, iname string
		var unique, partial bool
		var cols []string
		if err := rows.Scan(&tname, &iname, &unique, &partial, &cols); err != nil {
			rows.Close()
			return nil, err
		}
		t, ok := tables[tname]
		if !ok {
			continue
		}
		t.indexes[iname] = describeIndex(unique, cols, partial)
		tables[tname] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = conn.Query(ctx, `SELECT c.relname, g.tgname FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND NOT g.tgisinternal ORDER BY g.tgname`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname, name string
		if err := rows.Scan(&tname, &name); err != nil {
			rows.Close()
			return nil, err
		}
		t, ok := tables[tname]
		if !ok {
			continue
		}
		t.trigger = append(t.trigger, name)
		tables[tname] = t
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = conn.Query(ctx, `SELECT c.relname, count(*) FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND k.contype = 'c' GROUP BY c.relname`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var tname string
		var n int
		if err := rows.Scan(&tname, &n); err != nil {
			rows.Close()
			return nil, err
		}
		if t, ok := tables[tname]; ok {
			t.checks = n
			tables[tname] = t
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for n, t := range tables {
		sort.Strings(t.unique)
		sort.Strings(t.foreign)
		tables[n] = t
	}
	return tables, nil
}

func describeIndex(unique bool, cols []string, partial bool) string {
	s := strings.Join(cols, ",")
	if unique {
		s = "unique " + s
	}
	if partial {
		s += " partial"
	}
	return s
}

func strings1(ctx context.Context, db *sql.DB, query string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
