// Package sqlite is citycard's embedded storage engine: one SQLite file in WAL mode.
//
// One goroutine owns the single write connection and commits writes in groups: callers queue
// a function, the writer runs up to MaxBatch of them in one transaction, each inside its own
// SAVEPOINT (an error undoes only that function's work), commits once with synchronous=FULL,
// and only then answers each caller. Reads use a separate read-only pool. A background
// checkpointer keeps the write-ahead log bounded.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/citycard/citycard/storage/engine"
)

// MaxBatch bounds how many queued writes share one commit.
const MaxBatch = 128

// MinSQLiteVersion is the oldest SQLite the service runs on.
const MinSQLiteVersion = 3051003

// driverName is go-sqlite3 with the settings the DSN cannot carry, applied to every
// connection: temp_store=MEMORY keeps each write's savepoint journal in memory (on a temporary
// file it cost three times the rest of a redemption).
const driverName = "sqlite3_citycard"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// No connection checkpoints when it commits: the checkpointer does, off the writer's
		// path, so no till waits for a checkpoint's copy and fsync of the database file.
		// journal_size_limit: when the log restarts from its beginning, the next commit
		// truncates the file to this size, so a burst does not keep its disk space for ever.
		_, err := c.Exec(fmt.Sprintf(`PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = %d`, WALLimit), nil)
		return err
	}})
}

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations is the number of schema migrations this build knows.
func Migrations() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
}

// Engine is an SQLite database file.
type Engine struct {
	write *sql.DB
	read  *sql.DB
	path  string

	jobs      chan *job
	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}
	mu        sync.RWMutex // held for reading while queueing, for writing while closing

	readStmts, writeStmts *stmtCache
	checkpoint            *sql.DB // its own connection, used only for checkpoints
	checkpointDone        chan struct{}
	readOnly              bool // OpenReadOnly: no writer, no checkpointer

	// pause is held by the writer while it commits a batch and by the checkpointer while it
	// restarts the log: the checkpointer takes its turn between two batches instead of both
	// polling each other's lock in SQLite's busy handler (see checkpointer).
	pause    sync.Mutex
	walLimit atomic.Int64  // log size in bytes past which the checkpointer restarts it
	walFull  chan struct{} // the writer's nudge: the log is past walLimit
	observer atomic.Pointer[engine.Observer]
}

var (
	_ engine.Engine = (*Engine)(nil)
	_ engine.Folder = (*Engine)(nil)
)

type job struct {
	ctx  context.Context
	fn   func(engine.Tx) error
	done chan error
	fold bool // UpdateFolding: shares the batch's engine.Batch
}

// BeforeMigration is called inside the transaction of each migration before its file runs,
// with the file's name, so the caller can hand it settings (set runs an upsert into settings).
type BeforeMigration func(name string, set func(key, value string) error) error

