package postgres_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/citycard/citycard/storage/engine"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/storagetest"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`SELECT '?' , "a?b", ? -- what?` + "\n" + `, ?`, `SELECT '?' , "a?b", $1 -- what?` + "\n" + `, $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`WHERE key_hash = ?1 OR id = (SELECT x FROM y WHERE key_hash = ?1)`, `WHERE key_hash = $1 OR id = (SELECT x FROM y WHERE key_hash = $1)`},
		{`LIKE ? ESCAPE '\' AND seq < ?`, `LIKE $1 ESCAPE '\' AND seq < $2`},
	} {
		if got := postgres.Rebind(tc.in); got != tc.want {
			t.Errorf("Rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCheckSettings(t *testing.T) {
	for _, tc := range []struct {
		version           int
		syncCommit, fsync string
		want              string
	}{
		{150018, "on", "on", ""},
		{130000, "remote_apply", "on", ""},
		{120009, "on", "on", "older than 13"},
		{150018, "off", "on", "synchronous_commit is off"},
		{150018, "on", "off", "fsync is off"},
	} {
		err := postgres.CheckSettings("db", tc.version, tc.syncCommit, tc.fsync)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("postgres.CheckSettings(%d, %s, %s) = %v, want %q", tc.version, tc.syncCommit, tc.fsync, err, tc.want)
		}
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	got := postgres.Redact("postgres://citycard:s3cret@db:5432/citycard?sslmode=disable&password=other")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "other") || !strings.Contains(got, "db:5432") {
		t.Fatalf("Redact = %q", got)
	}
}

// A bad URL, a server that is not there, a database that does not exist, a role that does not
// exist: each is a clear error that names the database without its password and says what to
// check.
func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := postgres.Open(ctx, "postgres://u:pw@host:notaport/db", postgres.Options{}); err == nil || !strings.Contains(err.Error(), "not a valid PostgreSQL URL") || strings.Contains(err.Error(), "pw@") {
		t.Errorf("bad URL: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	if _, err := postgres.Open(ctx, "postgres://u:secret@"+addr+"/db?sslmode=disable&connect_timeout=2", postgres.Options{}); err == nil ||
		!strings.Contains(err.Error(), "cannot reach PostgreSQL") || strings.Contains(err.Error(), "secret") {
		t.Errorf("no server: %v", err)
	}
	base := storagetest.ServerURL(t)
	u, _ := url.Parse(base)
	u.Path = "/citycard_no_such_database"
	if _, err := postgres.Open(ctx, u.String(), postgres.Options{}); err == nil || !strings.Contains(err.Error(), "does not exist") || !strings.Contains(err.Error(), "createdb") {
		t.Errorf("no database: %v", err)
	}
	u, _ = url.Parse(base)
	u.User = url.UserPassword("citycard_no_such_role", "pw")
	if _, err := postgres.Open(ctx, u.String(), postgres.Options{}); err == nil || !strings.Contains(err.Error(), "citycard_no_such_role") || strings.Contains(err.Error(), ":pw@") {
		t.Errorf("no role: %v", err)
	}
}

// The start-up checks refuse a connection on which commits are not durable, and a schema a
// newer build wrote; a read-only open refuses a database without the schema.
func TestOpenRefusesWhatItMustNotRunOn(t *testing.T) {
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("synchronous_commit", "off") // a runtime parameter of the connection
	u.RawQuery = q.Encode()
	if _, err := postgres.Open(ctx, u.String(), postgres.Options{}); err == nil || !strings.Contains(err.Error(), "synchronous_commit is off") {
		t.Fatalf("synchronous_commit off: %v", err)
	}
	if _, err := postgres.OpenReadOnly(ctx, dsn, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "no citycard schema") {
		t.Fatalf("read-only open of an empty schema: %v", err)
	}
	e, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 3, MinConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.Pool().Config().MaxConns; got != 3 {
		t.Errorf("pool MaxConns = %d, want 3", got)
	}
	if err := e.Update(ctx, func(tx engine.Tx) error {
		_, err := tx.Exec(`INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future.sql', 0)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	if _, err := postgres.Open(ctx, dsn, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "newer citycard") {
		t.Fatalf("a newer schema: %v", err)
	}
	if _, err := postgres.OpenReadOnly(ctx, dsn, postgres.Options{}); err == nil || !strings.Contains(err.Error(), "newer citycard") {
		t.Fatalf("read-only, a newer schema: %v", err)
	}
}

// Instances starting at once on an empty database take turns on the migrations: every one
// opens, the schema is applied once.
func TestConcurrentFirstStarts(t *testing.T) {
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e, err := postgres.Open(ctx, dsn, postgres.Options{MaxConns: 2})
			if err == nil {
				e.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	e, err := postgres.OpenReadOnly(ctx, dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var n int
	if err := e.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != postgres.Migrations() {
		t.Fatalf("%d migrations recorded (%v), want %d", n, err, postgres.Migrations())
	}
}

// A write whose commit fails with a serialization failure is run again as a whole, and a
// write that keeps failing gives up after MaxAttempts with the database's error.
func TestUpdateRetriesSerializationFailures(t *testing.T) {
	ctx := context.Background()
	dsn := storagetest.Postgres(t)
	var fail atomic.Int32
	fail.Store(2)
	e, err := postgres.Open(ctx, dsn, postgres.Options{MaxAttempts: 4, BeforeCommit: func(attempt int) error {
		if fail.Add(-1) >= 0 {
			return postgres.SerializationFailure()
		}
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	runs := 0
	err = e.Update(ctx, func(tx engine.Tx) error {
		runs++
		_, err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?)`, "retry_probe", "x")
		return err
	})
	if err != nil || runs != 3 || e.Retries() != 2 {
		t.Fatalf("Update = %v after %d runs, %d retries; want nil after 3 runs, 2 retries", err, runs, e.Retries())
	}
	var n int
	if err := e.QueryRow(ctx, `SELECT count(*) FROM settings WHERE key = 'retry_probe'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d rows (%v), want exactly 1", n, err)
	}
	fail.Store(100)
	err = e.Update(ctx, func(tx engine.Tx) error {
		_, err := tx.Exec(`INSERT INTO settings (key, value) VALUES (?, ?)`, "retry_probe_2", "x")
		return err
	})
	if !postgres.IsCode(err, "40001") {
		t.Fatalf("a write that always fails: %v, want the serialization failure", err)
	}
	if err := e.QueryRow(ctx, `SELECT count(*) FROM settings WHERE key = 'retry_probe_2'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows of the failed write (%v), want none", n, err)
	}
	// A business error is not retried.
	runs = 0
	boom := errors.New("not allowed")
	if err := e.Update(ctx, func(tx engine.Tx) error { runs++; return boom }); !errors.Is(err, boom) || runs != 1 {
		t.Fatalf("a failing write: %v after %d runs", err, runs)
	}
}
