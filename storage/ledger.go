package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/citycard/citycard/merchant"
)

const ledgerColumns = `seq, kind, redemption_id, card_id, merchant_id, offer_id, product_code, category,
	amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash`

// appendLedger books e as the next entry of the chain, setting its Seq, and returns its hash.
func appendLedger(tx *Tx, e *merchant.LedgerEntry) ([32]byte, error) {
	seq, prev, err := ledgerHead(tx)
	if err != nil {
		return prev, err
	}
	e.Seq = seq + 1
	h := e.Hash(prev)
	_, err = tx.exec(`INSERT INTO ledger (`+ledgerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, e.Kind, e.RedemptionID, e.CardID, e.MerchantID, e.OfferID, e.Product, e.Category,
		e.Amount, e.Discount, e.Share, ms(e.CreatedAt), ms(e.At), e.Month.String(), e.Reason, h[:])
	return h, err
}

// ledgerHead is the last entry's seq and hash: 0 and 32 zero bytes for an empty ledger.
func ledgerHead(q querier) (int64, [32]byte, error) {
	var seq int64
	var hash []byte
	var head [32]byte
	err := q.queryRow(`SELECT seq, hash FROM ledger ORDER BY seq DESC LIMIT 1`).Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, head, nil
	}
	copy(head[:], hash)
	return seq, head, err
}

// redemptionEntry is the ledger entry that books r.
func redemptionEntry(r merchant.Redemption, loc *time.Location) merchant.LedgerEntry {
	return merchant.LedgerEntry{
		Kind: merchant.LedgerRedemption, RedemptionID: r.ID, CardID: r.CardID, MerchantID: r.MerchantID,
		OfferID: r.OfferID, Product: r.Product, Category: r.Category,
		Amount: r.Amount, Discount: r.Discount, Share: r.MunicipalShare,
		CreatedAt: r.CreatedAt, At: r.CreatedAt, Month: merchant.MonthOf(r.CreatedAt, loc),
	}
}

// voidEntry is the ledger entry that books the void of r (VoidedAt set): a void in r's
// month, or, if that month was closed, an adjustment in the month of the void.
func voidEntry(r merchant.Redemption, closed bool, loc *time.Location) merchant.LedgerEntry {
	e := redemptionEntry(r, loc)
	e.Kind, e.At, e.Reason = merchant.LedgerVoid, *r.VoidedAt, r.VoidReason
	e.Amount, e.Discount, e.Share = -r.Amount, -r.Discount, -r.MunicipalShare
	if closed {
		e.Kind, e.Month = merchant.LedgerAdjustment, merchant.MonthOf(*r.VoidedAt, loc)
	}
	return e
}

func scanLedgerEntry(s scanner, e *merchant.LedgerEntry, hash *[]byte, extra ...any) error {
	var created, at int64
	var month string
	err := s.Scan(append([]any{&e.Seq, &e.Kind, &e.RedemptionID, &e.CardID, &e.MerchantID, &e.OfferID, &e.Product, &e.Category,
		&e.Amount, &e.Discount, &e.Share, &created, &at, &month, &e.Reason, hash}, extra...)...)
	if err != nil {
		return err
	}
	e.CreatedAt, e.At = fromMS(created), fromMS(at)
	e.Month, err = merchant.ParseMonth(month)
	return err
}

// LedgerCheck is what VerifyLedger found. When OK, Entries and Head describe the chain;
// otherwise FirstBad names the first bad record (a ledger entry's seq, or "close:YYYY-MM" for
// a closed month's frozen report) and Problem says what is wrong with it.
type LedgerCheck struct {
	OK           bool
	Entries      int64
	Head         [32]byte
	FirstBad     string
	RedemptionID string
	Problem      string
}

