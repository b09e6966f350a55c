package storage

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/citycard/citycard/merchant"
)

// MonthReport builds town's report of month m in the town's zone from the rollups: the
// redemptions at its merchants, whoever issued the card, and the cards its office issued. Its
// cost is in proportion to the month's merchants × products × issuing towns and days × offers
// × products, not to its redemptions.
// A closed month's report is frozen: ClosedMonth has it as it was served.
func (db *DB) MonthReport(ctx context.Context, town string, m merchant.Month) (merchant.Report, error) {
	return monthReport(db.reader(ctx), town, db.TownLoc(town), m)
}

// monthReport reads the month's rollup lines (each with the issuing town, CardTown) and
// distinct cards (with Issuers) and hands them to merchant.BuildReportFromRollups.
func monthReport(q querier, town string, loc *time.Location, m merchant.Month) (merchant.Report, error) {
	rows, err := q.query(`SELECT last_date, merchant_id, category, product_code, card_town, redemptions, voided,
			amount_cents, discount_cents, share_cents, adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents
		FROM rollup_months WHERE town = ? AND month = ?`, town, m.String())
	if err != nil {
		return merchant.Report{}, err
	}
	var lines []merchant.RollupRow
	for rows.Next() {
		var l merchant.RollupRow
		if err := rows.Scan(&l.Date, &l.MerchantID, &l.Category, &l.Product, &l.CardTown, &l.Redemptions, &l.Voided,
			&l.Amount, &l.Discount, &l.MunicipalShare, &l.Adjustments, &l.AdjAmount, &l.AdjDiscount, &l.AdjShare); err != nil {
			rows.Close()
			return merchant.Report{}, err
		}
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return merchant.Report{}, err
	}
	// Rows are in date order: SQLite sums each day as it goes, without sorting.
	rows, err = q.query(`SELECT date, sum(redemptions), sum(discount_cents + adj_discount_cents)
		FROM rollup_days WHERE town = ? AND date >= ? AND date < ? GROUP BY date`, town, m.String()+"-01", m.Next().String()+"-01")
	if err != nil {
		return merchant.Report{}, err
	}
	var days []merchant.DayLine
	for rows.Next() {
		var d merchant.DayLine
		if err := rows.Scan(&d.Date, &d.Redemptions, &d.Discount); err != nil {
			rows.Close()
			return merchant.Report{}, err
		}
		days = append(days, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return merchant.Report{}, err
	}
	names, err := merchantNames(q, town)
	if err != nil {
		return merchant.Report{}, err
	}
	cards, err := cardCounts(q, town, m)
	if err != nil {
		return merchant.Report{}, err
	}
	adj, err := adjustments(q, town, m, names)
	if err != nil {
		return merchant.Report{}, err
	}
	start, end := m.Range(loc)
	var issued, activated int
	if err := q.queryRow(`SELECT count(*) FROM cards WHERE town = ? AND issued_at >= ? AND issued_at < ?`, town, ms(start), ms(end)).Scan(&issued); err != nil {
		return merchant.Report{}, err
	}
	if err := q.queryRow(`SELECT count(*) FROM cards WHERE town = ? AND activated_at >= ? AND activated_at < ?`, town, ms(start), ms(end)).Scan(&activated); err != nil {
		return merchant.Report{}, err
	}
	rep := merchant.BuildReportFromRollups(m, loc, lines, days, names, cards, adj, issued, activated)
	if rep.Sales, err = salesLines(q, town, m); err != nil {
		return merchant.Report{}, err
	}
	return rep, nil
}

func merchantNames(q querier, town string) (map[string]string, error) {
	rows, err := q.query(`SELECT id, name FROM merchants WHERE town = ?`, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

func cardCounts(q querier, town string, m merchant.Month) (merchant.CardCounts, error) {
	c := merchant.CardCounts{Merchants: map[string]int{}, Categories: map[string]int{}, Products: map[string]int{}, Issuers: map[string]int{}}
	rows, err := q.query(`SELECT scope, key, cards FROM rollup_cards
		WHERE town = ? AND month = ? AND scope IN ('all', 'merchant', 'category', 'product', 'issuer')`, town, m.String())
	if err != nil {
		return c, err
	}
	defer rows.Close()
	for rows.Next() {
		var scope, key string
		var n int
		if err := rows.Scan(&scope, &key, &n); err != nil {
			return c, err
		}
		switch scope {
		case "all":
			c.Total = n
		case "merchant":
			c.Merchants[key] = n
		case "category":
			c.Categories[key] = n
		case "product":
			c.Products[key] = n
		case "issuer":
			c.Issuers[key] = n
		}
	}
	return c, rows.Err()
}

// adjustments are town's adjustments of the month, from its ledger.
func adjustments(q querier, town string, m merchant.Month, names map[string]string) ([]merchant.Adjustment, error) {
	rows, err := q.query(`SELECT redemption_id, merchant_id, category, product_code, created_at, at, reason,
			amount_cents, discount_cents, share_cents
		FROM ledger WHERE town = ? AND month = ? AND kind = 'adjustment' ORDER BY seq`, town, m.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merchant.Adjustment
	for rows.Next() {
		var a merchant.Adjustment
		var created, at int64
		if err := rows.Scan(&a.RedemptionID, &a.MerchantID, &a.Category, &a.Product, &created, &at, &a.Reason,
			&a.Amount, &a.Discount, &a.MunicipalShare); err != nil {
			return nil, err
		}
		a.CreatedAt, a.VoidedAt, a.MerchantName = fromMS(created), fromMS(at), names[a.MerchantID]
		out = append(out, a)
	}
	return out, rows.Err()
}

// MonthClose is a closed month: its report as it was served (JSON) with that document's
// SHA-256, and the ledger's head and length when it closed (before its close entry).
// Checkpoint is set only by CloseMonth: the checkpoint signed in the close's write.
type MonthClose struct {
	Town          string
	Month         merchant.Month
	ClosedAt      time.Time
	Report        []byte
	SHA256        [32]byte
	LedgerHead    [32]byte
	LedgerEntries int64
	Checkpoint    *merchant.Checkpoint
}

// CloseMonth freezes month m: in one write it checks the month's rollups against its ledger
// entries, builds the month's report, renders it with render and stores the bytes with their
// SHA-256 and the ledger's head, books the close as a ledger entry and signs a checkpoint
// (reason "close YYYY-MM"). From then a void of one of the month's redemptions is an
// adjustment of the month of the void. Errors: merchant.ErrMonthOpen if the month is not over
// in the city's zone, merchant.ErrAlreadyClosed, merchant.ErrLedgerMismatch if the rollups
// differ from the ledger or the ledger records a close month_closes lacks.
//
// Everything is town's: its zone, its report, its chain and its checkpoint.
func (db *DB) CloseMonth(ctx context.Context, town string, m merchant.Month, render func(merchant.Report) ([]byte, error)) (MonthClose, error) {
	// The month's check reads all its entries and card uses (a second or two for a busy
	// month): it runs in a read snapshot first, off the writer's path, and the write checks
	// again only if entries of the month were booked since.
	checked, err := db.checkMonthSnapshot(ctx, town, m)
	if err != nil {
		return MonthClose{}, err
	}
	if closeAfterCheck != nil {
		closeAfterCheck()
	}
	var c MonthClose
	err = db.update(ctx, func(tx *Tx) error {
		loc := db.TownLoc(town)
		if _, end := m.Range(loc); tx.Now.Before(end) {
			return merchant.ErrMonthOpen
		}
		// The head first (see the package comment): every write that books into the month
		// either committed before this point, and is read below, or waits here and then
		// sees the month closed.
		head, hash, err := lockHead(tx, town)
		if err != nil {
			return err
		}
		if _, ok, err := monthCloseState(tx, town, m); err != nil {
			return err
		} else if ok {
			return merchant.ErrAlreadyClosed
		}
		// The office decides a month's conflicts before its report is frozen (docs/offline.md).
		if open, err := openConflicts(tx, town, loc, m); err != nil {
			return err
		} else if open > 0 {
			return merchant.ErrConflictsOpen
		}
		var newer int
		if err := tx.queryRow(`SELECT count(*) FROM ledger WHERE town = ? AND month = ? AND seq > ?`, town, m.String(), checked).Scan(&newer); err != nil {
			return err
		}
		if newer > 0 {
			if err := checkMonthRollups(tx, town, loc, m); err != nil {
				return err
			}
		}
		rep, err := monthReport(tx, town, loc, m)
		if err != nil {
			return err
		}
		body, err := render(rep)
		if err != nil {
			return err
		}
		c = MonthClose{Town: town, Month: m, ClosedAt: tx.Now, Report: body, SHA256: sha256.Sum256(body), LedgerEntries: head, LedgerHead: hash}
		_, err = tx.exec(`INSERT INTO month_closes (town, month, closed_at, report, sha256, ledger_head, ledger_entries)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, town, m.String(), ms(c.ClosedAt), c.Report, c.SHA256[:], c.LedgerHead[:], c.LedgerEntries)
		if tx.isUnique(err) {
			return merchant.ErrAlreadyClosed
		}
		if err != nil {
			return err
		}
		e := closeEntry(town, m, c.SHA256, tx.Now)
		if _, err := appendLedger(tx, &e); err != nil {
			return err
		}
		cp, err := signCheckpoint(tx, town, merchant.CheckpointCloseReason(m))
		if err != nil {
			return err
		}
		c.Checkpoint = &cp
		return tx.auditIn(town, "report.close", m.String())
	})
	return c, err
}

// closeAfterCheck, when set (tests), runs between CloseMonth's check in a snapshot and its write.
var closeAfterCheck func()

// checkMonthSnapshot runs CloseMonth's checks in one read snapshot: the month is over and
// not closed, and its rollups equal its ledger entries. It returns the ledger's length in
// that snapshot.
func (db *DB) checkMonthSnapshot(ctx context.Context, town string, m merchant.Month) (int64, error) {
	loc := db.TownLoc(town)
	if _, end := m.Range(loc); db.Now().Before(end) {
		return 0, merchant.ErrMonthOpen
	}
	q, done, err := db.snapshot(ctx)
	if err != nil {
		return 0, err
	}
	defer done()
	n, _, err := ledgerHead(q, town)
	if err != nil {
		return 0, err
	}
	if _, ok, err := monthCloseState(q, town, m); err != nil {
		return 0, err
	} else if ok {
		return 0, merchant.ErrAlreadyClosed
	}
	return n, checkMonthRollups(q, town, loc, m)
}

// checkMonthRollups recomputes month m's rollups from its ledger entries (by the ledger_month
// index: the month's entries, not the whole ledger) and returns merchant.ErrLedgerMismatch,
// naming the first row that differs, if the stored ones are not equal.
func checkMonthRollups(q querier, town string, loc *time.Location, m merchant.Month) error {
	zone, err := rollupZone(q, town, loc)
	if err != nil {
		return err
	}
	acc := newRollupAcc(town, zone, &m)
	rows, err := q.query(`SELECT `+ledgerColumns+` FROM ledger WHERE town = ? AND month = ? AND kind IN ('redemption', 'void', 'adjustment')`, town, m.String())
	if err != nil {
		return err
	}
	for rows.Next() {
		var e merchant.LedgerEntry
		var h []byte
		if err := scanLedgerEntry(rows, &e, &h); err != nil {
			rows.Close()
			return fmt.Errorf("%w: a ledger entry of %s cannot be read: %v", merchant.ErrLedgerMismatch, m, err)
		}
		acc.add(e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	p, err := acc.compare(q, m.String())
	if err != nil || p == nil {
		return err
	}
	if p.exact == nil {
		return fmt.Errorf("%w: the distinct cards of %s (scope %s) differ from the ledger", merchant.ErrLedgerMismatch, p.cardGroup.month, p.cardGroup.scope)
	}
	return fmt.Errorf("%w: %s", merchant.ErrLedgerMismatch, p.exact.Problem)
}

// ClosedMonth returns the close of town's month m, and false if m is open there. A month the
// ledger records as closed without its month_closes row is merchant.ErrLedgerMismatch.
func (db *DB) ClosedMonth(ctx context.Context, town string, m merchant.Month) (MonthClose, bool, error) {
	return monthCloseState(db.reader(ctx), town, m)
}

// MonthCloses returns town's closed months, oldest first (every town's, by month then town,
// for ""). migrate-db compares each with its copy.
func (db *DB) MonthCloses(ctx context.Context, town string) ([]MonthClose, error) {
	return monthCloses(db.reader(ctx), town)
}

// MonthCloseTimes returns town's closed months (every town's for ""), by month then town,
// with only Town, Month, ClosedAt and SHA256 filled in: what the open-data catalogue lists,
// without reading the frozen reports.
func (db *DB) MonthCloseTimes(ctx context.Context, town string) ([]MonthClose, error) {
	rows, err := db.reader(ctx).query(`SELECT town, month, closed_at, sha256 FROM month_closes WHERE (? = '' OR town = ?) ORDER BY month, town`, town, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MonthClose
	for rows.Next() {
		var c MonthClose
		var month string
		var closed int64
		var sum []byte
		if err := rows.Scan(&c.Town, &month, &closed, &sum); err != nil {
			return nil, err
		}
		if c.Month, err = merchant.ParseMonth(month); err != nil {
			return nil, err
		}
		c.ClosedAt = fromMS(closed)
		copy(c.SHA256[:], sum)
		out = append(out, c)
	}
	return out, rows.Err()
}

// monthCloseState is monthClose, refusing (merchant.ErrLedgerMismatch) a month whose close
// is in the ledger but not in month_closes: deleting the row must not reopen the month.
func monthCloseState(q querier, town string, m merchant.Month) (MonthClose, bool, error) {
	c, ok, err := monthClose(q, town, m)
	if err != nil || ok {
		return c, ok, err
	}
	var n int
	if err := q.queryRow(`SELECT count(*) FROM ledger WHERE town = ? AND month = ? AND kind = 'close'`, town, m.String()).Scan(&n); err != nil {
		return c, false, err
	}
	if n > 0 {
		return c, false, fmt.Errorf("%w: the ledger records the close of %s, but its frozen report is missing", merchant.ErrLedgerMismatch, m)
	}
	return c, false, nil
}

// monthClosed reports whether town's month m is closed, refusing (merchant.ErrLedgerMismatch)
// a close the ledger records without its month_closes row, as monthCloseState does, without
// reading the frozen report. A write calls it through lockMonth.
func monthClosed(q querier, town string, m merchant.Month) (bool, error) {
	var rows, entries int
	if err := q.queryRow(`SELECT (SELECT count(*) FROM month_closes WHERE town = ? AND month = ?),
			(SELECT count(*) FROM ledger WHERE town = ? AND month = ? AND kind = 'close')`,
		town, m.String(), town, m.String()).Scan(&rows, &entries); err != nil {
		return false, err
	}
	if rows == 0 && entries > 0 {
		return false, fmt.Errorf("%w: the ledger records the close of %s, but its frozen report is missing", merchant.ErrLedgerMismatch, m)
	}
	return rows > 0, nil
}

// lockMonth takes town's ledger head lock and then reads whether month m is closed there:
// the order every write that books into a month keeps (see the package comment), so that
// no close commits between the read and the booking.
func lockMonth(tx *Tx, town string, m merchant.Month) (bool, error) {
	if _, _, err := lockHead(tx, town); err != nil {
		return false, err
	}
	key := town + "/" + m.String()
	if closed, ok := tx.closed[key]; ok {
		return closed, nil
	}
	closed, err := monthClosed(tx, town, m)
	if err == nil {
		if tx.closed == nil {
			tx.closed = map[string]bool{}
		}
		tx.closed[key] = closed
	}
	return closed, err
}

// lateMonth is the month in which an entry is booked whose own month was closed when it was
// booked (a void's adjustment, a conflict accepted or a sale recorded after the close): the
// month of at (the void, the decision, the recording), or, should that be closed too (an
// instance whose clock lags the one that closed it), the first open month after it. It is
// called with town's head locked (lockMonth).
func lateMonth(tx *Tx, town string, at time.Time, loc *time.Location) (merchant.Month, error) {
	m := merchant.MonthOf(at, loc)
	for {
		closed, err := monthClosed(tx, town, m)
		if err != nil || !closed {
			return m, err
		}
		m = m.Next()
	}
}

// MonthView is what a month's report and statements are built from, read in one snapshot:
// the close (nil while the month is open), the report from the rollups (open months only)
// and, when asked for, the redemptions the statements list.
type MonthView struct {
	Closed *MonthClose
	Report merchant.Report
	Items  []merchant.Redemption
}

// viewBetweenReads, when set (tests), runs between MonthView's reads: a write it makes must
// not show in the view.
var viewBetweenReads func()

// MonthView reads month m in one read transaction, so a redemption committed meanwhile
// cannot be in the items and missing from the totals (or the other way round). With
// withItems it reads the statement items of merchantID ("" for every merchant), each checked
// against its ledger entry (merchant.ErrLedgerMismatch if one differs).
//
// Everything is town's: its close, its report, its merchants' statement items.
func (db *DB) MonthView(ctx context.Context, town string, m merchant.Month, withItems bool, merchantID string) (MonthView, error) {
	var v MonthView
	q, done, err := db.snapshot(ctx)
	if err != nil {
		return v, err
	}
	defer done()
	cl, ok, err := monthCloseState(q, town, m)
	if err != nil {
		return v, err
	}
	if ok {
		v.Closed = &cl
	} else if v.Report, err = monthReport(q, town, db.TownLoc(town), m); err != nil {
		return v, err
	}
	if viewBetweenReads != nil {
		viewBetweenReads()
	}
	if withItems {
		if v.Items, err = statementItems(q, town, m, merchantID, v.Closed); err != nil {
			return v, err
		}
	}
	return v, nil
}

const monthCloseColumns = `town, month, closed_at, report, sha256, ledger_head, ledger_entries`

func monthClose(q querier, town string, m merchant.Month) (MonthClose, bool, error) {
	c, err := scanMonthClose(q.queryRow(`SELECT `+monthCloseColumns+` FROM month_closes WHERE town = ? AND month = ?`, town, m.String()))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// monthCloses are town's closes (every town's for ""), by month.
func monthCloses(q querier, town string) ([]MonthClose, error) {
	rows, err := q.query(`SELECT `+monthCloseColumns+` FROM month_closes WHERE (? = '' OR town = ?) ORDER BY month, town`, town, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MonthClose
	for rows.Next() {
		c, err := scanMonthClose(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func scanMonthClose(s scanner) (MonthClose, error) {
	var c MonthClose
	var month string
	var closed int64
	var sum, head []byte
	if err := s.Scan(&c.Town, &month, &closed, &c.Report, &sum, &head, &c.LedgerEntries); err != nil {
		return c, err
	}
	c.ClosedAt = fromMS(closed)
	copy(c.SHA256[:], sum)
	copy(c.LedgerHead[:], head)
	var err error
	c.Month, err = merchant.ParseMonth(month)
	return c, err
}

// OpenData gives town's anonymous counts of the month by local day and category from the
// rollups, with small cells suppressed (merchant.OpenData).
func (db *DB) OpenData(ctx context.Context, town string, m merchant.Month) ([]merchant.OpenDataCell, error) {
	q := db.reader(ctx)
	redemptions, cards := map[string]int{}, map[string]int{}
	rows, err := q.query(`SELECT date, category, sum(redemptions) FROM rollup_days WHERE town = ? AND date >= ? AND date < ?
		GROUP BY date, category`, town, m.String()+"-01", m.Next().String()+"-01")
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var date, cat string
		var n int
		if err := rows.Scan(&date, &cat, &n); err != nil {
			rows.Close()
			return nil, err
		}
		redemptions[merchant.OpenDataKey(date, cat)] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows, err = q.query(`SELECT key, cards FROM rollup_cards WHERE town = ? AND month = ? AND scope = 'day_category'`, town, m.String())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			return nil, err
		}
		cards[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return merchant.OpenData(m, redemptions, cards), nil
}
