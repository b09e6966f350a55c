package storage

import (
	"context"
	"math"

	"github.com/citycard/citycard/merchant"
)

// StatementItems returns the redemptions made in month m (of one merchant, or of all for
// "") that count in its statements, oldest first: those booked and not voided while the
// month was open. For a closed month (closed set) that is as the ledger stood at the close:
// a redemption voided since counts (its void is an adjustment of a later month) and is
// returned as it stood then, without the void.
func (db *DB) StatementItems(ctx context.Context, m merchant.Month, merchantID string, closed *MonthClose) ([]merchant.Redemption, error) {
	start, end := m.Range(db.Loc)
	upTo := int64(math.MaxInt64)
	if closed != nil {
		upTo = closed.LedgerEntries
	}
	rows, err := db.reader(ctx).query(`SELECT `+redemptionColumns+` FROM redemptions r
		WHERE created_at >= ? AND created_at < ? AND (? = '' OR merchant_id = ?)
			AND EXISTS (SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind = 'redemption' AND l.seq <= ?)
			AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind = 'void' AND l.seq <= ?)
		ORDER BY created_at, seq`, ms(start), ms(end), merchantID, merchantID, upTo, upTo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merchant.Redemption
	for rows.Next() {
		r, _, err := scanRedemption(rows)
		if err != nil {
			return nil, err
		}
		r.VoidedAt, r.VoidReason = nil, ""
		out = append(out, r)
	}
	return out, rows.Err()
}