// VerifyLedger walks the ledger in one read transaction: every entry must follow the one
// before it (seq and hash), match the redemption it books field by field, every redemption
// and every void must have its entry, and every closed month's ledger head must lie on the
// chain and its frozen report match its SHA-256. It reads the whole ledger; it changes nothing.
func (db *DB) VerifyLedger(ctx context.Context) (LedgerCheck, error) {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return LedgerCheck{}, err
	}
	defer tx.Rollback()
	q := txReader{ctx, tx}
	closes, err := monthCloses(q)
	if err != nil {
		return LedgerCheck{}, err
	}
	// Closes by the length of the ledger they saw, to check the head as the walk passes it.
	sort.Slice(closes, func(i, j int) bool { return closes[i].LedgerEntries < closes[j].LedgerEntries })
	bad := func(seq int64, redemption, format string, a ...any) LedgerCheck {
		return LedgerCheck{FirstBad: strconv.FormatInt(seq, 10), RedemptionID: redemption, Problem: fmt.Sprintf(format, a...)}
	}
	var head [32]byte
	var n int64
	checkCloses := func() *LedgerCheck {
		for len(closes) > 0 && closes[0].LedgerEntries == n {
			if closes[0].LedgerHead != head {
				c := bad(n, "", "the ledger head recorded when %s closed is not on the chain", closes[0].Month)
				return &c
			}
			closes = closes[1:]
		}
		return nil
	}
	if c := checkCloses(); c != nil {
		return *c, nil
	}
	rows, err := q.query(`SELECT l.seq, l.kind, l.redemption_id, l.card_id, l.merchant_id, l.offer_id, l.product_code, l.category,
			l.amount_cents, l.discount_cents, l.share_cents, l.created_at, l.at, l.month, l.reason, l.hash,
			r.id IS NOT NULL, coalesce(r.card_id, ''), coalesce(r.merchant_id, ''), coalesce(r.offer_id, ''),
			coalesce(r.product_code, ''), coalesce(r.category, ''), coalesce(r.amount_cents, 0), coalesce(r.discount_cents, 0),
			coalesce(r.share_cents, 0), coalesce(r.created_at, 0), r.voided_at, coalesce(r.void_reason, '')
		FROM ledger l LEFT JOIN redemptions r ON r.id = l.redemption_id ORDER BY l.seq`)
	if err != nil {
		return LedgerCheck{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var e merchant.LedgerEntry
		var stored []byte
		var r merchant.Redemption
		var found bool
		var created int64
		var voided sql.NullInt64
		if err := scanLedgerEntry(rows, &e, &stored, &found, &r.CardID, &r.MerchantID, &r.OfferID, &r.Product, &r.Category,
			&r.Amount, &r.Discount, &r.MunicipalShare, &created, &voided, &r.VoidReason); err != nil {
			// A month or value that does not parse is an edit too.
			return bad(n+1, "", "entry cannot be read: %v", err), nil
		}
		r.ID, r.CreatedAt, r.VoidedAt = e.RedemptionID, fromMS(created), fromNullMS(voided)
		if e.Seq != n+1 {
			return bad(n+1, "", "entry %d is missing", n+1), nil
		}
		want := e.Hash(head)
		if !bytes.Equal(stored, want[:]) {
			return bad(e.Seq, e.RedemptionID, "entry does not match its hash: it was edited, or an entry before it was"), nil
		}
		if !found {
			return bad(e.Seq, e.RedemptionID, "redemption %s is not in the redemptions table", e.RedemptionID), nil
		}
		if p := entryMismatch(e, r); p != "" {
			return bad(e.Seq, e.RedemptionID, "redemption %s differs from its ledger entry: %s", e.RedemptionID, p), nil
		}
		head, n = want, e.Seq
		if c := checkCloses(); c != nil {
			return *c, nil
		}
	}
	if err := rows.Err(); err != nil {
		return LedgerCheck{}, err
	}
	if len(closes) > 0 {
		return bad(n+1, "", "entry %d is missing: the close of %s saw %d entries", n+1, closes[0].Month, closes[0].LedgerEntries), nil
	}
	var id string
	err = q.queryRow(`SELECT r.id FROM redemptions r WHERE NOT EXISTS
		(SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind = 'redemption') ORDER BY r.seq LIMIT 1`).Scan(&id)
	if err == nil {
		return bad(n+1, id, "redemption %s has no ledger entry", id), nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return LedgerCheck{}, err
	}
	err = q.queryRow(`SELECT r.id FROM redemptions r WHERE r.voided_at IS NOT NULL AND NOT EXISTS
		(SELECT 1 FROM ledger l WHERE l.redemption_id = r.id AND l.kind <> 'redemption') ORDER BY r.seq LIMIT 1`).Scan(&id)
	if err == nil {
		return bad(n+1, id, "the void of redemption %s has no ledger entry", id), nil
	} else if !errors.Is(err, sql.ErrNoRows) {
		return LedgerCheck{}, err
	}
	all, err := monthCloses(q)
	if err != nil {
		return LedgerCheck{}, err
	}
	for _, c := range all {
		if sha256.Sum256(c.Report) != c.SHA256 {
			return LedgerCheck{FirstBad: "close:" + c.Month.String(), Problem: "the frozen report does not match its SHA-256"}, nil
		}
	}
	return LedgerCheck{OK: true, Entries: n, Head: head}, nil
}

