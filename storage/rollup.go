package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
)

// bookRedemption appends the ledger entry of a new redemption and adds it to the rollups,
// in the redemption's own write: in the month it happened while that month is open; once it
// is closed (an offline sale synced after the close, or a sale racing the close), in the
// month it was recorded in (lateMonth), with the entry's time the recording's, so the frozen
// report never changes and the sale is counted in a month's figures all the same.
func bookRedemption(tx *Tx, r merchant.Redemption) error {
	loc := tx.db.TownLoc(r.Town)
	e := redemptionEntry(r, loc)
	closed, err := lockMonth(tx, r.Town, e.Month)
	if err != nil {
		return err
	}
	if closed {
		e.At = r.RecordedAt
		if e.Month, err = lateMonth(tx, r.Town, e.At, loc); err != nil {
			return err
		}
	}
	if _, err := appendLedger(tx, &e); err != nil {
		return err
	}
	return applyRollup(tx, e)
}

// bookVoid appends the ledger entry of the void of r (VoidedAt set) and applies it to the
// rollups, in the void's own write: a void while r's month is open; an adjustment in the
// month of the void once r's month is closed (its report is frozen). r's month is the one
// its ledger entry counts in, not one worked out again in today's zone. A month the ledger
// says is closed but month_closes does not is merchant.ErrLedgerMismatch.
func bookVoid(tx *Tx, r merchant.Redemption) error {
	var month string
	err := tx.queryRow(`SELECT month FROM ledger WHERE redemption_id = ? AND kind = 'redemption'`, r.ID).Scan(&month)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("void of %s: %w: the redemption has no ledger entry", r.ID, merchant.ErrLedgerMismatch)
	}
	if err != nil {
		return err
	}
	m, err := merchant.ParseMonth(month)
	if err != nil {
		return err
	}
	closed, err := lockMonth(tx, r.Town, m)
	if err != nil {
		return err
	}
	loc := tx.db.TownLoc(r.Town)
	e := voidEntry(r, m, closed, loc)
	if closed {
		if e.Month, err = lateMonth(tx, r.Town, e.At, loc); err != nil {
			return err
		}
	}
	if _, err := appendLedger(tx, &e); err != nil {
		return err
	}
	return applyRollup(tx, e)
}

// entryRollup is what ledger entry e adds to the rollups: the local day it counts on (in loc,
// within the month the entry counts in), the sums, and one more (1) or one less (-1) use of
// its card, or none (0). A redemption and a void count on the day the redemption was made, an
// adjustment on the day of the void. A close adds nothing (ok false).
func entryRollup(e merchant.LedgerEntry, loc *time.Location) (day string, d rollupDelta, uses int, ok bool, err error) {
	switch e.Kind {
	case merchant.LedgerRedemption:
		return rollupDay(e.CreatedAt, e.Month, loc), rollupDelta{redemptions: 1, amount: e.Amount, discount: e.Discount, share: e.Share}, 1, true, nil
	case merchant.LedgerVoid:
		return rollupDay(e.CreatedAt, e.Month, loc), rollupDelta{redemptions: -1, voided: 1, amount: e.Amount, discount: e.Discount, share: e.Share}, -1, true, nil
	case merchant.LedgerAdjustment:
		return rollupDay(e.At, e.Month, loc), rollupDelta{adjustments: 1, adjAmount: e.Amount, adjDiscount: e.Discount, adjShare: e.Share}, 0, true, nil
	case merchant.LedgerClose, merchant.LedgerSale, merchant.LedgerSaleCancel:
		// A close, and a sales point's cards (merchant/sales.go), are no use of a card.
		return "", rollupDelta{}, 0, false, nil
	}
	return "", rollupDelta{}, 0, false, fmt.Errorf("ledger entry %d: unknown kind %q", e.Seq, e.Kind)
}

// rollupDay is t's local date in loc, kept inside month m: the month an entry counts in was
// decided when it was booked, so after a change of CITYCARD_TZ an entry near midnight at the
// end of a month stays on that month's first or last day rather than moving to another month.
func rollupDay(t time.Time, m merchant.Month, loc *time.Location) string {
	day := t.In(loc).Format(dateLayout)
	switch month := m.String(); {
	case day[:7] < month:
		return month + "-01"
	case day[:7] > month:
		return time.Date(m.Year, m.Month+1, 0, 0, 0, 0, 0, time.UTC).Format(dateLayout)
	}
	return day
}