// Open opens (creating if needed) the database at path, checks that WAL and synchronous=FULL
// took effect, that SQLite is recent enough and the file passes quick_check, applies
// migrations (calling before, if not nil, ahead of each) and starts the writer.
func Open(ctx context.Context, path string, before BeforeMigration) (*Engine, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// Erased personal data must not linger in free space (docs/privacy.md): every byte a
	// write frees is overwritten with zeros.
	q.Set("_secure_delete", "on")
	q.Set("_cache_size", "-65536") // 64 MiB of pages: the rollups and indexes stay in memory
	w, err := sql.Open(driverName, "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	e := &Engine{write: w, path: path,
		jobs: make(chan *job, 4*MaxBatch), closing: make(chan struct{}), done: make(chan struct{}),
		walFull: make(chan struct{}, 1)}
	e.walLimit.Store(WALLimit)
	if err := e.checkWriter(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := e.migrate(ctx, before); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	r, err := openRead(path)
	if err != nil {
		w.Close()
		return nil, err
	}
	e.read = r
	e.readStmts, e.writeStmts = newStmtCache(r), newStmtCache(w)
	// A short busy timeout: a restarting checkpoint waits this long at most for readers of an
	// older snapshot to finish, while the writer is paused (see checkpointer).
	cp, err := sql.Open(driverName, "file:"+escapePath(path)+"?_synchronous=FULL&_busy_timeout="+strconv.Itoa(int(checkpointReaderWait/time.Millisecond)))
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	cp.SetMaxOpenConns(1)
	e.checkpoint = cp
	e.checkpointDone = make(chan struct{})
	go e.writer()
	go e.checkpointer()
	return e, nil
}

func openRead(path string) (*sql.DB, error) {
	rq := url.Values{}
	rq.Set("mode", "ro")
	rq.Set("_query_only", "true")
	rq.Set("_busy_timeout", "10000")
	r, err := sql.Open(driverName, "file:"+escapePath(path)+"?"+rq.Encode())
	if err != nil {
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return r, nil
}

// OpenReadOnly opens the database at path for reading only (mode=ro): it applies no
// migration and starts no writer, so the file is left as it was, and it works on a file the
// process may not write. It refuses a path where no file is, and a database whose migrations
// this build does not match (older: the service migrates it at its next start; newer: a newer
// build wrote it). Writes return engine.ErrReadOnly.
func OpenReadOnly(ctx context.Context, path string) (*Engine, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	r, err := openRead(path)
	if err != nil {
		return nil, err
	}
	e := &Engine{read: r, path: path, readOnly: true}
	if err := e.checkLevel(ctx); err != nil {
		r.Close()
		return nil, err
	}
	e.readStmts = newStmtCache(r)
	return e, nil
}

// checkLevel checks that a read-only database's schema is the one this build knows.
func (e *Engine) checkLevel(ctx context.Context) error {
	var applied int
	if err := e.read.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return e.openError(err)
	}
	known := Migrations()
	if applied < known {
		return fmt.Errorf("database %s was written by an older citycard (schema %d of %d): start the service on it once to upgrade it, then retry",
			e.path, applied, known)
	}
	if applied > known {
		return fmt.Errorf("database %s was written by a newer citycard (schema %d, this build knows %d)", e.path, applied, known)
	}
	return nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return "sqlite" }

// Describe implements engine.Engine: the file's path.
func (e *Engine) Describe() string { return e.path }

// Path is the database file.
func (e *Engine) Path() string { return e.path }

// ForUpdate implements engine.Engine: one writer has the database to itself, no row locks.
func (e *Engine) ForUpdate() string { return "" }

// ForShare implements engine.Engine, as ForUpdate.
func (e *Engine) ForShare() string { return "" }

// Shared implements engine.Engine: the file belongs to this process (see docs/operations.md).
func (e *Engine) Shared() bool { return false }

func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// checkWriter refuses a database the service must not run on: a file that is not SQLite or
// fails quick_check, an SQLite older than MinSQLiteVersion, or a connection on which WAL or
// synchronous=FULL did not take effect. Every message names the file and what to do.
func (e *Engine) checkWriter(ctx context.Context) error {
	var version, mode string
	var sync int
	if err := e.write.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		return e.openError(err)
	}
	_, vnum, _ := sqlite3.Version()
	if err := e.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return e.openError(err)
	}
	if err := e.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return e.openError(err)
	}
	if err := checkSettings(version, vnum, mode, sync); err != nil {
		return fmt.Errorf("refusing to open database %s: %w", e.path, err)
	}
	var secure int
	if err := e.write.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&secure); err != nil {
		return e.openError(err)
	}
	if secure != 1 {
		return fmt.Errorf("refusing to open database %s: secure_delete is %d, not on (1): erased personal data would stay in the file", e.path, secure)
	}
	rows, err := e.write.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %w; restore the latest backup: see docs/operations.md", e.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %w; restore the latest backup: see docs/operations.md", e.path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %s; restore the latest backup: see docs/operations.md",
			e.path, strings.Join(problems, "; "))
	}
	return nil
}

// openError says what a failure to read the file means, naming the file.
func (e *Engine) openError(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("refusing to open database %s: the file is damaged or not a citycard database (%w); restore the latest backup: see docs/operations.md", e.path, err)
	}
	return fmt.Errorf("open database %s: %w", e.path, err)
}

