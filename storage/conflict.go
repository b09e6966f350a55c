package storage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// Conflicts in bulk (docs/offline.md "Deciding conflicts in bulk", "A merchant's open
// conflicts are capped"): the office's view of a town's open conflicts grouped by till and
// reason, a decision on many of them at once, and the cap on one merchant's open conflicts.

// SetMaxOpenConflicts sets how many undecided conflicts one merchant may have (see
// capConflicts); n <= 0 sets no cap. Until it is called the cap is
// merchant.DefaultMaxOpenConflicts. Safe while the database is in use.
func (db *DB) SetMaxOpenConflicts(n int) {
	if n <= 0 {
		n = -1
	}
	db.conflictCap.Store(int64(n))
}

// MaxOpenConflicts is the cap SetMaxOpenConflicts set: 0 when there is none.
func (db *DB) MaxOpenConflicts() int {
	switch n := db.conflictCap.Load(); {
	case n == 0:
		return merchant.DefaultMaxOpenConflicts
	case n < 0:
		return 0
	default:
		return int(n)
	}
}

// capConflicts refuses (merchant.ErrTooManyConflicts) one more open conflict of merchantID
// when it has MaxOpenConflicts already. It writes the merchant's row first (a write that
// changes nothing), so that on PostgreSQL every transaction recording a conflict of the
// merchant takes its turn there until it commits: the count after it sees every conflict
// committed before (READ COMMITTED), or the write fails as a serialization failure and runs
// again (REPEATABLE READ, SERIALIZABLE). The count and the insert that follows are therefore
// one step, and a merchant never has more than the cap open, however many tills sync at once.
// (A decision only lowers the count, so it needs no turn here.) On SQLite the single writer
// gives the same turn. The offline sale that records a conflict already holds the row FOR
// UPDATE (redemptionContext): never FOR SHARE, which this write would have to upgrade, and
// two transactions upgrading at once deadlock.
func capConflicts(tx *Tx, town, merchantID string) error {
	max := tx.db.MaxOpenConflicts()
	if max == 0 {
		return nil
	}
	res, err := tx.exec(`UPDATE merchants SET updated_at = updated_at WHERE id = ?`, merchantID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return merchant.ErrNotFound
	}
	var open int
	// At most max rows are counted: the answer is only "below the cap or not".
	// (The partial index of open conflicts, migration 0018, holds just these rows.)
	if err := tx.queryRow(`SELECT count(*) FROM (SELECT 1 FROM redemptions
		WHERE town = ? AND merchant_id = ? AND conflict_reason IS NOT NULL AND decision IS NULL LIMIT ?) AS open_conflicts`, town, merchantID, max).Scan(&open); err != nil {
		return err
	}
	if open >= max {
		return merchant.ErrTooManyConflicts
	}
	return nil
}

// ConflictFilter selects a town's open (undecided) conflicts. Zero fields do not filter;
// Terminal filters when HasTerminal is set (a till may have no terminal name, "").
type ConflictFilter struct {
	MerchantID  string
	Terminal    string
	HasTerminal bool
	Reason      string         // conflict_reason, e.g. "limit_reached"
	Month       merchant.Month // the month the sale happened in, in the town's zone
}

// where is the filter's SQL condition (after "WHERE") and its arguments, for town's open
// conflicts.
func (f ConflictFilter) where(town string, loc *time.Location) (string, []any) {
	from, to := int64(0), int64(1)<<62
	if f.Month != (merchant.Month{}) {
		start, end := f.Month.Range(loc)
		from, to = ms(start), ms(end)
	}
	hasTerminal := 0
	if f.HasTerminal {
		hasTerminal = 1
	}
	return `town = ? AND conflict_reason IS NOT NULL AND decision IS NULL
		AND (? = '' OR merchant_id = ?) AND (? = 0 OR terminal = ?) AND (? = '' OR conflict_reason = ?)
		AND created_at >= ? AND created_at < ?`,
		[]any{town, f.MerchantID, f.MerchantID, hasTerminal, f.Terminal, f.Reason, f.Reason, from, to}
}