// entryMismatch names the first field in which the redemption r (as stored now) differs
// from what ledger entry e booked, or "".
func entryMismatch(e merchant.LedgerEntry, r merchant.Redemption) string {
	sign := int64(1)
	if e.Kind != merchant.LedgerRedemption {
		sign = -1
	}
	switch {
	case r.CardID != e.CardID:
		return "card"
	case r.MerchantID != e.MerchantID:
		return "merchant"
	case r.OfferID != e.OfferID:
		return "offer"
	case r.Product != e.Product:
		return "product"
	case r.Category != e.Category:
		return "category"
	case r.Amount*sign != e.Amount:
		return "amount"
	case r.Discount*sign != e.Discount:
		return "discount"
	case r.MunicipalShare*sign != e.Share:
		return "municipal share"
	case !r.CreatedAt.Equal(e.CreatedAt):
		return "created_at"
	case e.Kind == merchant.LedgerRedemption && !e.At.Equal(e.CreatedAt):
		return "time of the entry"
	case e.Kind != merchant.LedgerRedemption && (r.VoidedAt == nil || !r.VoidedAt.Equal(e.At)):
		return "voided_at"
	case e.Kind != merchant.LedgerRedemption && r.VoidReason != e.Reason:
		return "void reason"
	}
	return ""
}

// txReader is a querier over a read transaction, so several queries see one snapshot.
type txReader struct {
	ctx context.Context
	tx  *sql.Tx
}

func (r txReader) queryRow(q string, args ...any) *sql.Row {
	return r.tx.QueryRowContext(r.ctx, q, args...)
}
func (r txReader) query(q string, args ...any) (*sql.Rows, error) {
	return r.tx.QueryContext(r.ctx, q, args...)
}

// backfillLedger books the redemptions and voids stored before the ledger existed, in the
// order they happened. It runs once, in the first write after the migration that adds the
// ledger (initLedger); no month can have been closed before it.
func backfillLedger(tx *Tx) error {
	rows, err := tx.query(`SELECT ` + redemptionColumns + ` FROM redemptions ORDER BY seq`)
	if err != nil {
		return err
	}
	type event struct {
		at  time.Time
		seq int64
		e   merchant.LedgerEntry
	}
	var events []event
	for rows.Next() {
		r, seq, err := scanRedemption(rows)
		if err != nil {
			rows.Close()
			return err
		}
		events = append(events, event{r.CreatedAt, 2 * seq, redemptionEntry(r, tx.db.Loc)})
		if r.VoidedAt != nil {
			events = append(events, event{*r.VoidedAt, 2*seq + 1, voidEntry(r, false, tx.db.Loc)})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Slice(events, func(i, j int) bool {
		if !events[i].at.Equal(events[j].at) {
			return events[i].at.Before(events[j].at)
		}
		return events[i].seq < events[j].seq
	})
	for _, ev := range events {
		if _, err := appendLedger(tx, &ev.e); err != nil {
			return err
		}
	}
	return nil
}
