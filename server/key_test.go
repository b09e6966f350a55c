package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
)

type publicKeys struct {
	Keys []publicKeyJSON `json:"keys"`
}

// verifyOffline checks a token the way a till would, with only GET /api/v1/public/keys.
func verifyOffline(t *testing.T, keys publicKeys, token string) (kid uint16, ok bool) {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != 75 {
		t.Fatalf("token %q does not decode to 75 bytes", token)
	}
	kid = binary.BigEndian.Uint16(raw[1:3])
	for _, k := range keys.Keys {
		if k.KID != kid {
			continue
		}
		pub, err := base64.RawURLEncoding.DecodeString(k.PublicKey)
		if err != nil || len(pub) != ed25519.PublicKeySize || k.Alg != "Ed25519" {
			t.Fatalf("key %+v is not a base64url Ed25519 public key", k)
		}
		msg := append([]byte("citycard card token v1\x00"), raw[:11]...)
		return kid, ed25519.Verify(pub, msg, raw[11:])
	}
	return kid, false
}

func (e *secEnv) publicKeys() publicKeys {
	e.t.Helper()
	resp, body := e.do(secReq{method: "GET", path: "/api/v1/public/keys"})
	var k publicKeys
	if err := json.Unmarshal(body, &k); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("GET /api/v1/public/keys: %d %s", resp.StatusCode, body)
	}
	return k
}

// After "citycard keys rotate" and a restart, new cards are signed with the new key, cards
// issued before still work at the till and on their page, and both keys are published.
func TestKeyRotation(t *testing.T) {
	e := newSecEnv(t, 0)
	keys := e.publicKeys()
	if len(keys.Keys) != 1 || keys.Keys[0].KID != 1 {
		t.Fatalf("keys before rotation: %+v", keys)
	}
	if kid, ok := verifyOffline(t, keys, e.card.Token); !ok || kid != 1 {
		t.Fatalf("the card's token does not verify offline with the published key (kid %d)", kid)
	}
	forged := []byte(e.card.Token)
	forged[50] = map[bool]byte{true: 'A', false: 'B'}[forged[50] != 'A']
	if _, ok := verifyOffline(t, keys, string(forged)); ok {
		t.Fatal("a token with one character changed verifies offline")
	}

	// Rotate with the service running.
	env := map[string]string{"CITYCARD_DB": e.dbPath}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"keys", "rotate"}, func(k string) string { return env[k] }, &out, &errOut); err != nil {
		t.Fatalf("keys rotate: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "added signing key 2") {
		t.Fatalf("keys rotate said %q", out.String())
	}

	// Restart on the same database.
	e.db.Close()
	cfg := e.s.cfg
	db, keyring, _, _, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if keyring.CurrentID() != 2 {
		t.Fatalf("after rotation the service signs with key %d, want 2", keyring.CurrentID())
	}
	e.db, e.s = db, newServer(cfg, db, keyring, e.admin, slog.New(slog.NewTextHandler(io.Discard, nil)))
	e.app = e.s.app()

	resp, body := e.do(secReq{method: "POST", path: "/api/v1/cards", secret: e.admin, body: `{"product":"koper-72h"}`})
	var fresh cardJSON
	if err := json.Unmarshal(body, &fresh); err != nil || resp.StatusCode != 201 {
		t.Fatalf("issue a card after rotation: %d %s", resp.StatusCode, body)
	}
	keys = e.publicKeys()
	if len(keys.Keys) != 2 || keys.Keys[0].KID != 1 || keys.Keys[1].KID != 2 {
		t.Fatalf("keys after rotation: %+v", keys)
	}
	for _, c := range []struct {
		token string
		kid   uint16
	}{{e.card.Token, 1}, {fresh.Token, 2}} {
		if kid, ok := verifyOffline(t, keys, c.token); !ok || kid != c.kid {
			t.Fatalf("token of key %d: verifies offline %v with kid %d", c.kid, ok, kid)
		}
		for _, r := range []secReq{
			{method: "POST", path: "/api/v1/pos/check", secret: e.keyA, body: `{"card":"http://localhost:8080/c/` + c.token + `"}`},
			{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyA, body: secRedeemBody(c.token, e.offerA.ID, "10.00"), header: map[string]string{"Idempotency-Key": c.token[:20]}},
			{method: "GET", path: "/c/" + c.token},
			{method: "GET", path: "/api/v1/public/cards/" + c.token},
		} {
			if resp, body := e.do(r); resp.StatusCode/100 != 2 {
				t.Fatalf("card signed by key %d: %s %s: %d %s", c.kid, r.method, r.path, resp.StatusCode, body)
			}
		}
	}
	l := e.audit("?action=signing_key.add")
	if len(l.Items) != 1 || l.Items[0].Actor != "cli" || l.Items[0].Target != "2" {
		t.Fatalf("audit of the rotation: %+v", l.Items)
	}
}
