package main

import (
	"strings"
	"testing"
)

func TestMerchantCreateShowsKeyOnce(t *testing.T) {
	ts := newTestServer(t)
	var out map[string]any
	ts.must(201, "POST", "/api/v1/merchants",
		`{"name":"Kavarna Loggia","category":"restaurant","address":"Titov trg 1, Koper","lat":45.5481,"lon":13.7302}`, asAdmin, &out)
	m, _ := out["merchant"].(map[string]any)
	key, _ := out["api_key"].(string)
	if m["name"] != "Kavarna Loggia" || m["category"] != "restaurant" || m["status"] != "active" || m["lat"] != 45.5481 || m["lon"] != 13.7302 {
		t.Fatalf("merchant %v", m)
	}
	if len(key) < 40 {
		t.Fatalf("api_key %q is too short to be a secret", key)
	}
	// The key works at the till.
	var me struct {
		Merchant merchantJSON `json:"merchant"`
	}
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(key), &me)
	if me.Merchant.ID != m["id"] {
		t.Fatalf("pos/me is %+v, want %v", me.Merchant, m["id"])
	}
	// It is never shown again.
	for _, path := range []string{"/api/v1/merchants", "/api/v1/merchants/" + m["id"].(string)} {
		if resp := ts.must(200, "GET", path, "", asAdmin, nil); strings.Contains(string(resp.body), key) || strings.Contains(string(resp.body), "api_key") {
			t.Fatalf("GET %s shows the key: %s", path, resp.body)
		}
	}
	if resp := ts.must(200, "GET", "/api/v1/pos/me", "", asKey(key), nil); strings.Contains(string(resp.body), key) {
		t.Fatalf("pos/me shows the key")
	}
	var list listBody[merchantJSON]
	ts.must(200, "GET", "/api/v1/merchants", "", asAdmin, &list)
	if len(list.Items) != 1 || list.Items[0].ID != m["id"] {
		t.Fatalf("list %+v", list)
	}
}

func TestMerchantPatch(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna Loggia", "bar")
	o := ts.mustOffer(m.ID, "Coffee", `"kind":"percent","value":"10","limit":"unlimited"`)
	c := ts.mustCard("koper-72h", "", "")

	// A partial update keeps every other field.
	var got merchantJSON
	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"name":"Caffè Loggia"}`, asAdmin, &got)
	if got.Name != "Caffè Loggia" || got.Category != "bar" || got.Address != m.Address || got.Lat == nil || *got.Lat != *m.Lat ||
		got.Lon == nil || *got.Lon != *m.Lon || got.Status != "active" || got.CreatedAt != m.CreatedAt {
		t.Fatalf("after PATCH name: %+v, before %+v", got, m)
	}
	ts.must(200, "GET", "/api/v1/merchants/"+m.ID, "", asAdmin, &got)
	if got.Name != "Caffè Loggia" || got.Category != "bar" {
		t.Fatalf("stored after PATCH: %+v", got)
	}
	// null removes the position.
	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"lat":null,"lon":null}`, asAdmin, &got)
	if got.Lat != nil || got.Lon != nil || got.Name != "Caffè Loggia" {
		t.Fatalf("after clearing the position: %+v", got)
	}

	// Suspended: the key gets 403 merchant_suspended everywhere at the till, and its offers
	// leave the public list.
	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"status":"suspended"}`, asAdmin, &got)
	if got.Status != "suspended" || got.Name != "Caffè Loggia" {
		t.Fatalf("after suspending: %+v", got)
	}
	wantError(t, ts.redeem(key, c.Token, o.ID, "10.00", "k1"), 403, "merchant_suspended")
	wantError(t, ts.do("POST", "/api/v1/pos/check", `{"card":"`+c.Token+`"}`, asKey(key)), 403, "merchant_suspended")
	wantError(t, ts.do("GET", "/api/v1/pos/me", "", asKey(key)), 403, "merchant_suspended")
	var offers listBody[publicOfferJSON]
	ts.must(200, "GET", "/api/v1/public/offers", "", nil, &offers)
	if len(offers.Items) != 0 {
		t.Fatalf("a suspended merchant's offers are public: %+v", offers.Items)
	}

	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"status":"active"}`, asAdmin, &got)
	ts.mustRedeem(key, c.Token, o.ID, "10.00", "k2")
}

