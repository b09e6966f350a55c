package storage

import (
	"context"

	"github.com/citycard/citycard/merchant"
)

// MonthReport builds the report of month m in the city's zone from its redemptions and the
// cards issued and activated in it.
func (db *DB) MonthReport(ctx context.Context, m merchant.Month) (merchant.Report, error) {
	start, end := m.Range(db.Loc)
	q := db.reader(ctx)
	rows, err := q.query(`SELECT r.merchant_id, m.name, r.category, r.product_code, r.card_id, r.created_at,
			r.amount_cents, r.discount_cents, r.share_cents, r.voided_at IS NOT NULL
		FROM redemptions r JOIN merchants m ON m.id = r.merchant_id
		WHERE r.created_at >= ? AND r.created_at < ?`, ms(start), ms(end))
	if err != nil {
		return merchant.Report{}, err
	}
	defer rows.Close()
	var lines []merchant.ReportRow
	for rows.Next() {
		var l merchant.ReportRow
		var created int64
		if err := rows.Scan(&l.MerchantID, &l.MerchantName, &l.Category, &l.Product, &l.CardID, &created,
			&l.Amount, &l.Discount, &l.MunicipalShare, &l.Voided); err != nil {
			return merchant.Report{}, err
		}
		l.CreatedAt = fromMS(created)
		lines = append(lines, l)
	}
	if err := rows.Err(); err != nil {
		return merchant.Report{}, err
	}
	var issued, activated int
	if err := q.queryRow(`SELECT count(*) FROM cards WHERE issued_at >= ? AND issued_at < ?`, ms(start), ms(end)).Scan(&issued); err != nil {
		return merchant.Report{}, err
	}
	if err := q.queryRow(`SELECT count(*) FROM cards WHERE activated_at >= ? AND activated_at < ?`, ms(start), ms(end)).Scan(&activated); err != nil {
		return merchant.Report{}, err
	}
	return merchant.BuildReport(m, db.Loc, lines, issued, activated), nil
}
