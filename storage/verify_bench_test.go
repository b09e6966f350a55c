package storage

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkVerifyLedger1M verifies a ledger of about a million entries (a million
// redemptions over a year at 200 merchants, one in 53 voided, 100 000 cards): the chain, the
// redemptions and every rollup. Building it (the service's own backfill books the ledger
// and its rollups) takes a few minutes, so it runs only when asked for by name:
//
//	go test ./storage -run '^$' -bench VerifyLedger1M -benchtime 3x -timeout 30m
//
// CITYCARD_BENCH_LEDGER sets another number of redemptions; CITYCARD_BENCH_LEDGER_DB keeps
// the data set in that file and reuses it on the next run.
func BenchmarkVerifyLedger1M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds a million ledger entries")
	}
	n := 1_000_000
	if v := os.Getenv("CITYCARD_BENCH_LEDGER"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("CITYCARD_BENCH_LEDGER=%q", v)
		}
	}
	ds := benchDataSet{n: n, merchants: 200, offers: 2, products: 3, cards: 100_000, noRollups: true,
		from: time.Date(2025, 1, 1, 0, 0, 0, 0, testLoc), to: time.Date(2026, 1, 1, 0, 0, 0, 0, testLoc)}
	path, reuse := os.Getenv("CITYCARD_BENCH_LEDGER_DB"), false
	if path == "" {
		path = filepath.Join(b.TempDir(), "ledger.db")
	} else if _, err := os.Stat(path); err == nil {
		reuse = true
	}
	ctx := context.Background()
	if !reuse {
		db, err := Open(ctx, path, testLoc) // the schema
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		start := time.Now()
		if err := ds.build(path); err != nil {
			b.Fatal(err)
		}
		// As a database from before the ledger: the next Open books it and its rollups.
		raw, err := sql.Open("sqlite3", "file:"+path)
		if err != nil {
			b.Fatal(err)
		}
		for _, s := range []string{`INSERT INTO settings (key, value) VALUES ('ledger_backfill', 'pending')`,
			`UPDATE towns SET rollup_zone = ''`} {
			if _, err := raw.Exec(s); err != nil {
				b.Fatal(err)
			}
		}
		raw.Close()
		db, err = Open(ctx, path, testLoc)
		if err != nil {
			b.Fatal(err)
		}
		db.Close()
		b.Logf("built %d redemptions and their ledger in %v", n, time.Since(start).Round(time.Second))
	}
	db, err := Open(ctx, path, testLoc)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	chk, err := db.VerifyLedger(ctx, "koper")
	if err != nil || !chk.OK {
		b.Fatalf("verify = %+v, %v", chk, err)
	}
	b.Logf("%d ledger entries", chk.Entries)
	b.ResetTimer()
	for b.Loop() {
		if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
			b.Fatalf("verify = %+v, %v", chk, err)
		}
	}
}
