package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Every free text of every body is stored as it was checked: trimmed, then measured in
// characters. A void reason padded with 250,000 spaces used to pass the check (made after
// trimming) and be stored whole.
func TestTextFieldsStoredAsChecked(t *testing.T) {
	ts := newTestServer(t)
	pad := strings.Repeat(" ", 250_000)
	ts.mustProduct("koper-72h", 72, "tourist")
	var p productJSON
	ts.must(201, "POST", "/api/v1/products", `{"code":"koper-24h","name":{"en":"  Koper 24  "},"validity_hours":24,"price":"5.00","audience":"tourist"}`, asAdmin, &p)
	if p.Name["en"] != "Koper 24" {
		t.Errorf("product name stored as %q", p.Name["en"])
	}
	var m struct {
		Merchant merchantJSON `json:"merchant"`
		APIKey   string       `json:"api_key"`
	}
	ts.must(201, "POST", "/api/v1/merchants", `{"name":"  Kavarna  ","category":"bar","address":"\t Titov trg 1 \n"}`, asAdmin, &m)
	if m.Merchant.Name != "Kavarna" || m.Merchant.Address != "Titov trg 1" {
		t.Errorf("merchant stored as %q, %q", m.Merchant.Name, m.Merchant.Address)
	}
	var o offerJSON
	ts.must(201, "POST", "/api/v1/merchants/"+m.Merchant.ID+"/offers", `{"title":{"en":" 10% off "},"kind":"percent","value":"10","limit":"unlimited"}`, asAdmin, &o)
	if o.Title["en"] != "10% off" {
		t.Errorf("offer title stored as %q", o.Title["en"])
	}
	var cd cardJSON
	ts.must(201, "POST", "/api/v1/cards", `{"product":"koper-72h","holder":"  Ana Novak  "}`, asAdmin, &cd)
	if cd.Holder == nil || *cd.Holder != "Ana Novak" {
		t.Errorf("holder stored as %v", cd.Holder)
	}
	var blocked cardJSON
	ts.must(200, "POST", "/api/v1/cards/"+cd.ID+"/block", `{"reason":"lost`+pad+`"}`, asAdmin, &blocked)
	if blocked.BlockReason != "lost" {
		t.Errorf("block reason stored as %d bytes", len(blocked.BlockReason))
	}
	ts.must(200, "POST", "/api/v1/cards/"+cd.ID+"/unblock", `{}`, asAdmin, nil)

	r := ts.mustRedeemBody(m.APIKey, fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":"10.00","terminal":"  till-9  "}`, cd.Token, o.ID), "k1")
	if r.Terminal != "till-9" {
		t.Errorf("terminal stored as %q", r.Terminal)
	}
	var voided redemptionJSON
	ts.must(200, "POST", "/api/v1/pos/redemptions/"+r.ID+"/void", `{"reason":"`+pad+`wrong item "}`, asKey(m.APIKey), &voided)
	if voided.VoidReason == nil || *voided.VoidReason != "wrong item" {
		t.Fatalf("void reason answered as %d bytes", len(*voided.VoidReason))
	}
	// What is stored, not only what was answered.
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions", "", asAdmin, &list)
	if len(list.Items) != 1 || list.Items[0].VoidReason == nil || *list.Items[0].VoidReason != "wrong item" {
		t.Fatalf("stored void reason: %+v", list.Items)
	}
	// 300 characters after trimming are fine; 301 are not, however they are padded.
	r2 := ts.mustRedeemBody(m.APIKey, fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":"10.00"}`, cd.Token, o.ID), "k2")
	long := strings.Repeat("ž", 301)
	wantError(t, ts.do("POST", "/api/v1/redemptions/"+r2.ID+"/void", `{"reason":"`+long+`"}`, asAdmin), 400, "invalid_request")
	ts.must(200, "POST", "/api/v1/redemptions/"+r2.ID+"/void", `{"reason":" `+long[2:]+` "}`, asAdmin, nil)
}

// mustRedeemBody posts a redemption with its whole body given.
func (ts *testServer) mustRedeemBody(key, body, idem string) redemptionJSON {
	ts.t.Helper()
	var r redemptionJSON
	ts.must(201, "POST", "/api/v1/pos/redemptions", body, asKey(key).with("Idempotency-Key", idem), &r)
	return r
}

// Control characters (C0, C1, DEL, line and paragraph separators, bidi overrides and
// isolates) are refused in every name, title, address, reason, holder and terminal, with a
// message naming the field.
func TestTextFieldsRefuseControlCharacters(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	o := ts.mustOffer(m.ID, "Popust", `"kind":"percent","value":"10","limit":"unlimited"`)
	cd := ts.mustCard("koper-72h", "Ana", "en")
	r := ts.mustRedeem(key, cd.Token, o.ID, "10.00", "k1")
	for _, ch := range []string{`\u0000`, `\u001b`, `\n`, `\t`, `\u007f`, `\u0085`, `\u009b`, `\u2028`, `\u2029`, `\u202a`, `\u202e`, `\u2066`, `\u2069`} {
		for _, tc := range []struct {
			field, method, path, body string
			h                         hdr
		}{
			{"name", "POST", "/api/v1/merchants", `{"name":"X%sY","category":"bar"}`, asAdmin},
			{"name", "PATCH", "/api/v1/merchants/" + m.ID, `{"name":"A%s=1+1"}`, asAdmin},
			{"address", "POST", "/api/v1/merchants", `{"name":"X","category":"bar","address":"Trg%s1"}`, asAdmin},
			{"title.en", "POST", "/api/v1/merchants/" + m.ID + "/offers", `{"title":{"en":"a%sb"},"kind":"free","limit":"once"}`, asAdmin},
			{"title.de", "PATCH", "/api/v1/offers/" + o.ID, `{"title":{"de":"a%sb"}}`, asAdmin},
			{"name.sl", "POST", "/api/v1/products", `{"code":"p1","name":{"sl":"a%sb"},"validity_hours":1,"price":"1","audience":"tourist"}`, asAdmin},
			{"holder", "POST", "/api/v1/cards", `{"product":"koper-72h","holder":"Ana%sNovak"}`, asAdmin},
			{"reason", "POST", "/api/v1/cards/" + cd.ID + "/block", `{"reason":"lo%sst"}`, asAdmin},
			{"reason", "POST", "/api/v1/pos/redemptions/" + r.ID + "/void", `{"reason":"wr%song"}`, asKey(key)},
			{"reason", "POST", "/api/v1/redemptions/" + r.ID + "/void", `{"reason":"wr%song"}`, asAdmin},
			{"terminal", "POST", "/api/v1/pos/quote", `{"card":"` + cd.Token + `","offer_id":"` + o.ID + `","amount":"1","terminal":"t%s1"}`, asKey(key)},
			{"terminal", "POST", "/api/v1/pos/redemptions", `{"card":"` + cd.Token + `","offer_id":"` + o.ID + `","amount":"1","terminal":"t%s1"}`, asKey(key).with("Idempotency-Key", "k2")},
		} {
			resp := ts.do(tc.method, tc.path, fmt.Sprintf(tc.body, ch), tc.h)
			wantError(t, resp, 400, "invalid_request")
			var eb errorBody
			json.Unmarshal(resp.body, &eb)
			if !strings.Contains(eb.Error.Message, tc.field) {
				t.Errorf("%s %s with %s: message %q does not name %s", tc.method, tc.path, ch, eb.Error.Message, tc.field)
			}
		}
	}
	// A leading NUL is not white space: it is refused, not trimmed into a formula.
	wantError(t, ts.do("POST", "/api/v1/merchants", `{"name":"\u0000=HYPERLINK(\"x\")","category":"bar"}`, asAdmin), 400, "invalid_request")
	// Nothing was changed or recorded by the refused requests.
	var got merchantJSON
	ts.must(200, "GET", "/api/v1/merchants/"+m.ID, "", asAdmin, &got)
	if got.Name != "Kavarna" {
		t.Errorf("merchant renamed to %q", got.Name)
	}
	// Letters of every script, and emoji, are not control characters.
	ts.must(201, "POST", "/api/v1/merchants", `{"name":"Kavarna Žabica 🐸 Λ 東","category":"bar"}`, asAdmin, nil)
}

// A body over the limit gets a readable 413 JSON answer over a real connection: the client
// writes its whole 1 MB body and then reads the answer. The server used to close with the
// body unread, which reset the connection and lost the answer.
func TestBodyOverLimitAnswered413(t *testing.T) {
	e := newSecEnv(t, 0)
	addr := strings.TrimPrefix(e.listen(), "http://")
	for i := 0; i < 3; i++ {
		postOverLimit(t, addr, "/api/v1/pos/check", e.keyA)
	}
}

// postOverLimit sends a 1 MB body to path at addr over a plain TCP connection, writing all of
// it before reading, and fails the test unless the answer is a 413 payload_too_large JSON.
func postOverLimit(t *testing.T, addr, path, secret string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"card":"` + strings.Repeat("x", 1<<20) + `"}`
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: citycard\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, secret, len(body))
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatalf("writing the body: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the answer's body: %v", err)
	}
	if resp.StatusCode != 413 || errorCodeOf(b) != "payload_too_large" {
		t.Fatalf("%d %s, want 413 payload_too_large", resp.StatusCode, b)
	}
}
