package storage

import (
	"database/sql"
	"testing"

	"github.com/citycard/citycard/storage/sqlite"
	"github.com/citycard/citycard/storage/storagetest"
)

// sqliteConns are the SQLite engine's writer connection and read pool, for tests of what
// only SQLite has; they skip on PostgreSQL.
func sqliteConns(tb testing.TB, db *DB) (write, read *sql.DB) {
	tb.Helper()
	storagetest.SkipOnPostgres(tb, "the SQLite engine's own connections")
	return db.eng.(*sqlite.Engine).Conns()
}

// setWALLimit lowers the SQLite engine's log limit, for the tests of its checkpointer.
func (db *DB) setWALLimit(n int64) error {
	return db.eng.(*sqlite.Engine).SetWALLimit(n)
}