// OpenConflictIDs returns the ids of at most limit of town's open conflicts that f selects,
// the oldest recorded first, and how many f selects in all.
func (db *DB) OpenConflictIDs(ctx context.Context, town string, f ConflictFilter, limit int) ([]string, int, error) {
	if town == "" {
		return nil, 0, errNoTown
	}
	where, args := f.where(town, db.TownLoc(town))
	// Without ORDER BY, so that the planner reads the index of open conflicts (migration
	// 0018) rather than walk the town's redemptions in seq order: the open ones are few
	// (the cap bounds each merchant's), so they are sorted here.
	rows, err := db.reader(ctx).query(`SELECT id, seq FROM redemptions WHERE `+where, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	type open struct {
		id  string
		seq int64
	}
	var all []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.seq); err != nil {
			return nil, 0, err
		}
		all = append(all, o)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	slices.SortFunc(all, func(a, b open) int { return cmp.Compare(a.seq, b.seq) })
	ids := []string{}
	for _, o := range all[:min(limit, len(all))] {
		ids = append(ids, o.id)
	}
	return ids, len(all), nil
}

// ConflictGroup is a number of a town's open conflicts of one merchant's till (terminal)
// with one reason, and when the first and the last of them happened.
type ConflictGroup struct {
	MerchantID, Terminal, Reason string
	Open                         int
	First, Last                  time.Time
}

// ConflictGroups groups town's open conflicts by merchant, terminal and reason, the largest
// group first.
func (db *DB) ConflictGroups(ctx context.Context, town string) ([]ConflictGroup, error) {
	if town == "" {
		return nil, errNoTown
	}
	rows, err := db.reader(ctx).query(`SELECT merchant_id, terminal, conflict_reason, count(*), min(created_at), max(created_at)
		FROM redemptions WHERE town = ? AND conflict_reason IS NOT NULL AND decision IS NULL
		GROUP BY merchant_id, terminal, conflict_reason
		ORDER BY count(*) DESC, merchant_id, terminal, conflict_reason`, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []ConflictGroup{}
	for rows.Next() {
		var g ConflictGroup
		var first, last int64
		if err := rows.Scan(&g.MerchantID, &g.Terminal, &g.Reason, &g.Open, &first, &last); err != nil {
			return nil, err
		}
		g.First, g.Last = fromMS(first), fromMS(last)
		out = append(out, g)
	}
	return out, rows.Err()
}

// ConflictDecision is the outcome of one conflict of a bulk decision: the decided
// redemption, or why it was not decided (merchant.ErrNotFound for an id that is not one of
// the town's redemptions, merchant.ErrNotConflict, merchant.ErrAlreadyDecided).
type ConflictDecision struct {
	ID         string
	Redemption merchant.Redemption
	Err        error
}

// DecideConflicts records the same decision, with the same note, on each of ids (at most
// merchant.MaxBulkDecisions), in order, each exactly as DecideConflict does (its own write,
// its ledger entry, its audit entry): a conflict is decided once, whoever else decides it
// at the same time, and one that someone decided first is answered with its error, not
// decided again. Each conflict is its own short write, so a bulk decision never holds the
// town's ledger head for longer than a single one does and tills keep selling meanwhile.
// Errors of the whole call: card.ErrInvalidInput (a note too long, too many ids, a decision
// that is neither), or the store's failure, after which the conflicts decided before it stay
// decided (the answer lists them).
func (db *DB) DecideConflicts(ctx context.Context, town string, ids []string, decision, note string) ([]ConflictDecision, error) {
	if decision != merchant.DecisionAccepted && decision != merchant.DecisionRejected {
		return nil, fmt.Errorf("%w: decision must be accepted or rejected", card.ErrInvalidInput)
	}
	if len(ids) > merchant.MaxBulkDecisions {
		return nil, fmt.Errorf("%w: at most %d conflicts per request", card.ErrInvalidInput, merchant.MaxBulkDecisions)
	}
	if _, err := card.CleanText("note", note, 300, false); err != nil {
		return nil, err
	}
	out := make([]ConflictDecision, 0, len(ids))
	for _, id := range ids {
		r, err := db.DecideConflict(ctx, town, id, decision, note)
		if err != nil && !errors.Is(err, merchant.ErrNotFound) && !errors.Is(err, merchant.ErrNotConflict) && !errors.Is(err, merchant.ErrAlreadyDecided) {
			return out, err
		}
		out = append(out, ConflictDecision{ID: id, Redemption: r, Err: err})
	}
	return out, nil
}
