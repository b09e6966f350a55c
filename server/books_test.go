package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkpointMessage builds the signed message of a checkpoint as docs/reports.md tells an
// outsider to, from the served fields alone.
func checkpointMessage(cp checkpointJSON) []byte {
	var b []byte
	fields := []string{"citycard-checkpoint-1"}
	if cp.Version == 2 {
		fields = []string{"citycard-checkpoint-2", cp.Town}
	}
	for _, f := range append(fields, strconv.FormatInt(cp.Entries, 10), cp.Head, cp.SignedAt, cp.KID, cp.Reason) {
		b = append(b, strconv.Itoa(len(f))+":"+f+","...)
	}
	return b
}

// The close answers a checkpoint an outsider can check with the public key alone, and the
// public list has it.
func TestCloseCheckpointVerifiesWithThePublicKey(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	var closed closeJSON
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-10/close", e.admin, "", &closed)
	cp := closed.Checkpoint
	if cp == nil || cp.Reason != "close 2026-10" || cp.Entries < 2 {
		t.Fatalf("close's checkpoint = %+v", cp)
	}
	var keys struct {
		CheckpointKeys []checkpointKeyJSON `json:"checkpoint_keys"`
	}
	e.ok(200, "GET", "/api/v1/public/keys", "", "", &keys)
	var pub ed25519.PublicKey
	for _, k := range keys.CheckpointKeys {
		if k.KID == cp.KID {
			pub, _ = base64.RawURLEncoding.DecodeString(k.PublicKey)
		}
	}
	sig, _ := base64.RawURLEncoding.DecodeString(cp.Signature)
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, checkpointMessage(*cp), sig) {
		t.Fatalf("the checkpoint does not verify with the published key %s", cp.KID)
	}
	var list listBody[checkpointJSON]
	e.ok(200, "GET", "/api/v1/public/ledger/checkpoints?limit=1", "", "", &list)
	if len(list.Items) != 1 || list.Items[0] != *cp || list.NextCursor == nil {
		t.Fatalf("newest checkpoint = %+v (next %v), want the close's %+v", list.Items, list.NextCursor, *cp)
	}
	// The ledger's head at the checkpoint is the verified head.
	var v ledgerCheckJSON
	e.ok(200, "GET", "/api/v1/ledger/verify", e.admin, "", &v)
	if !v.OK || *v.Entries != cp.Entries || *v.Head != cp.Head {
		t.Fatalf("verify = %+v, checkpoint %+v", v, cp)
	}
}

