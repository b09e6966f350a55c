package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
)

// world is a small town: two products, two active merchants and a suspended one, offers
// that fail each rule, and cards in every state.
type world struct {
	ts                              *testServer
	a, b, c                         merchantJSON
	keyA, keyB, keyC                string
	once, unlimited, minAmount      offerJSON
	inactive, outOfSeason, resident offerJSON
	offerB                          offerJSON
	fresh, used, blocked, expired   cardJSON
	redA, redB, voided              redemptionJSON
	unknownToken, unknownNumber     string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ts := newTestServer(t)
	w := &world{ts: ts}
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-1h", 1, "tourist")
	ts.mustProduct("koper-resident", -365, "resident")
	w.a, w.keyA = ts.mustMerchant("Kavarna Loggia", "bar")
	w.b, w.keyB = ts.mustMerchant("Muzej", "museum")
	w.c, w.keyC = ts.mustMerchant("Zaprto", "shop")
	ts.must(200, "PATCH", "/api/v1/merchants/"+w.c.ID, `{"status":"suspended"}`, asAdmin, nil)

	w.once = ts.mustOffer(w.a.ID, "Once", `"kind":"percent","value":"10","limit":"once","municipal_share":"50"`)
	w.unlimited = ts.mustOffer(w.a.ID, "Unlimited", `"kind":"amount","value":"1.00","limit":"unlimited"`)
	w.minAmount = ts.mustOffer(w.a.ID, "Min", `"kind":"percent","value":"10","min_amount":"15.00","limit":"unlimited"`)
	w.inactive = ts.mustOffer(w.a.ID, "Off", `"kind":"free","limit":"unlimited","active":false`)
	w.outOfSeason = ts.mustOffer(w.a.ID, "Summer", `"kind":"free","limit":"unlimited","valid_from":"2026-06-01","valid_until":"2026-09-30"`)
	w.resident = ts.mustOffer(w.a.ID, "Resident", `"kind":"free","limit":"unlimited","products":["koper-resident"]`)
	w.offerB = ts.mustOffer(w.b.ID, "Museum", `"kind":"free","limit":"once"`)

	// The expired card was issued and activated a week ago on a one-hour product.
	ts.clock.Set(testNow.AddDate(0, 0, -7))
	w.expired = ts.mustCard("koper-1h", "", "en")
	ts.mustRedeem(w.keyA, w.expired.Token, w.unlimited.ID, "5.00", "setup-expired")
	// The other cards were issued before the 72 hours an offline till may look back, so a
	// sale synced with any occurred_at the contract allows is not dated before their issue.
	ts.clock.Set(testNow.Add(-73 * time.Hour))
	w.fresh = ts.mustCard("koper-72h", "Ana Novak", "sl")
	w.used = ts.mustCard("koper-72h", "", "en")
	w.blocked = ts.mustCard("koper-72h", "", "en")
	ts.clock.Set(testNow)
	ts.must(200, "POST", "/api/v1/cards/"+w.blocked.ID+"/block", `{"reason":"lost"}`, asAdmin, nil)
	w.redA = ts.mustRedeem(w.keyA, w.used.Token, w.once.ID, "10.00", "setup-a")
	w.redB = ts.mustRedeem(w.keyB, w.used.Token, w.offerB.ID, "8.00", "setup-b")
	w.voided = ts.mustRedeem(w.keyA, w.used.Token, w.unlimited.ID, "3.00", "setup-voided")
	ts.must(200, "POST", "/api/v1/pos/redemptions/"+w.voided.ID+"/void", `{"reason":"wrong"}`, asKey(w.keyA), nil)

	// A well-formed, correctly signed token and a valid number of cards never issued.
	w.unknownNumber = unusedNumber(t, ts)
	var err error
	if w.unknownToken, err = ts.s.keys.Sign(w.unknownNumber); err != nil {
		t.Fatal(err)
	}
	return w
}

// unusedNumber is a valid card number that no card has.
func unusedNumber(t testing.TB, ts *testServer) string {
	for {
		n, err := card.NewNumber()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ts.db.CardByNumber(context.Background(), n); err != nil {
			return n
		}
	}
}

