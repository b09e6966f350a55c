package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// Sales points (merchant/sales.go): their rows, the cards they issue and cancel, and the
// month's sales lines. Each issue and cancel is a ledger entry of the town's chain, checked by
// VerifyLedger against its sales row.

const salesPointColumns = `seq, id, town, name, products, commission_bp, active, created_at, updated_at`

func scanSalesPoint(s scanner) (merchant.SalesPoint, int64, error) {
	var p merchant.SalesPoint
	var seq, created, updated, active int64
	var products string
	err := s.Scan(&seq, &p.ID, &p.Town, &p.Name, &products, &p.CommissionBP, &active, &created, &updated)
	if err != nil {
		return p, seq, err
	}
	p.Active, p.CreatedAt, p.UpdatedAt = active == 1, fromMS(created), fromMS(updated)
	if err := json.Unmarshal([]byte(products), &p.Products); err != nil {
		return p, seq, fmt.Errorf("sales point %s: products: %w", p.ID, err)
	}
	if p.Products == nil {
		p.Products = []string{}
	}
	return p, seq, nil
}

func salesPointWhere(q querier, where string, args ...any) (merchant.SalesPoint, error) {
	p, _, err := scanSalesPoint(q.queryRow(`SELECT `+salesPointColumns+` FROM sales_points WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return p, merchant.ErrNotFound
	}
	return p, err
}

// checkSalesProducts returns card.ErrNoProduct naming the first of codes that town cannot
// issue (neither its own product nor a network product accepted there).
func checkSalesProducts(tx *Tx, town string, codes []string) error {
	for _, code := range codes {
		var n int
		if err := tx.queryRow(`SELECT count(*) FROM products WHERE code = ? AND `+productVisible, code, town, town, town).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: %s", card.ErrNoProduct, code)
		}
	}
	return nil
}

func productsJSON(codes []string) string {
	if len(codes) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(codes)
	return string(b)
}

// CreateSalesPoint validates p and stores it in town with the SHA-256 of its secret, setting
// its id and times. Errors: merchant.ErrInvalidInput, card.ErrNoProduct for a product town
// cannot issue.
func (db *DB) CreateSalesPoint(ctx context.Context, town string, p *merchant.SalesPoint, tokenHash []byte) error {
	if err := p.Validate(); err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		if err := checkSalesProducts(tx, town, p.Products); err != nil {
			return err
		}
		p.ID, p.Town, p.Active, p.CreatedAt, p.UpdatedAt = newID("sp"), town, true, tx.Now, tx.Now
		if p.Products == nil {
			p.Products = []string{}
		}
		if _, err := tx.exec(`INSERT INTO sales_points (id, town, name, products, commission_bp, active, token_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)`, p.ID, town, p.Name, productsJSON(p.Products), p.CommissionBP, tokenHash, ms(tx.Now), ms(tx.Now)); err != nil {
			return err
		}
		return tx.auditIn(town, "sales_point.create", p.ID)
	})
}

// SalesPoint returns town's sales point id, or merchant.ErrNotFound.
func (db *DB) SalesPoint(ctx context.Context, town, id string) (merchant.SalesPoint, error) {
	return salesPointWhere(db.reader(ctx), `id = ? AND town = ?`, id, town)
}

// SalesPoints lists town's sales points, oldest first.
func (db *DB) SalesPoints(ctx context.Context, town string, page Page) ([]merchant.SalesPoint, string, error) {
	return list(db.reader(ctx), `SELECT `+salesPointColumns+` FROM sales_points WHERE town = ? AND seq > ? ORDER BY seq LIMIT ?`,
		[]any{town}, page, false, func(r *sql.Rows) (merchant.SalesPoint, int64, error) { return scanSalesPoint(r) })
}

// UpdateSalesPoint applies change to town's sales point id, validates and stores it.
// Errors: merchant.ErrNotFound, merchant.ErrInvalidInput, card.ErrNoProduct.
func (db *DB) UpdateSalesPoint(ctx context.Context, town, id string, change func(*merchant.SalesPoint)) (merchant.SalesPoint, error) {
	var p merchant.SalesPoint
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		// Locked: a sale in flight reads the row FOR SHARE, so it sees the old or the new row.
		if p, err = salesPointWhere(tx, `id = ? AND town = ?`+tx.forUpdate(), id, town); err != nil {
			return err
		}
		change(&p)
		if err := p.Validate(); err != nil {
			return err
		}
		if err := checkSalesProducts(tx, town, p.Products); err != nil {
			return err
		}
		p.UpdatedAt = tx.Now
		active := 0
		if p.Active {
			active = 1
		}
		if _, err := tx.exec(`UPDATE sales_points SET name = ?, products = ?, commission_bp = ?, active = ?, updated_at = ? WHERE id = ?`,
			p.Name, productsJSON(p.Products), p.CommissionBP, active, ms(tx.Now), id); err != nil {
			return err
		}
		return tx.auditIn(town, "sales_point.update", id)
	})
	return p, err
}

// RotateSalesPointToken replaces the SHA-256 of town's sales point id's secret: the old one
// stops working at once (every sales point request reads the row; its writes check the
// secret again inside their transaction). merchant.ErrNotFound.
func (db *DB) RotateSalesPointToken(ctx context.Context, town, id string, tokenHash []byte) error {
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE sales_points SET token_hash = ?, updated_at = ? WHERE id = ? AND town = ?`, tokenHash, ms(tx.Now), id, town)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return merchant.ErrNotFound
		}
		return tx.auditIn(town, "sales_point.token", id) // never the token
	})
}

