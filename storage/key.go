package storage

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"

	"github.com/citycard/citycard/card"
)

// SigningKeys returns every stored token signing key, oldest first.
func (db *DB) SigningKeys(ctx context.Context) ([]card.SigningKey, error) {
	rows, err := db.reader(ctx).query(`SELECT kid, private_key, public_key, created_at FROM signing_keys ORDER BY kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []card.SigningKey
	for rows.Next() {
		var k card.SigningKey
		var priv, pub []byte
		var created int64
		if err := rows.Scan(&k.ID, &priv, &pub, &created); err != nil {
			return nil, err
		}
		k.Private, k.Public, k.CreatedAt = ed25519.PrivateKey(priv), ed25519.PublicKey(pub), fromMS(created)
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddSigningKey stores a new signing key with the next key id. If seed is non-empty the key
// is derived from it (CITYCARD_SIGNING_KEY), and nothing is added if that key is stored already.
func (db *DB) AddSigningKey(ctx context.Context, seed string) (card.SigningKey, error) {
	return db.addSigningKey(ctx, seed, false)
}

// addSigningKey is AddSigningKey; with first it adds nothing if any key is stored (instances
// starting at once on a new database create one first key between them, not one each).
func (db *DB) addSigningKey(ctx context.Context, seed string, first bool) (card.SigningKey, error) {
	var k card.SigningKey
	err := db.update(ctx, func(tx *Tx) error {
		var maxID sql.NullInt64
		if err := tx.queryRow(`SELECT max(kid) FROM signing_keys`).Scan(&maxID); err != nil {
			return err
		}
		if first && maxID.Valid {
			return nil
		}
		id := uint16(maxID.Int64 + 1)
		if maxID.Int64 >= 65535 {
			return errors.New("no key ids left")
		}
		var err error
		if seed != "" {
			k, err = card.SigningKeyFromSeed(id, seed, tx.Now)
			if err != nil {
				return err
			}
			var have uint16
			err := tx.queryRow(`SELECT kid FROM signing_keys WHERE public_key = ?`, []byte(k.Public)).Scan(&have)
			if err == nil {
				k.ID = have
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		} else if k, err = card.NewSigningKey(id, tx.Now); err != nil {
			return err
		}
		_, err = tx.exec(`INSERT INTO signing_keys (kid, private_key, public_key, created_at) VALUES (?, ?, ?, ?)`,
			k.ID, []byte(k.Private), []byte(k.Public), ms(k.CreatedAt))
		if err != nil {
			return err
		}
		return tx.auditIn("", "signing_key.add", strconv.Itoa(int(k.ID)))
	})
	return k, err
}

// Keyring loads the signing keys, creating the first one if there is none. With a seed
// (CITYCARD_SIGNING_KEY) that key signs, and is stored so that it verifies after a rotation.
func (db *DB) Keyring(ctx context.Context, seed string) (*card.Keyring, error) {
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || seed != "" {
		if _, err := db.addSigningKey(ctx, seed, seed == ""); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if keys, err = db.SigningKeys(ctx); err != nil {
			return nil, err
		}
	}
	if seed != "" {
		// The configured key signs even if a newer one is stored: keep only it as signer.
		want, err := card.SigningKeyFromSeed(0, seed, db.Now())
		if err != nil {
			return nil, err
		}
		for i := range keys {
			if !keys[i].Public.Equal(want.Public) {
				keys[i].Private = nil
			}
		}
	}
	return card.NewKeyring(keys)
}

// Setting returns a stored setting, or "" if it is not set.
func (db *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := db.reader(ctx).queryRow(`SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// SetSetting stores a setting.
func (db *DB) SetSetting(ctx context.Context, key, value string) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value)
		return err
	})
}

// AdminTokenHash is the SHA-256 of the admin token set on first start, or nil.
func (db *DB) AdminTokenHash(ctx context.Context) ([]byte, error) {
	v, err := db.Setting(ctx, "admin_token_sha256")
	if err != nil || v == "" {
		return nil, err
	}
	return hex.DecodeString(v)
}

// InitAdminTokenHash stores sum as the admin token's SHA-256 unless one is stored already, and
// returns the one stored: sum if this call set it, another if a service instance starting at
// the same time set its own first (whose token is then the one to use).
func (db *DB) InitAdminTokenHash(ctx context.Context, sum []byte) ([]byte, error) {
	var stored string
	err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`INSERT INTO settings (key, value) VALUES ('admin_token_sha256', ?) ON CONFLICT (key) DO NOTHING`,
			hex.EncodeToString(sum)); err != nil {
			return err
		}
		return tx.queryRow(`SELECT value FROM settings WHERE key = 'admin_token_sha256'`).Scan(&stored)
	})
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(stored)
}
