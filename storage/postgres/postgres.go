// Package postgres is citycard's PostgreSQL engine, for a network of towns on a database
// the network's IT replicates, backs up with standard tools and fails over, with several
// service instances writing at once (docs/postgres.md).
//
// It runs the business layer's statements through pgx/v5 (a pgxpool.Pool, used through
// database/sql so both engines share one statement API), rewriting ? placeholders to $n. Each
// write is its own transaction at READ COMMITTED (or the isolation of Options), retried as a
// whole after a serialization failure or a deadlock (SQLSTATE 40001, 40P01) with bounded,
// jittered backoff. Correctness rests on the schema's constraints (the partial unique index
// on live redemptions per limit key, the primary key of idempotency keys, UNIQUE (town, seq)
// on the ledger) and on row locks (each town's ledger head is locked FOR UPDATE before an
// entry is appended), never on advisory locks.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/citycard/citycard/storage/engine"
)

//go:embed migrations/*.sql
var migrations embed.FS

// MinServerVersion is the oldest PostgreSQL the service runs on (server_version_num).
const MinServerVersion = 130000

// Options configure the engine.
type Options struct {
	// MaxConns and MinConns size the pool (defaults 16 and 2).
	MaxConns, MinConns int32
	// MaxWrites bounds the write transactions this instance runs at once (default a quarter
	// of MaxConns, at least 2); more wait their turn in the instance. A town's writes take
	// turns on its ledger head row anyway: fewer of them queued in PostgreSQL's lock manager
	// leave the head's holder more of the machine (docs/postgres.md, "Performance").
	MaxWrites int32
	// Isolation is the write transactions' level: "read committed" (default), "repeatable
	// read" or "serializable" (what CockroachDB runs; serialization failures are retried).
	Isolation string
	// MaxAttempts bounds how often a write is run after serialization failures and deadlocks
	// (default 10).
	MaxAttempts int
	// BeforeCommit, if set, is called in each write transaction just before COMMIT with the
	// attempt number (0 first); an error it returns is the transaction's. Tests use it to
	// force serialization failures.
	BeforeCommit func(attempt int) error
}

// Engine is a PostgreSQL database.
type Engine struct {
	pool     *pgxpool.Pool
	db       *sql.DB
	opts     Options
	begin    string // the write transactions' BEGIN, with their isolation level
	describe string
	channel  string // the LISTEN/NOTIFY channel: one per schema
	readOnly bool

	rebound sync.Map      // query text with ? -> with $n
	writes  chan struct{} // a slot per write transaction running (Options.MaxWrites)

	retries  atomic.Uint64
	trips    atomic.Uint64 // round trips of write transactions (RoundTrips)
	observer atomic.Pointer[engine.Observer]
}

var (
	_ engine.Engine   = (*Engine)(nil)
	_ engine.Notifier = (*Engine)(nil)
)

