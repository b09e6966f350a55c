// Package storage is citycard's business layer over its database engines: what issuing a
// card, a redemption, a void, a month close or a ledger check does is written here once, on
// top of the engine interface (package storage/engine). The engines, SQLite (storage/sqlite,
// the embedded default) and PostgreSQL (storage/postgres, for a network of towns and several
// service instances), own the connections, transactions, migrations and what differs between
// them. The tests of this package run against both (see docs/postgres.md).
//
// # Every state change exactly once
//
// No engine gives a single writer to rely on (PostgreSQL runs many writes at once, in many
// processes), so every write here keeps one rule:
//
//   - Every transition of a row (decide a conflict, void, accept, close a month, pair, block,
//     cancel, rotate, use a code, …) is a conditional write, UPDATE … WHERE <the state it
//     leaves>, whose affected-row count is checked: 0 rows means another write won, answered
//     as the contract says (merchant.ErrAlreadyDecided, merchant.ErrAlreadyVoided, …). Or it
//     runs after the row is locked: SELECT … FOR UPDATE (tx.forUpdate()) and then the check.
//     A state read without either is a guess.
//   - Whatever must see a month's close state (booking a redemption, a void, an accepted
//     conflict, the close itself) takes the town's ledger head lock (lockHead, or lockMonth,
//     which takes it and then reads the close) FIRST, and reads the close state after it, in
//     the same write. Closes take the same lock first, so a booking either commits before a
//     close begins and is in its frozen report, or sees the month closed and books in a later
//     month (lateMonth): never into a month already frozen.
//   - Unique indexes, foreign keys and CHECKs hold the invariants on both engines as a last
//     line of defence; a lost race on one is retried or answered, never ignored.
//
// Each such change has a race test that runs on both engines (race_test.go and its kin).
package storage

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard/storage/engine"
	"github.com/citycard/citycard/storage/postgres"
	"github.com/citycard/citycard/storage/sqlite"
)

// MaxBatch bounds how many queued writes share one commit on SQLite.
const MaxBatch = sqlite.MaxBatch

// ErrClosed is returned for writes queued after Close began.
var ErrClosed = engine.ErrClosed

// ErrReadOnly is returned for a write to a database opened with OpenReadOnly.
var ErrReadOnly = engine.ErrReadOnly

// Observer receives the engine's measurements, for metrics.
type Observer = engine.Observer

// DB is the database: citycard's business layer over an engine (SQLite or PostgreSQL). Loc
// is the default zone for calendar rules: a town's own zone (TownLoc) replaces it in
// everything calendar-based in that town.
type DB struct {
	eng  engine.Engine
	Loc  *time.Location
	path string
	town Town // the town a fresh or upgraded database starts with (WithTown)

	townsMu   sync.RWMutex
	townsLoad sync.Mutex // held by loadTowns
	towns     map[string]townInfo
	touched   map[string]time.Time // office tokens' last recorded use

	clockMu sync.RWMutex
	clock   func() time.Time

	cache    caches
	keys     keyrings // the token signing keys' keyrings handed out (Keyring)
	readOnly bool     // OpenReadOnly: no writes

	conflictCap atomic.Int64 // a merchant's open conflicts: 0 the default, < 0 none (conflict.go)
	townWrites  townWrites   // redemptions waiting for their town's next batch (townwrite.go)

	// batchRedos counts the town batches run again with a savepoint per member (townwrite.go).
	batchRedos atomic.Uint64
	stopListen context.CancelFunc // the engine's change notifications (a shared engine)
	listening  sync.WaitGroup

	// Prefetched reads (prefetch.go): how many were served and how many sent for nothing;
	// noPrefetch turns prefetching off (tests count the round trips it saves).
	prefetchServed, prefetchMissed atomic.Uint64
	noPrefetch                     bool
}

