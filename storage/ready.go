package storage

import (
	"context"
	"strconv"
)

// CheckWritable commits a tiny write through the writer (the time, in the setting
// "ready_probe"), so it fails when the database cannot take writes: a full disk, a file made
// read-only, a writer that is stuck or closed (ErrClosed). It is for readiness probes; it
// writes nothing to the ledger or the audit log. Its cost is one durable commit, shared with
// whatever the writer commits with it.
func (db *DB) CheckWritable(ctx context.Context) error {
	return db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`INSERT INTO settings (key, value) VALUES ('ready_probe', ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, strconv.FormatInt(ms(tx.Now), 10))
		return err
	})
}
