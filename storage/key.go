package storage

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// KeyGrace is how long a rotated token signing key is published before it signs, unless the
// rotation says otherwise (citycard keys rotate): longer than an offline pack is valid
// (merchant.OfflineMaxHours), so every till still selling offline on its pack holds the key
// before the first card it signs, plus a day for tills that fetch their pack late and for
// instances that learn of the rotation late.
const KeyGrace = (merchant.OfflineMaxHours + 24) * time.Hour

// keyReloadEvery is how often a running process reads the signing keys again by default
// (WithKeyReload): how it learns of a rotation another process made when no change
// notification tells it (SQLite, where citycard keys rotate is a process of its own, or a
// notification lost on PostgreSQL). A rotated key is published KeyGrace before it signs, so a
// minute is plenty.
const keyReloadEvery = time.Minute

// Unknown key ids make a process read its keys again (a card signed by a key rotated in
// elsewhere a moment ago): at most keyMissBurst reads at once, then one every keyMissEvery,
// whatever a client sends.
const (
	keyMissBurst = 3
	keyMissEvery = time.Second
)

var (
	// ErrSigningKeyNotFound is a signing key id that is not stored.
	ErrSigningKeyNotFound = errors.New("no signing key with this id")
	// ErrSigningKeyActive is an activation of a signing key that signs already.
	ErrSigningKeyActive = errors.New("the signing key is active already")
)

// topicKeys is the change notification of the token signing keys.
const topicKeys = "signing_keys"

// keyrings are the keyrings a DB handed out (Keyring), kept up to date with the stored keys.
type keyrings struct {
	mu      sync.Mutex // held while reloading
	uses    []keyringUse
	tokens  float64   // reloads an unknown key id may cause now (keyMissBurst at most)
	refill  time.Time // when tokens was last topped up
	every   time.Duration
	loads   atomic.Uint64      // reads of the keys into the keyrings, for tests
	stop    context.CancelFunc // the periodic reload
	running sync.WaitGroup
}

// keyringUse is a keyring and the only key it signs with (CITYCARD_SIGNING_KEY), or nil for
// whichever key is active.
type keyringUse struct {
	kr     *card.Keyring
	signer ed25519.PublicKey
}

// SigningKeys returns every stored token signing key, oldest first.
func (db *DB) SigningKeys(ctx context.Context) ([]card.SigningKey, error) {
	rows, err := db.reader(ctx).query(`SELECT kid, private_key, public_key, created_at, activates_at FROM signing_keys ORDER BY kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []card.SigningKey
	for rows.Next() {
		var k card.SigningKey
		var priv, pub []byte
		var created, activates int64
		if err := rows.Scan(&k.ID, &priv, &pub, &created, &activates); err != nil {
			return nil, err
		}
		k.Private, k.Public, k.CreatedAt, k.ActivatesAt = ed25519.PrivateKey(priv), ed25519.PublicKey(pub), fromMS(created), fromMS(activates)
		out = append(out, k)
	}
	return out, rows.Err()
}

// AddSigningKey stores a new signing key with the next key id, which signs new cards from
// activatesAt on (zero: KeyGrace from now; a time already past: at once) and, until then,
// only verifies: every running process publishes it at once (the change notification on
// PostgreSQL, its periodic reload or the first token of the key it sees on SQLite). If seed
// is non-empty the key is derived from it (CITYCARD_SIGNING_KEY), and nothing is added if
// that key is stored already.
func (db *DB) AddSigningKey(ctx context.Context, seed string, activatesAt time.Time) (card.SigningKey, error) {
	return db.addSigningKey(ctx, seed, false, activatesAt)
}

// addSigningKey is AddSigningKey; with first it adds nothing if any key is stored (instances
// starting at once on a new database create one first key between them, not one each), and
// a first key signs at once.
func (db *DB) addSigningKey(ctx context.Context, seed string, first bool, activatesAt time.Time) (card.SigningKey, error) {
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
			var activates int64
			err := tx.queryRow(`SELECT kid, activates_at FROM signing_keys WHERE public_key = ?`, []byte(k.Public)).Scan(&have, &activates)
			if err == nil {
				k.ID, k.ActivatesAt = have, fromMS(activates)
				return nil
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		} else if k, err = card.NewSigningKey(id, tx.Now); err != nil {
			return err
		}
		switch {
		case !maxID.Valid:
			k.ActivatesAt = tx.Now // the first key: nothing was published before it
		case activatesAt.IsZero():
			k.ActivatesAt = tx.Now.Add(KeyGrace)
		default: // a time already past signs at once
			k.ActivatesAt = activatesAt.UTC().Truncate(time.Millisecond)
		}
		_, err = tx.exec(`INSERT INTO signing_keys (kid, private_key, public_key, created_at, activates_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, []byte(k.Private), []byte(k.Public), ms(k.CreatedAt), ms(k.ActivatesAt))
		if err != nil {
			return err
		}
		if err := tx.changed(topicKeys); err != nil {
			return err
		}
		return tx.auditIn("", "signing_key.add", strconv.Itoa(int(k.ID)))
	})
	if err == nil {
		db.reloadKeys(ctx)
	}
	return k, err
}