// checkSettings checks what the writer connection reported: the SQLite version (as text and
// as a number like 3051003), the journal mode and the synchronous level.
func checkSettings(version string, vnum int, mode string, sync int) error {
	if vnum < MinSQLiteVersion {
		return fmt.Errorf("SQLite %s is older than 3.51.3; rebuild with a newer github.com/mattn/go-sqlite3", version)
	}
	if mode != "wal" {
		return fmt.Errorf("journal_mode is %q, not wal: is the database on a file system that supports WAL (not a network share)?", mode)
	}
	if sync != 2 {
		return fmt.Errorf("synchronous is %d, not FULL (2): a commit would not be durable", sync)
	}
	return nil
}

func (e *Engine) migrate(ctx context.Context, before BeforeMigration) error {
	if _, err := e.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	ms, err := engine.Migrations(migrations)
	if err != nil {
		return err
	}
	for _, m := range ms {
		var n int
		if err := e.write.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if err := e.apply(ctx, m, before); err != nil {
			return err
		}
	}
	return nil
}

// foreignKeysOff is the first line of a migration that rebuilds tables other tables refer to
// (SQLite cannot change a foreign key in place): it runs with foreign keys off, as SQLite's
// documented procedure for such changes does, and PRAGMA foreign_key_check must find nothing
// before it commits.
const foreignKeysOff = "-- foreign_keys: off\n"

// apply runs one migration in its own transaction on the writer's one connection.
func (e *Engine) apply(ctx context.Context, m engine.Migration, before BeforeMigration) (err error) {
	conn, err := e.write.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	fkOff := strings.HasPrefix(m.Body, foreignKeysOff)
	if fkOff {
		// PRAGMA foreign_keys is a no-op inside a transaction: it is set before BEGIN.
		if _, err := conn.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
			return err
		}
		defer func() {
			if _, on := conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA foreign_keys = ON`); err == nil {
				err = on
			}
		}()
	}
	{
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if before != nil {
			set := func(k, v string) error {
				_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)`, k, v)
				return err
			}
			if err := before(m.Name, set); err != nil {
				tx.Rollback()
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, m.Body); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if fkOff {
			var bad int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM pragma_foreign_key_check`).Scan(&bad); err != nil {
				tx.Rollback()
				return fmt.Errorf("%s: %w", m.Name, err)
			}
			if bad > 0 {
				tx.Rollback()
				return fmt.Errorf("%s: %d rows break a foreign key", m.Name, bad)
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Close stops taking writes, finishes the queued ones and closes both pools.
func (e *Engine) Close() error {
	if e.readOnly {
		e.readStmts.close()
		return e.read.Close()
	}
	e.closeOnce.Do(func() {
		e.mu.Lock()
		close(e.closing)
		close(e.jobs)
		e.mu.Unlock()
		<-e.done
		<-e.checkpointDone
	})
	e.readStmts.close()
	e.writeStmts.close()
	err := e.read.Close()
	if e2 := e.checkpoint.Close(); err == nil {
		err = e2
	}
	// The last connection to close checkpoints the whole log and removes it.
	if e2 := e.write.Close(); err == nil {
		err = e2
	}
	return err
}

// CheckpointEvery is how often the checkpointer copies the write-ahead log into the database.
const CheckpointEvery = 500 * time.Millisecond

// WALLimit is the write-ahead log's size in bytes past which the checkpointer restarts it,
// and the size SQLite cuts the file back to when the log restarts (journal_size_limit).
// Under constant writes the file stays within a few MiB of this (docs/operations.md).
const WALLimit = 16 << 20

// checkpointReaderWait bounds how long a restarting checkpoint waits for readers of an older
// snapshot, which is also how long it may keep the writer paused for them.
const checkpointReaderWait = 10 * time.Millisecond

// Conns are the writer's connection and the read pool, for tests that act on the file behind
// the engine's back (a statement run on write bypasses the group commit).
func (e *Engine) Conns() (write, read *sql.DB) { return e.write, e.read }
