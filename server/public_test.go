package main

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestPublicCard(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	resp := ts.must(200, "GET", "/api/v1/public/cards/"+w.used.Token, "", nil, nil)
	var raw map[string]map[string]any
	json.Unmarshal(resp.body, &raw)
	pc := raw["card"]
	for _, f := range []string{"token", "holder", "id", "qr_url"} {
		if _, ok := pc[f]; ok {
			t.Errorf("public card JSON has %q: %v", f, pc)
		}
	}
	if pc["number"] != w.used.Number || pc["status"] != "active" || pc["product"] != "koper-72h" || pc["expires_at"] == nil {
		t.Errorf("public card %v", pc)
	}
	// The holder's name appears nowhere, not even the fresh card's "Ana Novak".
	for _, c := range []cardJSON{w.fresh, w.used} {
		resp := ts.must(200, "GET", "/api/v1/public/cards/"+c.Token, "", nil, nil)
		if strings.Contains(string(resp.body), "Ana Novak") || strings.Contains(string(resp.body), c.Token) {
			t.Fatalf("public card JSON reveals the holder or the token: %s", resp.body)
		}
	}

	var out struct {
		Benefits []benefitJSON `json:"benefits"`
	}
	json.Unmarshal(resp.body, &out)
	// Every active offer of an active merchant open to a 72-hour card whose last day is not
	// over: A's once, unlimited and min, and B's; not the switched-off, the past-season or
	// the resident offer, nor anything of the suspended merchant.
	got := map[string]benefitJSON{}
	for _, b := range out.Benefits {
		got[b.Offer.ID] = b
	}
	if len(got) != 4 {
		t.Fatalf("benefits %+v", out.Benefits)
	}
	for id, want := range map[string]bool{w.once.ID: false, w.unlimited.ID: true, w.minAmount.ID: true, w.offerB.ID: false} {
		b, ok := got[id]
		if !ok || b.Available != want {
			t.Fatalf("benefit %s: %+v, want available %v", id, b, want)
		}
		if !want && (b.UsedAt == nil || b.Reason == nil || *b.Reason != "limit_reached") {
			t.Fatalf("used benefit %s: %+v", id, b)
		}
	}
	if got[w.offerB.ID].Merchant.Name != "Muzej" || got[w.once.ID].Merchant.Lat == nil {
		t.Fatalf("benefit merchants %+v", got)
	}
	// The voided redemption of the unlimited offer is not a use.
	if got[w.unlimited.ID].UsedAt != nil {
		t.Fatalf("a voided redemption shows as used: %+v", got[w.unlimited.ID])
	}
}

func TestPublicOffers(t *testing.T) {
	w := newWorld(t)
	var list listBody[map[string]map[string]any]
	w.ts.must(200, "GET", "/api/v1/public/offers", "", nil, &list)
	ids := map[string]string{}
	for _, it := range list.Items {
		ids[it["offer"]["id"].(string)] = it["merchant"]["name"].(string)
		if _, ok := it["merchant"]["status"]; ok {
			t.Errorf("public merchant shows its status: %v", it["merchant"])
		}
	}
	// Active offers of active merchants: not the switched-off, the past-season one or the
	// suspended merchant's. The resident offer is active, for resident cards.
	want := map[string]string{w.once.ID: "Kavarna Loggia", w.unlimited.ID: "Kavarna Loggia", w.minAmount.ID: "Kavarna Loggia",
		w.resident.ID: "Kavarna Loggia", w.offerB.ID: "Muzej"}
	if len(ids) != len(want) {
		t.Fatalf("public offers %v, want %v", ids, want)
	}
	for id, name := range want {
		if ids[id] != name {
			t.Fatalf("public offer %s: merchant %q, want %q", id, ids[id], name)
		}
	}
}

// The public offer list, the public card JSON and the card page do not publish an offer's
// municipal_share (the subsidy rate agreed with the merchant); the admin and the merchant's
// own till still see it.
func TestPublicViewsHideMunicipalShare(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	o := ts.mustOffer(w.a.ID, "Subsidised", `"kind":"percent","value":"10","limit":"unlimited","municipal_share":"37.25"`)
	for _, path := range []string{"/api/v1/public/offers", "/api/v1/public/cards/" + w.fresh.Token, "/c/" + w.fresh.Token,
		"/c/" + w.fresh.Token + "?lang=sl"} {
		resp := ts.must(200, "GET", path, "", nil, nil)
		if !strings.Contains(string(resp.body), "Subsidised") {
			t.Fatalf("GET %s does not list the offer: %s", path, resp.body)
		}
		for _, leak := range []string{"municipal", "37.25", "37,25"} {
			if strings.Contains(string(resp.body), leak) {
				t.Errorf("GET %s shows %q", path, leak)
			}
		}
	}
	var admin offerJSON
	ts.must(200, "GET", "/api/v1/offers/"+o.ID, "", asAdmin, &admin)
	if admin.MunicipalShare != "37.25" {
		t.Errorf("admin sees municipal_share %q", admin.MunicipalShare)
	}
	resp := ts.must(200, "POST", "/api/v1/pos/check", `{"card":"`+w.fresh.Token+`"}`, asKey(w.keyA), nil)
	if !strings.Contains(string(resp.body), `"municipal_share":"37.25"`) {
		t.Errorf("the merchant's till does not see its municipal_share: %s", resp.body)
	}
}
