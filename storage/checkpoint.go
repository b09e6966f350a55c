package storage

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
)

// CheckpointKey is a public key that verifies checkpoints.
type CheckpointKey struct {
	KID       string
	Public    ed25519.PublicKey
	CreatedAt time.Time
}

// checkpointSigner returns the newest checkpoint key with its id, creating the first one if
// there is none. The key is the service's own, apart from the card token keys.
func checkpointSigner(tx *Tx) (string, ed25519.PrivateKey, error) {
	var kid int
	var priv []byte
	err := tx.queryRow(`SELECT kid, private_key FROM checkpoint_keys ORDER BY kid DESC LIMIT 1`).Scan(&kid, &priv)
	if err == nil {
		return merchant.CheckpointKID(kid), ed25519.PrivateKey(priv), nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return "", nil, err
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", nil, err
	}
	if _, err := tx.exec(`INSERT INTO checkpoint_keys (kid, private_key, public_key, created_at) VALUES (1, ?, ?, ?)`,
		[]byte(key), []byte(pub), ms(tx.Now)); err != nil {
		return "", nil, err
	}
	return merchant.CheckpointKID(1), key, nil
}

// signCheckpoint signs and stores a checkpoint of town's chain as it stands in this write.
func signCheckpoint(tx *Tx, town, reason string) (merchant.Checkpoint, error) {
	kid, key, err := checkpointSigner(tx)
	if err != nil {
		return merchant.Checkpoint{}, err
	}
	c := merchant.Checkpoint{Version: 2, Town: town, KID: kid, Reason: reason, SignedAt: tx.Now.Truncate(time.Second)}
	if c.Entries, c.Head, err = ledgerHead(tx, town); err != nil {
		return c, err
	}
	c.Signature = ed25519.Sign(key, c.Message())
	n, _ := kidNumber(kid)
	_, err = tx.exec(`INSERT INTO ledger_checkpoints (town, version, entries, head, signed_at, kid, signature, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		town, c.Version, c.Entries, c.Head[:], ms(c.SignedAt), n, c.Signature, c.Reason)
	return c, err
}

// CheckpointIfDue signs a checkpoint of each town's chain with reason, in one write, when the
// town has none yet, when its newest is at least atLeast old, or when its chain grew since it
// and it is at least ifMoved old. It returns the last checkpoint signed and true if it signed
// any.
func (db *DB) CheckpointIfDue(ctx context.Context, reason string, ifMoved, atLeast time.Duration) (merchant.Checkpoint, bool, error) {
	var c merchant.Checkpoint
	var signed bool
	err := db.update(ctx, func(tx *Tx) error {
		signed = false
		for _, town := range tx.db.TownCodes() {
			// The head row first: instances checking at the same moment take turns, and the
			// later one sees the checkpoint the earlier one signed instead of signing another.
			n, head, err := lockHead(tx, town)
			if err != nil {
				return err
			}
			last, ok, err := newestCheckpoint(tx, town)
			if err != nil {
				return err
			}
			age := tx.Now.Sub(last.SignedAt)
			moved := n != last.Entries || head != last.Head
			if ok && age < atLeast && !(moved && age >= ifMoved) {
				continue
			}
			if c, err = signCheckpoint(tx, town, reason); err != nil {
				return err
			}
			signed = true
		}
		return nil
	})
	return c, signed && err == nil, err
}

const checkpointColumns = `c.seq, c.town, c.version, c.entries, c.head, c.signed_at, c.kid, c.signature, c.reason`

func scanCheckpoint(s scanner) (merchant.Checkpoint, int64, error) {
	var c merchant.Checkpoint
	var seq, signed int64
	var kid int
	var head []byte
	err := s.Scan(&seq, &c.Town, &c.Version, &c.Entries, &head, &signed, &kid, &c.Signature, &c.Reason)
	copy(c.Head[:], head)
	c.SignedAt, c.KID = fromMS(signed), merchant.CheckpointKID(kid)
	return c, seq, err
}

func newestCheckpoint(q querier, town string) (merchant.Checkpoint, bool, error) {
	c, _, err := scanCheckpoint(q.queryRow(`SELECT `+checkpointColumns+` FROM ledger_checkpoints c WHERE c.town = ? ORDER BY c.seq DESC LIMIT 1`, town))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// Checkpoints lists the signed checkpoints of town ("" for every town), newest first.
func (db *DB) Checkpoints(ctx context.Context, town string, page Page) ([]merchant.Checkpoint, string, error) {
	return list(db.reader(ctx), `SELECT `+checkpointColumns+` FROM ledger_checkpoints c WHERE (? = '' OR c.town = ?) AND c.seq < ? ORDER BY c.seq DESC LIMIT ?`,
		[]any{town, town}, page, true, func(r *sql.Rows) (merchant.Checkpoint, int64, error) { return scanCheckpoint(r) })
}

// allCheckpoints are every stored checkpoint of town's chain, oldest first.
func allCheckpoints(q querier, town string) ([]merchant.Checkpoint, error) {
	rows, err := q.query(`SELECT `+checkpointColumns+` FROM ledger_checkpoints c WHERE c.town = ? ORDER BY c.seq`, town)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []merchant.Checkpoint
	for rows.Next() {
		c, _, err := scanCheckpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CheckpointKeys are the public keys that verify checkpoints, oldest first.
func (db *DB) CheckpointKeys(ctx context.Context) ([]CheckpointKey, error) {
	rows, err := db.reader(ctx).query(`SELECT kid, public_key, created_at FROM checkpoint_keys ORDER BY kid`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []CheckpointKey
	for rows.Next() {
		var kid int
		var pub []byte
		var created int64
		if err := rows.Scan(&kid, &pub, &created); err != nil {
			return nil, err
		}
		out = append(out, CheckpointKey{merchant.CheckpointKID(kid), ed25519.PublicKey(pub), fromMS(created)})
	}
	return out, rows.Err()
}

func checkpointPublicKeys(q querier) (map[string]ed25519.PublicKey, error) {
	rows, err := q.query(`SELECT kid, public_key FROM checkpoint_keys`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]ed25519.PublicKey{}
	for rows.Next() {
		var kid int
		var pub []byte
		if err := rows.Scan(&kid, &pub); err != nil {
			return nil, err
		}
		out[merchant.CheckpointKID(kid)] = pub
	}
	return out, rows.Err()
}

// kidNumber is the number in a checkpoint key id "ledger-n".
func kidNumber(kid string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(kid, "ledger-"))
	if err != nil || !strings.HasPrefix(kid, "ledger-") {
		return 0, fmt.Errorf("checkpoint key id %q", kid)
	}
	return n, nil
}
