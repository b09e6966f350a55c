package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

// Group commit per town, on an engine shared by several instances (PostgreSQL).
//
// A town's ledger entries form one chain, extended under the town's ledger_heads row, which a
// booking write locks until its commit: the town's writes take turns there, whichever instance
// runs them, and each turn lasts until its commit is flushed to disk. One redemption per turn
// made a town's redemptions one WAL flush each, one after the other. So the redemptions of one
// town that arrive at an instance together share one transaction (as the SQLite writer's
// group commit does for all writes): the batch locks the town's head first, runs each
// redemption in a savepoint of its own and commits once. The chain, the limits, the keys and
// the close state are what they are for a single redemption (each member books under the
// head lock the batch holds); what a member adds is undone with its savepoint alone if it
// fails, and the members are answered once the batch's commit is durable. docs/postgres.md
// ("Redemptions in batches") has the design and its failure cases.

// maxTownBatch bounds the redemptions of one town that share a transaction. Each member's
// savepoint that writes is a subtransaction with an id of its own, and PostgreSQL keeps at
// most 64 of a transaction's in shared memory (PGPROC_MAX_CACHED_SUBXIDS): past that every
// other session's snapshot must look subtransactions up on disk (pg_subtrans) while the batch
// runs. 32 keeps a batch, its members' retries included, under that cache; measured against
// 64 with `.ci/loadtest` (PostgreSQL, one instance, 64 tills) it gave 490–535 redemptions a
// second against 296–415.
const maxTownBatch = 32

// townWrites are the queues of writes waiting for their town's next batch.
type townWrites struct {
	mu     sync.Mutex
	queues map[string]*townQueue
}

type townQueue struct {
	waiting []*townWrite
	running bool // a goroutine is committing this town's batches (drainTown)
	inBatch int  // the writes of the batch being committed
}

type townWrite struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// errNoMember ends a batch none of whose members succeeded: nothing to commit.
var errNoMember = errors.New("no write of the batch succeeded")

