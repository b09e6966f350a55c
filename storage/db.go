// Package storage keeps citycard's data in SQLite. It is the only package that knows SQL.
//
// One goroutine owns the single write connection and commits writes in groups: callers queue
// a function, the writer runs up to MaxBatch of them in one transaction, each inside its own
// SAVEPOINT (an error undoes only that function's work), commits once with synchronous=FULL,
// and only then answers each caller. Reads use a separate read-only pool.
package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mattn/go-sqlite3"
)

// MaxBatch bounds how many queued writes share one commit.
const MaxBatch = 128

// MinSQLiteVersion is the oldest SQLite the service runs on.
const MinSQLiteVersion = 3051003

// ErrClosed is returned for writes queued after Close began.
var ErrClosed = errors.New("database closed")

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

// DB is the database. Loc is the default zone for calendar rules: a town's own zone
// (TownLoc) replaces it in everything calendar-based in that town.
type DB struct {
	write *sql.DB
	read  *sql.DB
	Loc   *time.Location
	path  string
	town  Town // the town a fresh or upgraded database starts with (WithTown)

	townsMu sync.RWMutex
	towns   map[string]townInfo
	touched map[string]time.Time // office tokens' last recorded use

	clockMu sync.RWMutex
	clock   func() time.Time

	jobs      chan *job
	closeOnce sync.Once
	closing   chan struct{}
	done      chan struct{}
	mu        sync.RWMutex // held for reading while queueing, for writing while closing

	readStmts, writeStmts *stmtCache
	checkpoint            *sql.DB // its own connection, used only for checkpoints
	checkpointDone        chan struct{}
	cache                 caches
	readOnly              bool // OpenReadOnly: no writer, no checkpointer

	// pause is held by the writer while it commits a batch and by the checkpointer while it
	// restarts the log: the checkpointer takes its turn between two batches instead of both
	// polling each other's lock in SQLite's busy handler (see checkpointer).
	pause    sync.Mutex
	walLimit atomic.Int64  // log size in bytes past which the checkpointer restarts it
	walFull  chan struct{} // the writer's nudge: the log is past walLimit
	observer atomic.Pointer[Observer]
}

// ErrReadOnly is returned for a write to a database opened with OpenReadOnly.
var ErrReadOnly = errors.New("database opened read-only")

// Tx is one write, inside the writer's transaction. Now is read once per write.
type Tx struct {
	tx  *sql.Tx
	Now time.Time
	db  *DB
	ctx context.Context // the caller's, for who to audit (see audit.go)
	// local holds the statements prepared for this transaction only, so a long write (the
	// ledger's backfill, a rebuild of the rollups) prepares each query once, not per call.
	local map[string]*sql.Stmt
}