// SalesPointByTokenHash returns the sales point whose secret has SHA-256 sum, active or not,
// or merchant.ErrNotFound. Not cached: a rotated secret fails on every instance at once.
func (db *DB) SalesPointByTokenHash(ctx context.Context, sum []byte) (merchant.SalesPoint, error) {
	return salesPointWhere(db.reader(ctx), `token_hash = ?`, sum)
}

// salesPointOfToken reads, inside a write and locked against changes, the active sales point
// whose secret has SHA-256 sum: ErrKeyRevoked if no sales point has it any more (rotated
// since the request signed in), merchant.ErrSalesPointStopped if it is not active.
func salesPointOfToken(tx *Tx, sum []byte) (merchant.SalesPoint, error) {
	p, err := salesPointWhere(tx, `token_hash = ?`+tx.forShare(), sum)
	if errors.Is(err, merchant.ErrNotFound) {
		return p, ErrKeyRevoked
	}
	if err == nil && !p.Active {
		return p, merchant.ErrSalesPointStopped
	}
	return p, err
}

// IssueSale issues one card of product to the guest (holder and lang optional) for the sales
// point whose secret has SHA-256 tokenHash: the card, its sales row (price and commission as
// now) and its issue entry in the town's chain, in one write. Errors: ErrKeyRevoked,
// merchant.ErrSalesPointStopped, merchant.ErrProductNotAllowed, card.ErrNoProduct, and
// card.ErrInvalidInput for a bad holder or language.
func (db *DB) IssueSale(ctx context.Context, kr *card.Keyring, tokenHash []byte, product, holder, lang string) (card.Card, error) {
	var c card.Card
	err := db.update(ctx, func(tx *Tx) error {
		sp, err := salesPointOfToken(tx, tokenHash)
		if err != nil {
			return err
		}
		if !sp.Allows(product) {
			return merchant.ErrProductNotAllowed
		}
		cs, err := insertCards(tx, sp.Town, kr, product, 1, holder, lang, "")
		if err != nil {
			return err
		}
		c = cs[0]
		c.SalesPoint = sp.ID
		var price int64
		if err := tx.queryRow(`SELECT price_cents FROM products WHERE code = ?`, product).Scan(&price); err != nil {
			return err
		}
		loc := db.TownLoc(sp.Town)
		// The head first, then the month's close state (see the package comment): a close
		// committed meanwhile moves the issue to the next open month.
		closed, err := lockMonth(tx, sp.Town, merchant.MonthOf(tx.Now, loc))
		if err != nil {
			return err
		}
		month := merchant.MonthOf(tx.Now, loc)
		if closed {
			if month, err = lateMonth(tx, sp.Town, tx.Now, loc); err != nil {
				return err
			}
		}
		commission := merchant.Commission(price, sp.CommissionBP)
		if _, err := tx.exec(`INSERT INTO sales (card_id, town, sales_point_id, product_code, price_cents, commission_cents, issued_at, month)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, sp.Town, sp.ID, product, price, commission, ms(c.IssuedAt), month.String()); err != nil {
			return err
		}
		e := saleEntry(c, sp.ID, price, commission, month)
		if _, err := appendLedger(tx, &e); err != nil {
			return err
		}
		return tx.auditIn(sp.Town, "sale.issue", c.ID)
	})
	return c, err
}

// saleEntry is the issue entry of card c, sold by sales point sp at price with commission,
// counting in month. It names no guest.
func saleEntry(c card.Card, sp string, price, commission int64, month merchant.Month) merchant.LedgerEntry {
	return merchant.LedgerEntry{Town: c.Town, CardTown: c.Town, Version: merchant.LedgerCurrent, Kind: merchant.LedgerSale,
		RedemptionID: merchant.SaleID(c.ID), CardID: c.ID, CardNumber: c.Number, MerchantID: sp, Product: c.Product,
		Amount: price, Share: commission, CreatedAt: c.IssuedAt, At: c.IssuedAt, Month: month}
}

// saleRow is a sales row as VerifyLedger and the cancel read it.
type saleRow struct {
	cardID, cardNumber, town, salesPoint, product string
	price, commission                             int64
	issuedAt                                      time.Time
	month                                         merchant.Month
	cancelledAt                                   *time.Time
}

const saleRowColumns = `s.card_id, coalesce(c.number, ''), s.town, s.sales_point_id, s.product_code, s.price_cents, s.commission_cents,
	s.issued_at, s.month, s.cancelled_at`

func scanSaleRow(s scanner) (saleRow, error) {
	var r saleRow
	var issued int64
	var month string
	var cancelled sql.NullInt64
	if err := s.Scan(&r.cardID, &r.cardNumber, &r.town, &r.salesPoint, &r.product, &r.price, &r.commission, &issued, &month, &cancelled); err != nil {
		return r, err
	}
	r.issuedAt, r.cancelledAt = fromMS(issued), fromNullMS(cancelled)
	var err error
	r.month, err = merchant.ParseMonth(month)
	return r, err
}

// CancelSale cancels card cardID of the sales point whose secret has SHA-256 tokenHash: the
// card is blocked with reason, its sales row marked cancelled (never billed) and the cancel
// booked in the issue's month, in one write. Only strictly within merchant.CancelWindow of
// the issue, before any use (a redemption of any kind, even voided) and while that month is
// open, else merchant.ErrCancelWindowOver; merchant.ErrAlreadyCancelled the second time;
// card.ErrNotFound for a card it did not issue; ErrKeyRevoked, merchant.ErrSalesPointStopped.
func (db *DB) CancelSale(ctx context.Context, tokenHash []byte, cardID, reason string) (card.Card, error) {
	var c card.Card
	defer func() { db.cache.cards.invalidate(c.Number, c.Number == "") }()
	err := db.update(ctx, func(tx *Tx) error {
		sp, err := salesPointOfToken(tx, tokenHash)
		if err != nil {
			return err
		}
		// The card first, locked: a redemption of it (which locks it too) runs wholly
		// before or after this cancel, so exactly one of them wins.
		if c, err = cardWhere(tx, `id = ?`+tx.forUpdate(), cardID); err != nil {
			return err
		}
		s, err := scanSaleRow(tx.queryRow(`SELECT `+saleRowColumns+` FROM sales s LEFT JOIN cards c ON c.id = s.card_id WHERE s.card_id = ?`, cardID))
		if errors.Is(err, sql.ErrNoRows) || (err == nil && s.salesPoint != sp.ID) {
			c = card.Card{}
			return card.ErrNotFound // another sales point's card, or the office's
		}
		if err != nil {
			return err
		}
		if s.cancelledAt != nil {
			return merchant.ErrAlreadyCancelled
		}
		var uses int
		if err := tx.queryRow(`SELECT count(*) FROM redemptions WHERE card_id = ?`, cardID).Scan(&uses); err != nil {
			return err
		}
		if c.ActivatedAt != nil {
			uses++
		}
		if err := merchant.CanCancel(s.issuedAt, tx.Now, uses); err != nil {
			return err
		}
		// The head, then the close state of the issue's month: a month closed (and billed)
		// first keeps the card, so it counts in exactly one month either way.
		if closed, err := lockMonth(tx, s.town, s.month); err != nil {
			return err
		} else if closed {
			return merchant.ErrCancelWindowOver
		}
		res, err := tx.exec(`UPDATE sales SET cancelled_at = ?, cancel_reason = ? WHERE card_id = ? AND cancelled_at IS NULL`, ms(tx.Now), reason, cardID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return merchant.ErrAlreadyCancelled
		}
		if _, err := tx.exec(`UPDATE cards SET blocked_at = coalesce(blocked_at, ?), block_reason = ? WHERE id = ?`, ms(tx.Now), reason, cardID); err != nil {
			return err
		}
		if c, err = cardWhere(tx, `id = ?`, cardID); err != nil {
			return err
		}
		e := saleEntry(c, sp.ID, s.price, s.commission, s.month)
		e.Kind, e.RedemptionID, e.At = merchant.LedgerSaleCancel, merchant.SaleCancelID(cardID), tx.Now
		e.Amount, e.Share = -s.price, -s.commission
		if _, err := appendLedger(tx, &e); err != nil {
			return err
		}
		return tx.auditIn(s.town, "sale.cancel", cardID)
	})
	if err != nil {
		return card.Card{}, err
	}
	return c, nil
}

// SalesCards lists the cards sales point sp issued in [from, to), newest first.
func (db *DB) SalesCards(ctx context.Context, sp string, from, to time.Time, page Page) ([]card.Card, string, error) {
	return list(db.reader(ctx), `SELECT `+cardColumns+` FROM cards WHERE id IN
			(SELECT card_id FROM sales WHERE sales_point_id = ? AND issued_at >= ? AND issued_at < ?) AND seq < ? ORDER BY seq DESC LIMIT ?`,
		[]any{sp, ms(from), ms(to)}, page, true, func(r *sql.Rows) (card.Card, int64, error) { return scanCard(r) })
}

// salesLines are town's month m's sales lines, from its ledger's sale and sale_cancel entries
// (by the ledger_month index), named by the sales points' names now.
func salesLines(q querier, town string, m merchant.Month) ([]merchant.SalesLine, error) {
	rows, err := q.query(`SELECT `+ledgerColumns+` FROM ledger WHERE town = ? AND month = ? AND kind IN ('sale', 'sale_cancel') ORDER BY seq`, town, m.String())
	if err != nil {
		return nil, err
	}
	var entries []merchant.LedgerEntry
	for rows.Next() {
		var e merchant.LedgerEntry
		var h []byte
		if err := scanLedgerEntry(rows, &e, &h); err != nil {
			rows.Close()
			return nil, err
		}
		entries = append(entries, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(entries) == 0 {
		return nil, err
	}
	names := map[string]string{}
	rows, err = q.query(`SELECT id, name FROM sales_points WHERE town = ?`, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		names[id] = name
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return merchant.BuildSales(entries, names), nil
}

// townSales reads town's sales rows for VerifyLedger, by card id.
func townSales(q querier, town string) (map[string]saleRow, error) {
	rows, err := q.query(`SELECT `+saleRowColumns+` FROM sales s LEFT JOIN cards c ON c.id = s.card_id WHERE s.town = ?`, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]saleRow{}
	for rows.Next() {
		r, err := scanSaleRow(rows)
		if err != nil {
			return nil, err
		}
		out[r.cardID] = r
	}
	return out, rows.Err()
}

// saleMismatch names the first field in which sales row s (as stored now) differs from the
// ledger's sale or sale_cancel entry e, or "".
func saleMismatch(e merchant.LedgerEntry, s saleRow) string {
	sign := int64(1)
	if e.Kind == merchant.LedgerSaleCancel {
		sign = -1
	}
	switch {
	case s.town != e.Town || e.CardTown != e.Town:
		return "town"
	case s.cardNumber != e.CardNumber:
		return "card number"
	case s.salesPoint != e.MerchantID:
		return "sales point"
	case s.product != e.Product:
		return "product"
	case s.price*sign != e.Amount:
		return "price"
	case s.commission*sign != e.Share:
		return "commission"
	case !s.issuedAt.Equal(e.CreatedAt):
		return "issued_at"
	case s.month != e.Month:
		return "month"
	case e.Kind == merchant.LedgerSale && !e.At.Equal(e.CreatedAt):
		return "time of the entry"
	case e.Kind == merchant.LedgerSaleCancel && (s.cancelledAt == nil || !s.cancelledAt.Equal(e.At)):
		return "cancelled_at"
	case e.Kind == merchant.LedgerSale && e.RedemptionID != merchant.SaleID(s.cardID),
		e.Kind == merchant.LedgerSaleCancel && e.RedemptionID != merchant.SaleCancelID(s.cardID):
		return "entry id"
	}
	return ""
}
