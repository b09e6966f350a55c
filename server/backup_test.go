package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// "citycard backup" copies the database while redemptions are being written: the copy passes
// integrity_check, holds whole transactions only, and serves as the database of a service.
func TestBackupWhileServing(t *testing.T) {
	storagetest.SkipOnPostgres(t, "citycard backup copies the SQLite file; PostgreSQL is backed up with pg_dump")
	e := newSecEnv(t, 0)
	ctx := context.Background()
	ref, err := e.s.keys.ParseInput(e.card.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	// Tills redeem without pause while the backup runs.
	var done atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Value
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req := merchant.RedeemRequest{MerchantID: e.merchA.ID, CardInput: e.card.Token, OfferID: e.offerA.ID,
					Amount: 1000, IdempotencyKey: "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)}
				if _, _, err := e.db.Redeem(storage.WithActor(ctx, e.merchA.ID, ""), req, ref); err != nil {
					failed.Store(err)
					return
				}
				done.Add(1)
			}
		}(w)
	}
	for done.Load() < 50 && failed.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	dst := filepath.Join(t.TempDir(), "backup.db")
	env := map[string]string{"CITYCARD_DB": e.dbPath}
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	before := done.Load()
	err = run(ctx, []string{"backup", "--to", dst}, getenv, &out, &errOut)
	after := done.Load()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, errOut.String())
	}
	if err, _ := failed.Load().(error); err != nil {
		t.Fatalf("a redemption during the backup failed: %v", err)
	}
	if !strings.Contains(out.String(), "written to "+dst) {
		t.Fatalf("backup said %q", out.String())
	}
	if err := storage.IntegrityCheck(ctx, dst); err != nil {
		t.Fatalf("the copy %v", err)
	}

	// Whole transactions only: each redemption was written with its idempotency key and its
	// audit entry in one transaction, so a consistent copy has as many of each.
	copyDB, err := sql.Open("sqlite3", "file:"+dst+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	var reds, keys, audits int
	copyDB.QueryRow(`SELECT count(*) FROM redemptions`).Scan(&reds)
	copyDB.QueryRow(`SELECT count(*) FROM idempotency_keys`).Scan(&keys)
	copyDB.QueryRow(`SELECT count(*) FROM audit WHERE action = 'redemption.create'`).Scan(&audits)
	copyDB.Close()
	if reds != keys || reds != audits {
		t.Fatalf("the copy has %d redemptions, %d idempotency keys and %d audit entries: a torn copy", reds, keys, audits)
	}
	// Each of the 4 tills may have one redemption committed but not yet counted as
	// acknowledged when the backup ended (its answer was on its way).
	if int64(reds) < before || int64(reds) > after+4 {
		t.Fatalf("the copy has %d redemptions; %d were acknowledged before the backup began, %d when it ended", reds, before, after)
	}
	t.Logf("backup taken under load: %d redemptions in the copy (%d acknowledged when it began, %d when it ended)", reds, before, after)

	// A second backup to the same file is refused and leaves the first alone.
	sum := fileBytes(t, dst)
	if err := run(ctx, []string{"backup", "--to", dst}, getenv, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("backup over an existing file: %v, want refused", err)
	}
	if !bytes.Equal(sum, fileBytes(t, dst)) {
		t.Fatal("a refused backup changed the existing file")
	}
	if err := run(ctx, []string{"backup"}, getenv, io.Discard, io.Discard); err == nil {
		t.Fatal("backup without --to succeeded")
	}

	// The copy, started as the database, serves: the same admin token, merchant key, card
	// and redemptions, and new redemptions.
	cfg := e.s.cfg
	cfg.DB, cfg.AdminToken = dst, e.admin
	ts := newTestServer(t, asServed(), withConfig(func(c *Config) { *c = cfg }), withClock(e.clock), logTo(io.Discard)) // the test's clock
	restored := &secEnv{t: t, db: ts.db, s: ts.s, app: ts.app}
	resp, body := restored.do(secReq{method: "GET", path: "/api/v1/cards/" + e.card.ID, secret: e.admin})
	var c cardJSON
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 200 || c.Redemptions == nil || len(*c.Redemptions) != reds {
		t.Fatalf("the card from the copy: %d, %d redemptions, want %d", resp.StatusCode, len(*c.Redemptions), reds)
	}
	resp, body = restored.do(secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyA,
		body: secRedeemBody(e.card.Token, e.offerA.ID, "12.00"), header: map[string]string{"Idempotency-Key": "after-restore"}})
	if resp.StatusCode != 201 {
		t.Fatalf("a redemption on the restored database: %d %s", resp.StatusCode, body)
	}

	// A backup of a stopped service's database works too.
	e.db.Close()
	if err := run(ctx, []string{"backup", "--to", filepath.Join(t.TempDir(), "cold.db")}, getenv, io.Discard, io.Discard); err != nil {
		t.Fatalf("backup of a stopped service's database: %v", err)
	}
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