// Rollups raised in the file: statements are not served, the close refuses, verify names
// the row; every answer is as documented.
func TestRaisedRollupStopsStatementsAndClose(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	k := newKoperMonth(t)
	e := k.reportEnv
	raw, err := storagetest.SQLOpen(t, e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	// The shop is "owed" 5000 € more in October, with no redemption behind it.
	if _, err := raw.Exec(`UPDATE rollup_months SET share_cents = share_cents + 500000 WHERE month = '2026-10' AND merchant_id = ?`, k.shoe.id); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct{ path, template, key string }{
		{"/api/v1/reports/statements?month=2026-10", "/api/v1/reports/statements", e.admin},
		{"/api/v1/reports/statements?month=2026-10&format=pdf", "/api/v1/reports/statements", e.admin},
		{"/api/v1/reports/statements?month=2026-10&merchant=" + k.shoe.id + "&format=csv", "/api/v1/reports/statements", e.admin},
		{"/api/v1/pos/statements?month=2026-10", "/api/v1/pos/statements", k.shoe.key},
		{"/api/v1/reports/monthly/2026-10/close", "/api/v1/reports/monthly/{month}/close", e.admin},
	} {
		method := "GET"
		if strings.HasSuffix(r.path, "/close") {
			method = "POST"
		}
		resp, b := e.do(method, r.path, r.key, "")
		if resp.StatusCode != 409 || errorCodeOf(b) != "ledger_mismatch" {
			t.Fatalf("%s %s: %d %s, want 409 ledger_mismatch", method, r.path, resp.StatusCode, b)
		}
		openAPICheckResponse(t, doc, method, r.template, resp, b)
	}
	// The café's statement still adds up and is served.
	e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&merchant="+k.cafe.id, e.admin, "", nil)
	resp, b := e.do("GET", "/api/v1/ledger/verify", e.admin, "")
	openAPICheckResponse(t, doc, "GET", "/api/v1/ledger/verify", resp, b)
	var v ledgerCheckJSON
	json.Unmarshal(b, &v)
	if v.OK || v.Rollup == nil || v.Rollup.Table != "rollup_months" || !strings.Contains(*v.FirstBad, k.shoe.id) {
		t.Fatalf("verify = %s", b)
	}
}

// Deleting a month's close row does not reopen it: its report and a close are refused.
func TestDeletedCloseRowIsRefused(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	raw, err := storagetest.SQLOpen(t, e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`DELETE FROM month_closes WHERE month = '2026-09'`); err != nil {
		t.Fatal(err)
	}
	e.wantError(409, "ledger_mismatch", "GET", "/api/v1/reports/monthly?month=2026-09", e.admin, "")
	e.wantError(409, "ledger_mismatch", "GET", "/api/v1/reports/statements?month=2026-09", e.admin, "")
	e.wantError(409, "ledger_mismatch", "POST", "/api/v1/reports/monthly/2026-09/close", e.admin, "")
	var v ledgerCheckJSON
	e.ok(200, "GET", "/api/v1/ledger/verify", e.admin, "", &v)
	if v.OK || !strings.Contains(*v.Problem, "2026-09") {
		t.Fatalf("verify = %+v", v)
	}
}

// citycard ledger verify: ok on good books, and with the checkpoint the municipality kept at
// a close it notices the newest entries deleted with everything they touched. It opens the
// file read-only.
func TestLedgerVerifyCommand(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	var closed closeJSON
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-10/close", e.admin, "", &closed)
	cpFile := filepath.Join(t.TempDir(), "close-2026-10.json")
	b, _ := json.Marshal(closed.Checkpoint)
	if err := os.WriteFile(cpFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"ledger", "verify", "--db", e.cfg.DB}, args...),
			func(string) string { return "" }, &out, &errOut)
		return out.String(), err
	}
	if out, err := verify("--checkpoint", cpFile); err != nil || !strings.HasPrefix(out, "ok: "+strconv.FormatInt(closed.Checkpoint.Entries, 10)+" entries") {
		t.Fatalf("verify good books: %q %v", out, err)
	}
	e.db.Close()
	// The attacker cuts the ledger back before the close and the last redemptions, removes the
	// checkpoints, the close and its evidence, and has the rollups rebuilt by the service.
	raw, err := storagetest.SQLOpen(t, e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`DELETE FROM idempotency_keys WHERE redemption_id IN (SELECT redemption_id FROM ledger WHERE seq > 6)`,
		`DELETE FROM redemptions WHERE id IN (SELECT redemption_id FROM ledger WHERE seq > 6 AND kind = 'redemption')`,
		`DELETE FROM ledger WHERE seq > 6`,
		`UPDATE ledger_heads SET seq = 6, hash = (SELECT hash FROM ledger WHERE ledger.town = ledger_heads.town AND ledger.seq = 6)`,
		`DELETE FROM ledger_checkpoints`, `DELETE FROM month_closes WHERE month = '2026-10'`,
		`UPDATE towns SET rollup_zone = ''`,
	} {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	raw.Close()
	db, _, _, _, err := openStore(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out, err := verify(); err != nil {
		t.Fatalf("the cut books verify alone: %q %v; the test's cut is not consistent", out, err)
	}
	out, err := verify("--checkpoint", cpFile)
	if err == nil || !strings.Contains(err.Error(), "first bad 7") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("verify against the kept checkpoint: %q %v, want one line naming entry 7", out, err)
	}
	// A checkpoint file that is not one.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte(`{"entries":1}`), 0o600)
	if _, err := verify("--checkpoint", bad); err == nil || !strings.Contains(err.Error(), "not a checkpoint") {
		t.Fatalf("verify with a bad file: %v", err)
	}
}

