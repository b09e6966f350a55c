package storage

import (
	"context"
	"errors"
	"testing"
)

// CheckWritable fails when the database cannot take writes (here: the writer's connection
// made read-only, as a full disk or a read-only file would) and when it is closed.
func TestCheckWritable(t *testing.T) {
	db, _ := MustOpenDB(t)
	ctx := context.Background()
	if err := db.CheckWritable(ctx); err != nil {
		t.Fatalf("a healthy database: %v", err)
	}
	if v, _ := db.Setting(ctx, "ready_probe"); v == "" {
		t.Fatal("the probe wrote nothing")
	}
	write, _ := sqliteConns(t, db)
	if _, err := write.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckWritable(ctx); err == nil {
		t.Fatal("a database that cannot take writes passed")
	}
	if _, err := write.Exec(`PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if err := db.CheckWritable(ctx); err != nil {
		t.Fatalf("writable again: %v", err)
	}
	db.Close()
	if err := db.CheckWritable(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("a closed database: %v, want ErrClosed", err)
	}
}