// Open connects to the database at dsn (postgres://… or postgresql://…), checks the server
// (version, synchronous_commit and fsync not off), applies the migrations this build knows and
// refuses a schema newer than it.
func Open(ctx context.Context, dsn string, o Options) (*Engine, error) {
	e, err := connect(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	if err := e.check(ctx); err != nil {
		e.Close()
		return nil, err
	}
	if err := e.migrate(ctx); err != nil {
		e.Close()
		return nil, fmt.Errorf("migrate %s: %w", e.describe, err)
	}
	return e, nil
}

// OpenReadOnly connects without migrating; it refuses a schema other than this build's.
// Writes return engine.ErrReadOnly.
func OpenReadOnly(ctx context.Context, dsn string, o Options) (*Engine, error) {
	e, err := connect(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	e.readOnly = true
	if err := e.checkLevel(ctx); err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

// Redact returns dsn without its password, for messages and logs.
func Redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "a PostgreSQL URL that does not parse"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func connect(ctx context.Context, dsn string, o Options) (*Engine, error) {
	describe := Redact(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message may quote the URL: say what is wrong without it.
		var pe *pgconn.ParseConfigError
		if errors.As(err, &pe) && pe.Unwrap() != nil {
			return nil, fmt.Errorf("CITYCARD_DB is not a valid PostgreSQL URL (%s): %v", describe, pe.Unwrap())
		}
		return nil, fmt.Errorf("CITYCARD_DB is not a valid PostgreSQL URL (%s)", describe)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.MinConns <= 0 {
		o.MinConns = 2
	}
	if o.MinConns > o.MaxConns {
		o.MinConns = o.MaxConns
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 10
	}
	if o.MaxWrites <= 0 {
		o.MaxWrites = max(2, o.MaxConns/4)
	}
	o.MaxWrites = min(o.MaxWrites, o.MaxConns)
	cfg.MaxConns, cfg.MinConns = o.MaxConns, o.MinConns
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 10 * time.Second
	}
	begin := `BEGIN ISOLATION LEVEL READ COMMITTED`
	switch strings.ToLower(o.Isolation) {
	case "", "read committed":
	case "repeatable read":
		begin = `BEGIN ISOLATION LEVEL REPEATABLE READ`
	case "serializable":
		begin = `BEGIN ISOLATION LEVEL SERIALIZABLE`
	default:
		return nil, fmt.Errorf("PostgreSQL isolation %q: use read committed, repeatable read or serializable", o.Isolation)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("PostgreSQL at %s: %w", describe, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, connectError(describe, cfg.ConnConfig.User, err)
	}
	e := &Engine{pool: pool, db: stdlib.OpenDBFromPool(pool), opts: o, begin: begin, describe: describe,
		writes: make(chan struct{}, o.MaxWrites)}
	var schema string
	if err := e.db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		e.Close()
		return nil, connectError(describe, cfg.ConnConfig.User, err)
	}
	e.channel = "citycard_" + schema
	return e, nil
}

// connectError says what a failure to connect means and what to do.
func connectError(describe, user string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "28P01", "28000":
			return fmt.Errorf("PostgreSQL at %s refused user %q: check the user and password in CITYCARD_DB (%s)", describe, user, pe.Message)
		case "3D000":
			return fmt.Errorf("PostgreSQL at %s: %s; create it first (createdb) or fix the name in CITYCARD_DB", describe, pe.Message)
		case "42501":
			return fmt.Errorf("PostgreSQL at %s: %s; the role in CITYCARD_DB needs to own the database", describe, pe.Message)
		}
		return fmt.Errorf("PostgreSQL at %s: %s (SQLSTATE %s)", describe, pe.Message, pe.Code)
	}
	var ne net.Error
	if errors.As(err, &ne) || strings.Contains(err.Error(), "connect") {
		return fmt.Errorf("cannot reach PostgreSQL at %s: is it running, and are host and port in CITYCARD_DB right? (%v)", describe, err)
	}
	return fmt.Errorf("PostgreSQL at %s: %w", describe, err)
}

// check refuses a server the service must not run on: one older than MinServerVersion, or
// one on which a commit would not be durable.
func (e *Engine) check(ctx context.Context) error {
	var version int
	var syncCommit, fsync string
	if err := e.db.QueryRowContext(ctx, `SELECT current_setting('server_version_num')::int, current_setting('synchronous_commit'), current_setting('fsync')`).
		Scan(&version, &syncCommit, &fsync); err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w", e.describe, err)
	}
	return checkSettings(e.describe, version, syncCommit, fsync)
}

func checkSettings(describe string, version int, syncCommit, fsync string) error {
	if version < MinServerVersion {
		return fmt.Errorf("refusing PostgreSQL at %s: server version %d.%d is older than 13", describe, version/10000, version%10000)
	}
	if syncCommit == "off" {
		return fmt.Errorf("refusing PostgreSQL at %s: synchronous_commit is off, so an acknowledged redemption could be lost in a crash; set it to on (ALTER DATABASE … SET synchronous_commit = on)", describe)
	}
	if fsync == "off" {
		return fmt.Errorf("refusing PostgreSQL at %s: fsync is off, so a commit is not durable; turn it on in postgresql.conf", describe)
	}
	return nil
}

