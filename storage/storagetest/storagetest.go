// Package storagetest gives tests a fresh database on the engine under test, and a raw
// connection to it for tests that play the part of someone who edits the database behind the
// service's back.
//
// The engine is chosen by the environment, so that one test suite runs on both:
//
//	CITYCARD_TEST_ENGINE=sqlite   (default) a file in the test's temporary directory
//	CITYCARD_TEST_ENGINE=postgres a fresh schema on CITYCARD_TEST_POSTGRES, dropped afterwards
//
// CITYCARD_TEST_POSTGRES is the URL of a PostgreSQL server on which tests may create schemas
// (.ci/postgres starts a throw-away one). Tests that need PostgreSQL skip without it, except
// under CI (CI set), where they fail: CI must never skip them.
package storagetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	_ "github.com/mattn/go-sqlite3"    // registers "sqlite3"

	"github.com/citycard/citycard/storage/postgres"
)

// Engine is the engine the suite runs on: "sqlite" or "postgres".
func Engine() string {
	if strings.EqualFold(os.Getenv("CITYCARD_TEST_ENGINE"), "postgres") {
		return "postgres"
	}
	return "sqlite"
}

// OnPostgres reports whether the suite runs on PostgreSQL.
func OnPostgres() bool { return Engine() == "postgres" }

// DSN returns a fresh, empty database on the engine under test: a file path in a temporary
// directory, or the URL of a new PostgreSQL schema dropped when the test ends.
func DSN(tb testing.TB) string {
	tb.Helper()
	if OnPostgres() {
		return Postgres(tb)
	}
	return filepath.Join(tb.TempDir(), "test.db")
}

// SkipOnPostgres skips a test of something only SQLite has (its file, its WAL, its writer).
func SkipOnPostgres(tb testing.TB, why string) {
	tb.Helper()
	if OnPostgres() {
		tb.Skip("SQLite only: " + why)
	}
}

// ServerURL is CITYCARD_TEST_POSTGRES; without it the test is skipped, or fails under CI.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("CITYCARD_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("CI") != "" {
			tb.Fatal("CITYCARD_TEST_POSTGRES is not set under CI: .ci/run starts a PostgreSQL for the tests")
		}
		tb.Skip("no PostgreSQL: set CITYCARD_TEST_POSTGRES (see .ci/postgres)")
	}
	return u
}

// Postgres returns the URL of a new, empty schema on CITYCARD_TEST_POSTGRES (search_path set
// to it), dropped with everything in it when the test ends.
func Postgres(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		tb.Fatalf("create schema on %s: %v", postgres.Redact(base), err)
	}
	tb.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.Exec(`DROP SCHEMA ` + schema + ` CASCADE`); err != nil {
			tb.Logf("drop schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Raw is a direct connection to a test database, around the service.
type Raw struct {
	tb  testing.TB
	db  *sql.DB
	pg  bool
	DSN string
}

// Open connects to the database dsn (an SQLite path or a PostgreSQL URL) directly, closed
// when the test ends. Statements are written with ? placeholders on both engines.
func Open(tb testing.TB, dsn string) *Raw {
	tb.Helper()
	driver, src, pg := "sqlite3", "file:"+dsn+"?_busy_timeout=10000", false
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		driver, src, pg = "pgx", dsn, true
	}
	db, err := sql.Open(driver, src)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return &Raw{tb: tb, db: db, pg: pg, DSN: dsn}
}

func (r *Raw) bind(q string) string {
	if r.pg {
		return postgres.Rebind(q)
	}
	return q
}

// Exec runs q.
func (r *Raw) Exec(q string, args ...any) (sql.Result, error) {
	return r.db.ExecContext(context.Background(), r.bind(q), args...)
}

// MustExec runs q and fails the test on an error.
func (r *Raw) MustExec(q string, args ...any) sql.Result {
	r.tb.Helper()
	res, err := r.Exec(q, args...)
	if err != nil {
		r.tb.Fatalf("%s: %v", q, err)
	}
	return res
}

// Close closes the connection (also closed when the test ends).
func (r *Raw) Close() error { return r.db.Close() }

// SQLOpen is Open in the shape of sql.Open("sqlite3", src) for tests written against it: src
// may be an SQLite path with file: and ?options (kept), or a PostgreSQL URL.
func SQLOpen(tb testing.TB, src string) (*Raw, error) {
	tb.Helper()
	if strings.HasPrefix(src, "postgres://") || strings.HasPrefix(src, "postgresql://") {
		return Open(tb, src), nil
	}
	if !strings.HasPrefix(src, "file:") {
		src = "file:" + src
	}
	db, err := sql.Open("sqlite3", src)
	if err != nil {
		return nil, err
	}
	tb.Cleanup(func() { db.Close() })
	return &Raw{tb: tb, db: db, DSN: src}, nil
}

// QueryRow runs q.
func (r *Raw) QueryRow(q string, args ...any) *sql.Row {
	return r.db.QueryRowContext(context.Background(), r.bind(q), args...)
}

// Query runs q.
func (r *Raw) Query(q string, args ...any) (*sql.Rows, error) {
	return r.db.QueryContext(context.Background(), r.bind(q), args...)
}

// Postgres reports whether the database is PostgreSQL.
func (r *Raw) Postgres() bool { return r.pg }
