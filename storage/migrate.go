package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/sqlite"
)

// MigrateProgress is told how far MigrateDB is: done of table's total rows are copied. It is
// called from MigrateDB's goroutine, once a table starts (done 0), every
// postgres.ProgressEvery rows and when the table is done.
type MigrateProgress func(table string, done, total int64)

// TableCopy is one table MigrateDB copied: its name, its rows and how long it took.
type TableCopy struct {
	Table string
	Rows  int64
	Took  time.Duration
}

// ErrTargetNotEmpty is returned by MigrateDB for a target that holds data.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// MigrateDB copies the SQLite database at from, every table of it, into the PostgreSQL
// database at to (postgres://…), which must hold no rows: it refuses one that does, naming the
// first table with rows, before it changes anything. It then applies the PostgreSQL migrations
// (which leave an empty schema), and copies every table, in foreign-key order, within one
// PostgreSQL transaction that also moves the identities past the copied keys: a run that fails
// or is interrupted leaves the target with its schema and no rows, and can simply be run
// again. The source is read in one read transaction, so the copy is of one moment of it even
// if the service is running (stop it first: what it writes after that moment is not copied).
//
// The source must be at this build's schema, with nothing left to book: an older file is
// refused (start this build's service on it once to upgrade it). MigrateDB does not check the
// copy beyond the row counts: see the command (citycard migrate-db) for the checks of the
// ledgers and the closed months.
func MigrateDB(ctx context.Context, from, to string, progress MigrateProgress) ([]TableCopy, error) {
	if IsPostgres(from) {
		return nil, fmt.Errorf("the source %s is PostgreSQL: migrate-db copies an SQLite file into PostgreSQL", postgres.Redact(from))
	}
	if !IsPostgres(to) {
		return nil, fmt.Errorf("the target %q is not a postgres:// or postgresql:// URL", to)
	}
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	// The source: refused unless at this build's schema with no backfill pending.
	check, err := OpenReadOnly(ctx, from, time.UTC)
	if err != nil {
		return nil, err
	}
	check.Close()
	src, err := sqlite.OpenReadOnly(ctx, from)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	_, read := src.Conns()

	// The target: refused if it holds any row, before the migrations touch it.
	if err := refuseNonEmpty(ctx, to); err != nil {
		return nil, err
	}
	dst, err := postgres.Open(ctx, to, postgres.Options{MaxConns: 2, MinConns: 1})
	if err != nil {
		return nil, err
	}
	defer dst.Close()

	snap, err := read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", from, err)
	}
	defer snap.Rollback()
	tx, err := dst.Pool().Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dst.Describe(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Checked again inside the transaction: a service started on the target meanwhile (which
	// would write its first town) makes the copy stop here rather than mix two databases.
	if table, n, err := postgres.Empty(ctx, tx); err != nil {
		return nil, err
	} else if table != "" {
		return nil, notEmpty(dst.Describe(), table, n)
	}
	var copies []TableCopy
	for _, table := range postgres.Tables {
		var total int64
		if err := snap.QueryRowContext(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&total); err != nil {
			return nil, fmt.Errorf("read %s from %s: %w", table, from, err)
		}
		progress(table, 0, total)
		start := time.Now()
		n, err := postgres.CopyTable(ctx, tx, snap, table, func(done int64) { progress(table, done, total) })
		if err != nil {
			return nil, err
		}
		if n != total {
			return nil, fmt.Errorf("copy %s: %d rows copied, the source has %d", table, n, total)
		}
		copies = append(copies, TableCopy{Table: table, Rows: n, Took: time.Since(start)})
	}
	if err := postgres.ResetIdentities(ctx, tx); err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("commit the copy into %s: %w", dst.Describe(), err)
	}
	return copies, nil
}

// refuseNonEmpty connects to the target on its own, without migrating it, and refuses it if
// any table of its schema holds a row. (A pool, not pgx.Connect: it reads the URL's pool_*
// settings as the service does instead of sending them to the server.)
func refuseNonEmpty(ctx context.Context, to string) error {
	cfg, err := pgxpool.ParseConfig(to)
	if err != nil {
		return fmt.Errorf("the target %s: %w", postgres.Redact(to), err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", postgres.Redact(to), err)
	}
	defer pool.Close()
	table, n, err := postgres.Empty(ctx, pool)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", postgres.Redact(to), err)
	}
	if table != "" {
		return notEmpty(postgres.Redact(to), table, n)
	}
	return nil
}

func notEmpty(describe, table string, n int64) error {
	rows := "rows"
	if n == 1 {
		rows = "row"
	}
	return fmt.Errorf("%w: %s has %d %s in table %s; migrate-db copies into an empty database only (create a new database, or drop this one's tables)",
		ErrTargetNotEmpty, describe, n, rows, table)
}
