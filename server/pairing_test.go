package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/storage/storagetest"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// mustPairingCode stores a fresh pairing code for a merchant, unaudited, and returns it.
func mustPairingCode(t testing.TB, db *storage.DB, merchantID string) string {
	t.Helper()
	code, err := merchant.NewPairingCode()
	if err != nil {
		t.Fatal(err)
	}
	sum, err := merchant.PairingCodeHash(code)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreatePairing(context.Background(), "koper", merchantID, sum, merchant.PairingTTL); err != nil {
		t.Fatal(err)
	}
	return code
}

type pairingAnswer struct {
	APIKey   string       `json:"api_key"`
	Merchant merchantJSON `json:"merchant"`
}

// TestPairing: the console makes a one-time code, a till exchanges it for a key of its own;
// codes expire, work once, and every till keeps working until the key is rotated.
func TestPairing(t *testing.T) {
	ts := newTestServer(t)
	m, key := ts.mustMerchant("Kavarna Loggia", "bar")
	other, _ := ts.mustMerchant("Muzej", "museum")

	var p pairingJSON
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/pairings", "", asAdmin, &p)
	if p.ExpiresAt != "2026-10-15T10:10:00Z" || p.URL != testPublicURL+"/pos#pair="+p.Code || !strings.HasPrefix(p.QR, "data:image/png;base64,") {
		t.Fatalf("pairing %+v", p)
	}
	png, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(p.QR, "data:image/png;base64,"))
	if err != nil || string(png[1:4]) != "PNG" {
		t.Fatalf("qr is not a PNG: %v", err)
	}
	if strings.Contains(string(png), "ccm_") || strings.Contains(p.URL, "ccm_") {
		t.Fatal("a key in the pairing QR")
	}
	// Only the code's hash is stored.
	raw, err := storagetest.SQLOpen(t, ts.db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	sum, _ := merchant.PairingCodeHash(p.Code)
	var hashed, plain int
	if err := raw.QueryRow(`SELECT count(*) FROM pairings WHERE code_hash = ?`, sum).Scan(&hashed); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM pairings WHERE code_hash = ? OR CAST(code_hash AS TEXT) = ?`, []byte(p.Code), p.Code).Scan(&plain); err != nil {
		t.Fatal(err)
	}
	if hashed != 1 || plain != 0 {
		t.Fatalf("pairings: %d rows by hash (want 1), %d by the code itself (want 0)", hashed, plain)
	}

	// Typed with spaces in lower case it is the same code; it works once.
	var a pairingAnswer
	ts.must(201, "POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, strings.ToLower(strings.ReplaceAll(p.Code, "-", " "))), nil, &a)
	if a.Merchant.ID != m.ID || !strings.HasPrefix(a.APIKey, "ccm_") || a.APIKey == key {
		t.Fatalf("pair answer %+v", a)
	}
	wantError(t, ts.do("POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, p.Code), nil), 401, "pairing_invalid")

	// A key per device: a second till gets another key, and every key works.
	b := ts.pair(m.ID)
	if b.APIKey == a.APIKey {
		t.Fatal("two tills got the same key")
	}
	for _, k := range []string{key, a.APIKey, b.APIKey} {
		var me struct {
			Merchant merchantJSON `json:"merchant"`
		}
		ts.must(200, "GET", "/api/v1/pos/me", "", asKey(k), &me)
		if me.Merchant.ID != m.ID {
			t.Fatalf("key signs in as %s", me.Merchant.ID)
		}
	}

	// Expiry: usable until 10 minutes after it was made, not at 10 minutes.
	late := mustPairingCode(t, ts.db, m.ID)
	ts.clock.Set(testNow.Add(merchant.PairingTTL - time.Second))
	ts.must(201, "POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, late), nil, nil)
	late = mustPairingCode(t, ts.db, m.ID)
	ts.clock.Set(testNow.Add(2 * merchant.PairingTTL))
	wantError(t, ts.do("POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, late), nil), 401, "pairing_invalid")

	// Rotation revokes every key: the one of sign-up and the paired tills'.
	var rot struct {
		APIKey string `json:"api_key"`
	}
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/key", "", asAdmin, &rot)
	for _, k := range []string{key, a.APIKey, b.APIKey} {
		wantError(t, ts.do("GET", "/api/v1/pos/me", "", asKey(k)), 401, "unauthorized")
	}
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(rot.APIKey), nil)
	c := ts.pair(m.ID) // pairing again after a rotation works
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(c.APIKey), nil)

	// Bad requests, an unknown or suspended merchant.
	wantError(t, ts.do("POST", "/api/v1/pos/pair", `{}`, nil), 400, "invalid_request")
	wantError(t, ts.do("POST", "/api/v1/pos/pair", `{"code":7}`, nil), 400, "invalid_request")
	wantError(t, ts.do("POST", "/api/v1/pos/pair", `{"code":"`+strings.Repeat("A", 5000)+`"}`, nil), 401, "pairing_invalid")
	wantError(t, ts.do("POST", "/api/v1/merchants/mer_nosuchmerchant/pairings", "", asAdmin), 404, "not_found")
	wantError(t, ts.do("POST", "/api/v1/merchants/"+m.ID+"/pairings", "", asKey(rot.APIKey)), 403, "forbidden")
	waiting := mustPairingCode(t, ts.db, other.ID)
	ts.must(200, "PATCH", "/api/v1/merchants/"+other.ID, `{"status":"suspended"}`, asAdmin, nil)
	wantError(t, ts.do("POST", "/api/v1/merchants/"+other.ID+"/pairings", "", asAdmin), 403, "merchant_suspended")
	wantError(t, ts.do("POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, waiting), nil), 403, "merchant_suspended")

	// Audited: made by the admin, used by "pairing", both naming the merchant; no secret.
	var audit listBody[auditJSON]
	ts.must(200, "GET", "/api/v1/audit?limit=500", "", asAdmin, &audit)
	made, used := 0, 0
	for _, e := range audit.Items {
		switch {
		case e.Action == "merchant.pairing_create" && e.Actor == "admin" && e.Target == m.ID:
			made++
		case e.Action == "merchant.pairing_use" && e.Actor == "pairing" && e.Target == m.ID:
			used++
		}
	}
	if made != 3 || used != 4 {
		t.Fatalf("audit: %d pairings made by the admin, %d used; want 3 and 4", made, used)
	}
}

// pair makes a code in the console and exchanges it at a till.
func (ts *testServer) pair(merchantID string) pairingAnswer {
	ts.t.Helper()
	var p pairingJSON
	ts.must(201, "POST", "/api/v1/merchants/"+merchantID+"/pairings", "", asAdmin, &p)
	var a pairingAnswer
	ts.must(201, "POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, p.Code), nil, &a)
	return a
}

// TestPairingWrongCodesLimited: wrong codes count as failed sign-ins of the address, so codes
// cannot be guessed by volume; after the limit wrong codes wait, while a right code still pairs
// (a stranger must not be able to lock an office's pairing out).
func TestPairingWrongCodesLimited(t *testing.T) {
	ts := newTestServer(t)
	m, _ := ts.mustMerchant("Kavarna Loggia", "bar")
	good := mustPairingCode(t, ts.db, m.ID)
	for i := range signinFailBurst {
		wrong := fmt.Sprintf(`{"code":"AAAA-AAAA-%04d"}`, 2222+i%7)
		if i%2 == 1 {
			wrong = `{"code":"not a code"}`
		}
		wantError(t, ts.do("POST", "/api/v1/pos/pair", wrong, nil), 401, "pairing_invalid")
	}
	resp := ts.do("POST", "/api/v1/pos/pair", `{"code":"AAAA-AAAA-2222"}`, nil)
	wantError(t, resp, 429, "rate_limited")
	if resp.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	var a pairingAnswer
	ts.must(201, "POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, good), nil, &a)
	if a.APIKey == "" {
		t.Fatal("a right code after the limit got no key")
	}
}

// pair×pair over HTTP: eight tills send one pairing code at the same moment. One gets 201 and
// a key that signs in; the seven others get the contract's 401 pairing_invalid and no key.
func TestRacePairPairHTTP(t *testing.T) {
	ts := newTestServer(t)
	m, _ := ts.mustMerchant("Kavarna Loggia", "bar")
	var p pairingJSON
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/pairings", "", asAdmin, &p)
	const n = 8
	resps := make([]response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resps[i] = ts.do("POST", "/api/v1/pos/pair", fmt.Sprintf(`{"code":%q}`, p.Code), nil)
		}()
	}
	close(start)
	wg.Wait()
	var keys []string
	lost := 0
	for _, r := range resps {
		switch r.status {
		case 201:
			var a pairingAnswer
			if err := json.Unmarshal(r.body, &a); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, a.APIKey)
		case 401:
			wantError(t, r, 401, "pairing_invalid")
			lost++
		default:
			t.Fatalf("pair: %d %s", r.status, r.body)
		}
	}
	if len(keys) != 1 || lost != n-1 {
		t.Fatalf("%d tills paired with one code and %d got pairing_invalid, want 1 and %d", len(keys), lost, n-1)
	}
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(keys[0]), nil)
}