// applyRollup adds a ledger entry to its town's rollups (entryRollup), by the days of the
// town's zone and the month stored in the entry.
func applyRollup(tx *Tx, e merchant.LedgerEntry) error {
	day, d, uses, ok, err := entryRollup(e, tx.db.TownLoc(e.Town))
	if err != nil || !ok {
		return err
	}
	month := e.Month.String()
	args := []any{d.redemptions, d.voided, d.amount, d.discount, d.share, d.adjustments, d.adjAmount, d.adjDiscount, d.adjShare}
	if e.Kind == merchant.LedgerVoid {
		// The redemption's rows exist; a void past zero breaks a CHECK, so the rollups never
		// drift silently. (An upsert would check its VALUES first, so voids update.)
		for _, u := range []struct {
			table, where string
			key          []any
		}{
			{"rollup_days", `town = ? AND date = ? AND merchant_id = ? AND offer_id = ? AND product_code = ? AND category = ?`,
				[]any{e.Town, day, e.MerchantID, e.OfferID, e.Product, e.Category}},
			{"rollup_months", `town = ? AND month = ? AND merchant_id = ? AND product_code = ? AND category = ? AND card_town = ?`,
				[]any{e.Town, month, e.MerchantID, e.Product, e.Category, e.CardTown}},
		} {
			res, err := tx.exec(`UPDATE `+u.table+` SET redemptions = redemptions + ?, voided = voided + ?,
					amount_cents = amount_cents + ?, discount_cents = discount_cents + ?, share_cents = share_cents + ?,
					adjustments = adjustments + ?, adj_amount_cents = adj_amount_cents + ?,
					adj_discount_cents = adj_discount_cents + ?, adj_share_cents = adj_share_cents + ?
				WHERE `+u.where, append(args, u.key...)...)
			if err != nil {
				return fmt.Errorf("rollup of %s: %w", e.RedemptionID, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return fmt.Errorf("rollup of %s: %s has %d rows for it (%v)", e.RedemptionID, u.table, n, err)
			}
		}
		return useCard(tx, month, day, e, uses)
	}
	if tx.fold != nil {
		// In a town's batch: summed with the batch's other entries at its end.
		tx.fold.rollups = append(tx.fold.rollups, e)
		return nil
	}
	return foldRollups(tx, []merchant.LedgerEntry{e})
}

// rollupSet is the upsert's SET of a rollup table t: the sums add up. The target's columns
// are named with its table: PostgreSQL finds a bare name ambiguous next to excluded's.
func rollupSet(t string) string {
	return strings.NewReplacer("$", t).Replace(`redemptions = $.redemptions + excluded.redemptions, voided = $.voided + excluded.voided,
		amount_cents = $.amount_cents + excluded.amount_cents, discount_cents = $.discount_cents + excluded.discount_cents,
		share_cents = $.share_cents + excluded.share_cents, adjustments = $.adjustments + excluded.adjustments,
		adj_amount_cents = $.adj_amount_cents + excluded.adj_amount_cents,
		adj_discount_cents = $.adj_discount_cents + excluded.adj_discount_cents,
		adj_share_cents = $.adj_share_cents + excluded.adj_share_cents`)
}

// foldRollups adds ledger entries that are not voids (a void updates existing rows, see
// applyRollup) to the rollups: the entries' deltas summed by row, one upsert per table for
// all of them (a town's batch books many at once; a single write books one).
func foldRollups(tx *Tx, entries []merchant.LedgerEntry) error {
	type row struct {
		key  []any
		d    rollupDelta
		last string // rollup_months: the latest day
	}
	days, months := map[string]*row{}, map[string]*row{}
	uses := map[string]*row{}
	var dayRows, monthRows, useRows []*row
	add := func(m map[string]*row, list *[]*row, key []any) *row {
		k := fmt.Sprintf("%q", key)
		r, ok := m[k]
		if !ok {
			r = &row{key: key}
			m[k] = r
			*list = append(*list, r)
		}
		return r
	}
	for _, e := range entries {
		day, d, n, ok, err := entryRollup(e, tx.db.TownLoc(e.Town))
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		month := e.Month.String()
		add(days, &dayRows, []any{e.Town, day, e.MerchantID, e.OfferID, e.Product, e.Category}).d.add(d)
		r := add(months, &monthRows, []any{e.Town, month, e.MerchantID, e.Category, e.Product, e.CardTown})
		r.d.add(d)
		r.last = max(r.last, day)
		if n > 0 {
			for _, s := range cardScopes(day, e) {
				add(uses, &useRows, []any{e.Town, month, s[0], s[1], e.CardID}).d.redemptions += n
			}
		}
	}
	sums := func(d rollupDelta) []any {
		return []any{d.redemptions, d.voided, d.amount, d.discount, d.share, d.adjustments, d.adjAmount, d.adjDiscount, d.adjShare}
	}
	var rows [][]any
	for _, r := range dayRows {
		rows = append(rows, append(r.key, sums(r.d)...))
	}
	if err := execRows(tx, `INSERT INTO rollup_days (town, date, merchant_id, offer_id, product_code, category,
			redemptions, voided, amount_cents, discount_cents, share_cents,
			adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents) VALUES `,
		` ON CONFLICT (town, date, merchant_id, offer_id, product_code, category) DO UPDATE SET `+rollupSet("rollup_days"), rows); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	rows = rows[:0]
	for _, r := range monthRows {
		rows = append(rows, append(append(r.key, r.last), sums(r.d)...))
	}
	if err := execRows(tx, `INSERT INTO rollup_months (town, month, merchant_id, category, product_code, card_town, last_date,
			redemptions, voided, amount_cents, discount_cents, share_cents,
			adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents) VALUES `,
		` ON CONFLICT (town, month, merchant_id, category, product_code, card_town) DO UPDATE SET
			last_date = CASE WHEN excluded.last_date > rollup_months.last_date THEN excluded.last_date ELSE rollup_months.last_date END, `+rollupSet("rollup_months"), rows); err != nil {
		return fmt.Errorf("rollups: %w", err)
	}
	// One more live use of each card in each of its scopes; the triggers keep rollup_cards'
	// counts of distinct cards.
	rows = rows[:0]
	for _, r := range useRows {
		rows = append(rows, append(r.key, r.d.redemptions))
	}
	return execRows(tx, `INSERT INTO rollup_card_uses (town, month, scope, key, card_id, uses) VALUES `,
		` ON CONFLICT (town, month, scope, key, card_id) DO UPDATE SET uses = rollup_card_uses.uses + excluded.uses`, rows)
}

// add adds d to r.
func (r *rollupDelta) add(d rollupDelta) {
	r.redemptions, r.voided, r.adjustments = r.redemptions+d.redemptions, r.voided+d.voided, r.adjustments+d.adjustments
	r.amount, r.discount, r.share = r.amount+d.amount, r.discount+d.discount, r.share+d.share
	r.adjAmount, r.adjDiscount, r.adjShare = r.adjAmount+d.adjAmount, r.adjDiscount+d.adjDiscount, r.adjShare+d.adjShare
}

// cardScopes are the scopes and keys in which entry e, counted on day, uses its card; the
// issuer scope counts the distinct cards of each issuing town (the report's issuers).
func cardScopes(day string, e merchant.LedgerEntry) [6][2]string {
	return [6][2]string{{"all", ""}, {"merchant", e.MerchantID}, {"category", e.Category},
		{"product", e.Product}, {"day_category", merchant.OpenDataKey(day, e.Category)}, {"issuer", e.CardTown}}
}

// rollupDelta is what one ledger entry adds to a rollup row.
type rollupDelta struct {
	redemptions, voided, adjustments int
	amount, discount, share          int64
	adjAmount, adjDiscount, adjShare int64
}

// useCard counts one less live redemption of the entry's card (delta -1, a void) in each
// scope of month; the triggers keep rollup_cards' counts of distinct cards. (One more is
// foldRollups'.)
func useCard(tx *Tx, month, day string, e merchant.LedgerEntry, delta int) error {
	if delta >= 0 {
		return fmt.Errorf("rollup of %s: useCard(%d) counts voids only", e.RedemptionID, delta)
	}
	scopes := cardScopes(day, e)
	for _, s := range scopes {
		res, err := tx.exec(`DELETE FROM rollup_card_uses WHERE town = ? AND month = ? AND scope = ? AND key = ? AND card_id = ? AND uses = 1`,
			e.Town, month, s[0], s[1], e.CardID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			continue // the card's last use in this scope: the trigger counted it out
		}
		if _, err := tx.exec(`UPDATE rollup_card_uses SET uses = uses - 1 WHERE town = ? AND month = ? AND scope = ? AND key = ? AND card_id = ?`,
			e.Town, month, s[0], s[1], e.CardID); err != nil {
			return err
		}
	}
	return nil
}

// rebuildRollups recomputes town's rollups from its ledger, for the town's zone, and records
// the zone (see initLedger).
func rebuildRollups(tx *Tx, town string) error {
	for _, table := range []string{"rollup_days", "rollup_months", "rollup_card_uses", "rollup_cards"} {
		if _, err := tx.exec(`DELETE FROM `+table+` WHERE town = ?`, town); err != nil {
			return err
		}
	}
	// In pages, so no query is open while the rollups are written.
	var last int64
	for {
		rows, err := tx.query(`SELECT `+ledgerColumns+` FROM ledger WHERE town = ? AND seq > ? ORDER BY seq LIMIT 10000`, town, last)
		if err != nil {
			return err
		}
		var page []merchant.LedgerEntry
		for rows.Next() {
			var e merchant.LedgerEntry
			var hash []byte
			if err := scanLedgerEntry(rows, &e, &hash); err != nil {
				rows.Close()
				return err
			}
			page = append(page, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if err := applyRollup(tx, e); err != nil {
				return err
			}
		}
		last = page[len(page)-1].Seq
	}
	_, err := tx.exec(`UPDATE towns SET rollup_zone = timezone WHERE code = ?`, town)
	return err
}

// rebuildStaleRollups rebuilds the rollups of every town whose zone is not the one they were
// built for (a new town's are built for its zone from the start).
func rebuildStaleRollups(tx *Tx) error {
	rows, err := tx.query(`SELECT code, rollup_zone, timezone FROM towns WHERE rollup_zone <> timezone ORDER BY code`)
	if err != nil {
		return err
	}
	var stale [][3]string
	for rows.Next() {
		var t [3]string
		if err := rows.Scan(&t[0], &t[1], &t[2]); err != nil {
			rows.Close()
			return err
		}
		stale = append(stale, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, t := range stale {
		if t[1] != "" {
			slog.Info("rebuilding report rollups for a new time zone", "town", t[0], "from", t[1], "to", t[2])
		}
		if err := rebuildRollups(tx, t[0]); err != nil {
			return fmt.Errorf("rebuild rollups of %s: %w", t[0], err)
		}
	}
	return nil
}

// backfillCloses books a close entry for every month closed before closes were ledger
// entries (migration 0004 leaves a marker), at the end of its town's chain, in the order they
// closed.
func backfillCloses(tx *Tx) error {
	var pending int
	if err := tx.queryRow(`SELECT count(*) FROM settings WHERE key = 'ledger_close_backfill'`).Scan(&pending); err != nil || pending == 0 {
		return err
	}
	if err := resyncHeads(tx); err != nil {
		return err
	}
	closes, err := monthCloses(tx, "")
	if err != nil {
		return err
	}
	sort.SliceStable(closes, func(i, j int) bool { return closes[i].ClosedAt.Before(closes[j].ClosedAt) })
	for _, c := range closes {
		e := closeEntry(c.Town, c.Month, c.SHA256, c.ClosedAt)
		if _, err := appendLedger(tx, &e); err != nil {
			return err
		}
	}
	_, err = tx.exec(`DELETE FROM settings WHERE key = 'ledger_close_backfill'`)
	return err
}

// initLedger runs as Open's first write: once after the migration that adds the ledger it
// books what version 1 stored (backfillLedger), and it rebuilds a town's rollups if they were
// built for another zone than the town's or not yet at all. In a deployment of one town, that
// town follows CITYCARD_TZ (as the service did before towns): a change rebuilds its rollups.
func (db *DB) initLedger(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		var pending int
		if err := tx.queryRow(`SELECT count(*) FROM settings WHERE key = 'ledger_backfill'`).Scan(&pending); err != nil {
			return err
		}
		if pending > 0 {
			if err := backfillLedger(tx); err != nil {
				return fmt.Errorf("book the redemptions into the ledger: %w", err)
			}
			if _, err := tx.exec(`DELETE FROM settings WHERE key = 'ledger_backfill'`); err != nil {
				return err
			}
		}
		if err := backfillCloses(tx); err != nil {
			return fmt.Errorf("book the closed months into the ledger: %w", err)
		}
		var n int
		if err := tx.queryRow(`SELECT count(*) FROM towns`).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			// A fresh database whose engine's schema starts without a town (PostgreSQL's: it
			// has no upgrade from before towns): the deployment's town is its first.
			name, _ := json.Marshal(db.town.Name)
			langs, _ := json.Marshal(db.town.Languages)
			if _, err := tx.exec(`INSERT INTO towns (code, name, timezone, languages, public_url, rollup_zone, created_at) VALUES (?, ?, ?, ?, ?, '', ?)`,
				db.town.Code, string(name), db.town.Timezone, string(langs), db.town.PublicURL, ms(tx.Now)); err != nil {
				return err
			}
			n = 1
		}
		if n == 1 {
			if _, err := tx.exec(`UPDATE towns SET timezone = ? WHERE code = ? AND timezone <> ?`,
				db.town.Timezone, db.town.Code, db.town.Timezone); err != nil {
				return err
			}
			if err := db.loadTowns(tx); err != nil {
				return err
			}
		}
		return rebuildStaleRollups(tx)
	})
}

const dateLayout = "2006-01-02"