// Tx is one write, inside the engine's transaction. Now is read once per write (per attempt,
// when the engine runs the write again after a serialization failure).
type Tx struct {
	tx  engine.Tx
	Now time.Time
	db  *DB
	ctx context.Context // the caller's, for who to audit (see audit.go)

	// heads are the towns' ledger heads this write holds (lockHead), as its own appends
	// left them: a write that locks a head to read the close state appends without
	// another round trip.
	heads map[string]ledgerHeadState
	// closed is the close state of the months this write read with their town's head held
	// (lockMonth): no close can commit while it is held.
	closed map[string]bool
	// fold, in a town's batch, collects what its members book for one write at its end
	// (townwrite.go).
	fold *batchFold
	// writes counts the statements sent or queued that may change rows (exec, execDeferred,
	// a query or queryRow that is not a SELECT): a batch's member that fails without one has
	// nothing in the database to undo (townwrite.go, Tx.optimistic).
	writes int
	// pre are the answers of the reads this write sent at once (prefetch.go).
	pre *prefetchStore
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than an SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// Open opens the database dsn: a postgres:// or postgresql:// URL is PostgreSQL (see
// docs/postgres.md), anything else the path of an SQLite file, created if needed. It checks
// the engine (see sqlite.Open and postgres.Open), applies migrations and books what an
// upgrade left to book. A database made before towns gets all its rows in the town of
// WithTown (default DefaultTown("koper", loc)), as does a fresh one its first town.
func Open(ctx context.Context, dsn string, loc *time.Location, opts ...Option) (*DB, error) {
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
	db := &DB{Loc: loc, path: dsn, town: town, clock: time.Now}
	db.keys.every = o.keyReload
	var err error
	if IsPostgres(dsn) {
		db.eng, err = postgres.Open(ctx, dsn, o.pg)
	} else {
		db.eng, err = sqlite.Open(ctx, dsn, db.townUpgradeSettings)
	}
	if err != nil {
		return nil, err
	}
	db.cache = newCaches(db.eng.Shared())
	if err := db.loadTowns(db.reader(ctx)); err != nil {
		db.eng.Close()
		return nil, err
	}
	if err := db.initLedger(ctx); err != nil {
		db.Close()
		return nil, err
	}
	db.listen()
	return db, nil
}

// OpenReadOnly opens the database dsn for reading only: it applies no migration, books no
// backfill, rebuilds no rollup and starts no writer, so the database is left as it was (an
// SQLite file is opened mode=ro and may be one the process cannot write). It refuses an SQLite
// path where no file is, and a database its migrations have not all been applied to (the
// service migrates it at its next start). Loc becomes the zone the rollups were built for, if
// one is recorded, so days and months read as they were booked. Writes return ErrReadOnly.
func OpenReadOnly(ctx context.Context, dsn string, loc *time.Location) (*DB, error) {
	if loc == nil {
		loc = time.UTC
	}
	db := &DB{Loc: loc, path: dsn, clock: time.Now, readOnly: true}
	var err error
	if IsPostgres(dsn) {
		db.eng, err = postgres.OpenReadOnly(ctx, dsn, postgres.Options{})
	} else {
		db.eng, err = sqlite.OpenReadOnly(ctx, dsn)
	}
	if err != nil {
		return nil, err
	}
	db.cache = newCaches(true)
	if err := db.checkReadOnly(ctx); err != nil {
		db.eng.Close()
		return nil, err
	}
	if err := db.loadTowns(db.reader(ctx)); err != nil {
		db.eng.Close()
		return nil, err
	}
	return db, nil
}

// checkReadOnly checks that a read-only database has no upgrade step left to book.
func (db *DB) checkReadOnly(ctx context.Context) error {
	var pending int
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM settings WHERE key IN ('ledger_backfill', 'ledger_close_backfill')`).Scan(&pending); err != nil {
		return fmt.Errorf("open database %s: %w", db.eng.Describe(), err)
	}
	if pending > 0 {
		return fmt.Errorf("database %s was written by an older citycard: start the service on it once to upgrade it, then retry", db.eng.Describe())
	}
	return nil
}

// Engine is the engine under the database ("sqlite" or "postgres"), for tools and tests.
func (db *DB) Engine() string { return db.eng.Name() }

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

// Path is where the database is: an SQLite file's path or the PostgreSQL URL it was opened
// with (see Describe for one without a password).
func (db *DB) Path() string { return db.path }

// Describe names the database for messages: the file, or the URL without its password.
func (db *DB) Describe() string { return db.eng.Describe() }

// Close stops taking writes, finishes the queued ones and closes the engine.
func (db *DB) Close() error {
	db.stopKeyReload()
	if db.stopListen != nil {
		db.stopListen()
		db.listening.Wait()
	}
	return db.eng.Close()
}

// WALSize is the SQLite write-ahead log's size in bytes (0 on PostgreSQL).
func (db *DB) WALSize() int64 {
	if e, ok := db.eng.(*sqlite.Engine); ok {
		return e.WALSize()
	}
	return 0
}

// QueueDepth is the number of writes waiting for SQLite's writer (0 on PostgreSQL).
func (db *DB) QueueDepth() int {
	if e, ok := db.eng.(*sqlite.Engine); ok {
		return e.QueueDepth()
	}
	return 0
}

// EngineRetries is how many write transactions the engine ran again after a serialization
// failure, a deadlock or a lost race on a unique key (PostgreSQL; see postgres.Engine.Update)
// since the database was opened: 0 on SQLite, whose single writer never retries. For metrics
// and the tests that check the retry records each write once.
func (db *DB) EngineRetries() uint64 {
	if e, ok := db.eng.(interface{ Retries() uint64 }); ok {
		return e.Retries()
	}
	return 0
}

// PoolStats are the PostgreSQL pool's size, the connections in use and how often a request
// waited for one; zeros on SQLite.
func (db *DB) PoolStats() (max, inUse int32, waits int64) {
	if e, ok := db.eng.(*postgres.Engine); ok {
		s := e.Pool().Stat()
		return s.MaxConns(), s.AcquiredConns(), s.EmptyAcquireCount()
	}
	return 0, 0, 0
}

// SetObserver installs o (nil removes it). Safe while the database is in use.
func (db *DB) SetObserver(o Observer) {
	if e, ok := db.eng.(interface{ SetObserver(engine.Observer) }); ok {
		e.SetObserver(o)
	}
}

// update runs fn as one write and returns once it is durable (or fn failed). A write is not
// started if ctx is done before its turn. The engine may run fn again after a serialization
// failure (PostgreSQL), each time with a fresh Tx.
func (db *DB) update(ctx context.Context, fn func(*Tx) error) error {
	if db.readOnly {
		return ErrReadOnly
	}
	return db.eng.Update(ctx, func(t engine.Tx) error {
		return fn(&Tx{tx: t, Now: db.Now(), db: db, ctx: ctx})
	})
}

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	t.dropPrefetched()
	t.writes++
	return t.tx.Exec(query, args...)
}

// queryRow serves the answer prefetched for the same query and arguments, if any (once), and
// asks the engine otherwise.
func (t *Tx) queryRow(query string, args ...any) scanner {
	if r, ok := t.served(query, args); ok {
		return servedRow{r.rows, r.err}
	}
	if !isSelect(query) {
		t.dropPrefetched() // INSERT … RETURNING
		t.writes++
	}
	return t.tx.QueryRow(query, args...)
}

// execDeferred runs a statement whose result the write does not look at (see
// engine.Tx.ExecDeferred): on PostgreSQL it goes with the next statement or the commit in one
// round trip, so a town's ledger head is held for fewer of them.
func (t *Tx) execDeferred(query string, args ...any) error {
	t.dropPrefetched()
	t.writes++
	return t.tx.ExecDeferred(query, args...)
}

func (t *Tx) query(query string, args ...any) (*sql.Rows, error) {
	t.dropPrefetched()
	if !isSelect(query) {
		t.writes++
	}
	return t.tx.Query(query, args...)
}

// savepoint runs fn so that its failure undoes only its statements (see engine.Tx).
// A failed savepoint puts back the heads and close states as they were before it: its appends
// were undone (and, on PostgreSQL, the locks it took released, so a head first locked inside
// it is read and locked again by the next lockHead).
func (t *Tx) savepoint(fn func() error) error {
	m := t.mark()
	t.dropPrefetched()
	err := t.tx.Savepoint(fn)
	t.dropPrefetched() // nothing read inside fn is served after it
	if err != nil {
		// As before fn: a head locked inside it was unlocked with it, and is not in heads.
		t.undo(m)
	}
	return err
}

// txMark is what a write has booked so far in memory (its heads, the close states it read,
// its fold's lengths) and the statements it has written: see mark and undo.
type txMark struct {
	heads  map[string]ledgerHeadState
	closed map[string]bool
	fold   foldMark
	writes int
}

// mark notes the write's state before a part of it that may fail on its own (a savepoint, a
// member of a batch).
func (t *Tx) mark() txMark {
	m := txMark{heads: maps.Clone(t.heads), closed: maps.Clone(t.closed), writes: t.writes}
	if t.fold != nil {
		m.fold = t.fold.mark()
	}
	return m
}

// undo puts back the state m noted: what the failed part booked in memory is forgotten (its
// statements are the engine's to undo).
func (t *Tx) undo(m txMark) {
	t.heads, t.closed = m.heads, m.closed
	if t.fold != nil {
		t.fold.undo(m.fold)
	}
}

// forUpdate is the engine's row-locking clause for a SELECT in a write (see engine.Engine).
func (t *Tx) forUpdate() string { return t.db.eng.ForUpdate() }

// forShare is the engine's clause that locks the rows a SELECT in a write reads against
// changes by other writes, which may lock them too (see engine.Engine).
func (t *Tx) forShare() string { return t.db.eng.ForShare() }

// querier is what both a Tx and a reader can do, so one helper serves both.
type querier interface {
	queryRow(query string, args ...any) scanner
	query(query string, args ...any) (*sql.Rows, error)
}

// reader runs reads on the engine's pool, or on a snapshot.
type reader struct {
	ctx context.Context
	q   engine.Querier
}

func (r reader) queryRow(q string, args ...any) scanner {
	return r.q.QueryRow(r.ctx, q, args...)
}
func (r reader) query(q string, args ...any) (*sql.Rows, error) {
	return r.q.Query(r.ctx, q, args...)
}

func (db *DB) reader(ctx context.Context) reader { return reader{ctx, db.eng} }

// snapshot begins a read transaction: its queries see one state of the database. Close it.
func (db *DB) snapshot(ctx context.Context) (reader, func(), error) {
	s, err := db.eng.Snapshot(ctx)
	if err != nil {
		return reader{}, nil, err
	}
	return reader{ctx, s}, func() { s.Close() }, nil
}

// isUnique reports whether err is a UNIQUE constraint violation.
func (t *Tx) isUnique(err error) bool { return t.db.eng.IsUnique(err) }

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

// townUpgradeSettings hands the deployment's town to migration 0010 in its own transaction
// (see the migration's comment).
func (db *DB) townUpgradeSettings(name string, set func(k, v string) error) error {
	if !strings.HasSuffix(name, "_towns.sql") {
		return nil
	}
	// The rows stored so far (none in a fresh database) go to the deployment's town.
	tn, err := json.Marshal(db.town.Name)
	if err != nil {
		return err
	}
	langs, err := json.Marshal(db.town.Languages)
	if err != nil {
		return err
	}
	for k, v := range map[string]string{"code": db.town.Code, "name": string(tn), "timezone": db.town.Timezone,
		"languages": string(langs), "public_url": db.town.PublicURL} {
		if err := set("town_upgrade_"+k, v); err != nil {
			return err
		}
	}
	return nil
}

// Backup writes a consistent copy of the SQLite database at src to the new file dst while the
// service may be running (see sqlite.Backup). PostgreSQL is backed up with its own tools
// (pg_dump; docs/postgres.md).
func Backup(ctx context.Context, src, dst string) error {
	if IsPostgres(src) {
		return fmt.Errorf("backup: %s is PostgreSQL: back it up with pg_dump (see docs/postgres.md)", postgres.Redact(src))
	}
	return sqlite.Backup(ctx, src, dst)
}

// IntegrityCheck runs SQLite's integrity_check on the database file at path, read-only.
func IntegrityCheck(ctx context.Context, path string) error { return sqlite.IntegrityCheck(ctx, path) }
