package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/citycard/citycard/card"
)

// productColumns read the accepting towns in the same query, so a redemption reads its
// product (and where it is accepted) in one statement, as before towns.
const productColumns = `seq, code, coalesce(town, ''), coalesce((SELECT string_agg(pt.town, ',') FROM product_towns pt WHERE pt.product_seq = products.seq), ''),
	name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at`

// productVisible is the condition for a product a town may use (issue cards of, name in an
// offer): its own, and network products that accept it. The town is the query's first three
// arguments ("" matches every product). Product codes are unique per town (product_codes):
// among the products a town sees, one has a given code.
const productVisible = `(? = '' OR town = ? OR (town IS NULL AND EXISTS
	(SELECT 1 FROM product_towns pt WHERE pt.product_seq = products.seq AND pt.town = ?)))`

// CreateProduct validates and stores p, setting CreatedAt. p.Town is the town creating it,
// "" for a network product (which must list Towns); a town's product is accepted in that
// town only (card.Product.CheckTowns: Towns defaults to [Town], anything else is
// card.ErrOtherTowns), and Towns must name existing towns. A code is unique per town: it
// returns card.ErrProductExists when the code is taken among the products of a town that
// would see p (its own town and every town accepting it: that town's own products and the
// network products accepting it), or a validation error wrapping card.ErrInvalidInput.
func (db *DB) CreateProduct(ctx context.Context, p *card.Product) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if err := p.CheckTowns(); err != nil {
		return err
	}
	if len(p.Towns) > 1000 {
		return fmt.Errorf("%w: towns must list at most 1000 towns", card.ErrInvalidInput)
	}
	seen := map[string]bool{}
	for _, t := range p.Towns {
		if _, ok := db.CachedTown(t); !ok {
			return fmt.Errorf("%w: towns names unknown town %q", card.ErrInvalidInput, t)
		}
		if seen[t] {
			return fmt.Errorf("%w: towns lists %q twice", card.ErrInvalidInput, t)
		}
		seen[t] = true
	}
	sort.Strings(p.Towns)
	name, err := json.Marshal(p.Name)
	if err != nil {
		return err
	}
	return db.update(ctx, func(tx *Tx) error {
		p.CreatedAt = tx.Now
		var seq int64
		if err := tx.queryRow(`INSERT INTO products (code, town, name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
			p.Code, nullStr(p.Town), string(name), nullInt(p.ValidityHours), nullInt(p.ValidityDays), p.PriceCents, p.Audience, p.ActivationDeadlineDays, ms(p.CreatedAt)).Scan(&seq); err != nil {
			return err
		}
		// The towns that see p, each once: the code's primary key (town, code) refuses a code
		// one of them already sees.
		sees := append([]string(nil), p.Towns...)
		if p.Town != "" && !seen[p.Town] {
			sees = append(sees, p.Town)
		}
		sort.Strings(sees)
		for _, t := range sees {
			_, err := tx.exec(`INSERT INTO product_codes (town, code, product_seq) VALUES (?, ?, ?)`, t, p.Code, seq)
			if tx.isUnique(err) {
				return card.ErrProductExists
			}
			if err != nil {
				return err
			}
		}
		for _, t := range p.Towns {
			if _, err := tx.exec(`INSERT INTO product_towns (product_seq, town) VALUES (?, ?)`, seq, t); err != nil {
				return err
			}
		}
		return tx.auditIn(p.Town, "product.create", p.Code)
	})
}

// Product returns the product with this code that town may use (its own, or a network
// product accepting it; any for ""), or card.ErrNoProduct.
func (db *DB) Product(ctx context.Context, town, code string) (card.Product, error) {
	p, _, err := scanProduct(db.reader(ctx).queryRow(`SELECT `+productColumns+` FROM products WHERE code = ? AND `+productVisible,
		code, town, town, town))
	if errors.Is(err, sql.ErrNoRows) {
		return p, card.ErrNoProduct
	}
	return p, err
}

// productByCode is the product with this code that town sees (a card's product is the one
// its issuing town sees by the card's product code) and the towns that accept it, through
// the cache: a product is never changed or deleted once created, so a redemption (and a
// till's first check of a card) reads it from memory. The value is shared: callers must not
// modify its Name or Towns.
func (db *DB) productByCode(q querier, town, code string) (card.Product, error) {
	return cached(db.cache.products, town+"\x00"+code, func() (card.Product, error) {
		p, _, err := scanProduct(q.queryRow(`SELECT `+productColumns+` FROM products
			WHERE seq = (SELECT product_seq FROM product_codes WHERE town = ? AND code = ?)`, town, code))
		if errors.Is(err, sql.ErrNoRows) {
			return p, card.ErrNoProduct
		}
		return p, err
	})
}

// Products lists the products town may use (all for ""), in the order they were created.
func (db *DB) Products(ctx context.Context, town string, page Page) ([]card.Product, string, error) {
	return list(db.reader(ctx), `SELECT `+productColumns+` FROM products WHERE `+productVisible+` AND seq > ? ORDER BY seq LIMIT ?`,
		[]any{town, town, town}, page, false,
		func(r *sql.Rows) (card.Product, int64, error) { return scanProduct(r) })
}

type scanner interface{ Scan(...any) error }

func scanProduct(s scanner) (card.Product, int64, error) {
	var p card.Product
	var seq, created int64
	var name, towns string
	var hours, days sql.NullInt64
	if err := s.Scan(&seq, &p.Code, &p.Town, &towns, &name, &hours, &days, &p.PriceCents, &p.Audience, &p.ActivationDeadlineDays, &created); err != nil {
		return p, 0, err
	}
	p.ValidityHours, p.ValidityDays, p.CreatedAt = int(hours.Int64), int(days.Int64), fromMS(created)
	if towns != "" {
		p.Towns = strings.Split(towns, ",")
		sort.Strings(p.Towns)
	}
	return p, seq, json.Unmarshal([]byte(name), &p.Name)
}

func nullInt(v int) sql.NullInt64 { return sql.NullInt64{Int64: int64(v), Valid: v != 0} }
