package main

import (
	"bytes"
	"encoding/json"
	"github.com/citycard/citycard/storage/storagetest"
	"os"
	"strings"
	"testing"
)

type auditList struct {
	Items      []auditJSON `json:"items"`
	NextCursor string      `json:"next_cursor"`
}

func (e *secEnv) audit(query string) auditList {
	e.t.Helper()
	resp, body := e.do(secReq{method: "GET", path: "/api/v1/audit" + query, secret: e.admin})
	if resp.StatusCode != 200 {
		e.t.Fatalf("GET /api/v1/audit%s: %d %s", query, resp.StatusCode, body)
	}
	var l auditList
	if err := json.Unmarshal(body, &l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

func TestAuditRecordsWhoDidWhat(t *testing.T) {
	e := newSecEnv(t, 0)
	type step struct {
		r          secReq
		wantStatus int
		actor      string
		action     string
		target     func(body []byte) string
	}
	id := func(body []byte) string {
		var v struct {
			ID       string `json:"id"`
			Merchant struct {
				ID string `json:"id"`
			} `json:"merchant"`
		}
		json.Unmarshal(body, &v)
		if v.ID == "" {
			return v.Merchant.ID
		}
		return v.ID
	}
	fixed := func(s string) func([]byte) string { return func([]byte) string { return s } }
	var redemptionID string
	steps := []step{
		{secReq{method: "POST", path: "/api/v1/merchants", secret: e.admin, body: `{"name":"Muzej","category":"museum"}`}, 201, "admin", "merchant.create", id},
		{secReq{method: "POST", path: "/api/v1/cards/" + e.card.ID + "/block", secret: e.admin, body: `{"reason":"lost"}`}, 200, "admin", "card.block", fixed(e.card.ID)},
		{secReq{method: "POST", path: "/api/v1/cards/" + e.card.ID + "/unblock", secret: e.admin}, 200, "admin", "card.unblock", fixed(e.card.ID)},
		{secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyA, body: secRedeemBody(e.card.Token, e.offerA.ID, "20.00"),
			header: map[string]string{"Idempotency-Key": "k1"}}, 201, e.merchA.ID, "redemption.create", func(b []byte) string { redemptionID = id(b); return redemptionID }},
	}
	for _, st := range steps {
		resp, body := e.do(st.r)
		if resp.StatusCode != st.wantStatus {
			t.Fatalf("%s %s: %d %s", st.r.method, st.r.path, resp.StatusCode, body)
		}
		target := st.target(body)
		got := e.audit("?limit=1").Items
		if len(got) != 1 {
			t.Fatalf("after %s: %d audit entries on the first page of 1", st.action, len(got))
		}
		a := got[0]
		if a.Actor != st.actor || a.Action != st.action || a.Target != target || target == "" {
			t.Fatalf("after %s %s: audit %+v, want actor %s action %s target %s", st.r.method, st.r.path, a, st.actor, st.action, target)
		}
		if rid := resp.Header.Get("X-Request-Id"); rid == "" || a.RequestID != rid {
			t.Fatalf("audit request id %q, response header X-Request-Id %q", a.RequestID, rid)
		}
		if a.CreatedAt != "2026-10-15T10:00:00Z" {
			t.Fatalf("audit time %s, want the database clock's 2026-10-15T10:00:00Z", a.CreatedAt)
		}
	}
	// A replay records nothing new; reads and failures record nothing.
	before := len(e.audit("?limit=500").Items)
	for _, r := range []secReq{
		{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyA, body: secRedeemBody(e.card.Token, e.offerA.ID, "20.00"), header: map[string]string{"Idempotency-Key": "k1"}},
		{method: "POST", path: "/api/v1/pos/check", secret: e.keyA, body: `{"card":"` + e.card.Token + `"}`},
		{method: "POST", path: "/api/v1/pos/quote", secret: e.keyA, body: secRedeemBody(e.card.Token, e.offerA.ID, "20.00")},
		{method: "GET", path: "/api/v1/cards/" + e.card.ID, secret: e.admin},
		{method: "POST", path: "/api/v1/cards/crd_nosuchcard/block", secret: e.admin},
		{method: "POST", path: "/api/v1/pos/redemptions/" + redemptionID + "/void", secret: e.keyB, body: `{"reason":"not mine"}`},
		{method: "POST", path: "/api/v1/merchants", secret: e.admin, body: `{"name":"","category":"museum"}`},
	} {
		e.do(r)
	}
	if after := len(e.audit("?limit=500").Items); after != before {
		t.Fatalf("%d audit entries after replays, reads and failed writes, want %d", after, before)
	}
	// The merchant's void is audited under the merchant.
	if resp, body := e.do(secReq{method: "POST", path: "/api/v1/pos/redemptions/" + redemptionID + "/void", secret: e.keyA, body: `{"reason":"wrong item"}`}); resp.StatusCode != 200 {
		t.Fatalf("void: %d %s", resp.StatusCode, body)
	}
	l := e.audit("?actor=" + e.merchA.ID)
	// The void came within the grace of the card's activation by that redemption, so the card
	// went back to not-yet-activated in the same transaction, audited as well.
	if len(l.Items) != 3 || l.Items[0].Action != "redemption.void" || l.Items[1].Action != "card.activation_undone" ||
		l.Items[1].Target != e.card.ID || l.Items[2].Action != "redemption.create" {
		t.Fatalf("merchant A's audit, newest first: %+v", l.Items)
	}
	if l := e.audit("?action=card.block"); len(l.Items) != 1 || l.Items[0].Target != e.card.ID {
		t.Fatalf("?action=card.block: %+v", l.Items)
	}
	// Pages: one at a time, newest first, to the end.
	var seen []auditJSON
	for cursor := ""; ; {
		l := e.audit("?limit=2&cursor=" + cursor)
		seen = append(seen, l.Items...)
		if l.NextCursor == "" {
			break
		}
		cursor = l.NextCursor
	}
	if len(seen) != 6 || seen[0].Action != "redemption.void" || seen[5].Action != "merchant.create" {
		t.Fatalf("paged audit log: %+v", seen)
	}
	if resp, _ := e.do(secReq{method: "GET", path: "/api/v1/audit?limit=0", secret: e.admin}); resp.StatusCode != 400 {
		t.Fatalf("?limit=0: %d, want 400", resp.StatusCode)
	}
}

func TestAuditIsAppendOnly(t *testing.T) {
	e := newSecEnv(t, 0)
	e.do(secReq{method: "POST", path: "/api/v1/cards/" + e.card.ID + "/block", secret: e.admin})
	db, err := storagetest.SQLOpen(t, e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`UPDATE audit SET actor = 'someone else'`, `DELETE FROM audit`} {
		if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v, want refused as append-only", q, err)
		}
	}
}