// updateInTown runs fn as update does, as a member of town's next batch on a shared engine
// (on SQLite the writer's group commit batches every write already). fn must book in town
// only (its ledger head is the batch's lock); it runs in a savepoint, and the engine may run
// it again (a whole batch is retried after a serialization failure or a deadlock, a member
// after a unique violation it did not answer itself).
func (db *DB) updateInTown(ctx context.Context, town string, fn func(*Tx) error) error {
	if town == "" || db.readOnly {
		return db.update(ctx, fn)
	}
	if f, ok := db.eng.(engine.Folder); ok && !db.eng.Shared() {
		return f.UpdateFolding(ctx, func(t engine.Tx) error { return db.foldMember(ctx, t, fn) })
	}
	if !db.eng.Shared() {
		return db.update(ctx, fn)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &townWrite{ctx: ctx, fn: fn, done: make(chan error, 1)}
	tw := &db.townWrites
	tw.mu.Lock()
	if tw.queues == nil {
		tw.queues = map[string]*townQueue{}
	}
	q := tw.queues[town]
	if q == nil {
		q = &townQueue{}
		tw.queues[town] = q
	}
	q.waiting = append(q.waiting, w)
	start := !q.running
	q.running = true
	tw.mu.Unlock()
	if start {
		go db.drainTown(town, q)
	}
	// Once its batch has begun, a write is finished even if its caller went away.
	return <-w.done
}

// drainTown commits town's waiting writes in batches until none waits: the writes that
// arrive while a batch runs make the next one.
func (db *DB) drainTown(town string, q *townQueue) {
	tw := &db.townWrites
	for {
		tw.mu.Lock()
		n := min(len(q.waiting), maxTownBatch)
		if n == 0 {
			q.running = false
			tw.mu.Unlock()
			return
		}
		batch := q.waiting[:n:n]
		q.waiting = append([]*townWrite(nil), q.waiting[n:]...)
		q.inBatch = n
		tw.mu.Unlock()
		errs := db.commitTownBatch(town, batch)
		tw.mu.Lock()
		q.inBatch = 0
		tw.mu.Unlock()
		for i, w := range batch {
			w.done <- errs[i]
		}
	}
}

// foldMember runs fn as a folding write of the SQLite writer's group commit
// (engine.Folder): the group's folding writes share one Tx, and with it the heads they hold,
// the close states they read and the batchFold that collects what they book, written once
// when the writer flushes the group's engine.Batch (before any write that does not fold, and
// before the commit). The engine undoes a failed write's statements with its savepoint; this
// undoes its part of the shared state.
func (db *DB) foldMember(ctx context.Context, t engine.Tx, fn func(*Tx) error) error {
	b := t.(engine.Folding).Batch() // UpdateFolding's Tx always has one
	tx, _ := b.State.(*Tx)
	if tx == nil {
		tx = &Tx{db: db, fold: &batchFold{}}
		b.State = tx
		b.Flush = func() error { return foldFlush(tx) }
	}
	tx.tx, tx.Now, tx.ctx = t, db.Now(), ctx
	m := tx.mark()
	err := fn(tx)
	if err != nil {
		tx.undo(m)
	}
	return err
}

// townWritesPending is the number of town's writes queued or in the batch being committed
// (tests: how many redemptions a held ledger head has parked).
func (db *DB) townWritesPending(town string) int {
	tw := &db.townWrites
	tw.mu.Lock()
	defer tw.mu.Unlock()
	if q := tw.queues[town]; q != nil {
		return len(q.waiting) + q.inBatch
	}
	return 0
}

// commitTownBatch runs batch as one transaction: town's head locked first, then each member,
// one commit. It returns each member's outcome: its own error, or the batch's when the
// transaction failed as a whole (a lost connection at the commit: unknown whether it took
// effect, as for a single write).
//
// The members run first without savepoints (Tx.optimistic): a member's deferred writes go
// with the next member's reads, one round trip each, and no member opens a subtransaction.
// A member that fails before writing anything leaves nothing to undo; one that fails after
// a write, or any statement that aborts the transaction (a limit key or an Idempotency-Key
// won meanwhile by another instance, found when its insert is sent), makes the batch start
// over with a savepoint per member, where a member's failure undoes its statements alone
// (Tx.member) — the outcome is the same, only slower.
func (db *DB) commitTownBatch(town string, batch []*townWrite) []error {
	errs := make([]error, len(batch))
	safe := false
	for {
		redo := false
		err := db.eng.Update(context.Background(), func(t engine.Tx) error {
			redo = false
			err := db.runTownBatch(t, town, batch, errs, safe)
			if errors.Is(err, errUnsure) {
				// With savepoints from now on: in the engine's own next run (it runs the write
				// again after a unique violation) or in the next round here.
				safe, redo = true, true
				db.batchRedos.Add(1)
			}
			return err
		})
		if err != nil && redo {
			continue // safe is set: the batch again, a savepoint per member
		}
		if err != nil && !errors.Is(err, errNoMember) {
			for i := range errs {
				if errs[i] == nil || db.retryable(errs[i]) {
					errs[i] = err
				}
			}
		}
		return errs
	}
}

// runTownBatch is one run of commitTownBatch's transaction: town's head, each member (each
// in a savepoint if safe), the batch's booking. errs gets each member's outcome.
func (db *DB) runTownBatch(t engine.Tx, town string, batch []*townWrite, errs []error, safe bool) error {
	clear(errs)
	tx := &Tx{tx: t, Now: db.Now(), db: db, ctx: context.Background(), fold: &batchFold{}}
	// The head first, before any member's card or offer: batches of one town never hold
	// each other's rows while waiting for the head (no deadlock between instances).
	if _, _, err := lockHead(tx, town); err != nil {
		return err
	}
	ok := false
	for i, w := range batch {
		if errs[i] = w.ctx.Err(); errs[i] != nil {
			continue
		}
		tx.ctx = w.ctx // whom the member's audit entry names
		if safe {
			errs[i] = tx.member(w.fn)
		} else if errs[i] = tx.optimistic(w.fn); errors.Is(errs[i], errUnsure) {
			return errs[i]
		}
		if errs[i] != nil && db.retryable(errs[i]) {
			// A deadlock or a serialization failure: the transaction must start over
			// (under SERIALIZABLE a savepoint cannot undo it), every member with it.
			return errs[i]
		}
		ok = ok || errs[i] == nil
	}
	if !ok {
		return errNoMember
	}
	if !safe {
		// The last members' writes, before the folded ones: a failure here is a member's,
		// to be found again member by member.
		if s, is := t.(interface{ SendDeferred() error }); is {
			if err := s.SendDeferred(); err != nil {
				return db.unsure(err)
			}
		}
	}
	if w, is := t.(interface{ SetWrites(int) }); is {
		w.SetWrites(len(batch)) // the commit's size for metrics
	}
	return foldFlush(tx)
}

// retryable reports whether err is one after which the engine runs a write again from its
// start (a deadlock or a serialization failure on PostgreSQL).
func (db *DB) retryable(err error) bool {
	r, ok := db.eng.(interface{ Retryable(error) bool })
	return ok && r.Retryable(err)
}

// unsure is err, which aborted a batch's transaction, as the batch's outcome: as it is if the
// engine runs the batch again anyway, else errUnsure (run it again with savepoints).
func (db *DB) unsure(err error) error {
	if db.retryable(err) {
		return err
	}
	return fmt.Errorf("%w: %v", errUnsure, err)
}

// errUnsure ends a batch run without savepoints in which a member failed after writing, or a
// statement aborted the transaction: the batch runs again with a savepoint per member.
var errUnsure = errors.New("a member of the batch failed after writing: run it again with savepoints")

// optimistic runs fn as a member of a town's batch without a savepoint (see commitTownBatch).
// A failure of fn before any write puts the batch's state back as it was before fn (the
// heads, the close states, the fold: as savepoint does); the row locks its reads took stay
// until the commit, which only makes a later write of those rows wait a little longer. A
// failure after a write, or a transaction aborted in the database, is errUnsure (a deadlock
// or serialization failure is returned as it is: the batch starts over).
func (t *Tx) optimistic(fn func(*Tx) error) error {
	m := t.mark()
	t.dropPrefetched()
	err := fn(t)
	t.dropPrefetched() // nothing read by fn is served to the next member
	if aborted := t.aborted(err); aborted != nil {
		return t.db.unsure(aborted)
	}
	if err != nil {
		if t.writes != m.writes {
			return fmt.Errorf("%w: %v", errUnsure, err)
		}
		t.undo(m)
	}
	return err
}

// aborted is the error that aborted the write's transaction in the database, if one did:
// a deferred or prefetched statement's, or err if the engine says it aborted it.
func (t *Tx) aborted(err error) error {
	if a, ok := t.tx.(interface{ Aborted() error }); ok {
		if e := a.Aborted(); e != nil {
			return e
		}
	}
	if a, ok := t.db.eng.(interface{ Aborts(error) bool }); ok && err != nil && a.Aborts(err) {
		return err
	}
	return nil
}

// member runs fn in a savepoint: its failure undoes its statements alone. A unique violation
// fn did not answer itself (a concurrent write of the same limit key or Idempotency-Key won,
// committed by the time the violation is reported) runs it again, twice at most, as the
// engine runs a single write again: the next run sees the winner.
func (t *Tx) member(fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := t.savepoint(func() error { return fn(t) })
		if err == nil || !t.isUnique(err) || attempt == 2 {
			return err
		}
	}
}

