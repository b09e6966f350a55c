package storage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The service refuses to start on a file that is not a database, with a message that names it.
func TestOpenRefusesAFileThatIsNotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "citycard.db")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database, a spreadsheet perhaps\n", 200)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(context.Background(), path, testLoc)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "not a citycard database") {
		t.Fatalf("Open of a text file: %v, want an error naming the file as not a database", err)
	}
}

// A database whose pages were damaged (a disk error, a bad copy) is refused at start with a
// message naming the file, before anything is written to it: damage to the schema when it is
// first read, damage to a table or index by quick_check.
func TestOpenRefusesADamagedDatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		pages func(n int) []int // which pages (0-based) to damage
		want  string
	}{
		{"every page but the first", func(n int) []int {
			var p []int
			for i := 1; i < n; i++ {
				p = append(p, i)
			}
			return p
		}, "damaged"},
		// The last pages: the schema's come first and grow with every migration (two thirds in
		// was a table's page until the fifth stage's migrations made it the schema's).
		{"pages past the schema", func(n int) []int { return []int{n - 2, n - 1} }, "quick_check"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "citycard.db")
			db, err := Open(context.Background(), path, testLoc)
			if err != nil {
				t.Fatal(err)
			}
			mustFixture(t, db)
			db.Close() // checkpoints: everything is in the main file
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			pageSize := int(raw[16])<<8 | int(raw[17])
			n := len(raw) / pageSize
			if n < 8 {
				t.Fatalf("only %d pages", n)
			}
			for _, p := range tc.pages(n) {
				// A leaf table page type with nonsense cell counts and offsets.
				copy(raw[p*pageSize:], []byte{0x0d, 0xff, 0xf0, 0xff, 0xf0, 0xff, 0xf0, 0x00})
			}
			if err := os.WriteFile(path, raw, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err = Open(context.Background(), path, testLoc)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) ||
				!strings.Contains(err.Error(), "restore the latest backup") {
				t.Fatalf("Open of a damaged file: %v, want refused naming the file, %q and what to do", err, tc.want)
			}
			t.Logf("refused with: %v", err)
		})
	}
}

// A database on which WAL does not take effect (here an in-memory one) is refused.
func TestOpenRefusesWithoutWAL(t *testing.T) {
	_, err := Open(context.Background(), ":memory:", testLoc)
	if err == nil || !strings.Contains(err.Error(), "not wal") {
		t.Fatalf("Open of an in-memory database: %v, want refused for its journal mode", err)
	}
}