func TestMerchantKeyRotation(t *testing.T) {
	ts := newTestServer(t)
	m, oldKey := ts.mustMerchant("Kavarna", "bar")
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(oldKey), nil)
	var out struct {
		APIKey string `json:"api_key"`
	}
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/key", "", asAdmin, &out)
	if out.APIKey == "" || out.APIKey == oldKey {
		t.Fatalf("new key %q", out.APIKey)
	}
	wantError(t, ts.do("GET", "/api/v1/pos/me", "", asKey(oldKey)), 401, "unauthorized")
	ts.must(200, "GET", "/api/v1/pos/me", "", asKey(out.APIKey), nil)
}

func TestMerchantTaxNumberAndIBAN(t *testing.T) {
	ts := newTestServer(t)
	var out struct {
		Merchant merchantJSON `json:"merchant"`
	}
	ts.must(201, "POST", "/api/v1/merchants",
		`{"name":"Hotel Histria","category":"accommodation","tax_number":"SI 4001 6803","iban":"si56 1910 0000 0123 438"}`, asAdmin, &out)
	m := out.Merchant
	if m.TaxNumber != "40016803" || m.IBAN != "SI56191000000123438" {
		t.Fatalf("stored tax_number %q, iban %q: want them normalised", m.TaxNumber, m.IBAN)
	}
	var got merchantJSON
	ts.must(200, "GET", "/api/v1/merchants/"+m.ID, "", asAdmin, &got)
	if got.TaxNumber != "40016803" || got.IBAN != "SI56191000000123438" {
		t.Fatalf("GET: %+v", got)
	}
	// PATCH: another valid IBAN; an absent or null field keeps its value; "" clears it.
	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"iban":"IT60 X054 2811 1010 0000 0123 456","tax_number":null}`, asAdmin, &got)
	if got.IBAN != "IT60X0542811101000000123456" || got.TaxNumber != "40016803" {
		t.Fatalf("after PATCH: %+v", got)
	}
	ts.must(200, "PATCH", "/api/v1/merchants/"+m.ID, `{"tax_number":""}`, asAdmin, &got)
	if got.TaxNumber != "" || got.IBAN != "IT60X0542811101000000123456" {
		t.Fatalf("after clearing the tax number: %+v", got)
	}
	for _, body := range []string{
		`{"tax_number":"40016804"}`,
		`{"tax_number":"4001680"}`,
		`{"iban":"SI56 1910 0000 0123 439"}`,
		`{"iban":"SI56 1910 0000 0123 4380"}`,
		`{"iban":12}`,
	} {
		resp := ts.do("PATCH", "/api/v1/merchants/"+m.ID, body, asAdmin)
		wantError(t, resp, 400, "invalid_request")
		if strings.Contains(body, "tax") && !strings.Contains(string(resp.body), "tax_number") ||
			strings.Contains(body, "iban\":\"") && !strings.Contains(string(resp.body), "iban") {
			t.Errorf("%s: message %s does not name the field", body, resp.body)
		}
	}
	wantError(t, ts.do("POST", "/api/v1/merchants", `{"name":"X","category":"bar","iban":"SI00 0000"}`, asAdmin), 400, "invalid_request")
	ts.must(200, "GET", "/api/v1/merchants/"+m.ID, "", asAdmin, &got)
	if got.TaxNumber != "" || got.IBAN != "IT60X0542811101000000123456" {
		t.Fatalf("a refused PATCH changed the merchant: %+v", got)
	}
}
