package storage

import (
	"context"
	"database/sql"
	"errors"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

const merchantColumns = `seq, id, town, name, category, address, lat, lon, status, created_at, tax_number, iban`

// CreateMerchant validates and stores m (in town m.Town) with the SHA-256 of its API key,
// setting ID and CreatedAt.
func (db *DB) CreateMerchant(ctx context.Context, m *merchant.Merchant, keyHash []byte) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if m.Town == "" {
		return errors.New("create merchant: no town")
	}
	defer db.cache.merchantsChanged()
	return db.update(ctx, func(tx *Tx) error {
		m.ID, m.CreatedAt = newID("mer"), tx.Now
		_, err := tx.exec(`INSERT INTO merchants (id, town, name, category, address, lat, lon, status, key_hash, created_at, updated_at, tax_number, iban)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.Town, m.Name, m.Category, m.Address, nullFloat(m.Lat), nullFloat(m.Lon), m.Status, keyHash, ms(tx.Now), ms(tx.Now), m.TaxNumber, m.IBAN)
		if err != nil {
			return err
		}
		return tx.auditIn(m.Town, "merchant.create", m.ID)
	})
}

// Merchant returns town's merchant with this id ("" for any town), or merchant.ErrNotFound.
func (db *DB) Merchant(ctx context.Context, town, id string) (merchant.Merchant, error) {
	return townMerchant(db.reader(ctx), town, id, "")
}

// townMerchant reads town's merchant ("" for any town); lock is "" or a row-locking clause
// of a write (tx.forUpdate(), tx.forShare()).
func townMerchant(q querier, town, id, lock string) (merchant.Merchant, error) {
	m, err := merchantWhere(q, `id = ?`+lock, id)
	if err == nil && town != "" && m.Town != town {
		return merchant.Merchant{}, merchant.ErrNotFound
	}
	return m, err
}

// MerchantByKeyHash returns the merchant whose API key hashes to sum, or merchant.ErrNotFound.
// A merchant's keys are the one of sign-up or rotation and one per paired till (UsePairing).
func (db *DB) MerchantByKeyHash(ctx context.Context, sum []byte) (merchant.Merchant, error) {
	return cached(db.cache.merchantByKey, string(sum), func() (merchant.Merchant, error) {
		return merchantWhere(db.reader(ctx), `key_hash = ?1 OR id = (SELECT merchant_id FROM merchant_keys WHERE key_hash = ?1)`, sum)
	})
}

func merchantWhere(q querier, where string, arg any) (merchant.Merchant, error) {
	return merchantOf(q, merchantQuery(where, arg))
}

// merchantQuery is the read of merchantWhere, for a write that sends it ahead (prefetch).
func merchantQuery(where string, arg any) engine.Query {
	return engine.Query{SQL: `SELECT ` + merchantColumns + ` FROM merchants WHERE ` + where, Args: []any{arg}}
}

// merchantOf runs mq (merchantQuery): merchant.ErrNotFound if it finds none.
func merchantOf(q querier, mq engine.Query) (merchant.Merchant, error) {
	m, _, err := scanMerchant(q.queryRow(mq.SQL, mq.Args...))
	if errors.Is(err, sql.ErrNoRows) {
		return m, merchant.ErrNotFound
	}
	return m, err
}

// Merchants lists town's merchants in the order they signed up.
func (db *DB) Merchants(ctx context.Context, town string, page Page) ([]merchant.Merchant, string, error) {
	return list(db.reader(ctx), `SELECT `+merchantColumns+` FROM merchants WHERE town = ? AND seq > ? ORDER BY seq LIMIT ?`, []any{town}, page, false,
		func(r *sql.Rows) (merchant.Merchant, int64, error) { return scanMerchant(r) })
}

// UpdateMerchant applies change to town's stored merchant, validates and stores the result.
// The merchant is read locked (FOR UPDATE) in the write: of PATCHes racing on one merchant
// each applies its change to what the one before it stored, and a suspension waits for the
// redemptions in flight at the merchant (which hold its row locked against changes, see
// redemptionContext) while those after it see the merchant suspended (issue 17).
func (db *DB) UpdateMerchant(ctx context.Context, town, id string, change func(*merchant.Merchant) error) (merchant.Merchant, error) {
	var m merchant.Merchant
	defer db.cache.merchantsChanged()
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		if m, err = townMerchant(tx, town, id, tx.forUpdate()); err != nil {
			return err
		}
		if err := change(&m); err != nil {
			return err
		}
		if err := m.Validate(); err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE merchants SET name = ?, category = ?, address = ?, lat = ?, lon = ?, status = ?, updated_at = ?, tax_number = ?, iban = ? WHERE id = ?`,
			m.Name, m.Category, m.Address, nullFloat(m.Lat), nullFloat(m.Lon), m.Status, ms(tx.Now), m.TaxNumber, m.IBAN, id)
		if err != nil {
			return err
		}
		if err := tx.changed(topicMerchants); err != nil {
			return err
		}
		return tx.auditIn(m.Town, "merchant.update", id)
	})
	return m, err
}

// SetMerchantKey replaces the API key hash of town's merchant; every old key, the paired
// tills' too, stops working at once.
func (db *DB) SetMerchantKey(ctx context.Context, town, id string, keyHash []byte) error {
	defer db.cache.merchantsChanged()
	return db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE merchants SET key_hash = ?, updated_at = ? WHERE id = ? AND town = ?`, keyHash, ms(tx.Now), id, town)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return merchant.ErrNotFound
		}
		if _, err := tx.exec(`DELETE FROM merchant_keys WHERE merchant_id = ?`, id); err != nil {
			return err
		}
		if err := tx.changed(topicMerchants); err != nil {
			return err
		}
		return tx.auditIn(town, "merchant.key_rotate", id) // the key itself is never audited
	})
}

func scanMerchant(s scanner) (merchant.Merchant, int64, error) {
	var m merchant.Merchant
	var seq int64
	dest, finish := merchantDest(&m, &seq)
	err := s.Scan(dest...)
	finish()
	return m, seq, err
}

func nullFloat(f *float64) sql.NullFloat64 {
	if f == nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: *f, Valid: true}
}