// Migrations is the number of schema migrations this build knows.
func Migrations() int {
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	return len(names)
}

// migrate applies the migrations not yet applied. Instances starting at once take turns: the
// migration transaction locks schema_migrations, and the version's primary key is the
// backstop.
func (e *Engine) migrate(ctx context.Context) error {
	// Instances creating the table at the same moment: IF NOT EXISTS does not stop the loser
	// from failing on the catalogue's own unique indexes (23505, 42710 on its row type, 42P07);
	// the table exists either way.
	if _, err := e.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil && !isCode(err, "23505", "42P07", "42710") {
		return err
	}
	ms, err := engine.Migrations(migrations)
	if err != nil {
		return err
	}
	tx, err := e.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `LOCK TABLE schema_migrations IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return err
	}
	var applied int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		return err
	}
	if applied > len(ms) {
		return fmt.Errorf("the database was written by a newer citycard (schema %d, this build knows %d)", applied, len(ms))
	}
	for _, m := range ms {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.Body); err != nil {
			return fmt.Errorf("%s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
			m.Version, m.Name, time.Now().UnixMilli()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkLevel checks that the schema is the one this build knows, for a read-only open.
func (e *Engine) checkLevel(ctx context.Context) error {
	var applied int
	if err := e.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		if isCode(err, "42P01") {
			return fmt.Errorf("PostgreSQL at %s has no citycard schema: start the service on it once (or run migrate-db), then retry", e.describe)
		}
		return fmt.Errorf("PostgreSQL at %s: %w", e.describe, err)
	}
	if known := Migrations(); applied < known {
		return fmt.Errorf("PostgreSQL at %s was written by an older citycard (schema %d of %d): start the service on it once to upgrade it, then retry", e.describe, applied, known)
	} else if applied > known {
		return fmt.Errorf("PostgreSQL at %s was written by a newer citycard (schema %d, this build knows %d)", e.describe, applied, known)
	}
	return nil
}

// Name implements engine.Engine.
func (e *Engine) Name() string { return "postgres" }

// Describe implements engine.Engine: the URL without its password.
func (e *Engine) Describe() string { return e.describe }

// ForUpdate implements engine.Engine.
func (e *Engine) ForUpdate() string { return " FOR UPDATE" }

// ForShare implements engine.Engine.
func (e *Engine) ForShare() string { return " FOR SHARE" }

// Shared implements engine.Engine: other service instances may write the same database.
func (e *Engine) Shared() bool { return true }

// Pool is the connection pool, for tools that copy data in bulk (migrate-db).
func (e *Engine) Pool() *pgxpool.Pool { return e.pool }

// Retries is how many write transactions were run again after a serialization failure or a
// deadlock since the engine was opened.
func (e *Engine) Retries() uint64 { return e.retries.Load() }

// RoundTrips is how many round trips to the server the write transactions made since the
// engine was opened (BEGIN, each statement or pipeline, COMMIT), for tests that count them.
func (e *Engine) RoundTrips() uint64 { return e.trips.Load() }

// SetObserver installs o (nil removes it): it is told each write transaction's commit.
func (e *Engine) SetObserver(o engine.Observer) {
	if o == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&o)
}

// Close closes the pool.
func (e *Engine) Close() error {
	err := e.db.Close()
	e.pool.Close()
	return err
}

// Update implements engine.Engine: fn runs in its own transaction, run again as a whole after
// a serialization failure or a deadlock (at most MaxAttempts times, with jittered exponential
// backoff), and after a unique violation fn did not turn into an error of its own (a
// concurrent write of the same key won: the next run sees it). A COMMIT that fails for another
// reason (a lost connection) is not retried here: whether it took effect is unknown, and the
// caller's retry with its idempotency key is what makes that safe.
func (e *Engine) Update(ctx context.Context, fn func(engine.Tx) error) error {
	if e.readOnly {
		return engine.ErrReadOnly
	}
	backoff := 2 * time.Millisecond
	uniques := 0
	for attempt := 0; ; attempt++ {
		err := e.try(ctx, fn, attempt)
		if err == nil {
			return nil
		}
		retry := isCode(err, "40001", "40P01")
		if !retry && isCode(err, "23505") && uniques < 2 {
			uniques++
			retry = true
		}
		if !retry || attempt+1 >= e.opts.MaxAttempts || ctx.Err() != nil {
			return err
		}
		e.retries.Add(1)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
		backoff = min(2*backoff, 250*time.Millisecond)
	}
}

func (e *Engine) try(ctx context.Context, fn func(engine.Tx) error, attempt int) (err error) {
	select {
	case e.writes <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-e.writes }()
	start := time.Now()
	// The statements run in a context of their own: a write that has begun is finished, not
	// torn by a client that went away (as on SQLite, whose writer does not watch callers).
	wctx := context.WithoutCancel(ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	// A connection of its own with BEGIN and COMMIT sent as statements (not a database/sql
	// transaction), so that the statements deferred by ExecDeferred can be sent to it as one
	// pipeline with the COMMIT (see flush). A connection returned inside a transaction (a
	// failed ROLLBACK) is closed by pgxpool, never reused.
	conn, err := e.db.Conn(wctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	e.trips.Add(1)
	if _, err := conn.ExecContext(wctx, e.begin); err != nil {
		return err
	}
	t := &Tx{e: e, conn: conn, ctx: wctx}
	rollback := func() {
		t.pending = nil
		e.trips.Add(1)
		conn.ExecContext(wctx, `ROLLBACK`)
	}
	defer func() {
		if r := recover(); r != nil {
			rollback()
			err = fmt.Errorf("write panicked: %v", r)
		}
	}()
	if err := fn(t); err != nil {
		rollback()
		if t.err != nil {
			return t.err
		}
		return err
	}
	if e.opts.BeforeCommit != nil {
		if err := e.opts.BeforeCommit(attempt); err != nil {
			rollback()
			return err
		}
	}
	if err := t.flush(true); err != nil {
		rollback()
		return t.err
	}
	if o := e.observer.Load(); o != nil {
		(*o).BatchCommitted(max(1, t.writes), time.Since(start))
	}
	return nil
}

// isCode reports whether err is a PostgreSQL error with one of codes.
func isCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}

// Aborts reports whether err, a statement's, aborted its transaction: any error the server
// reported does (after it every statement but a ROLLBACK fails).
func (e *Engine) Aborts(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}

// SerializationFailure is an error PostgreSQL would give for a serialization failure, for
// tests that force one (Options.BeforeCommit).
func SerializationFailure() error {
	return &pgconn.PgError{Severity: "ERROR", Code: "40001", Message: "could not serialize access due to concurrent update (forced)"}
}

// IsUnique implements engine.Engine.
func (e *Engine) IsUnique(err error) bool { return isCode(err, "23505") }

// Retryable reports whether err is a serialization failure or a deadlock, after which the
// transaction must be run again from its start (Update does).
func (e *Engine) Retryable(err error) bool { return isCode(err, "40001", "40P01") }

// bind rewrites the ? placeholders of q to $1, $2, …, leaving string literals, quoted
// identifiers and comments alone. Results are kept: the statements are a fixed set.
func (e *Engine) bind(q string) string {
	if v, ok := e.rebound.Load(q); ok {
		return v.(string)
	}
	out := Rebind(q)
	e.rebound.Store(q, out)
	return out
}

// Rebind rewrites the ? placeholders of q to $1, $2, … outside literals and comments.
func Rebind(q string) string {
	if !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // a doubled quote inside
						j += 2
						continue
					}
					break
				}
				j++
			}
			b.WriteString(q[i:min(j+1, len(q))])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i
			}
			b.WriteString(q[i : i+j])
			i += j - 1
		case c == '?':
			// ?NNN names its argument (SQLite's numbered form): $NNN.
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			b.WriteByte('$')
			if j > i+1 {
				b.WriteString(q[i+1 : j])
				i = j - 1
			} else {
				n++
				b.WriteString(strconv.Itoa(n))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Exec implements engine.Querier: a read-only pool takes no writes through it.
func (e *Engine) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return nil, engine.ErrReadOnly
}

// Query implements engine.Querier on the pool.
func (e *Engine) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return e.db.QueryContext(ctx, e.bind(q), pgArgs(args)...)
}

// QueryRow implements engine.Querier on the pool.
func (e *Engine) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return e.db.QueryRowContext(ctx, e.bind(q), pgArgs(args)...)
}

// Snapshot implements engine.Engine: a REPEATABLE READ, READ ONLY transaction.
func (e *Engine) Snapshot(ctx context.Context) (engine.Snapshot, error) {
	tx, err := e.db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, err
	}
	return snapshot{e, tx}, nil
}

type snapshot struct {
	e  *Engine
	tx *sql.Tx
}

func (s snapshot) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return nil, engine.ErrReadOnly
}
func (s snapshot) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return s.tx.QueryContext(ctx, s.e.bind(q), pgArgs(args)...)
}
func (s snapshot) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return s.tx.QueryRowContext(ctx, s.e.bind(q), pgArgs(args)...)
}
func (s snapshot) Close() error { return s.tx.Rollback() }

// Tx is one write transaction (engine.Tx).
type Tx struct {
	e       *Engine
	conn    *sql.Conn
	ctx     context.Context
	sp      int
	pending []deferred
	err     error // the first deferred statement's error: the transaction's outcome
	// open is a savepoint sent with the last one's RELEASE, nothing sent since: the next
	// Savepoint starts there without a round trip (a town's batch runs one member after
	// another). Any statement sent makes it stale ("").
	open string
	// writes is how many writes the transaction held, for the observer (SetWrites).
	writes int
}

// SetWrites tells the observer that the transaction holds n writes (a town's batch of
// redemptions) rather than one.
func (t *Tx) SetWrites(n int) { t.writes = n }

type deferred struct {
	query string
	args  []any
}

// Exec implements engine.Tx.
func (t *Tx) Exec(q string, args ...any) (sql.Result, error) {
	if err := t.flush(false); err != nil {
		return nil, err
	}
	t.open = ""
	t.e.trips.Add(1)
	return t.conn.ExecContext(t.ctx, t.e.bind(q), pgArgs(args)...)
}

// ExecDeferred implements engine.Tx: the statement is kept and sent with the next one that
// needs an answer, or with the COMMIT, in one round trip (a pipeline). Its error, if any, is
// that statement's or the commit's.
func (t *Tx) ExecDeferred(q string, args ...any) error {
	t.pending = append(t.pending, deferred{t.e.bind(q), pgArgs(args)})
	return nil
}

// flush sends the deferred statements, and COMMIT if commit, as one pipeline on the
// transaction's connection. A deferred statement's error is kept as the transaction's (try
// returns it, so that a serialization failure or a lost unique race is retried as such) and
// reported to the statement that flushed it as a plain error, which no caller mistakes for
// its own statement's (a unique violation of its own insert, say).
func (t *Tx) flush(commit bool) error {
	if t.err != nil {
		return fmt.Errorf("an earlier statement of this transaction failed: %v", t.err)
	}
	if len(t.pending) == 0 && !commit {
		return nil
	}
	err := t.pipeline(func(b *pgx.Batch) {
		if commit {
			b.Queue(`COMMIT`)
		}
	}, func(br pgx.BatchResults) error {
		if !commit {
			return nil
		}
		tag, err := br.Exec()
		if err == nil && tag.String() == "ROLLBACK" {
			// PostgreSQL answers COMMIT of a failed transaction with ROLLBACK.
			err = errors.New("postgres: the transaction was rolled back at commit")
		}
		return err
	})
	if err != nil {
		t.err = err
		return fmt.Errorf("a deferred statement of this transaction failed: %v", err)
	}
	return nil
}

// pipeline sends the deferred statements and then what queue adds as one pgx batch on the
// transaction's connection, in one round trip: it reads the deferred statements' results,
// and read reads the rest. Its error is the first statement's that failed.
func (t *Tx) pipeline(queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	pending := t.pending
	t.pending, t.open = nil, ""
	t.e.trips.Add(1)
	return t.conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("postgres: unexpected driver connection %T", dc)
		}
		var b pgx.Batch
		for _, p := range pending {
			b.Queue(p.query, p.args...)
		}
		queue(&b)
		br := c.Conn().SendBatch(t.ctx, &b)
		for range pending {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
		}
		if err := read(br); err != nil {
			br.Close()
			return err
		}
		return br.Close()
	})
}

// Prefetch implements engine.Prefetcher: the deferred statements (a member's SAVEPOINT, say)
// and then every query of qs go to the server as one pipeline, in one round trip, and each
// query's rows come back read in full (rows.Values). The first statement or query that fails
// aborts the transaction: its error becomes the transaction's (t.err, as for a deferred
// statement, so that a deadlock or a serialization failure is retried as such, and a
// savepoint reports it as its fn's outcome) and is that query's and every later one's.
func (t *Tx) Prefetch(qs []engine.Query) []engine.Prefetched {
	out := make([]engine.Prefetched, len(qs))
	fail := func(err error) []engine.Prefetched {
		for i := range out {
			if out[i].Err == nil && out[i].Rows == nil {
				out[i].Err = err
			}
		}
		return out
	}
	if t.err != nil {
		return fail(fmt.Errorf("an earlier statement of this transaction failed: %v", t.err))
	}
	if len(qs) == 0 {
		return out
	}
	err := t.pipeline(func(b *pgx.Batch) {
		for _, q := range qs {
			b.Queue(t.e.bind(q.SQL), pgArgs(q.Args)...)
		}
	}, func(br pgx.BatchResults) error {
		for i := range qs {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			got := [][]any{}
			for rows.Next() {
				v, err := rows.Values()
				if err != nil {
					rows.Close()
					return err
				}
				got = append(got, v)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			out[i].Rows = got
		}
		return nil
	})
	if err != nil {
		t.err = err
		return fail(err)
	}
	return out
}

// SendDeferred sends the statements deferred so far, in one round trip, and returns the first
// one's error (then also the transaction's: see Aborted).
func (t *Tx) SendDeferred() error {
	if err := t.flush(false); err != nil {
		return t.Aborted()
	}
	return nil
}

// Aborted returns the error that aborted the transaction in PostgreSQL (a deferred or
// prefetched statement's), or nil: after it every statement but a ROLLBACK fails.
func (t *Tx) Aborted() error { return t.err }

// Query implements engine.Tx.
func (t *Tx) Query(q string, args ...any) (*sql.Rows, error) {
	if err := t.flush(false); err != nil {
		return nil, err
	}
	t.open = ""
	t.e.trips.Add(1)
	return t.conn.QueryContext(t.ctx, t.e.bind(q), pgArgs(args)...)
}

// QueryRow implements engine.Tx. A deferred statement's error is reported by the row.
func (t *Tx) QueryRow(q string, args ...any) *sql.Row {
	if err := t.flush(false); err != nil {
		// A Row cannot be made with an error: run a statement that fails (the error the
		// transaction ends with is the deferred statement's, kept in t.err).
		return t.conn.QueryRowContext(t.ctx, `SELECT 1/0`)
	}
	t.open = ""
	t.e.trips.Add(1)
	return t.conn.QueryRowContext(t.ctx, t.e.bind(q), pgArgs(args)...)
}

// Savepoint implements engine.Tx. SAVEPOINT goes with fn's first statement and RELEASE with
// its last deferred ones, so a savepoint whose fn succeeds costs no round trip of its own
// (a redemption in a town's batch is one). The RELEASE opens the next savepoint too: if the
// next Savepoint comes before any other statement (the batch's next member), it starts
// there, and its first statement goes alone.
func (t *Tx) Savepoint(fn func() error) error {
	if err := t.flush(false); err != nil {
		return err
	}
	name, begin := t.open, deferred{}
	t.open = ""
	if name == "" {
		t.sp++
		name = "sp" + strconv.Itoa(t.sp)
		begin = deferred{query: `SAVEPOINT ` + name}
		t.pending = append(t.pending, begin)
	}
	err := fn()
	if err == nil {
		t.sp++
		next := "sp" + strconv.Itoa(t.sp)
		t.pending = append(t.pending, deferred{query: `RELEASE SAVEPOINT ` + name}, deferred{query: `SAVEPOINT ` + next})
		if err = t.flush(false); err == nil {
			t.open = next
			return nil
		}
		err = t.err // fn's deferred statement failed: fn failed
	}
	if begin.query != "" && len(t.pending) > 0 && t.pending[0].query == begin.query {
		t.pending = nil // nothing of fn was sent, not even the SAVEPOINT
		return err
	}
	if t.err != nil {
		// A deferred statement of fn failed when a later one flushed it: that is fn's
		// outcome (a unique violation, say), not what the later statement made of it.
		err = t.err
	}
	t.pending, t.err = nil, nil // fn's own statements, undone with it
	t.e.trips.Add(1)
	if _, e := t.conn.ExecContext(t.ctx, `ROLLBACK TO SAVEPOINT `+name); e != nil {
		return e
	}
	return err
}

// Notify implements engine.Notifier: topic reaches every listener when tx commits.
func (e *Engine) Notify(tx engine.Tx, topic string) error {
	_, err := tx.Exec(`SELECT pg_notify(?, ?)`, e.channel, topic)
	return err
}

// Listen implements engine.Notifier on a connection of its own, reconnecting with backoff;
// after any break it calls fn("") since notifications may have been missed meanwhile.
func (e *Engine) Listen(ctx context.Context, fn func(topic string)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := e.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return
		}
		fn("")
		slog.Warn("postgres: change notifications interrupted; caches emptied", "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (e *Engine) listenOnce(ctx context.Context, fn func(string)) error {
	conn, err := pgx.ConnectConfig(ctx, e.pool.Config().ConnConfig)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{e.channel}.Sanitize()); err != nil {
		return err
	}
	// Anything changed before LISTEN took effect is unknown to this process.
	fn("")
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Payload)
	}
}

// pgArgs turns bool arguments into 0 and 1 (flags are INTEGER columns on both engines, as
// SQLite's driver stores a bool), and NUL characters and bytes that are not UTF-8 in strings
// into U+FFFD: PostgreSQL's text cannot hold them, stored text never has them (card.CleanText),
// so a lookup with one finds nothing, as on SQLite, instead of failing.
func pgArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var v any
		switch a := a.(type) {
		case bool:
			v = boolInt(a)
		case string:
			if !strings.ContainsRune(a, 0) && utf8.ValidString(a) {
				continue
			}
			v = strings.ReplaceAll(strings.ToValidUTF8(a, "\uFFFD"), "\x00", "\uFFFD")
		default:
			continue
		}
		if out == nil {
			out = make([]any, len(args))
			copy(out, args)
		}
		out[i] = v
	}
	if out == nil {
		return args
	}
	return out
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
