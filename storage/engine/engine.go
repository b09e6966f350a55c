// Package engine is what a database engine gives citycard's storage: transactions that are
// durable when they return, reads, a read snapshot, and the few things that differ between
// engines (error classes, row locks, whether other processes share the database).
//
// The business layer (package storage) writes every sequence once on top of this interface:
// what a redemption, a void or a close does is not repeated per engine. Statements are written
// in the dialect both engines run (placeholders as ?, which an engine rewrites if it needs to),
// and an engine runs them; it never decides what a write means.
package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Querier runs statements. Placeholders are written ?; an engine that numbers them ($1, $2…)
// rewrites the text before it runs it.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx is one write transaction. Its statements run in the engine's own context (a write that
// has begun is finished, not torn by a caller that went away).
type Tx interface {
	Exec(query string, args ...any) (sql.Result, error)
	Query(query string, args ...any) (*sql.Rows, error)
	QueryRow(query string, args ...any) *sql.Row
	// ExecDeferred runs a statement whose result the write does not look at. An engine may
	// keep it and send it with the next statement or the commit, in one round trip (its
	// error is then that statement's, or the commit's); SQLite runs it at once.
	ExecDeferred(query string, args ...any) error
	// Savepoint runs fn so that if it fails only fn's statements are undone and the
	// transaction goes on (on PostgreSQL a failed statement otherwise aborts the transaction).
	Savepoint(fn func() error) error
}

// Folder is an Engine that commits writes in groups (SQLite's writer) and lets the writes of
// one group that ask for it share state: what each of them books is written once for the
// group, at its end, rather than once per write (package storage's batchFold).
type Folder interface {
	// UpdateFolding is Update for a write that may fold: its Tx implements Folding, and it
	// finds there the Batch the other folding writes of its group left. A write that may
	// fold must undo its own part of the Batch's state when it fails (its statements are
	// undone by the engine, as for Update).
	UpdateFolding(ctx context.Context, fn func(Tx) error) error
}

// Folding is the Tx of a write run by Folder.UpdateFolding.
type Folding interface {
	Batch() *Batch
}

// Batch is what the folding writes of one group commit share. The engine calls Flush (when
// set) outside every write's savepoint, before the group's next write that does not fold and
// before the commit, then empties the Batch: what is folded is written before anything else
// can read it, and a write that fails undoes its own part of State, never the others'. If
// Flush fails the group commit fails as a whole, every write of it with that error, nothing
// of it kept.
type Batch struct {
	State any
	Flush func() error
}

// Prefetcher is a Tx that can send several reads at once, in one round trip with the
// statements it deferred (PostgreSQL: a pipeline). It is optional: SQLite, whose statements
// cost no round trip, does not implement it.
type Prefetcher interface {
	// Prefetch sends the Tx's deferred statements and then every query of qs, in order, and
	// returns each query's rows, read in full. A failure of any of them aborts the
	// transaction: it becomes the Tx's outcome (as a deferred statement's does) and the error
	// of that query and of every later one.
	Prefetch(qs []Query) []Prefetched
}

// Query is a read for Prefetch: its text (placeholders ?) and arguments.
type Query struct {
	SQL  string
	Args []any
}

// Prefetched is one Query's answer: its rows, each the row's values as the driver decodes
// them (int64, int32, string, []byte, bool, float64, time.Time, nil for NULL), or its error.
type Prefetched struct {
	Rows [][]any
	Err  error
}

// Snapshot is a read-only transaction: its queries all see one state of the database.
type Snapshot interface {
	Querier
	Close() error
}

// Engine is a database engine.
type Engine interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Update runs fn in a write transaction and returns once it is committed and durable, or
	// fn's error (nothing of fn kept). An engine may run fn more than once (after a
	// serialization failure or a deadlock), so fn must leave nothing behind but its
	// statements and the values it returns through its closure, which a new run overwrites.
	Update(ctx context.Context, fn func(Tx) error) error
	// Reads run on a pool, each statement on its own.
	Querier
	// Snapshot begins a read-only transaction.
	Snapshot(ctx context.Context) (Snapshot, error)
	// IsUnique reports whether err is a violation of a UNIQUE or PRIMARY KEY constraint.
	IsUnique(err error) bool
	// ForUpdate is the clause that locks the rows a SELECT reads until the transaction ends
	// (" FOR UPDATE"), or "" where a transaction has the database to itself (SQLite's single
	// writer).
	ForUpdate() string
	// ForShare is the clause that locks the rows a SELECT reads against changes until the
	// transaction ends while other readers may lock them too (" FOR SHARE"), or "" as for
	// ForUpdate.
	ForShare() string
	// Shared reports whether other processes may write the same database, so nothing read
	// may be kept in memory past the request that read it unless it is invalidated across
	// processes (see Invalidations).
	Shared() bool
	// Describe names the database for messages and logs, with no password.
	Describe() string
	// Close finishes the writes under way and closes every connection.
	Close() error
}

// Notifier is an Engine that tells every process sharing the database about a change, after
// it is committed (PostgreSQL: NOTIFY in the writing transaction, LISTEN in every process).
type Notifier interface {
	// Notify queues topic for delivery to every listener when tx commits.
	Notify(tx Tx, topic string) error
	// Listen calls fn with each topic notified by any process, and with "" when notifications
	// may have been lost (a dropped connection): then every cache must be emptied. It returns
	// when ctx is done.
	Listen(ctx context.Context, fn func(topic string))
}

// ErrReadOnly is returned for a write to a database opened read-only.
var ErrReadOnly = errors.New("database opened read-only")

// ErrClosed is returned for writes begun after Close.
var ErrClosed = errors.New("database closed")

// Observer receives an engine's measurements, for metrics. Its methods
// are called from the engine's goroutines, once per commit (or group commit) or checkpoint, and must not block.
type Observer interface {
	// BatchCommitted reports a group commit: how many writes it held and how long its
	// transaction took from BEGIN to the end of COMMIT (the fsync included).
	BatchCommitted(writes int, took time.Duration)
	// WALRestarted reports a restarting checkpoint, whether it completed (the log starts
	// over at the next write), and how long the writer was paused for it.
	WALRestarted(ok bool, paused time.Duration)
}

// Migration is one embedded schema migration file: NNNN_name.sql, version NNNN.
type Migration struct {
	Version int
	Name    string // the file's name, e.g. 0016_ledger_heads.sql
	Body    string
}

// Migrations reads the migrations/*.sql files of fsys in order of their names. The version is
// the file's number, not its place in the list: migrations are numbered in advance, so a gap
// (0005 merged before 0004) must not shift them.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: the name must start with its number: %w", name, err)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: version, Name: base, Body: string(body)})
	}
	return out, nil
}
