package storage

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strconv"
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
// OfflineBlocked and OfflineUsed at now.
func (db *DB) OfflinePack(ctx context.Context, merchantID string, now time.Time) (blocked []string, used []OfflineUse, err error) {
	if blocked, err = db.OfflineBlocked(ctx, now); err != nil {
		return nil, nil, err
	}
	used, err = db.OfflineUsed(ctx, merchantID, now)
	return blocked, used, err
}

// OfflineBlocked returns the numbers of blocked cards that are not expired at now, sorted.
func (db *DB) OfflineBlocked(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := db.reader(ctx).query(`SELECT number FROM cards WHERE blocked_at IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)`, ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	blocked := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		blocked = append(blocked, n)
	}
	// Sorted here, not by ORDER BY: that would read every card by the numbers' index.
	slices.Sort(blocked)
	return blocked, rows.Err()
}

// OfflineUsed returns the uses of merchantID's offers that can still matter to a till at now:
// live once-uses of cards not expired at now, and today's daily uses (by the local day of
// the merchant's town). A card that expires before now cannot be redeemed validly, offline
// or not (a sale of it is a conflict card_expired, whatever the pack says), so its uses are
// left out, and the list is as long as the live cards' uses, not every use ever made.
// Conflicts hold no limit key, so they are never listed.
func (db *DB) OfflineUsed(ctx context.Context, merchantID string, now time.Time) ([]OfflineUse, error) {
	q := db.reader(ctx)
	m, err := merchantWhere(q, `id = ?`, merchantID)
	if err != nil {
		return nil, err
	}
	loc := db.TownLoc(m.Town)
	l := now.In(loc)
	today, dayStart := l.Format(dateLayout), time.Date(l.Year(), l.Month(), l.Day(), 0, 0, 0, 0, loc)
	windows, args, err := liveUseWindows(q, merchantID, now)
	if err != nil {
		return nil, err
	}
	// By the index redemptions_merchant_limit_product, a range for each product: only the
	// windows are read.
	rows, err := q.query(`SELECT r.card_number, r.offer_id, r.limit_key, r.created_at FROM redemptions r JOIN cards c ON c.id = r.card_id
		WHERE (`+windows+`) AND (r.limit_key LIKE 'once:%' OR r.created_at >= ?) AND (c.expires_at IS NULL OR c.expires_at > ?)
		ORDER BY r.seq`, append(args, ms(dayStart), ms(now))...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	used := []OfflineUse{}
	for rows.Next() {
		var u OfflineUse
		var key string
		var at int64
		if err := rows.Scan(&u.CardNumber, &u.OfferID, &key, &at); err != nil {
			return nil, err
		}
		u.Date = fromMS(at).In(loc).Format(dateLayout)
		if strings.HasPrefix(key, "daily:") && !strings.HasSuffix(key, ":"+today) {
			continue // another day's daily use limits nothing today
		}
		used = append(used, u)
	}
	return used, rows.Err()
}

// liveUseWindows is, for every product, since when a live limited use of merchantID by one of
// its cards still live at now can have happened, as an SQL condition on redemptions r (each
// term a range of the partial index) and its arguments: a card expires at most its product's
// validity after its activation (a calendar day's validity ends at a local midnight, hence
// the hour of a summer-time change), and it is activated no later than its first use is
// recorded, at most an offline till's window after the sale. Products never change, so this
// holds for every card of theirs. Codes are unique per town, not in the network: a code
// several towns use gets the longest of their validities.
func liveUseWindows(q querier, merchantID string, now time.Time) (string, []any, error) {
	rows, err := q.query(`SELECT code, max(coalesce(validity_hours, validity_days * 24 + 1)) FROM products GROUP BY code ORDER BY code`)
	if err != nil {
		return "", nil, err
	}
	defer rows.Close()
	var terms []string
	var args []any
	for rows.Next() {
		var code string
		var hours int64
		if err := rows.Scan(&code, &hours); err != nil {
			return "", nil, err
		}
		span := time.Duration(hours)*time.Hour + merchant.OfflineMaxHours*time.Hour + merchant.OfflineMaxFuture + 24*time.Hour // a day to spare
		terms = append(terms, `(r.merchant_id = ? AND r.product_code = ? AND r.created_at >= ? AND r.limit_key IS NOT NULL AND r.voided_at IS NULL)`)
		args = append(args, merchantID, code, ms(now.Add(-span)))
	}
	if err := rows.Err(); err != nil {
		return "", nil, err
	}
	if len(terms) == 0 {
		return "1 = 0", nil, nil // no product, no card, no use
	}
	return strings.Join(terms, " OR "), args, nil
}

// OfflineUsedVersion names what OfflineUsed(merchantID, now) returns, without reading it: the
// length of the merchant's town's ledger and the town's local date. Every use and void of a
// merchant (and the activation a void undoes) is an entry of its town's chain, appended in
// commit order under the chain's head, so while the version stays the same so does the list,
// but for uses of cards that expired meanwhile, which a till may keep (they limit nothing).
// Read it before the list, so that a list is never older than the version sent with it.
func (db *DB) OfflineUsedVersion(ctx context.Context, merchantID string, now time.Time) (string, error) {
	q := db.reader(ctx)
	m, err := merchantWhere(q, `id = ?`, merchantID)
	if err != nil {
		return "", err
	}
	var seq int64
	if err := q.queryRow(`SELECT seq FROM ledger_heads WHERE town = ?`, m.Town).Scan(&seq); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", err
	}
	return m.Town + ":" + strconv.FormatInt(seq, 10) + ":" + now.In(db.TownLoc(m.Town)).Format(dateLayout), nil
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
