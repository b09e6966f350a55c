package main

import (
	"testing"
)

func TestOfferCreate(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, _ := ts.mustMerchant("Kavarna", "bar")
	var o map[string]any
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/offers",
		`{"title":{"sl":"10 % popusta","it":"Sconto del 10 %","en":"10% off"},"kind":"percent","value":"12.5",
		"max_discount":"20","min_amount":"5.00","limit":"once","products":["koper-72h"],
		"valid_from":"2026-06-01","valid_until":"2026-12-31","municipal_share":"50"}`, asAdmin, &o)
	want := map[string]any{"merchant_id": m.ID, "kind": "percent", "value": "12.5", "max_discount": "20.00", "min_amount": "5.00",
		"limit": "once", "valid_from": "2026-06-01", "valid_until": "2026-12-31", "municipal_share": "50", "active": true}
	for k, v := range want {
		if o[k] != v {
			t.Errorf("%s = %v, want %v", k, o[k], v)
		}
	}
	if ps, _ := o["products"].([]any); len(ps) != 1 || ps[0] != "koper-72h" {
		t.Errorf("products %v", o["products"])
	}
	// Defaults: share 0, active, every product, no bounds.
	ts.must(201, "POST", "/api/v1/merchants/"+m.ID+"/offers", `{"title":{"en":"Free"},"kind":"free","limit":"daily"}`, asAdmin, &o)
	if o["municipal_share"] != "0" || o["active"] != true || o["value"] != nil || o["max_discount"] != nil || o["valid_from"] != nil {
		t.Errorf("defaults %v", o)
	}
	var list listBody[offerJSON]
	ts.must(200, "GET", "/api/v1/offers?merchant="+m.ID, "", asAdmin, &list)
	if len(list.Items) != 2 {
		t.Fatalf("offers of the merchant: %+v", list.Items)
	}
	other, _ := ts.mustMerchant("Other", "shop")
	list = listBody[offerJSON]{}
	ts.must(200, "GET", "/api/v1/offers?merchant="+other.ID, "", asAdmin, &list)
	if len(list.Items) != 0 {
		t.Fatalf("offers of another merchant: %+v", list.Items)
	}
}

func TestOfferPatch(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	m, key := ts.mustMerchant("Kavarna", "bar")
	c := ts.mustCard("koper-72h", "", "")
	o := ts.mustOffer(m.ID, "Ten", `"kind":"percent","value":"10","max_discount":"2.00","min_amount":"5.00","limit":"unlimited","municipal_share":"50"`)

	// Partial: only the value changes.
	var got offerJSON
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"value":"20"}`, asAdmin, &got)
	if *got.Value != "20" || *got.MaxDiscount != "2.00" || *got.MinAmount != "5.00" || got.Limit != "unlimited" ||
		got.MunicipalShare != "50" || !got.Active || got.Title["de"] != "Ten DE" {
		t.Fatalf("after PATCH value: %+v", got)
	}
	// null clears max_discount: 20 % of 50.00 is now 10.00, not capped at 2.00.
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"max_discount":null}`, asAdmin, &got)
	if got.MaxDiscount != nil || *got.Value != "20" || *got.MinAmount != "5.00" {
		t.Fatalf("after clearing max_discount: %+v", got)
	}
	var q quoteJSON
	ts.must(200, "POST", "/api/v1/pos/quote", redeemBody(c.Token, o.ID, "50.00"), asKey(key), &q)
	if q.Discount != "10.00" {
		t.Fatalf("discount after clearing max_discount: %+v", q)
	}
	// Switched off, then on again.
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"active":false}`, asAdmin, &got)
	if got.Active {
		t.Fatalf("still active")
	}
	wantError(t, ts.do("POST", "/api/v1/pos/quote", redeemBody(c.Token, o.ID, "50.00"), asKey(key)), 422, "offer_inactive")
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"active":true,"valid_until":"2026-10-14"}`, asAdmin, &got)
	wantError(t, ts.do("POST", "/api/v1/pos/quote", redeemBody(c.Token, o.ID, "50.00"), asKey(key)), 422, "offer_inactive")
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"valid_until":"2026-10-15"}`, asAdmin, &got)
	ts.must(200, "POST", "/api/v1/pos/quote", redeemBody(c.Token, o.ID, "50.00"), asKey(key), nil)
	// A PATCH that breaks the offer is rejected and changes nothing.
	wantError(t, ts.do("PATCH", "/api/v1/offers/"+o.ID, `{"kind":"amount","value":"12.345"}`, asAdmin), 400, "invalid_request")
	ts.must(200, "GET", "/api/v1/offers/"+o.ID, "", asAdmin, &got)
	if got.Kind != "percent" || *got.Value != "20" {
		t.Fatalf("a rejected PATCH changed the offer: %+v", got)
	}
	// A kind change with its value.
	ts.must(200, "PATCH", "/api/v1/offers/"+o.ID, `{"kind":"amount","value":"3"}`, asAdmin, &got)
	if got.Kind != "amount" || *got.Value != "3.00" {
		t.Fatalf("after kind change: %+v", got)
	}
}