// batchFold holds what a town's batch books for its members, written at the batch's end in
// as few statements as the rows allow (foldFlush): the ledger entries in one multi-row insert,
// each town's head once, the rollups' rows summed by key, the audit entries in one insert.
// None of these can fail because of another write (the head lock orders the chain; the
// rollups only grow; the audit log only appends), so a member's outcome is known without
// them; a member whose savepoint fails drops its rows with it (savepoint keeps the lengths).
type batchFold struct {
	ledger  []merchant.LedgerEntry // with Seq set, and their hashes in hashes
	hashes  [][32]byte
	rollups []merchant.LedgerEntry // redemptions' entries, for the rollups
	audit   [][]any
}

type foldMark struct{ ledger, rollups, audit int }

func (f *batchFold) mark() foldMark { return foldMark{len(f.ledger), len(f.rollups), len(f.audit)} }

func (f *batchFold) undo(m foldMark) {
	f.ledger, f.hashes, f.rollups, f.audit = f.ledger[:m.ledger], f.hashes[:m.ledger], f.rollups[:m.rollups], f.audit[:m.audit]
}

// foldFlush queues the batch's folded statements (deferred: they go with the COMMIT).
func foldFlush(tx *Tx) error {
	f := tx.fold
	tx.fold = nil
	if f == nil {
		return nil
	}
	if len(f.ledger) > 0 {
		rows := make([][]any, len(f.ledger))
		last := map[string]int{}
		for i, e := range f.ledger {
			h := f.hashes[i]
			rows[i] = []any{e.Town, e.Seq, e.Version, e.CardTown, e.Kind, e.RedemptionID, e.CardID, e.CardNumber, e.MerchantID, e.OfferID, e.Terminal,
				e.Product, e.Category, e.Amount, e.Discount, e.Share, ms(e.CreatedAt), ms(e.At), e.Month.String(), e.Reason, h[:]}
			last[e.Town] = i
		}
		if err := execRows(tx, `INSERT INTO ledger (`+ledgerColumns+`) VALUES `, "", rows); err != nil {
			return err
		}
		for town, i := range last {
			if err := tx.execDeferred(`UPDATE ledger_heads SET seq = ?, hash = ? WHERE town = ?`, f.ledger[i].Seq, f.hashes[i][:], town); err != nil {
				return err
			}
		}
	}
	if err := foldRollups(tx, f.rollups); err != nil {
		return err
	}
	return execRows(tx, auditInsert, "", f.audit)
}

// execRows queues head, one "(?, …)" per row of rows, and tail as deferred statements of at
// most 500 rows each.
func execRows(tx *Tx, head, tail string, rows [][]any) error {
	for len(rows) > 0 {
		n := min(len(rows), 500)
		var b strings.Builder
		b.WriteString(head)
		args := make([]any, 0, n*len(rows[0]))
		for i, r := range rows[:n] {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("(?" + strings.Repeat(", ?", len(r)-1) + ")")
			args = append(args, r...)
		}
		b.WriteString(tail)
		if err := tx.execDeferred(b.String(), args...); err != nil {
			return err
		}
		rows = rows[n:]
	}
	return nil
}