// ActivateSigningKey makes the stored key kid sign new cards from now on, ahead of the time
// its rotation gave it, and returns it. Tills offline since before the key was added cannot
// verify its cards offline until they fetch a fresh pack. Errors: ErrSigningKeyNotFound,
// ErrSigningKeyActive (it signs already, or would if no newer key did).
func (db *DB) ActivateSigningKey(ctx context.Context, kid uint16) (card.SigningKey, error) {
	var k card.SigningKey
	err := db.update(ctx, func(tx *Tx) error {
		res, err := tx.exec(`UPDATE signing_keys SET activates_at = ? WHERE kid = ? AND activates_at > ?`, ms(tx.Now), kid, ms(tx.Now))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			var have int
			if err := tx.queryRow(`SELECT count(*) FROM signing_keys WHERE kid = ?`, kid).Scan(&have); err != nil {
				return err
			}
			if have == 0 {
				return ErrSigningKeyNotFound
			}
			return ErrSigningKeyActive
		}
		var created int64
		if err := tx.queryRow(`SELECT created_at FROM signing_keys WHERE kid = ?`, kid).Scan(&created); err != nil {
			return err
		}
		k = card.SigningKey{ID: kid, CreatedAt: fromMS(created), ActivatesAt: tx.Now}
		if err := tx.changed(topicKeys); err != nil {
			return err
		}
		return tx.auditIn("", "signing_key.activate", strconv.Itoa(int(kid)))
	})
	if err == nil {
		db.reloadKeys(ctx)
	}
	return k, err
}

// Keyring loads the signing keys, creating the first one if there is none. With a seed
// (CITYCARD_SIGNING_KEY) that key signs, and is stored so that it verifies after a rotation
// (as a key that other processes sign with only after KeyGrace). The keyring follows the
// stored keys while the database is open: a key rotated in by another process is verified,
// published and, from its time on, signed with, without a restart (see AddSigningKey); the
// keyring's clock is the database's.
func (db *DB) Keyring(ctx context.Context, seed string) (*card.Keyring, error) {
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || seed != "" {
		if _, err := db.addSigningKey(ctx, seed, seed == "", time.Time{}); err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if keys, err = db.SigningKeys(ctx); err != nil {
			return nil, err
		}
	}
	use := keyringUse{}
	if seed != "" {
		want, err := card.SigningKeyFromSeed(0, seed, db.Now())
		if err != nil {
			return nil, err
		}
		use.signer = want.Public
	}
	kr, err := card.NewKeyring(use.only(keys))
	if err != nil {
		return nil, err
	}
	kr.SetClock(db.Now)
	kr.OnUnknownKey(db.keyMiss)
	use.kr = kr
	db.keys.mu.Lock()
	db.keys.uses = append(db.keys.uses, use)
	db.keys.mu.Unlock()
	db.startKeyReload()
	return kr, nil
}

// only is keys with the private half left only on the key u signs with, if it names one.
func (u keyringUse) only(keys []card.SigningKey) []card.SigningKey {
	if u.signer == nil {
		return keys
	}
	out := make([]card.SigningKey, len(keys))
	for i, k := range keys {
		if !k.Public.Equal(u.signer) {
			k.Private = nil
		}
		out[i] = k
	}
	return out
}

// reloadKeys reads the signing keys again into every keyring handed out.
func (db *DB) reloadKeys(ctx context.Context) {
	db.keys.mu.Lock()
	defer db.keys.mu.Unlock()
	if err := db.reloadKeysLocked(ctx); err != nil && ctx.Err() == nil {
		slog.Warn("reload signing keys", "err", err)
	}
}

func (db *DB) reloadKeysLocked(ctx context.Context) error {
	if len(db.keys.uses) == 0 {
		return nil
	}
	db.keys.loads.Add(1)
	keys, err := db.SigningKeys(ctx)
	if err != nil {
		return err
	}
	for _, u := range db.keys.uses {
		if err := u.kr.Replace(u.only(keys)); err != nil {
			return err
		}
	}
	return nil
}

// keyMiss is every keyring's OnUnknownKey: a token names a key id the keyring does not hold.
// A key rotated in by another process a moment ago is read at once; anything else costs at
// most one read of the keys a second (keyMissBurst at once), however many such tokens come.
func (db *DB) keyMiss(kid uint16) {
	db.keys.mu.Lock()
	defer db.keys.mu.Unlock()
	known := true
	for _, u := range db.keys.uses {
		// Key ids only grow: one below a key held was never stored (the token is forged).
		held := u.kr.PublicKeys()
		known = known && (u.kr.Has(kid) || (len(held) > 0 && kid < held[len(held)-1].ID))
	}
	if known { // forged, or a reload while this one waited for the lock brought it
		return
	}
	now := time.Now()
	db.keys.tokens = min(keyMissBurst, db.keys.tokens+float64(now.Sub(db.keys.refill))/float64(keyMissEvery))
	db.keys.refill = now
	if db.keys.tokens < 1 {
		return
	}
	db.keys.tokens--
	if err := db.reloadKeysLocked(context.Background()); err != nil {
		slog.Warn("reload signing keys for an unknown key id", "kid", kid, "err", err)
	}
}

// startKeyReload starts reading the keys again every WithKeyReload interval (keyReloadEvery
// by default), once, until Close.
func (db *DB) startKeyReload() {
	db.keys.mu.Lock()
	defer db.keys.mu.Unlock()
	if db.keys.stop != nil || db.readOnly || db.keys.every < 0 {
		return
	}
	every := db.keys.every
	if every == 0 {
		every = keyReloadEvery
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.keys.stop = cancel
	db.keys.refill, db.keys.tokens = time.Now(), keyMissBurst
	db.keys.running.Add(1)
	go func() {
		defer db.keys.running.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				db.reloadKeys(ctx)
			}
		}
	}()
}

// stopKeyReload stops the periodic reload (Close).
func (db *DB) stopKeyReload() {
	db.keys.mu.Lock()
	stop := db.keys.stop
	db.keys.mu.Unlock()
	if stop != nil {
		stop()
		db.keys.running.Wait()
	}
}

// WithKeyReload sets how often a running process reads the token signing keys again, to learn
// of a rotation no change notification told it of (default a minute; see KeyGrace; below zero
// never).
func WithKeyReload(every time.Duration) Option { return func(o *options) { o.keyReload = every } }

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
