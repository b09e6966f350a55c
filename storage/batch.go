package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/citycard/citycard/card"
)

// CreateBatch issues b.Count cards of b.Product in town b.Town as one batch named b.Name, in
// one transaction, and sets b's ID and CreatedAt. Errors: card.ErrInvalidInput,
// card.ErrNoProduct (also for a product the town may not issue).
func (db *DB) CreateBatch(ctx context.Context, kr *card.Keyring, b *card.Batch) ([]card.Card, error) {
	if b.Count < 1 || b.Count > card.MaxBatchCards {
		return nil, fmt.Errorf("%w: count must be 1 to 1000", card.ErrInvalidInput)
	}
	var out []card.Card
	err := db.update(ctx, func(tx *Tx) error {
		b.ID, b.CreatedAt = newID("bat"), tx.Now
		// The batch row first: the cards reference it. A bad product fails the insert below
		// with a foreign key error, so check it first for the right error.
		var n int
		if err := tx.queryRow(`SELECT count(*) FROM products WHERE code = ? AND `+productVisible, b.Product, b.Town, b.Town, b.Town).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return card.ErrNoProduct
		}
		if _, err := tx.exec(`INSERT INTO batches (id, town, name, name_key, product_code, count, lang, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			b.ID, b.Town, b.Name, card.FoldName(b.Name), b.Product, b.Count, b.Lang, ms(tx.Now)); err != nil {
			return err
		}
		var err error
		if out, err = insertCards(tx, b.Town, kr, b.Product, b.Count, "", b.Lang, b.ID); err != nil {
			return err
		}
		return tx.auditIn(b.Town, "batch.create", b.ID)
	})
	return out, err
}

// BatchCards returns every card of town's batch id in the order they were issued
// (card.ErrBatchNotFound if town has no such batch).
func (db *DB) BatchCards(ctx context.Context, town, id string) (card.Batch, []card.Card, error) {
	r := db.reader(ctx)
	b, _, err := scanBatch(r.queryRow(`SELECT `+batchColumns+` FROM batches WHERE id = ? AND town = ?`, id, town))
	if errors.Is(err, sql.ErrNoRows) {
		return b, nil, card.ErrBatchNotFound
	}
	if err != nil {
		return b, nil, err
	}
	rows, err := r.query(`SELECT `+cardColumns+` FROM cards WHERE batch_id = ? ORDER BY seq`, id)
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

const batchColumns = `seq, id, town, name, product_code, count, lang, created_at`

// BatchFilter narrows a list of batches.
type BatchFilter struct {
	Town  string // the issuing town (required)
	Query string // a case-insensitive substring of the name; empty matches all
}

// Batches lists batches, newest first.
func (db *DB) Batches(ctx context.Context, f BatchFilter, page Page) ([]card.Batch, string, error) {
	return list(db.reader(ctx), `SELECT `+batchColumns+` FROM batches WHERE town = ? AND name_key LIKE ? ESCAPE '\' AND seq < ? ORDER BY seq DESC LIMIT ?`,
		[]any{f.Town, likeContains(card.FoldName(f.Query))}, page, true, func(r *sql.Rows) (card.Batch, int64, error) { return scanBatch(r) })
}

// Batch returns town's batch with this id, or card.ErrBatchNotFound.
func (db *DB) Batch(ctx context.Context, town, id string) (card.Batch, error) {
	b, _, err := scanBatch(db.reader(ctx).queryRow(`SELECT `+batchColumns+` FROM batches WHERE id = ? AND town = ?`, id, town))
	if errors.Is(err, sql.ErrNoRows) {
		return b, card.ErrBatchNotFound
	}
	return b, err
}

func scanBatch(s scanner) (card.Batch, int64, error) {
	var b card.Batch
	var seq, created int64
	err := s.Scan(&seq, &b.ID, &b.Town, &b.Name, &b.Product, &b.Count, &b.Lang, &created)
	b.CreatedAt = fromMS(created)
	return b, seq, err
}

// likeContains is the LIKE pattern (with ESCAPE '\') that matches text containing s: the
// same on both engines, unlike instr and strpos.
func likeContains(s string) string {
	return "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s) + "%"
}
