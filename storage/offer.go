package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage/engine"
)

const offerColumns = `o.seq, o.id, o.town, o.merchant_id, o.title_json, o.kind, o.value, o.max_discount_cents, o.min_amount_cents, o.limit_kind,
	o.products_json, o.valid_from, o.valid_until, o.municipal_share_bp, o.active, o.created_at, o.updated_at`

// CreateOffer validates and stores o for its merchant in town (merchant.ErrNotFound if
// unknown there), setting ID, Town and times. Products must be ones the town may use.
func (db *DB) CreateOffer(ctx context.Context, town string, o *merchant.Offer) error {
	if err := o.Validate(); err != nil {
		return err
	}
	defer db.cache.offers.invalidate(o.MerchantID, false)
	return db.update(ctx, func(tx *Tx) error {
		m, err := townMerchant(tx, town, o.MerchantID, "")
		if err != nil {
			return err
		}
		o.Town = m.Town
		if err := productsExist(tx, o.Town, o.Products); err != nil {
			return err
		}
		o.ID, o.CreatedAt, o.UpdatedAt = newID("off"), tx.Now, tx.Now
		title, products, err := offerJSON(*o)
		if err != nil {
			return err
		}
		_, err = tx.exec(`INSERT INTO offers (id, town, merchant_id, title_json, kind, value, max_discount_cents, min_amount_cents, limit_kind,
				products_json, valid_from, valid_until, municipal_share_bp, active, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			o.ID, o.Town, o.MerchantID, title, o.Kind, o.Value, nullCents(o.MaxDiscount), nullCents(o.MinAmount), o.Limit,
			products, nullStr(o.ValidFrom), nullStr(o.ValidUntil), o.MunicipalShare, o.Active, ms(tx.Now), ms(tx.Now))
		if err != nil {
			return err
		}
		if err := tx.changed(topicOffers); err != nil {
			return err
		}
		return tx.auditIn(o.Town, "offer.create", o.ID)
	})
}

// Offer returns town's offer with this id, or merchant.ErrOfferNotFound.
func (db *DB) Offer(ctx context.Context, town, id string) (merchant.Offer, error) {
	return offerWhere(db.reader(ctx), `o.id = ? AND (? = '' OR o.town = ?)`, id, town, town)
}

func offerWhere(q querier, where string, args ...any) (merchant.Offer, error) {
	return offerOf(q, offerQuery(where, args...))
}

// offerQuery is the read of offerWhere, for a write that sends it ahead (prefetch).
func offerQuery(where string, args ...any) engine.Query {
	return engine.Query{SQL: `SELECT ` + offerColumns + ` FROM offers o WHERE ` + where, Args: args}
}

// offerOf runs oq (offerQuery): merchant.ErrOfferNotFound if it finds none.
func offerOf(q querier, oq engine.Query) (merchant.Offer, error) {
	o, _, err := scanOffer(q.queryRow(oq.SQL, oq.Args...))
	if errors.Is(err, sql.ErrNoRows) {
		return o, merchant.ErrOfferNotFound
	}
	return o, err
}

// Offers lists town's offers in the order they were created, of one merchant or of all ("").
func (db *DB) Offers(ctx context.Context, town, merchantID string, page Page) ([]merchant.Offer, string, error) {
	return list(db.reader(ctx), `SELECT `+offerColumns+` FROM offers o WHERE o.town = ? AND (? = '' OR o.merchant_id = ?) AND o.seq > ? ORDER BY o.seq LIMIT ?`,
		[]any{town, merchantID, merchantID}, page, false, func(r *sql.Rows) (merchant.Offer, int64, error) { return scanOffer(r) })
}

// UpdateOffer applies change to town's stored offer, validates and stores the result. The
// offer is read locked (FOR UPDATE) in the write, so of PATCHes racing on one offer each
// applies its change to what the one before it stored: none is lost (issue 17). A
// redemption checking the offer holds it locked against changes (redemptionContext), so the
// change waits for redemptions in flight, and those after it see it.
func (db *DB) UpdateOffer(ctx context.Context, town, id string, change func(*merchant.Offer) error) (merchant.Offer, error) {
	var o merchant.Offer
	// Any merchant's list may hold this offer: the id alone does not say whose it is.
	defer db.cache.offers.invalidate("", true)
	err := db.update(ctx, func(tx *Tx) error {
		var err error
		if o, err = offerWhere(tx, `o.id = ? AND (? = '' OR o.town = ?)`+tx.forUpdate(), id, town, town); err != nil {
			return err
		}
		if err := change(&o); err != nil {
			return err
		}
		if err := o.Validate(); err != nil {
			return err
		}
		if err := productsExist(tx, o.Town, o.Products); err != nil {
			return err
		}
		o.UpdatedAt = tx.Now
		title, products, err := offerJSON(o)
		if err != nil {
			return err
		}
		_, err = tx.exec(`UPDATE offers SET title_json = ?, kind = ?, value = ?, max_discount_cents = ?, min_amount_cents = ?, limit_kind = ?,
				products_json = ?, valid_from = ?, valid_until = ?, municipal_share_bp = ?, active = ?, updated_at = ?
			WHERE id = ?`,
			title, o.Kind, o.Value, nullCents(o.MaxDiscount), nullCents(o.MinAmount), o.Limit,
			products, nullStr(o.ValidFrom), nullStr(o.ValidUntil), o.MunicipalShare, o.Active, ms(tx.Now), id)
		if err != nil {
			return err
		}
		if err := tx.changed(topicOffers); err != nil {
			return err
		}
		return tx.auditIn(o.Town, "offer.update", id)
	})
	return o, err
}

// merchantOffers returns every offer of a merchant, active ones only if activeOnly.
func merchantOffers(q querier, merchantID string, activeOnly bool) ([]merchant.Offer, error) {
	rows, err := q.query(`SELECT `+offerColumns+` FROM offers o WHERE o.merchant_id = ? AND (o.active = 1 OR ? = 0) ORDER BY o.seq`, merchantID, activeOnly)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merchant.Offer
	for rows.Next() {
		o, _, err := scanOffer(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// OfferWithMerchant is an offer and the merchant that grants it.
type OfferWithMerchant struct {
	Offer    merchant.Offer
	Merchant merchant.Merchant
}

// PublicOffers lists active offers of active merchants whose last day is not over (in their
// town's zone: the earliest of the network's today, filtered exactly by the caller), in the
// order they were created, of town or of every town ("").
func (db *DB) PublicOffers(ctx context.Context, town string, page Page) ([]OfferWithMerchant, string, error) {
	now := db.Now()
	// The earliest local date of any town: an offer whose last day is over everywhere is out.
	today := now.In(db.TownLoc(town)).Format("2006-01-02")
	if town == "" {
		for _, c := range db.TownCodes() {
			if d := now.In(db.TownLoc(c)).Format("2006-01-02"); d < today {
				today = d
			}
		}
	}
	items, next, err := list(db.reader(ctx), `SELECT `+offerColumns+`, `+prefixed("m", merchantColumns)+`
		FROM offers o JOIN merchants m ON m.id = o.merchant_id
		WHERE (? = '' OR o.town = ?) AND o.active = 1 AND m.status = 'active' AND (o.valid_until IS NULL OR o.valid_until >= ?) AND o.seq > ?
		ORDER BY o.seq LIMIT ?`, []any{town, town, today}, page, false, scanOfferWithMerchant)
	if err != nil || town != "" {
		return items, next, err
	}
	out := items[:0]
	for _, it := range items {
		if it.Offer.ValidUntil == "" || it.Offer.ValidUntil >= now.In(db.TownLoc(it.Offer.Town)).Format("2006-01-02") {
			out = append(out, it)
		}
	}
	return out, next, nil
}

func scanOfferWithMerchant(r *sql.Rows) (OfferWithMerchant, int64, error) {
	var v OfferWithMerchant
	var seq, mseq int64
	dest := offerDest(&v.Offer, &seq)
	mdest, finish := merchantDest(&v.Merchant, &mseq)
	if err := r.Scan(append(dest.ptrs, mdest...)...); err != nil {
		return v, 0, err
	}
	finish()
	return v, seq, dest.finish()
}

// productsExist checks that every code names a product town may use in an offer: its own,
// or a network product that accepts it.
func productsExist(tx *Tx, town string, codes []string) error {
	for _, c := range codes {
		var n int
		if err := tx.queryRow(`SELECT count(*) FROM products WHERE code = ? AND `+productVisible, c, town, town, town).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return fmt.Errorf("%w: products names unknown product %q", merchant.ErrInvalidInput, c)
		}
	}
	return nil
}

func offerJSON(o merchant.Offer) (title string, products sql.NullString, err error) {
	b, err := json.Marshal(o.Title)
	if err != nil {
		return "", products, err
	}
	if len(o.Products) > 0 {
		p, err := json.Marshal(o.Products)
		if err != nil {
			return "", products, err
		}
		products = sql.NullString{String: string(p), Valid: true}
	}
	return string(b), products, nil
}

type offerScan struct {
	ptrs   []any
	finish func() error
}

// offerDest returns scan destinations for offerColumns and a function that fills o from them.
func offerDest(o *merchant.Offer, seq *int64) offerScan {
	var title string
	var maxD, minA sql.NullInt64
	var products, from, until sql.NullString
	var created, updated int64
	return offerScan{
		ptrs: []any{seq, &o.ID, &o.Town, &o.MerchantID, &title, &o.Kind, &o.Value, &maxD, &minA, &o.Limit, &products, &from, &until, &o.MunicipalShare, &o.Active, &created, &updated},
		finish: func() error {
			if maxD.Valid {
				o.MaxDiscount = &maxD.Int64
			}
			if minA.Valid {
				o.MinAmount = &minA.Int64
			}
			o.ValidFrom, o.ValidUntil = from.String, until.String
			o.CreatedAt, o.UpdatedAt = fromMS(created), fromMS(updated)
			if products.Valid {
				if err := json.Unmarshal([]byte(products.String), &o.Products); err != nil {
					return err
				}
			}
			return json.Unmarshal([]byte(title), &o.Title)
		},
	}
}

func scanOffer(s scanner) (merchant.Offer, int64, error) {
	var o merchant.Offer
	var seq int64
	d := offerDest(&o, &seq)
	if err := s.Scan(d.ptrs...); err != nil {
		return o, 0, err
	}
	return o, seq, d.finish()
}

// merchantDest is offerDest for merchantColumns.
func merchantDest(m *merchant.Merchant, seq *int64) ([]any, func()) {
	var lat, lon sql.NullFloat64
	var created int64
	return []any{seq, &m.ID, &m.Town, &m.Name, &m.Category, &m.Address, &lat, &lon, &m.Status, &created, &m.TaxNumber, &m.IBAN}, func() {
		if lat.Valid && lon.Valid {
			m.Lat, m.Lon = &lat.Float64, &lon.Float64
		}
		m.CreatedAt = fromMS(created)
	}
}

// prefixed qualifies a column list with a table alias: "a, b" becomes "m.a, m.b".
func prefixed(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

func nullCents(v *int64) sql.NullInt64 {
	if v == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: *v, Valid: true}
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
