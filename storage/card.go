package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

// cardColumns are the columns scanCard reads from the cards table: its own, then the sales
// point that issued the card (the sales table's primary key), if any.
const cardColumns = cardOwnColumns + `, (SELECT sales_point_id FROM sales WHERE sales.card_id = cards.id)`

// cardColumnsNoSales are cardColumns without the sales point (NULL in its place), for a read
// that does not need it (a redemption's): no lookup in sales.
const cardColumnsNoSales = cardOwnColumns + `, NULL`

const cardOwnColumns = `seq, id, town, number, token, product_code, holder, lang, issued_at, activate_by, activated_at, expires_at, blocked_at, block_reason, batch_id, erased_at`

// cardColumnsOf is cardColumns for a query that names the cards table alias.
func cardColumnsOf(alias string) string {
	return alias + "." + strings.ReplaceAll(cardOwnColumns, ", ", ", "+alias+".") +
		`, (SELECT sales_point_id FROM sales WHERE sales.card_id = ` + alias + `.id)`
}

// CreateCards issues n cards of product in town, in one transaction, each with a fresh
// random number and a token signed by kr. The product must be the town's own or a network
// product that accepts it (else card.ErrNoProduct). Validity days count in the town's zone.
func (db *DB) CreateCards(ctx context.Context, town string, kr *card.Keyring, product string, n int, holder, lang string) ([]card.Card, error) {
	if n < 1 || n > card.MaxBatchCards {
		return nil, fmt.Errorf("%w: count must be 1 to 1000", card.ErrInvalidInput)
	}
	var out []card.Card
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		out, err = insertCards(tx, town, kr, product, n, holder, lang, "")
		return err
	})
	return out, err
}