type job struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Open opens (creating if needed) the database at path, checks that WAL and synchronous=FULL
// took effect, that SQLite is recent enough and the file passes quick_check, applies
// migrations and starts the writer. A database made before towns gets all its rows in the
// town of WithTown (default DefaultTown("koper", loc)), as does a fresh one its first town.
func Open(ctx context.Context, path string, loc *time.Location, opts ...Option) (*DB, error) {
	if loc == nil {
		loc = time.UTC
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	town := DefaultTown("", loc)
	if o.town != nil {
		town = *o.town
	}
	if err := town.Validate(); err != nil {
		return nil, fmt.Errorf("the deployment's town: %w", err)
	}
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	q.Set("_cache_size", "-65536") // 64 MiB of pages: the rollups and indexes stay in memory
	w, err := sql.Open(driverName, "file:"+escapePath(path)+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	db := &DB{write: w, Loc: loc, path: path, town: town, clock: time.Now, cache: newCaches(),
		jobs: make(chan *job, 4*MaxBatch), closing: make(chan struct{}), done: make(chan struct{}),
		walFull: make(chan struct{}, 1)}
	db.walLimit.Store(WALLimit)
	if err := db.checkWriter(ctx); err != nil {
		w.Close()
		return nil, err
	}
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	rq := url.Values{}
	rq.Set("mode", "ro")
	rq.Set("_query_only", "true")
	rq.Set("_busy_timeout", "10000")
	r, err := sql.Open(driverName, "file:"+escapePath(path)+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	db.read = r
	db.readStmts, db.writeStmts = newStmtCache(r), newStmtCache(w)
	if err := db.loadTowns(db.reader(ctx)); err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	// A short busy timeout: a restarting checkpoint waits this long at most for readers of an
	// older snapshot to finish, while the writer is paused (see checkpointer).
	cp, err := sql.Open(driverName, "file:"+escapePath(path)+"?_synchronous=FULL&_busy_timeout="+strconv.Itoa(int(checkpointReaderWait/time.Millisecond)))
	if err != nil {
		w.Close()
		r.Close()
		return nil, err
	}
	cp.SetMaxOpenConns(1)
	db.checkpoint = cp
	db.checkpointDone = make(chan struct{})
	go db.writer()
	go db.checkpointer()
	if err := db.initLedger(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// OpenReadOnly opens the database at path for reading only (mode=ro): it applies no
// migration, books no backfill, rebuilds no rollup and starts no writer, so the file is left
// as it was, and it works on a file the process may not write. It refuses a path where no
// file is, and a database its migrations have not all been applied to (the service migrates
// it at its next start). Loc becomes the zone the rollups were built for, if one is recorded,
// so days and months read as they were booked. Writes return ErrReadOnly.
func OpenReadOnly(ctx context.Context, path string, loc *time.Location) (*DB, error) {
	if loc == nil {
		loc = time.UTC
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
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
	db := &DB{read: r, Loc: loc, path: path, clock: time.Now, cache: newCaches(), readOnly: true}
	if err := db.checkReadOnly(ctx); err != nil {
		r.Close()
		return nil, err
	}
	db.readStmts = newStmtCache(r)
	if err := db.loadTowns(db.reader(ctx)); err != nil {
		r.Close()
		return nil, err
	}
	return db, nil
}

// checkReadOnly checks that a read-only database is one this build can read as it is.
func (db *DB) checkReadOnly(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	q := db.reader(ctx)
	var applied int
	if err := q.queryRow(`SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return db.openError(err)
	}
	var pending int
	if err := q.queryRow(`SELECT count(*) FROM settings WHERE key IN ('ledger_backfill', 'ledger_close_backfill')`).Scan(&pending); err != nil {
		return db.openError(err)
	}
	if applied < len(names) || pending > 0 {
		return fmt.Errorf("database %s was written by an older citycard (schema %d of %d): start the service on it once to upgrade it, then retry",
			db.path, applied, len(names))
	}
	if applied > len(names) {
		return fmt.Errorf("database %s was written by a newer citycard (schema %d, this build knows %d)", db.path, applied, len(names))
	}
	return nil
}

func escapePath(p string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
}

// checkWriter refuses a database the service must not run on: a file that is not SQLite or
// fails quick_check, an SQLite older than MinSQLiteVersion, or a connection on which WAL or
// synchronous=FULL did not take effect. Every message names the file and what to do.
func (db *DB) checkWriter(ctx context.Context) error {
	var version, mode string
	var sync int
	if err := db.write.QueryRowContext(ctx, `SELECT sqlite_version()`).Scan(&version); err != nil {
		return db.openError(err)
	}
	_, vnum, _ := sqlite3.Version()
	if err := db.write.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return db.openError(err)
	}
	if err := db.write.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync); err != nil {
		return db.openError(err)
	}
	if err := checkSettings(version, vnum, mode, sync); err != nil {
		return fmt.Errorf("refusing to open database %s: %w", db.path, err)
	}
	rows, err := db.write.QueryContext(ctx, `PRAGMA quick_check(5)`)
	if err != nil {
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %w; restore the latest backup: see docs/operations.md", db.path, err)
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
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %w; restore the latest backup: see docs/operations.md", db.path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("refusing to open database %s: the file is damaged, PRAGMA quick_check: %s; restore the latest backup: see docs/operations.md",
			db.path, strings.Join(problems, "; "))
	}
	return nil
}

// openError says what a failure to read the file means, naming the file.
func (db *DB) openError(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) && (se.Code == sqlite3.ErrNotADB || se.Code == sqlite3.ErrCorrupt) {
		return fmt.Errorf("refusing to open database %s: the file is damaged or not a citycard database (%w); restore the latest backup: see docs/operations.md", db.path, err)
	}
	return fmt.Errorf("open database %s: %w", db.path, err)
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

func (db *DB) migrate(ctx context.Context) error {
	if _, err := db.write.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		// The version is the file's number, not its place in the list: migrations are numbered
		// in advance per branch, so a gap (0005 before 0004 is merged) must not shift them.
		version, err := strconv.Atoi(strings.SplitN(strings.TrimPrefix(name, "migrations/"), "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: the name must start with its number: %w", name, err)
		}
		var n int
		if err := db.write.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if strings.HasSuffix(name, "_towns.sql") {
			// The rows stored so far (none in a fresh database) go to the deployment's town.
			if err := db.townUpgradeSettings(ctx, tx); err != nil {
				tx.Rollback()
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			version, strings.TrimPrefix(name, "migrations/"), time.Now().UnixMilli()); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// SetClock replaces the clock (tests, demo seeding). nil restores time.Now.
func (db *DB) SetClock(now func() time.Time) {
	if now == nil {
		now = time.Now
	}
	db.clockMu.Lock()
	db.clock = now
	db.clockMu.Unlock()
}

// Now is the database's clock, in UTC, truncated to the millisecond it is stored with.
func (db *DB) Now() time.Time {
	db.clockMu.RLock()
	now := db.clock
	db.clockMu.RUnlock()
	return now().UTC().Truncate(time.Millisecond)
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Close stops taking writes, finishes the queued ones and closes both pools.
func (db *DB) Close() error {
	if db.readOnly {
		db.readStmts.close()
		return db.read.Close()
	}
	db.closeOnce.Do(func() {
		db.mu.Lock()
		close(db.closing)
		close(db.jobs)
		db.mu.Unlock()
		<-db.done
		<-db.checkpointDone
	})
	db.readStmts.close()
	db.writeStmts.close()
	err := db.read.Close()
	if e := db.checkpoint.Close(); err == nil {
		err = e
	}
	// The last connection to close checkpoints the whole log and removes it.
	if e := db.write.Close(); err == nil {
		err = e
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

// checkpointer copies committed pages from the write-ahead log into the database file in
// the background, so that commits never pay for a checkpoint.
//
// Every CheckpointEvery it runs a PASSIVE checkpoint, which never blocks the writer or
// readers. That alone does not bound the log under constant writes: SQLite starts the log
// over only when a write begins after a checkpoint copied all of it, and with a writer that
// never stops the checkpoint never catches up, so the file grows for ever (hundreds of MB a
// minute). So when the writer finds the file past walLimit it nudges the checkpointer, which
// first copies what it can with PASSIVE (the bulk, concurrently with the writer), then takes
// the writer's pause between two batches and runs RESTART: it copies the few pages committed
// meanwhile, waits at most checkpointReaderWait for readers of older snapshots, and leaves
// the log to start over at the next write, which cuts the file back to journal_size_limit.
// RESTART rather than TRUNCATE: emptying the file cost the paused writer some 5 ms more
// (freeing and then growing the file again). The writer waits on pause only for that short
// step, never inside SQLite's busy handler, and no till's write runs a checkpoint itself. If
// readers hold the log (a long report or a backup), the restart is retried with a growing
// back-off instead of stalling the writer again and again.
func (db *DB) checkpointer() {
	defer close(db.checkpointDone)
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	backoff := time.Duration(0)
	var notBefore time.Time
	for {
		select {
		case <-db.closing:
			return
		case <-t.C:
			db.checkpointPassive()
		case <-db.walFull:
			if time.Now().Before(notBefore) || db.WALSize() <= db.walLimit.Load() {
				continue
			}
			db.checkpointPassive()
			if db.checkpointRestart() {
				// The file shrinks at the writer's next commit; nudges until then are stale.
				backoff, notBefore = 0, time.Now().Add(CheckpointEvery/10)
				continue
			}
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
			notBefore = time.Now().Add(backoff)
		}
	}
}

// checkpointPassive copies what it can of the log without blocking anyone.
func (db *DB) checkpointPassive() {
	var busy, logPages, done int
	if err := db.checkpoint.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		slog.Warn("checkpoint", "err", err)
	}
}

// checkpointRestart copies the whole log with the writer paused between batches and makes
// the next write start it over. It reports whether it did (false when readers of an older
// snapshot held the log past checkpointReaderWait).
func (db *DB) checkpointRestart() bool {
	db.pause.Lock()
	start := time.Now()
	var busy, logPages, done int
	err := db.checkpoint.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logPages, &done)
	paused := time.Since(start)
	db.pause.Unlock()
	ok := err == nil && busy == 0
	if err != nil {
		slog.Warn("checkpoint", "mode", "restart", "err", err)
	}
	if o := db.observer.Load(); o != nil {
		(*o).WALRestarted(ok, paused)
	}
	return ok
}

// setWALLimit changes walLimit and the writer's journal_size_limit together (tests: a small
// limit shows the bound in a few seconds of writes).
func (db *DB) setWALLimit(n int64) error {
	db.walLimit.Store(n)
	_, err := db.write.Exec(fmt.Sprintf(`PRAGMA journal_size_limit = %d`, n))
	return err
}

// WALSize is the size in bytes of the write-ahead log file (0 when there is none).
func (db *DB) WALSize() int64 {
	fi, err := os.Stat(db.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// QueueDepth is the number of writes waiting for the writer.
func (db *DB) QueueDepth() int { return len(db.jobs) }

// Observer receives the writer's and the checkpointer's measurements, for metrics. Its methods
// are called from those goroutines, once per batch or checkpoint, and must not block.
type Observer interface {
	// BatchCommitted reports a group commit: how many writes it held and how long its
	// transaction took from BEGIN to the end of COMMIT (the fsync included).
	BatchCommitted(writes int, took time.Duration)
	// WALRestarted reports a restarting checkpoint, whether it completed (the log starts
	// over at the next write), and how long the writer was paused for it.
	WALRestarted(ok bool, paused time.Duration)
}

// SetObserver installs o (nil removes it). Safe while the database is in use.
func (db *DB) SetObserver(o Observer) {
	if o == nil {
		db.observer.Store(nil)
		return
	}
	db.observer.Store(&o)
}

// update runs fn as one write in the writer's next group commit and returns once that commit
// is durable (or fn failed). A write is not started if ctx is done before its turn.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1)}
	db.mu.RLock()
	select {
	case <-db.closing:
		db.mu.RUnlock()
		return ErrClosed
	default:
	}
	select {
	case db.jobs <- j:
	case <-ctx.Done():
		db.mu.RUnlock()
		return ctx.Err()
	}
	db.mu.RUnlock()
	return <-j.done
}

func (db *DB) writer() {
	defer close(db.done)
	batch := make([]*job, 0, MaxBatch)
	for j := range db.jobs {
		batch = append(batch[:0], j)
	fill:
		for len(batch) < MaxBatch {
			select {
			case j, ok := <-db.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		db.pause.Lock()
		start := time.Now()
		db.commit(batch)
		took := time.Since(start)
		db.writeStmts.prepareWanted()
		db.pause.Unlock()
		if o := db.observer.Load(); o != nil {
			(*o).BatchCommitted(len(batch), took)
		}
		// One stat per batch: the checkpointer is told as soon as the log is past its limit,
		// not at its next tick, so the log's size does not depend on the write rate.
		if db.WALSize() > db.walLimit.Load() {
			select {
			case db.walFull <- struct{}{}:
			default:
			}
		}
	}
}

// commit runs a batch in one transaction, one savepoint per job.
func (db *DB) commit(batch []*job) {
	errs := make([]error, len(batch))
	fail := func(err error) {
		for i, j := range batch {
			if errs[i] == nil {
				errs[i] = err
			}
			j.done <- errs[i]
		}
	}
	ctx := context.Background()
	tx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	ran := false
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT job`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		if err := run(j.fn, &Tx{tx: tx, Now: db.Now(), db: db, ctx: j.ctx}); err != nil {
			errs[i] = err
			if _, err := tx.ExecContext(ctx, `ROLLBACK TO job`); err != nil {
				tx.Rollback()
				fail(err)
				return
			}
		} else {
			ran = true
		}
		if _, err := tx.ExecContext(ctx, `RELEASE job`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	if !ran {
		tx.Rollback()
	} else if err := tx.Commit(); err != nil {
		slog.Error("commit failed", "err", err, "writes", len(batch))
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	for i, j := range batch {
		j.done <- errs[i]
	}
}

// run calls fn, turning a panic into an error so one bad write cannot stop the writer.
func run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(tx)
}

// stmt returns query prepared on the write connection, bound to the transaction. Statements
// are prepared once per process and kept by the writer's single connection. The connection is
// busy with this transaction, so a statement not seen before is prepared for this transaction
// only and queued to be prepared for good once the batch is committed.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if s, ok := t.db.writeStmts.lookup(query); ok {
		return t.tx.Stmt(s), nil
	}
	if s, ok := t.local[query]; ok {
		return s, nil
	}
	t.db.writeStmts.want(query)
	s, err := t.tx.Prepare(query)
	if err != nil {
		return nil, err
	}
	if t.local == nil {
		t.local = map[string]*sql.Stmt{}
	}
	t.local[query] = s
	return s, nil
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.Exec(args...)
}

func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	s, err := t.stmt(query)
	if err != nil {
		return t.tx.QueryRow(query, args...) // reports the same error through the Row
	}
	return s.QueryRow(args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.Query(args...)
}

// stmtCache keeps prepared statements by query text, so no hot path parses SQL twice.
type stmtCache struct {
	db      *sql.DB
	mu      sync.RWMutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache { return &stmtCache{db: db, m: map[string]*sql.Stmt{}} }

func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s, ok := c.m[query]
	return s, ok
}

// want notes a query to prepare later with prepareWanted.
func (c *stmtCache) want(query string) {
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[string]bool{}
	}
	c.pending[query] = true
	c.mu.Unlock()
}

// prepareWanted prepares the queries noted by want; the writer calls it between batches.
func (c *stmtCache) prepareWanted() {
	c.mu.Lock()
	pending := c.pending
	c.pending = nil
	c.mu.Unlock()
	for q := range pending {
		if _, err := c.get(q); err != nil {
			slog.Warn("prepare", "err", err)
		}
	}
}

func (c *stmtCache) get(query string) (*sql.Stmt, error) {
	c.mu.RLock()
	s, ok := c.m[query]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	s, err := c.db.Prepare(query)
	if err != nil {
		return nil, err
	}
	c.m[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// querier is what both a Tx and the read pool can do, so one helper serves both.
type querier interface {
	queryRow(query string, args ...any) *sql.Row
	query(query string, args ...any) (*sql.Rows, error)
}

type reader struct {
	ctx context.Context
	db  *sql.DB
}

func (r reader) queryRow(q string, args ...any) *sql.Row {
	return r.db.QueryRowContext(r.ctx, q, args...)
}
func (r reader) query(q string, args ...any) (*sql.Rows, error) {
	return r.db.QueryContext(r.ctx, q, args...)
}

func (db *DB) reader(ctx context.Context) reader { return reader{ctx, db.read} }

// isUnique reports whether err is a UNIQUE constraint violation.
func isUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns prefix_ and 16 random base32 characters (80 bits).
func newID(prefix string) string {
	b := make([]byte, 10)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return prefix + "_" + idEncoding.EncodeToString(b)
}

// ms and fromMS convert times to the stored unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

func nullMS(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: ms(*t), Valid: true}
}

// townUpgradeSettings hands the deployment's town to migration 0010 in its own transaction
// (see the migration's comment).
func (db *DB) townUpgradeSettings(ctx context.Context, tx *sql.Tx) error {
	name, err := json.Marshal(db.town.Name)
	if err != nil {
		return err
	}
	langs, err := json.Marshal(db.town.Languages)
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"code": db.town.Code, "name": string(name), "timezone": db.town.Timezone,
		"languages": string(langs), "public_url": db.town.PublicURL} {
		if _, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)`, "town_upgrade_"+k, v); err != nil {
			return err
		}
	}
	return nil
}
