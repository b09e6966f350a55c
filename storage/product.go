package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/citycard/citycard/card"
)

const productColumns = `seq, code, name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at`

// CreateProduct validates and stores p, setting CreatedAt. It returns card.ErrProductExists
// for a taken code, or a validation error wrapping card.ErrInvalidInput.
func (db *DB) CreateProduct(ctx context.Context, p *card.Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	name, err := json.Marshal(p.Name)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		p.CreatedAt = tx.Now
		_, err := tx.exec(`INSERT INTO products (code, name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			p.Code, string(name), nullInt(p.ValidityHours), nullInt(p.ValidityDays), p.PriceCents, p.Audience, p.ActivationDeadlineDays, ms(p.CreatedAt))
		if isUnique(err) {
			return card.ErrProductExists
		}
		if err != nil {
			return err
		}
		return tx.audit("product.create", p.Code)
	})
}

// Product returns the product with this code, or card.ErrNoProduct.
func (db *DB) Product(ctx context.Context, code string) (card.Product, error) {
	return productByCode(db.reader(ctx), code)
}

func productByCode(q querier, code string) (card.Product, error) {
	p, _, err := scanProduct(q.queryRow(`SELECT `+productColumns+` FROM products WHERE code = ?`, code))
	if errors.Is(err, sql.ErrNoRows) {
		return p, card.ErrNoProduct
	}
	return p, err
}

// Products lists products in the order they were created.
func (db *DB) Products(ctx context.Context, page Page) ([]card.Product, string, error) {
	return list(db.reader(ctx), `SELECT `+productColumns+` FROM products WHERE seq > ? ORDER BY seq LIMIT ?`, nil, page, false,
		func(r *sql.Rows) (card.Product, int64, error) { return scanProduct(r) })
}

type scanner interface{ Scan(...any) error }

func scanProduct(s scanner) (card.Product, int64, error) {
	var p card.Product
	var seq, created int64
	var name string
	var hours, days sql.NullInt64
	if err := s.Scan(&seq, &p.Code, &name, &hours, &days, &p.PriceCents, &p.Audience, &p.ActivationDeadlineDays, &created); err != nil {
		return p, 0, err
	}
	p.ValidityHours, p.ValidityDays, p.CreatedAt = int(hours.Int64), int(days.Int64), fromMS(created)
	return p, seq, json.Unmarshal([]byte(name), &p.Name)
}

func nullInt(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: v != 0} }
