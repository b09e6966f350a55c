package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/storagetest"
)

const erasedName = "Marjetka Zupančič-Privacy"

// TestPersonalDataAccessAndErase: the office downloads a holder's data (the card, its uses
// with the merchant's name, the audit events naming it), erases it with a reason, and then:
// the card is served with holder null and keeps working at the till; a second erasure is 409
// already_erased; no reason is 400; and the name is in no log line, no database file (SQLite:
// the file, its WAL, a backup made with `citycard backup` afterwards) and no table
// (PostgreSQL).
func TestPersonalDataAccessAndErase(t *testing.T) {
	var logs lockedBuffer
	ts := newTestServer(t, logTo(&logs))
	ts.mustProduct("koper-year", -365, "resident")
	m, key := ts.mustMerchant("Kavarna Loggia", "restaurant")
	o := ts.mustOffer(m.ID, "Kava", `"kind":"percent","value":"10","limit":"unlimited"`)
	cd := ts.mustCard("koper-year", erasedName, "sl")
	r := ts.mustRedeem(key, cd.Token, o.ID, "12.00", "idem-1")

	resp := ts.must(200, "GET", "/api/v1/cards/"+cd.ID+"/personal-data", "", asAdmin, nil)
	if got := resp.header.Get("Content-Disposition"); !strings.Contains(got, "attachment") {
		t.Errorf("Content-Disposition %q", got)
	}
	var pd personalDataJSON
	if err := json.Unmarshal(resp.body, &pd); err != nil {
		t.Fatal(err)
	}
	if pd.Card.Holder == nil || *pd.Card.Holder != erasedName || len(pd.Redemptions) != 1 || pd.Redemptions[0].ID != r.ID ||
		pd.Redemptions[0].Merchant != "Kavarna Loggia" || pd.Redemptions[0].Amount != "12.00" || pd.Wallet == nil {
		t.Errorf("personal data: %s", resp.body)
	}
	actions := map[string]bool{}
	for _, e := range pd.Audit {
		actions[e.Action] = true
	}
	if !actions["card.create"] || !actions["redemption.create"] {
		t.Errorf("audit events naming the card: %+v", pd.Audit)
	}

	wantError(t, ts.do("POST", "/api/v1/cards/"+cd.ID+"/erase", `{}`, asAdmin), 400, "invalid_request")
	wantError(t, ts.do("POST", "/api/v1/cards/"+cd.ID+"/erase", `{"reason":"  "}`, asAdmin), 400, "invalid_request")
	wantError(t, ts.do("POST", "/api/v1/cards/crd_nosuchcard/erase", `{"reason":"asked"}`, asAdmin), 404, "card_not_found")
	var erased cardJSON
	ts.must(200, "POST", "/api/v1/cards/"+cd.ID+"/erase", `{"reason":"the holder asked on 15 October"}`, asAdmin, &erased)
	if erased.Holder != nil || erased.ErasedAt == nil || erased.Number != cd.Number {
		t.Errorf("erased card: %+v", erased)
	}
	wantError(t, ts.do("POST", "/api/v1/cards/"+cd.ID+"/erase", `{"reason":"again"}`, asAdmin), 409, "already_erased")
	var again cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+cd.ID, "", asAdmin, &again)
	if again.Holder != nil {
		t.Errorf("GET after the erasure: holder %v", *again.Holder)
	}
	// The card keeps working; the ledger verifies.
	ts.mustRedeem(key, cd.Token, o.ID, "8.00", "idem-2")
	if chk, err := ts.db.VerifyLedger(context.Background(), "koper"); err != nil || !chk.OK {
		t.Errorf("ledger: %+v, %v", chk, err)
	}
	// The access answer after the erasure holds no name; the erasure's audit entry neither.
	resp = ts.must(200, "GET", "/api/v1/cards/"+cd.ID+"/personal-data", "", asAdmin, nil)
	if bytes.Contains(resp.body, []byte(erasedName)) || !bytes.Contains(resp.body, []byte(`"card.erase"`)) {
		t.Errorf("personal data after the erasure: %s", resp.body)
	}
	if strings.Contains(logs.String(), erasedName) {
		t.Errorf("the log holds the erased name")
	}
	serverNameGone(t, ts, erasedName)
}

