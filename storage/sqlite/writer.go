package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/citycard/citycard/storage/engine"
)

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
func (e *Engine) checkpointer() {
	defer close(e.checkpointDone)
	t := time.NewTicker(CheckpointEvery)
	defer t.Stop()
	backoff := time.Duration(0)
	var notBefore time.Time
	for {
		select {
		case <-e.closing:
			return
		case <-t.C:
			e.checkpointPassive()
		case <-e.walFull:
			if time.Now().Before(notBefore) || e.WALSize() <= e.walLimit.Load() {
				continue
			}
			e.checkpointPassive()
			if e.checkpointRestart() {
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
func (e *Engine) checkpointPassive() {
	var busy, logPages, done int
	if err := e.checkpoint.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		slog.Warn("checkpoint", "err", err)
	}
}

// checkpointRestart copies the whole log with the writer paused between batches and makes
// the next write start it over. It reports whether it did (false when readers of an older
// snapshot held the log past checkpointReaderWait).
func (e *Engine) checkpointRestart() bool {
	e.pause.Lock()
	start := time.Now()
	var busy, logPages, done int
	err := e.checkpoint.QueryRow(`PRAGMA wal_checkpoint(RESTART)`).Scan(&busy, &logPages, &done)
	paused := time.Since(start)
	e.pause.Unlock()
	ok := err == nil && busy == 0
	if err != nil {
		slog.Warn("checkpoint", "mode", "restart", "err", err)
	}
	if o := e.observer.Load(); o != nil {
		(*o).WALRestarted(ok, paused)
	}
	return ok
}

// Scrub copies the whole write-ahead log into the database file and truncates the log to
// nothing, with the writer paused between batches: after an erasure no old version of a row
// stays in the log (the database file's freed bytes are zeroed by secure_delete). Readers
// of an older snapshot hold the log; it tries again for a few seconds, then gives up.
func (e *Engine) Scrub(ctx context.Context) error {
	if e.readOnly {
		return nil
	}
	var err error
	for attempt := 0; attempt < 100; attempt++ {
		e.pause.Lock()
		var busy, logPages, done int
		err = e.checkpoint.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done)
		e.pause.Unlock()
		if err == nil && busy == 0 {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err == nil {
		err = errors.New("readers held the log")
	}
	return fmt.Errorf("scrub: checkpoint(TRUNCATE): %w", err)
}

// SetWALLimit changes walLimit and the writer's journal_size_limit together (tests: a small
// limit shows the bound in a few seconds of writes).
func (e *Engine) SetWALLimit(n int64) error {
	e.walLimit.Store(n)
	_, err := e.write.Exec(fmt.Sprintf(`PRAGMA journal_size_limit = %d`, n))
	return err
}

// WALSize is the size in bytes of the write-ahead log file (0 when there is none).
func (e *Engine) WALSize() int64 {
	fi, err := os.Stat(e.path + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// QueueDepth is the number of writes waiting for the writer.
func (e *Engine) QueueDepth() int { return len(e.jobs) }

// SetObserver installs o (nil removes it). Safe while the database is in use.
func (e *Engine) SetObserver(o engine.Observer) {
	if o == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&o)
}

// Update runs fn as one write in the writer's next group commit and returns once that commit
// is durable (or fn failed). A write is not started if ctx is done before its turn.
func (e *Engine) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return e.update(ctx, fn, false)
}

// UpdateFolding implements engine.Folder: Update for a write whose Tx shares its group's
// engine.Batch with the group's other folding writes.
func (e *Engine) UpdateFolding(ctx context.Context, fn func(engine.Tx) error) error {
	return e.update(ctx, fn, true)
}

func (e *Engine) update(ctx context.Context, fn func(engine.Tx) error, fold bool) error {
	if e.readOnly {
		return engine.ErrReadOnly
	}
	j := &job{ctx: ctx, fn: fn, done: make(chan error, 1), fold: fold}
	e.mu.RLock()
	select {
	case <-e.closing:
		e.mu.RUnlock()
		return engine.ErrClosed
	default:
	}
	select {
	case e.jobs <- j:
	case <-ctx.Done():
		e.mu.RUnlock()
		return ctx.Err()
	}
	e.mu.RUnlock()
	return <-j.done
}

func (e *Engine) writer() {
	defer close(e.done)
	batch := make([]*job, 0, MaxBatch)
	for j := range e.jobs {
		batch = append(batch[:0], j)
	fill:
		for len(batch) < MaxBatch {
			select {
			case j, ok := <-e.jobs:
				if !ok {
					break fill
				}
				batch = append(batch, j)
			default:
				break fill
			}
		}
		e.pause.Lock()
		start := time.Now()
		e.commit(batch)
		took := time.Since(start)
		e.writeStmts.prepareWanted()
		e.pause.Unlock()
		if o := e.observer.Load(); o != nil {
			(*o).BatchCommitted(len(batch), took)
		}
		// One stat per batch: the checkpointer is told as soon as the log is past its limit,
		// not at its next tick, so the log's size does not depend on the write rate.
		if e.WALSize() > e.walLimit.Load() {
			select {
			case e.walFull <- struct{}{}:
			default:
			}
		}
	}
}

// commit runs a batch in one transaction, one savepoint per job. The folding jobs among them
// share one engine.Batch, flushed outside every job's savepoint before the next job that does
// not fold and before the commit (see engine.Batch).
func (e *Engine) commit(batch []*job) {
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
	tx, err := e.write.BeginTx(ctx, nil)
	if err != nil {
		fail(err)
		return
	}
	t := &Tx{tx: tx, e: e} // the batch's own statements (savepoints)
	shared := &engine.Batch{}
	// flush writes what the folding jobs so far left in shared; its failure fails the batch
	// (every job that had not failed on its own gets its error: nothing of the batch is kept).
	flush := func() bool {
		f := shared.Flush
		*shared = engine.Batch{}
		if f == nil {
			return true
		}
		if err := run(func(engine.Tx) error { return f() }, t); err != nil {
			tx.Rollback()
			fail(fmt.Errorf("the writes of this commit could not be booked: %w", err))
			return false
		}
		return true
	}
	ran := false
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !j.fold && !flush() {
			return
		}
		if _, err := t.Exec(`SAVEPOINT job`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
		jt := &Tx{tx: tx, e: e}
		if j.fold {
			jt.batch = shared
		}
		if err := run(j.fn, jt); err != nil {
			errs[i] = err
			if _, err := t.Exec(`ROLLBACK TO job`); err != nil {
				tx.Rollback()
				fail(err)
				return
			}
		} else {
			ran = true
		}
		if _, err := t.Exec(`RELEASE job`); err != nil {
			tx.Rollback()
			fail(err)
			return
		}
	}
	if !flush() {
		return
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
func run(fn func(engine.Tx) error, tx *Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	return fn(tx)
}

// Tx is one write inside the writer's transaction (engine.Tx).
type Tx struct {
	tx *sql.Tx
	e  *Engine
	// local holds the statements prepared for this transaction only, so a long write (the
	// ledger's backfill, a rebuild of the rollups) prepares each query once, not per call.
	local map[string]*sql.Stmt
	// batch is what the folding writes of the group share (UpdateFolding); nil otherwise.
	batch *engine.Batch
}

// Batch implements engine.Folding (nil for a write that does not fold).
func (t *Tx) Batch() *engine.Batch { return t.batch }

// stmt returns query prepared on the write connection, bound to the transaction. Statements
// are prepared once per process and kept by the writer's single connection. The connection is
// busy with this transaction, so a statement not seen before is prepared for this transaction
// only and queued to be prepared for good once the batch is committed.
func (t *Tx) stmt(query string) (*sql.Stmt, error) {
	if s, ok := t.e.writeStmts.lookup(query); ok {
		return t.tx.Stmt(s), nil
	}
	if s, ok := t.local[query]; ok {
		return s, nil
	}
	t.e.writeStmts.want(query)
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

func (t *Tx) Exec(query string, args ...any) (sql.Result, error) {
	s, err := t.stmt(query)
	if err != nil {
		return nil, err
	}
	return s.Exec(args...)
}

func (t *Tx) QueryRow(query string, args ...any) *sql.Row {
	s, err := t.stmt(query)
	if err != nil {
		return t.tx.QueryRow(query, args...) // reports the same error through the Row
	}
	return s.QueryRow(args...)
}

func (t *Tx) Query(query string, args ...any) (*sql.Rows, error) {
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

// ExecDeferred implements engine.Tx: the writer's statements cost no round trip, so it runs
// at once.
func (t *Tx) ExecDeferred(query string, args ...any) error {
	_, err := t.Exec(query, args...)
	return err
}

// Savepoint implements engine.Tx.
func (t *Tx) Savepoint(fn func() error) error {
	if _, err := t.Exec(`SAVEPOINT step`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, e := t.Exec(`ROLLBACK TO step`); e != nil {
			return e
		}
		t.Exec(`RELEASE step`)
		return err
	}
	_, err := t.Exec(`RELEASE step`)
	return err
}

// Exec, Query and QueryRow implement engine.Querier on the read pool (its statements cached).
func (e *Engine) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return nil, engine.ErrReadOnly
}

// Query runs q on the read pool.
func (e *Engine) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return e.read.QueryContext(ctx, q, args...)
}

// QueryRow runs q on the read pool.
func (e *Engine) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return e.read.QueryRowContext(ctx, q, args...)
}

// Snapshot implements engine.Engine: a read transaction on the read pool (WAL readers see
// one snapshot and never block the writer).
func (e *Engine) Snapshot(ctx context.Context) (engine.Snapshot, error) {
	tx, err := e.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	return snapshot{tx}, nil
}

type snapshot struct{ tx *sql.Tx }

func (s snapshot) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return nil, engine.ErrReadOnly
}
func (s snapshot) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.tx.QueryContext(ctx, q, args...)
}
func (s snapshot) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.tx.QueryRowContext(ctx, q, args...)
}
func (s snapshot) Close() error { return s.tx.Rollback() }

// IsUnique implements engine.Engine.
func (e *Engine) IsUnique(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
}
