package storage

import (
	"context"
	"time"

	"github.com/citycard/citycard/merchant"
)

// CreatePairing stores a one-time pairing code (its SHA-256) for an active merchant of town,
// usable until ttl from now, and returns when it expires. Codes expired for more than a day
// are deleted on the way. Errors: merchant.ErrNotFound, merchant.ErrSuspended.
func (db *DB) CreatePairing(ctx context.Context, town, merchantID string, codeHash []byte, ttl time.Duration) (time.Time, error) {
	var expires time.Time
	err := db.update(ctx, func(tx *Tx) error {
		// Locked against changes (FOR SHARE): a suspension committing meanwhile waits for
		// this write, or this write sees it.
		m, err := townMerchant(tx, town, merchantID, tx.forShare())
		if err != nil {
			return err
		}
		if m.Status != merchant.StatusActive {
			return merchant.ErrSuspended
		}
		if _, err := tx.exec(`DELETE FROM pairings WHERE expires_at < ?`, ms(tx.Now.Add(-24*time.Hour))); err != nil {
			return err
		}
		expires = tx.Now.Add(ttl)
		if _, err := tx.exec(`INSERT INTO pairings (code_hash, merchant_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			codeHash, merchantID, ms(tx.Now), ms(expires)); err != nil {
			return err
		}
		return tx.auditIn(m.Town, "merchant.pairing_create", merchantID)
	})
	return expires, err
}

// UsePairing spends a pairing code: if codeHash names a code that is unused and not expired,
// it marks the code used and adds keyHash as a key of the code's merchant, in one
// transaction, and returns the merchant. Of tills using one code at once exactly one pairs.
// Errors: merchant.ErrPairingInvalid (unknown, used or expired: the caller cannot tell which;
// also every till but one of those racing for a code), merchant.ErrSuspended (the code stays
// unused).
func (db *DB) UsePairing(ctx context.Context, codeHash, keyHash []byte) (merchant.Merchant, error) {
	var m merchant.Merchant
	err := db.update(ctx, func(tx *Tx) error {
		// Spending the code is the conditional write that decides the race: it locks the row,
		// and of the transactions that waited for that lock none finds it unused any more.
		res, err := tx.exec(`UPDATE pairings SET used_at = ? WHERE code_hash = ? AND used_at IS NULL AND expires_at > ?`,
			ms(tx.Now), codeHash, ms(tx.Now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return merchant.ErrPairingInvalid
		}
		var merchantID string
		if err := tx.queryRow(`SELECT merchant_id FROM pairings WHERE code_hash = ?`, codeHash).Scan(&merchantID); err != nil {
			return err
		}
		// Locked against changes (FOR SHARE): a suspension or a key rotation committing
		// meanwhile waits for this write (and the rotation then removes its key), or this
		// write sees it.
		if m, err = merchantWhere(tx, `id = ?`+tx.forShare(), merchantID); err != nil {
			return err
		}
		if m.Status != merchant.StatusActive {
			return merchant.ErrSuspended // rolls the use back: the code pairs once reactivated
		}
		if _, err := tx.exec(`INSERT INTO merchant_keys (key_hash, merchant_id, created_at) VALUES (?, ?, ?)`, keyHash, merchantID, ms(tx.Now)); err != nil {
			return err
		}
		if err := tx.changed(topicMerchants); err != nil {
			return err
		}
		return tx.auditIn(m.Town, "merchant.pairing_use", merchantID)
	})
	return m, err
}
