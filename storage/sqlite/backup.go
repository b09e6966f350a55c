package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
)

// Backup writes a consistent copy of the database at src to the new file dst, while the
// service may be running and writing: VACUUM INTO on a read-only connection of its own reads
// one snapshot (WAL readers never block the writer, nor it them), and the copy holds every
// transaction committed before that snapshot and nothing of any after it. The copy is
// written next to dst, synced, checked with PRAGMA integrity_check and only then renamed to
// dst, so dst is either a good backup or absent. It is an error if dst exists.
func Backup(ctx context.Context, src, dst string) error {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("backup: %s exists; choose a new file", dst)
	}
	tmp := dst + ".partial"
	os.Remove(tmp)
	defer os.Remove(tmp) // a no-op once renamed

	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_busy_timeout", "10000")
	db, err := sql.Open("sqlite3", "file:"+escapePath(src)+"?"+q.Encode())
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := db.Close(); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := IntegrityCheck(ctx, tmp); err != nil {
		return fmt.Errorf("backup: the copy %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	return syncFile(filepath.Dir(dst))
}

// IntegrityCheck runs PRAGMA integrity_check on the database file at path, read-only.
func IntegrityCheck(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+escapePath(path)+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return fmt.Errorf("fails integrity_check: %w", err)
	}
	defer rows.Close()
	var msgs []error
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		if s != "ok" {
			msgs = append(msgs, errors.New(s))
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("fails integrity_check: %w", err)
	}
	if len(msgs) > 0 {
		return fmt.Errorf("fails integrity_check: %w", errors.Join(msgs...))
	}
	return nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
