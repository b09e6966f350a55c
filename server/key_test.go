package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/storage"
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

// keysCLI runs "citycard keys …" on e's database, as a process of its own, and returns what
// it printed.
func (e *secEnv) keysCLI(args ...string) string {
	e.t.Helper()
	env := map[string]string{"CITYCARD_DB": e.dbPath}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append([]string{"keys"}, args...), func(k string) string { return env[k] }, &out, &errOut); err != nil {
		e.t.Fatalf("keys %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// offlinePackKIDs is the key ids of the offline pack a till of merchant A gets.
func (e *secEnv) offlinePackKIDs() []uint16 {
	e.t.Helper()
	resp, body := e.do(secReq{method: "GET", path: "/api/v1/pos/offline-pack", secret: e.keyA})
	var pack publicKeys
	if err := json.Unmarshal(body, &pack); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("GET /api/v1/pos/offline-pack: %d %s", resp.StatusCode, body)
	}
	var kids []uint16
	for _, k := range pack.Keys {
		kids = append(kids, k.KID)
	}
	return kids
}

// "citycard keys rotate" while the service runs, never restarted: the service publishes the
// new key (public keys, offline pack) at once and goes on signing with the old one until the
// new key's time; from then on it signs new cards with the new key. Cards of both keys work at
// the till and on their page, and "keys activate" makes a later key sign at once. On SQLite the
// service learns of the rotation (made by another process) from its periodic reload of the
// keys, shortened here; on PostgreSQL from the change notification.
func TestKeyRotation(t *testing.T) {
	e := newSecEnv(t, 0, storage.WithKeyReload(20*time.Millisecond))
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

	// Rotate with the service running; the new key signs from an hour after the service's now.
	now := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	if out := e.keysCLI("rotate", "--activate-at", now.Add(time.Hour).Format(time.RFC3339)); !strings.Contains(out, "added signing key 2") ||
		!strings.Contains(out, "2026-10-15T11:00:00Z") {
		t.Fatalf("keys rotate said %q", out)
	}
	if !within(5*time.Second*raceSlowdown, func() bool { return len(e.publicKeys().Keys) == 2 }) {
		t.Fatalf("the running service does not publish the rotated key: %+v", e.publicKeys())
	}
	if kids := e.offlinePackKIDs(); len(kids) != 2 || kids[1] != 2 {
		t.Fatalf("the offline pack's keys after the rotation: %v, want 1 and 2", kids)
	}
	issue := func() cardJSON {
		t.Helper()
		resp, body := e.do(secReq{method: "POST", path: "/api/v1/cards", secret: e.admin, body: `{"product":"koper-72h"}`})
		var c cardJSON
		if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 201 {
			t.Fatalf("issue a card: %d %s", resp.StatusCode, body)
		}
		return c
	}
	keys = e.publicKeys()
	if kid, _ := verifyOffline(t, keys, issue().Token); kid != 1 {
		t.Fatalf("before its time the new key signs already (a card of key %d)", kid)
	}

	// Its time comes: the service signs with it, no restart.
	e.clock.Set(now.Add(time.Hour))
	fresh := issue()
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

	// A later rotation, made to sign at once with "keys activate" (the command goes by the
	// real clock: so does the service from here on).
	e.db.SetClock(nil)
	e.keysCLI("rotate")
	if out := e.keysCLI("activate", "3"); !strings.Contains(out, "signing key 3 signs new cards from now on") {
		t.Fatalf("keys activate said %q", out)
	}
	if !within(5*time.Second*raceSlowdown, func() bool { return e.s.keys.CurrentID() == 3 }) {
		t.Fatalf("after keys activate 3 the running service signs with key %d", e.s.keys.CurrentID())
	}
	if kid, ok := verifyOffline(t, e.publicKeys(), issue().Token); !ok || kid != 3 {
		t.Fatalf("a card issued after keys activate 3: key %d, verifies offline %v", kid, ok)
	}
	if out := e.keysCLI("list"); !strings.Contains(out, "1\tadded") || !strings.Contains(out, "3\tadded 2026-") || !strings.Contains(out, "\tsigns\n") {
		t.Fatalf("keys list said %q", out)
	}
	l := e.audit("?action=signing_key.add")
	if len(l.Items) != 2 || l.Items[0].Actor != "cli" || l.Items[1].Target != "2" {
		t.Fatalf("audit of the rotations: %+v", l.Items)
	}
	if l := e.audit("?action=signing_key.activate"); len(l.Items) != 1 || l.Items[0].Actor != "cli" || l.Items[0].Target != "3" {
		t.Fatalf("audit of the activation: %+v", l.Items)
	}
}
