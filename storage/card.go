package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/citycard/citycard/card"
)

const cardColumns = `seq, id, town, number, token, product_code, holder, lang, issued_at, activate_by, activated_at, expires_at, blocked_at, block_reason, batch_id`

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

// CreateBatch issues b.Count cards of b.Product in town as one batch named b.Name, in one
// transaction, and sets b's ID and CreatedAt. Errors: card.ErrInvalidInput, card.ErrNoProduct.
// A batch belongs to the town of its cards.
func (db *DB) CreateBatch(ctx context.Context, town string, kr *card.Keyring, b *card.Batch) ([]card.Card, error) {
	if b.Count < 1 || b.Count > card.MaxBatchCards {
		return nil, fmt.Errorf("%w: count must be 1 to 1000", card.ErrInvalidInput)
	}
	var out []card.Card
	err := db.update(ctx, func(tx *Tx) error {
		b.ID, b.CreatedAt = newID("bat"), tx.Now
		// The batch row first: the cards reference it. A bad product fails the insert below
		// with a foreign key error, so check it first for the right error.
		if _, err := townProduct(tx, town, b.Product); err != nil {
			return err
		}
		if _, err := tx.exec(`INSERT INTO batches (id, name, name_key, product_code, count, lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.Name, card.FoldName(b.Name), b.Product, b.Count, b.Lang, ms(tx.Now)); err != nil {
			return err
		}
		var err error
		if out, err = insertCards(tx, town, kr, b.Product, b.Count, "", b.Lang, b.ID); err != nil {
			return err
		}
		return tx.auditIn(town, "batch.create", b.ID)
	})
	return out, err
}

// townProduct is the product with this code that town may use, or card.ErrNoProduct.
func townProduct(q querier, town, code string) (card.Product, error) {
	p, _, err := scanProduct(q.queryRow(`SELECT `+productColumns+` FROM products WHERE code = ? AND `+productVisible,
		code, town, town, town))
	if errors.Is(err, sql.ErrNoRows) {
		return p, card.ErrNoProduct
	}
	return p, err
}

// insertCards issues n cards of product in town inside tx, in batch batchID (or none).
func insertCards(tx *Tx, town string, kr *card.Keyring, product string, n int, holder, lang, batchID string) ([]card.Card, error) {
	out := make([]card.Card, 0, n)
	p, err := townProduct(tx, town, product)
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
		if c.Token, err = kr.Sign(c.Number); err != nil {
			return nil, err
		}
		_, err = tx.exec(`INSERT INTO cards (id, town, number, token, product_code, holder, lang, issued_at, activate_by, batch_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, c.ID, c.Town, c.Number, c.Token, c.Product, c.Holder, c.Lang, ms(c.IssuedAt), ms(c.ActivateBy), batch)
		if isUnique(err) {
			continue // a number drawn twice (1 in 9e10 a card): draw again
		}
		if err != nil {
			return nil, err
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
	c, _, err := scanCard(q.queryRow(`SELECT `+cardColumns+` FROM cards WHERE `+where, arg))
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
}

// Cards lists cards, newest first.
func (db *DB) Cards(ctx context.Context, f CardFilter, page Page) ([]card.Card, string, error) {
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
	where = append(where, "seq < ?")
	return list(db.reader(ctx), `SELECT `+cardColumns+` FROM cards WHERE `+strings.Join(where, " AND ")+` ORDER BY seq DESC LIMIT ?`,
		args, page, true, func(r *sql.Rows) (card.Card, int64, error) { return scanCard(r) })
}

// batchInTown is the condition that a batch belongs to the town given as its argument: the
// town of its cards (every card of a batch is issued by one town).
const batchInTown = `EXISTS (SELECT 1 FROM cards c WHERE c.batch_id = batches.id AND c.town = ?)`

// BatchCards returns every card of town's batch id in the order they were issued
// (card.ErrBatchNotFound if town has no such batch).
func (db *DB) BatchCards(ctx context.Context, town, id string) (card.Batch, []card.Card, error) {
	r := db.reader(ctx)
	b, _, err := scanBatch(r.queryRow(`SELECT `+batchColumns+` FROM batches WHERE id = ? AND `+batchInTown, id, town))
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil, card.ErrBatchNotFound
	}
	if err != nil {
		return b, nil, err
	}
	rows, err := r.query(`SELECT `+cardColumns+` FROM cards WHERE batch_id = ? AND town = ? ORDER BY seq`, id, town)
	if err != nil {
		return b, nil, err
	}
	defer rows.Close()
	cards := make([]card.Card, 0, b.Count)
	for rows.Next() {
		c, _, err := scanCard(rows)
		if err != nil {
			return b, nil, err
		}
		cards = append(cards, c)
	}
	return b, cards, rows.Err()
}

// CardsByID returns town's cards with these ids in the order asked, or card.ErrNotFound
// naming the first unknown id (another town's card is unknown).
func (db *DB) CardsByID(ctx context.Context, town string, ids []string) ([]card.Card, error) {
	byID := make(map[string]card.Card, len(ids))
	r := db.reader(ctx)
	// In chunks: SQLite bounds the number of parameters of one statement.
	for start := 0; start < len(ids); start += 250 {
		chunk := ids[start:min(start+250, len(ids))]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, town)
		for _, id := range chunk {
			args = append(args, id)
		}
		rows, err := r.query(`SELECT `+cardColumns+` FROM cards WHERE town = ? AND id IN (?`+strings.Repeat(", ?", len(chunk)-1)+`)`, args...)
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
		if !ok {
			return nil, fmt.Errorf("%w: %s", card.ErrNotFound, id)
		}
		out[i] = c
	}
	return out, nil
}

const batchColumns = `seq, id, name, product_code, count, lang, created_at`

// BatchFilter narrows a list of batches.
type BatchFilter struct {
	Town  string // the town whose batches are listed (required)
	Query string // a case-insensitive substring of the name; empty matches all
}

// Batches lists a town's batches, newest first.
func (db *DB) Batches(ctx context.Context, f BatchFilter, page Page) ([]card.Batch, string, error) {
	return list(db.reader(ctx), `SELECT `+batchColumns+` FROM batches WHERE instr(name_key, ?) > 0 AND `+batchInTown+` AND seq < ? ORDER BY seq DESC LIMIT ?`,
		[]any{card.FoldName(f.Query), f.Town}, page, true, func(r *sql.Rows) (card.Batch, int64, error) { return scanBatch(r) })
}

// Batch returns town's batch with this id, or card.ErrBatchNotFound.
func (db *DB) Batch(ctx context.Context, town, id string) (card.Batch, error) {
	b, _, err := scanBatch(db.reader(ctx).queryRow(`SELECT `+batchColumns+` FROM batches WHERE id = ? AND `+batchInTown, id, town))
	if errors.Is(err, sql.ErrNoRows) {
		return b, card.ErrBatchNotFound
	}
	return b, err
}

func scanBatch(s scanner) (card.Batch, int64, error) {
	var b card.Batch
	var seq, created int64
	err := s.Scan(&seq, &b.ID, &b.Name, &b.Product, &b.Count, &b.Lang, &created)
	b.CreatedAt = fromMS(created)
	return b, seq, err
}

// SetBlocked blocks (with a reason) or unblocks a card town issued and returns it. Blocking
// a blocked card updates the reason and keeps the original time.
func (db *DB) SetBlocked(ctx context.Context, town, id string, blocked bool, reason string) (card.Card, error) {
	var c card.Card
	defer func() { db.cache.cards.invalidate(c.Number, c.Number == "") }()
	err := db.update(ctx, func(tx *Tx) error {
		var res sql.Result
		var err error
		if blocked {
			res, err = tx.exec(`UPDATE cards SET blocked_at = coalesce(blocked_at, ?), block_reason = ? WHERE id = ? AND town = ?`, ms(tx.Now), reason, id, town)
		} else {
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
		if blocked {
			return tx.auditIn(town, "card.block", id)
		}
		return tx.auditIn(town, "card.unblock", id)
	})
	return c, err
}

func scanCard(s scanner) (card.Card, int64, error) {
	var c card.Card
	var seq, issued, activateBy int64
	var activated, expires, blocked sql.NullInt64
	var batch sql.NullString
	err := s.Scan(&seq, &c.ID, &c.Town, &c.Number, &c.Token, &c.Product, &c.Holder, &c.Lang, &issued, &activateBy, &activated, &expires, &blocked, &c.BlockReason, &batch)
	c.BatchID = batch.String
	c.IssuedAt, c.ActivateBy = fromMS(issued), fromMS(activateBy)
	c.ActivatedAt, c.ExpiresAt, c.BlockedAt = fromNullMS(activated), fromNullMS(expires), fromNullMS(blocked)
	return c, seq, err
}