// Read-only commands leave the file as it was; keys rotate refuses a path with no database.
func TestCommandsDoNotWriteOrCreate(t *testing.T) {
	storagetest.SkipOnPostgres(t, "compares the database file's bytes and times")
	k := newKoperMonth(t)
	e := k.reportEnv
	e.db.Close()
	before, err := os.ReadFile(e.cfg.DB)
	if err != nil {
		t.Fatal(err)
	}
	old := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	os.Chtimes(e.cfg.DB, old, old)
	os.Chmod(e.cfg.DB, 0o444)
	// Another zone than the service's: no rebuild of the rollups either.
	env := func(key string) string {
		return map[string]string{"CITYCARD_DB": e.cfg.DB, "CITYCARD_TZ": "Asia/Tokyo"}[key]
	}
	for _, args := range [][]string{
		{"report", "--month", "2026-10", "--format", "pdf"},
		{"report", "--month", "2026-09"},
		{"ledger", "verify"},
	} {
		if err := run(context.Background(), args, env, io.Discard, io.Discard); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
	}
	after, _ := os.ReadFile(e.cfg.DB)
	fi, _ := os.Stat(e.cfg.DB)
	if !bytes.Equal(before, after) || !fi.ModTime().Equal(old) {
		t.Fatalf("a read-only command changed the file (same bytes %v, mtime %v)", bytes.Equal(before, after), fi.ModTime())
	}
	missing := filepath.Join(t.TempDir(), "typo.db")
	var errOut bytes.Buffer
	err = run(context.Background(), []string{"keys", "rotate", "--db", missing}, func(string) string { return "" }, io.Discard, &errOut)
	if err == nil || !strings.Contains(err.Error(), missing) {
		t.Fatalf("keys rotate on a missing file: %v", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("keys rotate created %s", missing)
	}
}

// The periodic checkpoint: signed when the ledger grew and the newest is an hour old, at
// least daily, not otherwise.
func TestPeriodicCheckpoint(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	s := newTestServer(t, onDBOf(e.ts), withConfig(func(c *Config) { *c = e.cfg }), logTo(io.Discard)).s
	count := func() int {
		var l listBody[checkpointJSON]
		e.ok(200, "GET", "/api/v1/public/ledger/checkpoints", "", "", &l)
		return len(l.Items)
	}
	n := count() // the close of September
	ctx := context.Background()
	e.at(local(2026, 11, 2, 8, 30)) // the ledger grew since September's close
	s.checkpointTick(ctx)
	if count() != n+1 {
		t.Fatalf("no checkpoint after the ledger grew")
	}
	e.at(local(2026, 11, 2, 10, 0)) // nothing new
	s.checkpointTick(ctx)
	if count() != n+1 {
		t.Fatalf("a checkpoint with nothing new within a day")
	}
	cards := e.cards(2)
	e.redeem(local(2026, 11, 2, 10, 10), k.cafe, cards[0], "5.00")
	e.at(local(2026, 11, 2, 10, 20)) // grew, the newest is older than an hour
	s.checkpointTick(ctx)
	if count() != n+2 {
		t.Fatalf("no checkpoint after the ledger grew again")
	}
	e.redeem(local(2026, 11, 2, 10, 25), k.cafe, cards[1], "5.00")
	e.at(local(2026, 11, 2, 10, 40)) // grew, but the newest is only 20 minutes old
	s.checkpointTick(ctx)
	if count() != n+2 {
		t.Fatalf("a checkpoint within the hour")
	}
	e.at(local(2026, 11, 2, 11, 21))
	s.checkpointTick(ctx)
	e.at(local(2026, 11, 3, 11, 30)) // a day without anything
	s.checkpointTick(ctx)
	var l listBody[checkpointJSON]
	e.ok(200, "GET", "/api/v1/public/ledger/checkpoints", "", "", &l)
	if len(l.Items) != n+4 || l.Items[0].Reason != "daily" || l.Items[0].Entries != l.Items[1].Entries {
		t.Fatalf("checkpoints = %+v", l.Items)
	}
}