// serverNameGone: on PostgreSQL no table's rows hold name; on SQLite neither the database
// file, nor its WAL, nor a backup made now with `citycard backup`.
func serverNameGone(t *testing.T, ts *testServer, name string) {
	t.Helper()
	if storagetest.OnPostgres() {
		pg, err := sql.Open("pgx", ts.db.Path())
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		rows, err := pg.Query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`)
		if err != nil {
			t.Fatal(err)
		}
		var tables []string
		for rows.Next() {
			var s string
			rows.Scan(&s)
			tables = append(tables, s)
		}
		rows.Close()
		if len(tables) < 20 {
			t.Fatalf("%d tables read", len(tables))
		}
		for _, tb := range tables {
			var n int
			if err := pg.QueryRow(`SELECT count(*) FROM `+tb+` x WHERE x::text LIKE $1`, "%"+name+"%").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("table %s: %d rows hold %q", tb, n, name)
			}
		}
		return
	}
	path := ts.db.Path()
	dst := filepath.Join(t.TempDir(), "after.db")
	env := map[string]string{"CITYCARD_DB": path}
	if err := run(context.Background(), []string{"backup", "--to", dst}, func(k string) string { return env[k] }, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal", dst} {
		b, err := os.ReadFile(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(name)) {
			t.Errorf("%s holds %q", filepath.Base(p), name)
		}
	}
}

// TestRetentionCommand: `citycard retention --dry-run` lists a long-expired card and changes
// nothing; `citycard retention` erases it (and not a card still valid), and says so.
func TestRetentionCommand(t *testing.T) {
	storagetest.SkipOnPostgres(t, "the command is driven on a database file here; the storage tests run retention on both engines")
	ts := newTestServer(t)
	ts.mustProduct("koper-24h", 24, "tourist")
	ts.mustProduct("koper-forever", -3660, "resident")
	m, key := ts.mustMerchant("Muzej", "museum")
	o := ts.mustOffer(m.ID, "Vstop", `"kind":"percent","value":"10","limit":"unlimited"`)
	old := ts.mustCard("koper-24h", erasedName, "")
	ts.mustRedeem(key, old.Token, o.ID, "5.00", "r1")
	keep := ts.mustCard("koper-forever", "Kept Holder", "")
	ts.mustRedeem(key, keep.Token, o.ID, "5.00", "r2")
	// The command reads the real clock: the 24-hour card expired on 16 October 2026, more
	// than 30 days before any day this test runs (testNow is 15 October 2026).
	if time.Since(testNow) < 32*24*time.Hour {
		t.Skip("the real clock is within 32 days of testNow")
	}
	env := map[string]string{"CITYCARD_DB": ts.db.Path()}
	getenv := func(k string) string { return env[k] }
	var out bytes.Buffer
	if err := run(context.Background(), []string{"retention", "--dry-run"}, getenv, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), old.ID) || strings.Contains(out.String(), keep.ID) || !strings.Contains(out.String(), "1 cards") {
		t.Errorf("dry run: %s", out.String())
	}
	if c, _ := ts.db.Card(context.Background(), "koper", old.ID); c.Holder != erasedName {
		t.Fatalf("the dry run changed the card: %+v", c)
	}
	out.Reset()
	var logs bytes.Buffer
	if err := run(context.Background(), []string{"retention"}, getenv, &out, &logs); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "erased the holder data of 1 cards") || !strings.Contains(logs.String(), "retention: done") {
		t.Errorf("retention: %s / %s", out.String(), logs.String())
	}
	for id, want := range map[string]string{old.ID: "", keep.ID: "Kept Holder"} {
		if c, err := ts.db.Card(context.Background(), "koper", id); err != nil || c.Holder != want {
			t.Errorf("card %s after retention: holder %q, want %q (%v)", id, c.Holder, want, err)
		}
	}
	serverNameGone(t, ts, erasedName)
}

// TestRetentionMetrics: a run feeds /metrics with what it erased.
func TestRetentionMetrics(t *testing.T) {
	ts := newTestServer(t)
	ts.withMetricsToken(testMetricsToken)
	ts.mustProduct("koper-24h", 24, "tourist")
	ts.mustCard("koper-24h", erasedName, "")
	ts.clock.Add(24 * time.Hour * 400) // never activated: its deadline (365 days) passed over 30 days ago
	var logs bytes.Buffer
	res, ran, err := runRetention(context.Background(), ts.db, ts.s.cfg.retentionOptions(), "test", slog.New(slog.NewTextHandler(&logs, nil)), ts.s.metrics)
	if err != nil || !ran {
		t.Fatalf("ran %v: %v", ran, err)
	}
	if res.Cards != 1 {
		t.Errorf("erased %d cards, want 1: %s", res.Cards, logs.String())
	}
	body := string(ts.must(200, "GET", "/metrics", "", asKey(testMetricsToken), nil).body)
	// The API calls above were audited with the client's address, now older than 90 days.
	for _, want := range []string{`citycard_personal_data_erased_total{by="retention"} 1`, "citycard_audit_addresses_shortened_total 2", "citycard_retention_batch_duration_seconds_count ", "citycard_retention_last_run_timestamp_seconds "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// TestAuditClientAddress: an audited write records its client's address, the one a trusted
// proxy names in X-Forwarded-For, not the proxy's; a request without a proxy its peer's.
func TestAuditClientAddress(t *testing.T) {
	ts := newTestServer(t, withConfig(func(c *Config) {
		p, err := parseTrustedProxies("0.0.0.0")
		if err != nil {
			t.Fatal(err)
		}
		c.TrustedProxies = p
	}))
	ts.mustProduct("koper-24h", 24, "tourist")
	ts.must(201, "POST", "/api/v1/cards", `{"product":"koper-24h"}`, asAdmin.with("X-Forwarded-For", "198.51.100.7"), nil)
	l, _, err := ts.db.Audit(context.Background(), storage.AuditFilter{Action: "card.create"}, storage.Page{Limit: 1})
	if err != nil || len(l) != 1 || l[0].ClientAddr != "198.51.100.7" {
		t.Fatalf("audit entry %+v, %v: want the client address 198.51.100.7", l, err)
	}
}