// insertCards issues n cards of product in town inside tx, in batch batchID (or none). The
// product must be the town's own or a network product that accepts it (else
// card.ErrNoProduct). Validity days count in the town's zone.
func insertCards(tx *Tx, town string, kr *card.Keyring, product string, n int, holder, lang, batchID string) ([]card.Card, error) {
	out := make([]card.Card, 0, n)
	p, _, err := scanProduct(tx.queryRow(`SELECT `+productColumns+` FROM products WHERE code = ? AND `+productVisible,
		product, town, town, town))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, card.ErrNoProduct
	}
	if err != nil {
		return nil, err
	}
	batch := sql.NullString{String: batchID, Valid: batchID != ""}
	for len(out) < n {
		c, err := card.NewCard(p, holder, lang, tx.Now, tx.db.TownLoc(town))
		if err != nil {
			return nil, err
		}
		c.ID, c.BatchID, c.Town = newID("crd"), batchID, town
		if c.Token, err = kr.SignAt(c.Number, tx.Now); err != nil {
			return nil, err
		}
		// ON CONFLICT DO NOTHING rather than catching the violation: on PostgreSQL a failed
		// statement would abort the whole batch's transaction.
		res, err := tx.exec(`INSERT INTO cards (id, town, number, token, product_code, holder, lang, issued_at, activate_by, batch_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, c.ID, c.Town, c.Number, c.Token, c.Product, c.Holder, c.Lang, ms(c.IssuedAt), ms(c.ActivateBy), batch)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			continue // a number drawn twice (1 in 9e10 a card): draw again
		}
		if err := tx.auditIn(town, "card.create", c.ID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// Card returns the card with this id issued in town ("" for any), or card.ErrNotFound.
func (db *DB) Card(ctx context.Context, town, id string) (card.Card, error) {
	c, err := cardWhere(db.reader(ctx), `id = ?`, id)
	if err == nil && town != "" && c.Town != town {
		return card.Card{}, card.ErrNotFound
	}
	return c, err
}

// CardByNumber returns the card with this number, or card.ErrNotFound.
func (db *DB) CardByNumber(ctx context.Context, number string) (card.Card, error) {
	return cardWhere(db.reader(ctx), `number = ?`, number)
}

func cardWhere(q querier, where string, arg any) (card.Card, error) {
	return cardOf(q, cardQuery(cardColumns, where, arg))
}

// cardQuery is the read of cardWhere with columns (cardColumns, or cardColumnsNoSales), for a
// write that sends it ahead (prefetch).
func cardQuery(columns, where string, arg any) engine.Query {
	return engine.Query{SQL: `SELECT ` + columns + ` FROM cards WHERE ` + where, Args: []any{arg}}
}

// cardOf runs cq (cardQuery): card.ErrNotFound if it finds none.
func cardOf(q querier, cq engine.Query) (card.Card, error) {
	c, _, err := scanCard(q.queryRow(cq.SQL, cq.Args...))
	if errors.Is(err, sql.ErrNoRows) {
		return c, card.ErrNotFound
	}
	return c, err
}

// CardFilter narrows a list of cards. Filters combine; an empty one matches every card.
type CardFilter struct {
	Town    string // the issuing town (required)
	Product string // product code
	Number  string // the exact, normalised 12-digit number
	Batch   string // batch id
	// SalesPoint is the id of the sales point that issued the cards.
	SalesPoint string
}

// Cards lists cards, newest first.
func (db *DB) Cards(ctx context.Context, f CardFilter, page Page) ([]card.Card, string, error) {
	if f.Town == "" {
		return nil, "", errNoTown
	}
	// One query per shape, so each uses its index (number is unique, batch_id indexed)
	// instead of an "? = '' OR" that the planner cannot.
	where, args := []string{"town = ?"}, []any{f.Town}
	if f.Number != "" {
		where, args = append(where, "number = ?"), append(args, f.Number)
	}
	if f.Batch != "" {
		where, args = append(where, "batch_id = ?"), append(args, f.Batch)
	}
	if f.Product != "" {
		where, args = append(where, "product_code = ?"), append(args, f.Product)
	}
	if f.SalesPoint != "" {
		where, args = append(where, "id IN (SELECT card_id FROM sales WHERE sales_point_id = ?)"), append(args, f.SalesPoint)
	}
	where = append(where, "seq < ?")
	return list(db.reader(ctx), `SELECT `+cardColumns+` FROM cards WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT ?`,
		args, page, true, func(r *sql.Rows) (card.Card, int64, error) { return scanCard(r) })
}

// SetBlocked blocks (with a reason) or unblocks a card town issued and returns it. Blocking
// a blocked card updates the reason and keeps the original time. A card its sales point
// cancelled is not unblocked: merchant.ErrAlreadyCancelled.
func (db *DB) SetBlocked(ctx context.Context, town, id string, blocked bool, reason string) (card.Card, error) {
	var c card.Card
	defer func() { db.cache.cards.invalidate(c.Number, c.Number == "") }()
	err := db.update(ctx, func(tx *Tx) error {
		var res sql.Result
		var err error
		if blocked {
			res, err = tx.exec(`UPDATE cards SET blocked_at = coalesce(blocked_at, ?), block_reason = ? WHERE id = ? AND town = ?`, ms(tx.Now), reason, id, town)
		} else {
			// A card its sales point cancelled stays blocked: it is not billed (storage/sales.go).
			// The card first, locked, as the cancel locks it: a cancel committed before is seen.
			if _, err := cardWhere(tx, `id = ?`+tx.forUpdate(), id); err != nil && !errors.Is(err, card.ErrNotFound) {
				return err
			}
			var cancelled int
			if err := tx.queryRow(`SELECT count(*) FROM sales WHERE card_id = ? AND cancelled_at IS NOT NULL`, id).Scan(&cancelled); err != nil {
				return err
			}
			if cancelled > 0 {
				return merchant.ErrAlreadyCancelled
			}
			res, err = tx.exec(`UPDATE cards SET blocked_at = NULL, block_reason = '' WHERE id = ? AND town = ?`, id, town)
		}
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return card.ErrNotFound
		}
		if c, err = cardWhere(tx, `id = ?`, id); err != nil {
			return err
		}
		// Its wallet passes show the change: updates queued in this write (wallet.go).
		if err := walletCardChanged(tx, c); err != nil {
			return err
		}
		if blocked {
			return tx.auditIn(town, "card.block", id)
		}
		return tx.auditIn(town, "card.unblock", id)
	})
	return c, err
}

// CardsByID returns the cards with these ids that town issued, in the order asked, or
// card.ErrNotFound naming the first id town has no card of.
func (db *DB) CardsByID(ctx context.Context, town string, ids []string) ([]card.Card, error) {
	byID := make(map[string]card.Card, len(ids))
	r := db.reader(ctx)
	// In chunks: SQLite bounds the number of parameters of one statement.
	for start := 0; start < len(ids); start += 250 {
		chunk := ids[start:min(start+250, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := r.query(`SELECT `+cardColumns+` FROM cards WHERE id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			c, _, err := scanCard(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			byID[c.ID] = c
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	out := make([]card.Card, len(ids))
	for i, id := range ids {
		c, ok := byID[id]
		if !ok || c.Town != town {
			return nil, fmt.Errorf("%w: %s", card.ErrNotFound, id)
		}
		out[i] = c
	}
	return out, nil
}

func scanCard(s scanner) (card.Card, int64, error) {
	var c card.Card
	var seq, issued, activateBy int64
	var activated, expires, blocked, erased sql.NullInt64
	var batch, sp sql.NullString
	err := s.Scan(&seq, &c.ID, &c.Town, &c.Number, &c.Token, &c.Product, &c.Holder, &c.Lang, &issued, &activateBy, &activated, &expires, &blocked, &c.BlockReason, &batch, &erased, &sp)
	c.BatchID, c.ErasedAt, c.SalesPoint = batch.String, fromNullMS(erased), sp.String
	c.IssuedAt, c.ActivateBy = fromMS(issued), fromMS(activateBy)
	c.ActivatedAt, c.ExpiresAt, c.BlockedAt = fromNullMS(activated), fromNullMS(expires), fromNullMS(blocked)
	return c, seq, err
}

// undoActivation returns the card of a redemption just voided in tx to not-yet-activated when
// card.VoidUndoesActivation says so (the void of the redemption that activated it, within
// card.ActivationGrace, while it was the card's only live use), and audits it. It runs in the
// void's transaction, so the card and the void change together.
//
// The audit entry is town's: the town of the void.
func undoActivation(tx *Tx, town, cardID string, usedAt time.Time) error {
	// Locked: a first use activating the card at the same time waits for this write.
	c, err := cardWhere(tx, `id = ?`+tx.forUpdate(), cardID)
	if err != nil {
		return err
	}
	var live int
	if err := tx.queryRow(`SELECT count(*) FROM redemptions WHERE card_id = ? AND voided_at IS NULL AND conflict_reason IS NULL`, cardID).Scan(&live); err != nil {
		return err
	}
	if !card.VoidUndoesActivation(c, usedAt, live, tx.Now) {
		return nil
	}
	if _, err := tx.exec(`UPDATE cards SET activated_at = NULL, expires_at = NULL WHERE id = ?`, cardID); err != nil {
		return err
	}
	return tx.auditIn(town, "card.activation_undone", cardID)
}