// redeemBody is the JSON of a till's redemption or quote.
func redeemBody(cardInput, offerID, amount string) string {
	return fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":%q,"terminal":"till-1"}`, cardInput, offerID, amount)
}

// TestErrorCodes reaches every error code of the contract's first part through HTTP and
// checks the status, the code and the body's shape.
func TestErrorCodes(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	a, c := asKey(w.keyA), asKey(w.keyC)
	idem := func(h hdr, key string) hdr { return h.with("Idempotency-Key", key) }
	redeem := func(cardInput, offerID, amount string) string { return redeemBody(cardInput, offerID, amount) }
	okBody := redeem(w.fresh.Token, w.unlimited.ID, "10.00")
	badLuhn := w.fresh.Number[:11] + string('0'+(w.fresh.Number[11]-'0'+1)%10)

	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		header     hdr
		wantStatus int
		wantCode   string
	}{
		// 401 and 403: who may call what.
		{"admin route without secret", "GET", "/api/v1/products", "", nil, 401, "unauthorized"},
		{"admin route with wrong secret", "GET", "/api/v1/products", "", asKey("cca_wrong"), 401, "unauthorized"},
		{"admin route with other scheme", "GET", "/api/v1/products", "", hdr{"Authorization": "Basic " + testAdminToken}, 401, "unauthorized"},
		{"admin route with empty bearer", "GET", "/api/v1/products", "", hdr{"Authorization": "Bearer "}, 401, "unauthorized"},
		{"till route without secret", "POST", "/api/v1/pos/check", `{"card":"x"}`, nil, 401, "unauthorized"},
		{"till route with unknown merchant key", "POST", "/api/v1/pos/check", `{"card":"x"}`, asKey("ccm_unknown"), 401, "unauthorized"},
		{"till route with wrong secret", "GET", "/api/v1/pos/redemptions", "", asKey("nope"), 401, "unauthorized"},
		{"merchant key on admin route", "GET", "/api/v1/products", "", a, 403, "forbidden"},
		{"merchant key creating a card", "POST", "/api/v1/cards", `{"product":"koper-72h"}`, a, 403, "forbidden"},
		{"merchant key on report", "GET", "/api/v1/reports/monthly?month=2026-10", "", a, 403, "forbidden"},
		{"admin token on till route", "POST", "/api/v1/pos/check", `{"card":"x"}`, asAdmin, 403, "forbidden"},
		{"admin token redeeming", "POST", "/api/v1/pos/redemptions", okBody, idem(asAdmin, "k1"), 403, "forbidden"},
		{"suspended merchant checks", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.fresh.Token), c, 403, "merchant_suspended"},
		{"suspended merchant lists", "GET", "/api/v1/pos/redemptions", "", c, 403, "merchant_suspended"},
		{"suspended merchant key on admin route", "GET", "/api/v1/products", "", c, 403, "forbidden"},

		// 400 invalid_request: bodies.
		{"unknown JSON field", "POST", "/api/v1/products", `{"code":"x","name":{"en":"X"},"validity_hours":1,"price":"1","audience":"tourist","colour":"red"}`, asAdmin, 400, "invalid_request"},
		{"unknown field at till", "POST", "/api/v1/pos/redemptions", `{"card":"x","offer_id":"y","amount":"1","tip":"1"}`, idem(a, "k2"), 400, "invalid_request"},
		{"malformed JSON", "POST", "/api/v1/pos/check", `{"card":`, a, 400, "invalid_request"},
		{"malformed JSON garbage", "POST", "/api/v1/merchants", `name=x`, asAdmin, 400, "invalid_request"},
		{"two JSON objects", "POST", "/api/v1/pos/check", `{"card":"x"}{"card":"y"}`, a, 400, "invalid_request"},
		{"JSON array body", "POST", "/api/v1/cards", `[]`, asAdmin, 400, "invalid_request"},
		{"empty body", "POST", "/api/v1/cards", "", asAdmin, 400, "invalid_request"},
		{"empty body at till", "POST", "/api/v1/pos/redemptions", "", idem(a, "k3"), 400, "invalid_request"},
		{"empty card", "POST", "/api/v1/pos/check", `{"card":"  "}`, a, 400, "invalid_request"},
		{"wrong type", "POST", "/api/v1/cards/batch", `{"product":"koper-72h","count":"10"}`, asAdmin, 400, "invalid_request"},
		{"batch count 0", "POST", "/api/v1/cards/batch", `{"product":"koper-72h","count":0}`, asAdmin, 400, "invalid_request"},
		{"batch count 1001", "POST", "/api/v1/cards/batch", `{"product":"koper-72h","count":1001}`, asAdmin, 400, "invalid_request"},
		{"card lang unknown", "POST", "/api/v1/cards", `{"product":"koper-72h","lang":"fr"}`, asAdmin, 400, "invalid_request"},
		{"merchant category unknown", "POST", "/api/v1/merchants", `{"name":"X","category":"casino"}`, asAdmin, 400, "invalid_request"},
		{"merchant lat without lon", "POST", "/api/v1/merchants", `{"name":"X","category":"bar","lat":45.5}`, asAdmin, 400, "invalid_request"},
		{"merchant status unknown", "PATCH", "/api/v1/merchants/" + w.a.ID, `{"status":"closed"}`, asAdmin, 400, "invalid_request"},
		{"void without reason", "POST", "/api/v1/pos/redemptions/" + w.redA.ID + "/void", `{}`, a, 400, "invalid_request"},

		// 400 invalid_request: money.
		{"amount negative", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "-1"), a, 400, "invalid_request"},
		{"amount exponent", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "1e3"), a, 400, "invalid_request"},
		{"amount as a number", "POST", "/api/v1/pos/quote", fmt.Sprintf(`{"card":%q,"offer_id":%q,"amount":12.5}`, w.fresh.Token, w.unlimited.ID), a, 400, "invalid_request"},
		{"amount three decimals", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "12.345"), a, 400, "invalid_request"},
		{"amount above the maximum", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "1000000.01"), a, 400, "invalid_request"},
		{"amount empty", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, ""), a, 400, "invalid_request"},
		{"amount with sign", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "+5"), a, 400, "invalid_request"},
		{"amount with comma", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "5,50"), a, 400, "invalid_request"},
		{"amount with leading zero", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "05.50"), a, 400, "invalid_request"},
		{"amount with trailing dot", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.unlimited.ID, "5."), a, 400, "invalid_request"},
		{"redemption amount negative", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.unlimited.ID, "-1"), idem(a, "k4"), 400, "invalid_request"},
		{"price exponent", "POST", "/api/v1/products", `{"code":"p","name":{"en":"P"},"validity_hours":1,"price":"1e3","audience":"tourist"}`, asAdmin, 400, "invalid_request"},
		{"price as a number", "POST", "/api/v1/products", `{"code":"p","name":{"en":"P"},"validity_hours":1,"price":12.5,"audience":"tourist"}`, asAdmin, 400, "invalid_request"},
		{"offer max_discount three decimals", "POST", "/api/v1/merchants/" + w.a.ID + "/offers", `{"title":{"en":"X"},"kind":"free","limit":"once","max_discount":"1.005"}`, asAdmin, 400, "invalid_request"},
		{"offer percent above 100", "POST", "/api/v1/merchants/" + w.a.ID + "/offers", `{"title":{"en":"X"},"kind":"percent","value":"100.5","limit":"once"}`, asAdmin, 400, "invalid_request"},
		{"offer share above 100", "PATCH", "/api/v1/offers/" + w.once.ID, `{"municipal_share":"101"}`, asAdmin, 400, "invalid_request"},

		// 400 invalid_request: headers and query.
		{"missing Idempotency-Key", "POST", "/api/v1/pos/redemptions", okBody, a, 400, "invalid_request"},
		{"Idempotency-Key too long", "POST", "/api/v1/pos/redemptions", okBody, idem(a, strings.Repeat("k", 256)), 400, "invalid_request"},
		{"limit 0", "GET", "/api/v1/products?limit=0", "", asAdmin, 400, "invalid_request"},
		{"limit 501", "GET", "/api/v1/merchants?limit=501", "", asAdmin, 400, "invalid_request"},
		{"limit not a number", "GET", "/api/v1/pos/redemptions?limit=ten", "", a, 400, "invalid_request"},
		{"cursor not ours", "GET", "/api/v1/products?cursor=zzzz", "", asAdmin, 400, "invalid_request"},
		{"cursor not base64", "GET", "/api/v1/cards?cursor=%21%21", "", asAdmin, 400, "invalid_request"},
		{"cursor at till", "GET", "/api/v1/pos/redemptions?cursor=abc", "", a, 400, "invalid_request"},
		{"month 13", "GET", "/api/v1/reports/monthly?month=2026-13", "", asAdmin, 400, "invalid_request"},
		{"month one digit", "GET", "/api/v1/reports/monthly?month=2026-1", "", asAdmin, 400, "invalid_request"},
		{"month missing", "GET", "/api/v1/reports/monthly", "", asAdmin, 400, "invalid_request"},
		{"month a date", "GET", "/api/v1/reports/monthly?month=2026-10-01", "", asAdmin, 400, "invalid_request"},
		{"report format", "GET", "/api/v1/reports/monthly?month=2026-10&format=xls", "", asAdmin, 400, "invalid_request"},
		{"from not a date", "GET", "/api/v1/pos/redemptions?from=yesterday", "", a, 400, "invalid_request"},
		{"from after to", "GET", "/api/v1/pos/redemptions?from=2026-10-31&to=2026-10-01", "", a, 400, "invalid_request"},

		// Card errors.
		{"forged token at till", "POST", "/api/v1/pos/redemptions", redeem(forge(w.fresh.Token), w.unlimited.ID, "10.00"), idem(a, "k5"), 422, "card_invalid"},
		{"forged URL at till", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, testPublicURL+"/c/"+forge(w.fresh.Token)), a, 422, "card_invalid"},
		{"token cut short", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, w.fresh.Token[:99]), a, 422, "card_invalid"},
		{"number with wrong check digit", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, badLuhn), a, 422, "card_invalid"},
		{"forged token on public card", "GET", "/api/v1/public/cards/" + forge(w.fresh.Token), "", nil, 422, "card_invalid"},
		{"bare number on public card", "GET", "/api/v1/public/cards/" + w.fresh.Number, "", nil, 422, "card_invalid"},
		{"forged token QR", "GET", "/c/" + forge(w.fresh.Token) + "/qr.png", "", nil, 422, "card_invalid"},
		{"unknown token at till", "POST", "/api/v1/pos/redemptions", redeem(w.unknownToken, w.unlimited.ID, "10.00"), idem(a, "k6"), 404, "card_not_found"},
		{"unknown number at till", "POST", "/api/v1/pos/check", fmt.Sprintf(`{"card":%q}`, card.FormatNumber(w.unknownNumber)), a, 404, "card_not_found"},
		{"unknown token on public card", "GET", "/api/v1/public/cards/" + w.unknownToken, "", nil, 404, "card_not_found"},
		{"unknown card id", "GET", "/api/v1/cards/crd_nope", "", asAdmin, 404, "card_not_found"},
		{"block unknown card", "POST", "/api/v1/cards/crd_nope/block", `{"reason":"lost"}`, asAdmin, 404, "card_not_found"},
		{"blocked card", "POST", "/api/v1/pos/redemptions", redeem(w.blocked.Token, w.unlimited.ID, "10.00"), idem(a, "k7"), 422, "card_blocked"},
		{"blocked card quote", "POST", "/api/v1/pos/quote", redeem(w.blocked.Token, w.unlimited.ID, "10.00"), a, 422, "card_blocked"},
		{"expired card", "POST", "/api/v1/pos/redemptions", redeem(w.expired.Token, w.unlimited.ID, "10.00"), idem(a, "k8"), 422, "card_expired"},
		{"expired card by number", "POST", "/api/v1/pos/quote", redeem(w.expired.Number, w.unlimited.ID, "10.00"), a, 422, "card_expired"},

		// Offer errors.
		{"unknown offer", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, "off_nope", "10.00"), idem(a, "k9"), 404, "offer_not_found"},
		{"another merchant's offer", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.offerB.ID, "10.00"), idem(a, "k10"), 404, "offer_not_found"},
		{"another merchant's offer quote", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.offerB.ID, "10.00"), a, 404, "offer_not_found"},
		{"admin gets unknown offer", "GET", "/api/v1/offers/off_nope", "", asAdmin, 404, "offer_not_found"},
		{"offer switched off", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.inactive.ID, "10.00"), idem(a, "k11"), 422, "offer_inactive"},
		{"offer out of its dates", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.outOfSeason.ID, "10.00"), idem(a, "k12"), 422, "offer_inactive"},
		{"offer for another product", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.resident.ID, "10.00"), idem(a, "k13"), 422, "offer_not_eligible"},
		{"amount below minimum", "POST", "/api/v1/pos/redemptions", redeem(w.fresh.Token, w.minAmount.ID, "14.99"), idem(a, "k14"), 422, "amount_too_low"},
		{"amount below minimum quote", "POST", "/api/v1/pos/quote", redeem(w.fresh.Token, w.minAmount.ID, "0"), a, 422, "amount_too_low"},
		{"once offer used", "POST", "/api/v1/pos/redemptions", redeem(w.used.Token, w.once.ID, "10.00"), idem(a, "k15"), 409, "limit_reached"},
		{"once offer used, by number", "POST", "/api/v1/pos/quote", redeem(card.FormatNumber(w.used.Number), w.once.ID, "10.00"), a, 409, "limit_reached"},

		// Idempotency, voids and other merchants' things.
		{"same key, other body", "POST", "/api/v1/pos/redemptions", redeem(w.used.Token, w.once.ID, "10.01"), idem(a, "setup-a"), 422, "idempotency_mismatch"},
		{"same key, other card input", "POST", "/api/v1/pos/redemptions", redeem(testPublicURL+"/c/"+w.used.Token, w.once.ID, "10.00"), idem(a, "setup-a"), 422, "idempotency_mismatch"},
		{"void another merchant's redemption", "POST", "/api/v1/pos/redemptions/" + w.redB.ID + "/void", `{"reason":"mine"}`, a, 404, "not_found"},
		{"void unknown redemption", "POST", "/api/v1/redemptions/red_nope/void", `{"reason":"x"}`, asAdmin, 404, "not_found"},
		{"unknown merchant", "GET", "/api/v1/merchants/mer_nope", "", asAdmin, 404, "not_found"},
		{"offer for unknown merchant", "POST", "/api/v1/merchants/mer_nope/offers", `{"title":{"en":"X"},"kind":"free","limit":"once"}`, asAdmin, 404, "not_found"},
		{"rotate unknown merchant's key", "POST", "/api/v1/merchants/mer_nope/key", "", asAdmin, 404, "not_found"},
		{"unknown route", "GET", "/api/v1/nothing", "", asAdmin, 404, "not_found"},
		{"void twice at till", "POST", "/api/v1/pos/redemptions/" + w.voided.ID + "/void", `{"reason":"again"}`, a, 409, "already_voided"},
		{"void twice by admin", "POST", "/api/v1/redemptions/" + w.voided.ID + "/void", `{"reason":"again"}`, asAdmin, 409, "already_voided"},
		{"product code taken", "POST", "/api/v1/products", `{"code":"koper-72h","name":{"en":"X"},"validity_hours":1,"price":"1","audience":"tourist"}`, asAdmin, 409, "already_exists"},
		{"card of unknown product", "POST", "/api/v1/cards", `{"product":"nope"}`, asAdmin, 404, "product_not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := ts.do(tt.method, tt.path, tt.body, tt.header)
			wantError(t, resp, tt.wantStatus, tt.wantCode)
		})
	}

	// None of the failed redemptions above recorded anything: only the setup's four exist
	// (one of them on the expired card).
	var list listBody[redemptionJSON]
	ts.must(200, "GET", "/api/v1/redemptions", "", asAdmin, &list)
	if got, want := len(list.Items), 4; got != want {
		t.Fatalf("%d redemptions recorded, want %d", got, want)
	}
	var fresh cardJSON
	ts.must(200, "GET", "/api/v1/cards/"+w.fresh.ID, "", asAdmin, &fresh)
	if fresh.Status != card.StatusIssued {
		t.Fatalf("fresh card is %s after failed redemptions, want issued", fresh.Status)
	}
}