// Secrets never reach the audit log, the database file or the logs in clear: not a merchant's
// API key (created or rotated), not the admin token, not a card's token.
func TestSecretsAreNeverAuditedOrLogged(t *testing.T) {
	e := newSecEnv(t, 0)
	var created struct {
		Merchant struct {
			ID string `json:"id"`
		} `json:"merchant"`
		APIKey string `json:"api_key"`
	}
	resp, body := e.do(secReq{method: "POST", path: "/api/v1/merchants", secret: e.admin, body: `{"name":"Muzej","category":"museum"}`})
	if err := json.Unmarshal(body, &created); err != nil || resp.StatusCode != 201 || !strings.HasPrefix(created.APIKey, "ccm_") {
		t.Fatalf("create merchant: %d %s", resp.StatusCode, body)
	}
	var rotated struct {
		APIKey string `json:"api_key"`
	}
	_, body = e.do(secReq{method: "POST", path: "/api/v1/merchants/" + created.Merchant.ID + "/key", secret: e.admin})
	if json.Unmarshal(body, &rotated); !strings.HasPrefix(rotated.APIKey, "ccm_") {
		t.Fatalf("rotate key: %s", body)
	}
	if resp, body := e.do(secReq{method: "GET", path: "/api/v1/pos/me", secret: rotated.APIKey}); resp.StatusCode != 200 {
		t.Fatalf("the rotated key: %d %s", resp.StatusCode, body)
	}
	secrets := map[string]string{"created API key": created.APIKey, "rotated API key": rotated.APIKey, "admin token": e.admin}

	audit, _ := json.Marshal(e.audit("?limit=500"))
	if !bytes.Contains(audit, []byte("merchant.key_rotate")) {
		t.Fatalf("the key rotation was not audited: %s", audit)
	}
	secrets["card token"] = e.card.Token // stored with its card (it is printed again), never audited
	for name, s := range secrets {
		if bytes.Contains(audit, []byte(s)) {
			t.Errorf("the %s is in the audit log", name)
		}
	}
	delete(secrets, "card token")
	e.db.Close() // checkpoint: every byte is in the file now
	raw, err := os.ReadFile(e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range secrets {
		if bytes.Contains(raw, []byte(s)) {
			t.Errorf("the %s is in the database file in clear", name)
		}
	}
	// Errors are logged with the request's path: with the database closed, every request below
	// fails and is logged.
	for _, r := range []secReq{
		{method: "GET", path: "/c/" + e.card.Token},
		{method: "GET", path: "/api/v1/public/cards/" + e.card.Token},
		{method: "POST", path: "/api/v1/pos/check", secret: rotated.APIKey, body: `{"card":"` + e.card.Token + `"}`},
		{method: "POST", path: "/api/v1/merchants/" + created.Merchant.ID + "/key", secret: e.admin},
	} {
		if resp, _ := e.do(r); resp.StatusCode != 500 {
			t.Fatalf("%s %s on a closed database: %d, want 500", r.method, r.path, resp.StatusCode)
		}
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "request failed"); n != 4 {
		t.Fatalf("%d failures logged, want 4:\n%s", n, logs)
	}
	secrets["card token"] = e.card.Token
	for name, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the %s is in the logs:\n%s", name, logs)
		}
	}
}

// secRedeemBody is a redemption's JSON body.
func secRedeemBody(cardText, offerID, amount string) string {
	b, _ := json.Marshal(redeemRequest{Card: cardText, OfferID: offerID, Amount: amount, Terminal: "till-1"})
	return string(b)
}
