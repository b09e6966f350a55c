package storage

import (
	"context"
	"database/sql"
	"fmt"
	"math"

	"github.com/citycard/citycard/merchant"
)

// StatementItems returns the redemptions that count in month m's statements (of one
// merchant, or of all for ""), oldest first: those whose ledger entry counts in m (the month
// decided when they were booked, whatever the zone is now) and that were not voided while
// the month was open. For a closed month (closed set) that is as the ledger stood at the
// close: a redemption voided since counts (its void is an adjustment of a later month) and is
// returned as it stood then, without the void. Each is checked against its ledger entry: one
// that differs is merchant.ErrLedgerMismatch.
//
// The items are town's: redemptions at its merchants, from its chain.
func (db *DB) StatementItems(ctx context.Context, town string, m merchant.Month, merchantID string, closed *MonthClose) ([]merchant.Redemption, error) {
	return statementItems(db.reader(ctx), town, m, merchantID, closed)
}

func statementItems(q querier, town string, m merchant.Month, merchantID string, closed *MonthClose) ([]merchant.Redemption, error) {
	upTo := int64(math.MaxInt64)
	if closed != nil {
		upTo = closed.LedgerEntries
	}
	// By the ledger_month index: the month's entries, then each one's redemption.
	rows, err := q.query(`SELECT l.town, l.seq, l.version, l.card_town, l.kind, l.redemption_id, l.card_id, l.card_number, l.merchant_id, l.offer_id,
			l.terminal, l.product_code, l.category, l.amount_cents, l.discount_cents, l.share_cents, l.created_at, l.at,
			l.month, l.reason, l.hash, r.id IS NOT NULL, coalesce(r.seq, 0), coalesce(r.id, ''), coalesce(r.card_id, ''),
			coalesce(r.card_number, ''), coalesce(r.merchant_id, ''), coalesce(r.offer_id, ''), coalesce(r.product_code, ''),
			coalesce(r.category, ''), coalesce(r.terminal, ''), coalesce(r.amount_cents, 0), coalesce(r.discount_cents, 0),
			coalesce(r.share_cents, 0), coalesce(r.created_at, 0), r.voided_at, coalesce(r.void_reason, ''),
			coalesce(r.town, ''), coalesce(r.card_town, ''),
			coalesce(r.conflict_reason, ''), coalesce(r.decision, ''), r.decided_at, r.recorded_at, coalesce(r.offline, 0)
		FROM ledger l LEFT JOIN redemptions r ON r.id = l.redemption_id
		WHERE l.town = ? AND l.month = ? AND l.kind = 'redemption' AND l.seq <= ? AND (? = '' OR l.merchant_id = ?)
			AND NOT EXISTS (SELECT 1 FROM ledger v WHERE v.redemption_id = l.redemption_id AND v.kind = 'void' AND v.town = l.town AND v.seq <= ?)
		ORDER BY l.created_at, l.seq`, town, m.String(), upTo, merchantID, merchantID, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merchant.Redemption
	for rows.Next() {
		var e merchant.LedgerEntry
		var hash []byte
		var found bool
		var seq, created int64
		var voided, decided, recorded sql.NullInt64
		var r merchant.Redemption
		if err := scanLedgerEntry(rows, &e, &hash, &found, &seq, &r.ID, &r.CardID, &r.CardNumber, &r.MerchantID, &r.OfferID,
			&r.Product, &r.Category, &r.Terminal, &r.Amount, &r.Discount, &r.MunicipalShare, &created, &voided, &r.VoidReason, &r.Town, &r.CardTown, &r.ConflictReason, &r.Decision, &decided, &recorded, &r.Offline); err != nil {
			return nil, err
		}
		r.CreatedAt, r.VoidedAt = fromMS(created), fromNullMS(voided)
		r.DecidedAt, r.RecordedAt = fromNullMS(decided), recordedAt(r.CreatedAt, recorded)
		if !found {
			return nil, fmt.Errorf("%w: redemption %s of ledger entry %d is missing", merchant.ErrLedgerMismatch, e.RedemptionID, e.Seq)
		}
		if p := entryMismatch(e, r); p != "" {
			return nil, fmt.Errorf("%w: redemption %s differs from its ledger entry %d: %s", merchant.ErrLedgerMismatch, r.ID, e.Seq, p)
		}
		r.VoidedAt, r.VoidReason = nil, ""
		out = append(out, r)
	}
	return out, rows.Err()
}