// TestNoInputCausesServerError sends odd bodies, parameters and secrets to every route and
// checks that none of them gets a 5xx.
func TestNoInputCausesServerError(t *testing.T) {
	w := newWorld(t)
	ts := w.ts
	bodies := []string{"", "null", "{}", "[]", `"x"`, "0", "{", `{"card":null}`, `{"card":123}`,
		`{"name":null,"title":null,"products":null,"lat":null,"lon":null,"value":null,"kind":null,"reason":null}`,
		`{"title":{"en":null}}`, `{"lat":1e400}`, `{"count":1e10}`, `{"amount":"99999999999999999999"}`,
		`{"card":"` + strings.Repeat("9", 3000) + `"}`, `{"card":"/c/","offer_id":"x","amount":"1"}`,
		`{"card":"\u0000","offer_id":"\u0000","amount":"0"}`, `{"kind":"free","value":"1"}`, `{"kind":"percent","value":null}`,
		`{"validity_hours":0,"validity_days":0}`, `{"validity_hours":-1}`, `{"validity_hours":9999999999}`, `{"status":"suspended","name":""}`,
		`{"products":["nope"]}`, `{"valid_from":"2026-02-30"}`, `{"valid_from":"2026-10-01","valid_until":"2026-09-01"}`,
		strings.Repeat("[", 10000)}
	params := []string{"x", "%00", "%FF%FE", strings.Repeat("a", 300), w.fresh.ID, w.a.ID, w.once.ID, w.redA.ID, w.fresh.Token}
	queries := []string{"", "?limit=-1", "?limit=99999999999999999999", "?cursor=" + strings.Repeat("A", 200), "?month=0000-00",
		"?from=2026-02-30", "?merchant=%00&card=%00", "?merchant=%C3%28&batch=%FF&number=%ED%A0%80", "?format=csv&month=2026-10", "?lang=xx"}
	// The secret each route expects, so the input reaches the handler.
	secretFor := func(path string) hdr {
		switch {
		case strings.HasPrefix(path, "/api/v1/pos"):
			return asKey(w.keyA).with("Idempotency-Key", "fuzz")
		case strings.HasPrefix(path, "/api/v1/"):
			return asAdmin
		}
		return nil
	}
	n := 0
	for _, r := range ts.app.GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "OPTIONS" || r.Method == "CONNECT" || r.Method == "TRACE" {
			continue
		}
		for _, p := range params {
			path := strings.NewReplacer(":id", p, ":token", p, "*", p).Replace(r.Path)
			h := secretFor(path)
			if r.Method == "GET" {
				for _, q := range queries {
					check(t, ts, r.Method, path+q, "", h)
					n++
				}
				continue
			}
			for _, body := range bodies {
				check(t, ts, r.Method, path, body, h)
				n++
			}
		}
		// Odd secrets on every route.
		for _, h := range []hdr{nil, asAdmin, asKey(w.keyC), asKey("ccm_" + strings.Repeat("x", 3000)), {"Authorization": "Bearer \x00"}} {
			check(t, ts, r.Method, strings.NewReplacer(":id", "x", ":token", "x", "*", "x").Replace(r.Path), "{}", h)
			n++
		}
	}
	t.Logf("%d requests, none a 5xx", n)
}

func check(t *testing.T, ts *testServer, method, path, body string, h hdr) {
	t.Helper()
	resp := ts.do(method, path, body, h)
	if resp.status >= 500 {
		t.Fatalf("%s %s %.200q: %d %s", method, path, body, resp.status, resp.body)
	}
	if resp.status >= 400 && !strings.HasPrefix(path, "/c/") && !strings.HasPrefix(path, "/static/") && !strings.HasPrefix(path, "/t/") {
		resp.errorCode(t)
	}
}
