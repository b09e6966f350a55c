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

// Migration is what MigrateDB copied: the tables, and the source as it was at the moment
// copied (its towns, by code, and every town's ledger length and head), read in the copy's
// own read transaction. A source that a service kept writing has moved on since: the copy
// is checked against this, not against the source as it is now.
type Migration struct {
	Tables []TableCopy
	Towns  []string
	Heads  map[string]LedgerHead
}

// LedgerHead is a town's ledger length and its last entry's hash (32 zero bytes when empty).
type LedgerHead struct {
	Entries int64
	Head    [32]byte
}

// ErrTargetNotEmpty is returned by MigrateDB for a target that holds data.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// MigrateDB copies the SQLite database at from, every table of it, into the PostgreSQL
// database at to (postgres://…), which must hold no rows: it refuses one that does, naming the
// first table with rows, before it changes anything. It then applies the PostgreSQL migrations
// (which leave an empty schema), and copies every table, in foreign-key order, within one
// PostgreSQL transaction that also moves the identities past the copied keys: a run that fails
// or is interrupted leaves the target with its schema and no rows, and can simply be run
// again. The source is read in one read transaction, a snapshot of one moment of it, even if a
// service keeps writing it meanwhile: what it writes after that moment is not copied, and
// Migration says what was (the copy's towns and ledger heads).
//
// The source must be at this build's schema, with nothing left to book: an older file is
// refused (start this build's service on it once to upgrade it). MigrateDB does not check the
// copy beyond the row counts: see the command (citycard migrate-db) for the checks of the
// ledgers and the closed months, and EmptyTarget for undoing a copy whose check failed.
func MigrateDB(ctx context.Context, from, to string, progress MigrateProgress) (Migration, error) {
	if IsPostgres(from) {
		return Migration{}, fmt.Errorf("the source %s is PostgreSQL: migrate-db copies an SQLite file into PostgreSQL", postgres.Redact(from))
	}
	if !IsPostgres(to) {
		return Migration{}, fmt.Errorf("the target %q is not a postgres:// or postgresql:// URL", to)
	}
	if progress == nil {
		progress = func(string, int64, int64) {}
	}
	// The source: refused unless at this build's schema with no backfill pending.
	check, err := OpenReadOnly(ctx, from, time.UTC)
	if err != nil {
		return Migration{}, err
	}
	check.Close()
	src, err := sqlite.OpenReadOnly(ctx, from)
	if err != nil {
		return Migration{}, err
	}
	defer src.Close()
	_, read := src.Conns()

	// The target: refused if it holds any row, before the migrations touch it.
	if err := refuseNonEmpty(ctx, to); err != nil {
		return Migration{}, err
	}
	dst, err := postgres.Open(ctx, to, postgres.Options{MaxConns: 2, MinConns: 1})
	if err != nil {
		return Migration{}, err
	}
	defer dst.Close()

	snap, err := read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Migration{}, fmt.Errorf("read %s: %w", from, err)
	}
	defer snap.Rollback()
	tx, err := dst.Pool().Begin(ctx)
	if err != nil {
		return Migration{}, fmt.Errorf("%s: %w", dst.Describe(), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Checked again inside the transaction: a service started on the target meanwhile (which
	// would write its first town) makes the copy stop here rather than mix two databases.
	if table, n, err := postgres.Empty(ctx, tx); err != nil {
		return Migration{}, err
	} else if table != "" {
		return Migration{}, notEmpty(dst.Describe(), table, n)
	}
	var copies []TableCopy
	for _, table := range postgres.Tables {
		var total int64
		if err := snap.QueryRowContext(ctx, `SELECT count(*) FROM `+pgx.Identifier{table}.Sanitize()).Scan(&total); err != nil {
			return Migration{}, fmt.Errorf("read %s from %s: %w", table, from, err)
		}
		progress(table, 0, total)
		start := time.Now()
		n, err := postgres.CopyTable(ctx, tx, snap, table, func(done int64) { progress(table, done, total) })
		if err != nil {
			return Migration{}, err
		}
		if n != total {
			return Migration{}, fmt.Errorf("copy %s: %d rows copied, the source has %d", table, n, total)
		}
		copies = append(copies, TableCopy{Table: table, Rows: n, Took: time.Since(start)})
	}
	if err := postgres.ResetIdentities(ctx, tx); err != nil {
		return Migration{}, err
	}
	m := Migration{Tables: copies, Heads: map[string]LedgerHead{}}
	if m.Towns, err = snapshotTowns(ctx, snap); err != nil {
		return Migration{}, fmt.Errorf("read the towns of %s: %w", from, err)
	}
	for _, town := range m.Towns {
		var h LedgerHead
		var hash []byte
		err := snap.QueryRowContext(ctx, `SELECT seq, hash FROM ledger WHERE town = ? ORDER BY seq DESC LIMIT 1`, town).Scan(&h.Entries, &hash)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return Migration{}, fmt.Errorf("read the ledger of %s from %s: %w", town, from, err)
		}
		copy(h.Head[:], hash)
		m.Heads[town] = h
	}
	if err := tx.Commit(ctx); err != nil {
		return Migration{}, fmt.Errorf("commit the copy into %s: %w", dst.Describe(), err)
	}
	return m, nil
}

func snapshotTowns(ctx context.Context, snap *sql.Tx) ([]string, error) {
	rows, err := snap.QueryContext(ctx, `SELECT code FROM towns ORDER BY code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var towns []string
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return nil, err
		}
		towns = append(towns, code)
	}
	return towns, rows.Err()
}

// EmptyTarget deletes every row MigrateDB copied into the PostgreSQL database at to, in one
// transaction, leaving its schema (and schema_migrations) as a fresh migration does: after a
// copy whose check failed, so that migrate-db can be run again. Run it only on a target no
// service uses: it empties every table of the target's schema.
func EmptyTarget(ctx context.Context, to string) error {
	pool, err := targetPool(ctx, to)
	if err != nil {
		return err
	}
	defer pool.Close()
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", postgres.Redact(to), err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := postgres.Truncate(ctx, tx); err != nil {
		return fmt.Errorf("empty %s: %w", postgres.Redact(to), err)
	}
	return tx.Commit(ctx)
}

// refuseNonEmpty connects to the target on its own, without migrating it, and refuses it if
// any table of its schema holds a row. (A pool, not pgx.Connect: it reads the URL's pool_*
// settings as the service does instead of sending them to the server.)
func refuseNonEmpty(ctx context.Context, to string) error {
	pool, err := targetPool(ctx, to)
	if err != nil {
		return err
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

// targetPool is a pool of one connection to the target, without migrating it. (A pool, not
// pgx.Connect: it reads the URL's pool_* settings as the service does instead of sending them
// to the server.)
func targetPool(ctx context.Context, to string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(to)
	if err != nil {
		return nil, fmt.Errorf("the target %s: %w", postgres.Redact(to), err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 0
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", postgres.Redact(to), err)
	}
	return pool, nil
}
