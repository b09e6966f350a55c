package storage

import (
	"context"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// OfflineUse is one use an offline till must refuse: a live once-use of the merchant's offer
// by a card, or a daily use today (Date, the local date in the merchant's town).
type OfflineUse struct {
	CardNumber, OfferID, Date string
}

// OfflinePack returns what a till of merchantID needs besides its offers to decide offline:
// the numbers of blocked cards that are not expired at now, and the merchant's live once-uses
// and today's daily uses (by the local day of the merchant's town). Conflicts hold no limit
// key, so they are never listed.
func (db *DB) OfflinePack(ctx context.Context, merchantID string, now time.Time) (blocked []string, used []OfflineUse, err error) {
	q := db.reader(ctx)
	m, err := merchantWhere(q, `id = ?`, merchantID)
	if err != nil {
		return nil, nil, err
	}
	today := now.In(db.TownLoc(m.Town)).Format(dateLayout)
	rows, err := q.query(`SELECT number FROM cards WHERE blocked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > ?) ORDER BY number`, ms(now))
	if err != nil {
		return nil, nil, err
	}
	blocked = []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, nil, err
		}
		blocked = append(blocked, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows, err = q.query(`SELECT card_number, offer_id, limit_key, created_at FROM redemptions
		WHERE merchant_id = ? AND limit_key IS NOT NULL AND voided_at IS NULL ORDER BY seq`, merchantID)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	used = []OfflineUse{}
	loc := db.TownLoc(m.Town)
	for rows.Next() {
		var u OfflineUse
		var key string
		var at int64
		if err := rows.Scan(&u.CardNumber, &u.OfferID, &key, &at); err != nil {
			return nil, nil, err
		}
		u.Date = fromMS(at).In(loc).Format(dateLayout)
		if strings.HasPrefix(key, "daily:") && !strings.HasSuffix(key, ":"+today) {
			continue // another day's daily use limits nothing today
		}
		used = append(used, u)
	}
	return blocked, used, rows.Err()
}

// DecideConflict records the office's decision (merchant.DecisionAccepted or
// DecisionRejected) on conflict id of town, with an optional note of at most 300 characters.
// An accepted conflict is booked in the ledger like a redemption in the month it happened, or,
// when that month is closed, as an adjustment in the month of the decision; a rejected one
// stays out of every figure. Errors: merchant.ErrNotFound, merchant.ErrNotConflict,
// merchant.ErrAlreadyDecided, card.ErrInvalidInput.
func (db *DB) DecideConflict(ctx context.Context, town, id, decision, note string) (merchant.Redemption, error) {
	note, err := card.CleanText("note", note, 300, false)
	if err != nil {
		return merchant.Redemption{}, err
	}
	var r merchant.Redemption
	err = db.update(ctx, func(tx *Tx) error {
		var err error
		// Locked: of decisions racing on one conflict, the later ones wait here and then
		// read the first one's decision.
		r, err = redemptionWhere(tx, `id = ?`+tx.forUpdate(), id)
		if err != nil || (town != "" && r.Town != town) {
			return merchant.ErrNotFound
		}
		if r.ConflictReason == "" {
			return merchant.ErrNotConflict
		}
		if r.Decision != "" {
			return merchant.ErrAlreadyDecided
		}
		now := tx.Now
		res, err := tx.exec(`UPDATE redemptions SET decided_at = ?, decision = ?, decision_note = ? WHERE id = ? AND decision IS NULL`,
			ms(now), decision, note, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return merchant.ErrAlreadyDecided // another decision won
		}
		r.DecidedAt, r.Decision, r.DecisionNote = &now, decision, note
		if decision == merchant.DecisionAccepted {
			if err := bookAccept(tx, r); err != nil {
				return err
			}
		}
		return tx.auditIn(r.Town, "redemption."+map[string]string{merchant.DecisionAccepted: "accept", merchant.DecisionRejected: "reject"}[decision], id)
	})
	return r, err
}

// bookAccept books an accepted conflict: a redemption entry in the month it happened while
// that month is open; once that month is closed (its report frozen), a redemption entry of
// the month of the decision (lateMonth), like a late void's adjustment, so the frozen report never
// changes. (It is a redemption, not an adjustment: adjustments are the negative sums of
// voids, which the rollups' CHECKs hold them to.)
func bookAccept(tx *Tx, r merchant.Redemption) error {
	loc := tx.db.TownLoc(r.Town)
	e := redemptionEntry(r, loc)
	closed, err := lockMonth(tx, r.Town, e.Month)
	if err != nil {
		return err
	}
	if closed {
		e.At = *r.DecidedAt
		if e.Month, err = lateMonth(tx, r.Town, e.At, loc); err != nil {
			return err
		}
	}
	if _, err := appendLedger(tx, &e); err != nil {
		return err
	}
	return applyRollup(tx, e)
}

// OpenConflicts counts town's conflicts that happened in month m (in the town's zone) and
// wait for the office's decision.
func (db *DB) OpenConflicts(ctx context.Context, town string, m merchant.Month) (int, error) {
	return openConflicts(db.reader(ctx), town, db.TownLoc(town), m)
}

func openConflicts(q querier, town string, loc *time.Location, m merchant.Month) (int, error) {
	start, end := m.Range(loc)
	var n int
	err := q.queryRow(`SELECT count(*) FROM redemptions WHERE town = ? AND conflict_reason IS NOT NULL AND decision IS NULL
		AND created_at >= ? AND created_at < ?`, town, ms(start), ms(end)).Scan(&n)
	return n, err
}
