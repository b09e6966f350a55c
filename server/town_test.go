package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"github.com/citycard/citycard/storage/storagetest"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
)

// townsEnv is secEnv (town koper: merchants A and B, a card) with a second town, ptuj: its
// product, a merchant P with an offer, and an office token for each town.
type townsEnv struct {
	*secEnv
	officeK, officeP   string // office tokens of koper and ptuj
	officeKID          string
	officePID          string
	merchP             merchant.Merchant
	keyP               string
	offerP             merchant.Offer
	productP           card.Product
	koper, ptujHeaders map[string]string // Citycard-Town for the network admin
}

func newTownsEnv(t testing.TB) *townsEnv {
	t.Helper()
	return newTownsEnvWith(t)
}

// newTownsEnvWith is newTownsEnv with more options of newTestServer.
func newTownsEnvWith(t testing.TB, opts ...testOption) *townsEnv {
	t.Helper()
	ctx := context.Background()
	e := &townsEnv{secEnv: newSecEnvWith(t, 0, opts...)}
	ptuj := storage.Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := e.db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	for _, o := range []struct {
		town   string
		secret *string
		id     *string
	}{{"koper", &e.officeK, &e.officeKID}, {"ptuj", &e.officeP, &e.officePID}} {
		*o.secret = newSecret("cco")
		sum := sha256.Sum256([]byte(*o.secret))
		tok, err := e.db.CreateOfficeToken(ctx, o.town, o.town+" office", sum[:])
		if err != nil {
			t.Fatal(err)
		}
		*o.id = tok.ID
	}
	e.productP = card.Product{Town: "ptuj", Code: "ptuj-24h", Name: map[string]string{"sl": "Ptuj 24 ur"}, ValidityHours: 24, PriceCents: 1000, Audience: "tourist"}
	if err := e.db.CreateProduct(ctx, &e.productP); err != nil {
		t.Fatal(err)
	}
	e.keyP = newSecret("ccm")
	sum := sha256.Sum256([]byte(e.keyP))
	e.merchP = merchant.Merchant{Town: "ptuj", Name: "Gostilna P", Category: "restaurant"}
	if err := e.db.CreateMerchant(ctx, &e.merchP, sum[:]); err != nil {
		t.Fatal(err)
	}
	e.offerP = merchant.Offer{MerchantID: e.merchP.ID, Title: map[string]string{"sl": "10 %"}, Kind: merchant.KindPercent,
		Value: 1000, Limit: "unlimited", MunicipalShare: 5000, Active: true}
	if err := e.db.CreateOffer(ctx, "ptuj", &e.offerP); err != nil {
		t.Fatal(err)
	}
	e.koper = map[string]string{HeaderTown: "koper"}
	e.ptujHeaders = map[string]string{HeaderTown: "ptuj"}
	return e
}

// call sends a request and checks its status (and error code, if want is an error).
func (e *townsEnv) call(t *testing.T, want int, code string, r secReq, out any) []byte {
	t.Helper()
	resp, body := e.do(r)
	if resp.StatusCode != want || (code != "" && errorCodeOf(body) != code) {
		t.Fatalf("%s %s: %d %s, want %d %s", r.method, r.path, resp.StatusCode, body, want, code)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v in %s", r.method, r.path, err, body)
		}
	}
	return body
}

// The network admin names its town with Citycard-Town once there are several; an office
// acts in its own town only; a single-town deployment needs no header (every other test).
func TestTownHeader(t *testing.T) {
	e := newTownsEnv(t)
	e.call(t, 400, "town_required", secReq{method: "GET", path: "/api/v1/merchants", secret: e.admin}, nil)
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/merchants", secret: e.admin, header: map[string]string{HeaderTown: "maribor"}}, nil)
	var list listBody[merchantJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/merchants", secret: e.admin, header: e.ptujHeaders}, &list)
	if len(list.Items) != 1 || list.Items[0].ID != e.merchP.ID || list.Items[0].Town != "ptuj" {
		t.Fatalf("ptuj's merchants = %+v", list.Items)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/merchants", secret: e.officeK}, &list)
	if len(list.Items) != 2 {
		t.Fatalf("koper's office sees %d merchants, want its 2", len(list.Items))
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/merchants", secret: e.officeK, header: e.koper}, nil)
	e.call(t, 403, "forbidden", secReq{method: "GET", path: "/api/v1/merchants", secret: e.officeK, header: e.ptujHeaders}, nil)
	e.call(t, 404, "not_found", secReq{method: "GET", path: "/api/v1/merchants/" + e.merchA.ID, secret: e.officeP}, nil)
	// An office is no network admin.
	e.call(t, 403, "forbidden", secReq{method: "POST", path: "/api/v1/towns", secret: e.officeK,
		body: `{"code":"kranj","name":{"sl":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl"]}`}, nil)
	e.call(t, 403, "forbidden", secReq{method: "GET", path: "/api/v1/towns/koper/tokens", secret: e.officeK}, nil)
	// A merchant key is neither.
	e.call(t, 403, "forbidden", secReq{method: "GET", path: "/api/v1/towns", secret: e.keyA}, nil)
	// An office's token is no till key, and a till's key is no office's.
	e.call(t, 403, "forbidden", secReq{method: "GET", path: "/api/v1/pos/me", secret: e.officeK}, nil)
}

func TestTownsAndOfficeTokens(t *testing.T) {
	e := newTownsEnv(t)
	var tw townJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/towns", secret: e.admin,
		body: `{"code":"kranj","name":{"sl":"Kranj","en":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl","en"],"public_url":"https://kranj.example/"}`}, &tw)
	if tw.Code != "kranj" || tw.PublicURL != "https://kranj.example" || tw.Languages[0] != "sl" || tw.CreatedAt == "" {
		t.Fatalf("created %+v", tw)
	}
	e.call(t, 409, "already_exists", secReq{method: "POST", path: "/api/v1/towns", secret: e.admin,
		body: `{"code":"kranj","name":{"sl":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl"]}`}, nil)
	for _, bad := range []string{
		`{"code":"K","name":{"sl":"K"},"timezone":"Europe/Ljubljana","languages":["sl"]}`,
		`{"code":"kamnik","name":{"sl":"Kamnik"},"timezone":"Mars/Olympus","languages":["sl"]}`,
		`{"code":"kamnik","name":{"sl":"Kamnik"},"timezone":"Europe/Ljubljana","languages":["fr"]}`,
		`{"code":"kamnik","name":{"sl":"Kamnik"},"timezone":"Europe/Ljubljana","languages":[]}`,
		`{"code":"kamnik","name":{},"timezone":"Europe/Ljubljana","languages":["sl"]}`,
		`{"code":"kamnik","name":{"sl":"Kamnik"},"timezone":"Europe/Ljubljana","languages":["sl"],"public_url":"ftp://x"}`,
	} {
		e.call(t, 400, "invalid_request", secReq{method: "POST", path: "/api/v1/towns", secret: e.admin, body: bad}, nil)
	}
	var towns listBody[townJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns", secret: e.admin}, &towns)
	if len(towns.Items) != 3 {
		t.Fatalf("towns = %+v", towns.Items)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns", secret: e.officeP}, &towns)
	if len(towns.Items) != 1 || towns.Items[0].Code != "ptuj" {
		t.Fatalf("ptuj's office sees towns %+v", towns.Items)
	}
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/towns/koper", secret: e.officeP}, nil)
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/kranj", secret: e.admin, body: `{"timezone":"Asia/Tokyo"}`}, &tw)
	if tw.Timezone != "Asia/Tokyo" || tw.Name["en"] != "Kranj" {
		t.Fatalf("patched %+v", tw)
	}
	e.call(t, 400, "invalid_request", secReq{method: "PATCH", path: "/api/v1/towns/kranj", secret: e.admin, body: `{"code":"other"}`}, nil)
	e.call(t, 404, "town_not_found", secReq{method: "PATCH", path: "/api/v1/towns/maribor", secret: e.admin, body: `{"timezone":"UTC"}`}, nil)

	// An office token of the new town: shown once, works at once, only in its town.
	var tok newOfficeTokenJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/towns/kranj/tokens", secret: e.admin, body: `{"label":"Kranj office"}`}, &tok)
	if !strings.HasPrefix(tok.Token, "cco_") || tok.ID == "" {
		t.Fatalf("token %+v", tok)
	}
	e.call(t, 404, "town_not_found", secReq{method: "POST", path: "/api/v1/towns/maribor/tokens", secret: e.admin, body: `{}`}, nil)
	var m struct {
		Merchant merchantJSON `json:"merchant"`
	}
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/merchants", secret: tok.Token, body: `{"name":"Kavarna Kranj","category":"bar"}`}, &m)
	if m.Merchant.Town != "kranj" {
		t.Fatalf("the office's merchant is in %q", m.Merchant.Town)
	}
	var toks listBody[officeTokenJSON]
	body := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/towns/kranj/tokens", secret: e.admin}, &toks)
	if len(toks.Items) != 1 || toks.Items[0].LastUsedAt == nil || strings.Contains(string(body), tok.Token) || strings.Contains(string(body), `"token"`) {
		t.Fatalf("tokens list %s", body)
	}
	e.call(t, 404, "not_found", secReq{method: "DELETE", path: "/api/v1/towns/koper/tokens/" + tok.ID, secret: e.admin}, nil)
	e.call(t, 204, "", secReq{method: "DELETE", path: "/api/v1/towns/kranj/tokens/" + tok.ID, secret: e.admin}, nil)
	e.call(t, 401, "unauthorized", secReq{method: "GET", path: "/api/v1/merchants", secret: tok.Token}, nil)
	e.call(t, 404, "not_found", secReq{method: "DELETE", path: "/api/v1/towns/kranj/tokens/" + tok.ID, secret: e.admin}, nil)

	var pub listBody[struct {
		Code      string            `json:"code"`
		Name      map[string]string `json:"name"`
		Languages []string          `json:"languages"`
	}]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/towns"}, &pub)
	if len(pub.Items) != 3 || pub.Items[0].Code != "koper" || pub.Items[2].Code != "ptuj" {
		t.Fatalf("public towns %+v", pub.Items)
	}
}

// A card is accepted only in the towns its product lists: elsewhere check shows every offer
// unavailable with card_not_accepted, and quote and redeem are 422. A network product lists
// several towns; each office may issue it, and each town's report counts the redemptions at
// its merchants, whoever issued the card.
func TestCardsAcrossTowns(t *testing.T) {
	e := newTownsEnv(t)
	koperCard := `{"card":"` + e.card.Token + `","offer_id":"` + e.offerP.ID + `","amount":"20.00"}`
	e.call(t, 422, "card_not_accepted", secReq{method: "POST", path: "/api/v1/pos/quote", secret: e.keyP, body: koperCard}, nil)
	e.call(t, 422, "card_not_accepted", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyP, body: koperCard,
		header: map[string]string{"Idempotency-Key": "x1"}}, nil)
	var check struct {
		Card struct {
			AcceptedIn []townRefJSON `json:"accepted_in"`
		} `json:"card"`
		Offers []struct {
			ID        string  `json:"id"`
			Available bool    `json:"available"`
			Reason    *string `json:"reason"`
		} `json:"offers"`
	}
	e.call(t, 200, "", secReq{method: "POST", path: "/api/v1/pos/check", secret: e.keyP, body: `{"card":"` + e.card.Token + `"}`}, &check)
	if len(check.Offers) != 1 || check.Offers[0].Available || check.Offers[0].Reason == nil || *check.Offers[0].Reason != "card_not_accepted" {
		t.Fatalf("check in ptuj = %+v", check)
	}
	// The till is told where the card is valid (issue 19).
	if a := check.Card.AcceptedIn; len(a) != 1 || a[0].Code != "koper" || a[0].Name["sl"] == "" {
		t.Fatalf("accepted_in in ptuj = %+v", a)
	}
	// A network product: only the network admin without a town creates it, and it must list towns.
	e.call(t, 400, "town_required", secReq{method: "POST", path: "/api/v1/products", secret: e.admin,
		body: `{"code":"net-72h","name":{"en":"Network 72 h"},"validity_hours":72,"price":"40.00","audience":"tourist"}`}, nil)
	e.call(t, 400, "invalid_request", secReq{method: "POST", path: "/api/v1/products", secret: e.admin,
		body: `{"code":"net-72h","name":{"en":"Network 72 h"},"validity_hours":72,"price":"40.00","audience":"tourist","towns":["koper","maribor"]}`}, nil)
	var p productJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.admin,
		body: `{"code":"net-72h","name":{"en":"Network 72 h"},"validity_hours":72,"price":"40.00","audience":"tourist","towns":["ptuj","koper"]}`}, &p)
	if p.Town != "" || strings.Join(p.Towns, ",") != "koper,ptuj" {
		t.Fatalf("network product %+v", p)
	}
	// Offices see their own products and the network's; not another town's.
	var prods listBody[productJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/products", secret: e.officeP}, &prods)
	if len(prods.Items) != 2 || prods.Items[0].Code != "ptuj-24h" || prods.Items[1].Code != "net-72h" {
		t.Fatalf("ptuj's products %+v", prods.Items)
	}
	e.call(t, 404, "product_not_found", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"koper-72h"}`}, nil)
	var cd cardJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"net-72h"}`}, &cd)
	if cd.Town != "ptuj" {
		t.Fatalf("card issued by ptuj's office is of %q", cd.Town)
	}
	// Redeemed at merchant A in koper and at P in ptuj.
	var rK, rK2 redemptionJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyA, header: map[string]string{"Idempotency-Key": "n1"},
		body: `{"card":"` + cd.Token + `","offer_id":"` + e.offerA.ID + `","amount":"20.00"}`}, &rK)
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyP, header: map[string]string{"Idempotency-Key": "n2"},
		body: `{"card":"` + cd.Token + `","offer_id":"` + e.offerP.ID + `","amount":"30.00"}`}, &rK2)
	if rK.Town != "koper" || rK.CardTown != "ptuj" || rK2.Town != "ptuj" {
		t.Fatalf("redemptions %+v %+v", rK, rK2)
	}
	// Each town's redemptions are its own.
	var reds listBody[redemptionJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/redemptions", secret: e.officeP}, &reds)
	if len(reds.Items) != 1 || reds.Items[0].ID != rK2.ID {
		t.Fatalf("ptuj's redemptions %+v", reds.Items)
	}
	e.call(t, 404, "not_found", secReq{method: "POST", path: "/api/v1/redemptions/" + rK.ID + "/void", secret: e.officeP, body: `{"reason":"x"}`}, nil)
	// Koper's report counts the redemption at its merchant (a ptuj card), cards issued by
	// koper's office only; ptuj's the one at P.
	repK := townReport(t, e, e.koper)
	repP := townReport(t, e, e.ptujHeaders)
	if repK.Totals.Redemptions != 1 || repK.Totals.Amount != "20.00" || repK.Totals.CardsIssued != 1 {
		t.Fatalf("koper's report totals %+v", repK.Totals)
	}
	if repP.Totals.Redemptions != 1 || repP.Totals.Amount != "30.00" || repP.Totals.CardsIssued != 1 {
		t.Fatalf("ptuj's report totals %+v", repP.Totals)
	}
	// Each town's chain verifies; the network admin without a town gets every town's.
	var all struct {
		OK    bool `json:"ok"`
		Towns []struct {
			Town    string `json:"town"`
			OK      bool   `json:"ok"`
			Entries int64  `json:"entries"`
		} `json:"towns"`
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/ledger/verify", secret: e.admin}, &all)
	if !all.OK || len(all.Towns) != 2 || all.Towns[0].Town != "koper" || all.Towns[0].Entries != 1 || all.Towns[1].Entries != 1 {
		t.Fatalf("network verify %+v", all)
	}
	var one ledgerCheckJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/ledger/verify", secret: e.officeP}, &one)
	if !one.OK || *one.Entries != 1 {
		t.Fatalf("ptuj verify %+v", one)
	}
}

type townReportJSON struct {
	Totals struct {
		Redemptions int    `json:"redemptions"`
		Amount      string `json:"amount"`
		CardsIssued int    `json:"cards_issued"`
	} `json:"totals"`
	Timezone string `json:"timezone"`
	Days     []struct {
		Date        string `json:"date"`
		Redemptions int    `json:"redemptions"`
	} `json:"days"`
}

func townReport(t *testing.T, e *townsEnv, h map[string]string) townReportJSON {
	t.Helper()
	var rep townReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10", secret: e.admin, header: h}, &rep)
	return rep
}

// Days, months and daily limits follow the town's zone: a redemption at 23:30 UTC on 31
// October is November in Tokyo, and Tokyo's report says so.
func TestTownZone(t *testing.T) {
	e := newTownsEnv(t)
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/ptuj", secret: e.admin, body: `{"timezone":"Asia/Tokyo"}`}, nil)
	var cd cardJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards", secret: e.officeP, body: `{"product":"ptuj-24h"}`}, &cd)
	e.clock.Set(time.Date(2026, 10, 31, 23, 30, 0, 0, time.UTC))
	var r redemptionJSON
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyP, header: map[string]string{"Idempotency-Key": "z1"},
		body: `{"card":"` + cd.Token + `","offer_id":"` + e.offerP.ID + `","amount":"10.00"}`}, &r)
	oct := townReport(t, e, e.ptujHeaders)
	var nov townReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-11", secret: e.officeP}, &nov)
	if oct.Totals.Redemptions != 0 || nov.Totals.Redemptions != 1 || nov.Timezone != "Asia/Tokyo" {
		t.Fatalf("october %+v, november %+v", oct, nov)
	}
	// 16:00 UTC on 1 November is the 2nd in Tokyo (the 1st in koper).
	e.clock.Set(time.Date(2026, 11, 1, 16, 0, 0, 0, time.UTC))
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: e.keyP, header: map[string]string{"Idempotency-Key": "z2"},
		body: `{"card":"` + cd.Token + `","offer_id":"` + e.offerP.ID + `","amount":"10.00"}`}, &r)
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-11", secret: e.officeP}, &nov)
	if nov.Days[0].Redemptions != 1 || nov.Days[1].Date != "2026-11-02" || nov.Days[1].Redemptions != 1 {
		t.Fatalf("november's days %+v", nov.Days[:3])
	}
	// 00:30 on 1 December in Tokyo: November is over there, not in koper.
	e.clock.Set(time.Date(2026, 11, 30, 15, 30, 0, 0, time.UTC))
	e.call(t, 409, "month_open", secReq{method: "POST", path: "/api/v1/reports/monthly/2026-11/close", secret: e.officeK}, nil)
	e.call(t, 200, "", secReq{method: "POST", path: "/api/v1/reports/monthly/2026-11/close", secret: e.officeP}, nil)
	var all struct {
		OK bool `json:"ok"`
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/ledger/verify", secret: e.admin}, &all)
	if !all.OK {
		t.Fatal("verify after a close in one town")
	}
}

// The public endpoints take ?town=: offers of one town (each with its town), a town's open
// data (needed with several towns), one town's checkpoints.
func TestPublicByTown(t *testing.T) {
	e := newTownsEnv(t)
	var offers listBody[publicOfferJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/offers?town=ptuj"}, &offers)
	if len(offers.Items) != 1 || offers.Items[0].Offer.ID != e.offerP.ID || offers.Items[0].Offer.Town != "ptuj" {
		t.Fatalf("ptuj's offers %+v", offers.Items)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/offers"}, &offers)
	towns := map[string]int{}
	for _, it := range offers.Items {
		towns[it.Offer.Town]++
	}
	if towns["koper"] != 3 || towns["ptuj"] != 1 {
		t.Fatalf("every town's offers by town: %v", towns)
	}
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/public/offers?town=maribor"}, nil)
	e.call(t, 400, "town_required", secReq{method: "GET", path: "/api/v1/reports/open-data?month=2026-10"}, nil)
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/reports/open-data?month=2026-10&town=maribor"}, nil)
	// Published once the town's month is closed: ptuj's September, not koper's.
	if _, err := e.db.CloseMonth(context.Background(), "ptuj", merchant.Month{Year: 2026, Month: time.September}, encodeReport); err != nil {
		t.Fatal(err)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/open-data?month=2026-09&town=ptuj"}, nil)
	e.call(t, 409, "month_open", secReq{method: "GET", path: "/api/v1/reports/open-data?month=2026-09&town=koper"}, nil)

	ctx := context.Background()
	if _, signed, err := e.db.CheckpointIfDue(ctx, merchant.CheckpointStartup, time.Hour, time.Hour); err != nil || !signed {
		t.Fatalf("checkpoints: %v %v", signed, err)
	}
	var cps listBody[checkpointJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/ledger/checkpoints"}, &cps)
	if len(cps.Items) != 2 {
		t.Fatalf("a checkpoint of each town: %+v", cps.Items)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/ledger/checkpoints?town=ptuj"}, &cps)
	if len(cps.Items) != 1 || cps.Items[0].Town != "ptuj" || cps.Items[0].Version != 2 {
		t.Fatalf("ptuj's checkpoints %+v", cps.Items)
	}
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/public/ledger/checkpoints?town=maribor"}, nil)

	// The command line verifies every town's chain, one line each; a checkpoint of one town
	// is checked against that town's chain.
	cp, _ := json.Marshal(cps.Items[0])
	cpFile := filepath.Join(t.TempDir(), "cp.json")
	if err := os.WriteFile(cpFile, cp, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	env := func(string) string { return "" }
	if err := ledgerCommand(ctx, []string{"verify", "--db", e.dbPath, "--checkpoint", cpFile}, env, &out, &errOut); err != nil {
		t.Fatalf("ledger verify: %v %s", err, errOut.String())
	}
	if lines := strings.Split(strings.TrimSpace(out.String()), "\n"); len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "koper: ok: 0 entries") || !strings.HasPrefix(lines[1], "ptuj: ok: 1 entries") {
		t.Fatalf("ledger verify printed %q", out.String())
	}
	// A checkpoint from before towns names no town: with two towns it needs --town.
	var v1 map[string]any
	json.Unmarshal(cp, &v1)
	delete(v1, "town")
	v1["version"] = 1
	cp, _ = json.Marshal(v1)
	os.WriteFile(cpFile, cp, 0o600)
	if err := ledgerCommand(ctx, []string{"verify", "--db", e.dbPath, "--checkpoint", cpFile}, env, &out, &errOut); err == nil ||
		!strings.Contains(err.Error(), "--town") {
		t.Fatalf("a checkpoint without a town, two towns: %v", err)
	}
	if err := ledgerCommand(ctx, []string{"verify", "--db", e.dbPath, "--checkpoint", cpFile, "--town", "maribor"}, env, &out, &errOut); err == nil {
		t.Fatal("--town of no town verified")
	}
}

// A fresh database starts with the town of CITYCARD_TOWN, CITYCARD_TOWN_NAME,
// CITYCARD_LANGUAGES, CITYCARD_TZ and CITYCARD_PUBLIC_URL; bad values stop the start.
func TestConfiguredTown(t *testing.T) {
	env := map[string]string{"CITYCARD_DB": storagetest.DSN(t), "CITYCARD_TOWN": "ptuj",
		"CITYCARD_TOWN_NAME": "Ptuj", "CITYCARD_LANGUAGES": "sl, en", "CITYCARD_TZ": "Europe/Vienna",
		"CITYCARD_PUBLIC_URL": "https://ptuj.example/"}
	cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	db, _, _, _, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tw, err := db.Town(context.Background(), "ptuj")
	if err != nil || len(db.TownCodes()) != 1 {
		t.Fatalf("towns %v, %v", db.TownCodes(), err)
	}
	if tw.Name["sl"] != "Ptuj" || strings.Join(tw.Languages, ",") != "sl,en" || tw.Timezone != "Europe/Vienna" || tw.PublicURL != "https://ptuj.example" {
		t.Fatalf("the configured town is %+v", tw)
	}
	for k, v := range map[string]string{"CITYCARD_TOWN": "P", "CITYCARD_LANGUAGES": "sl,fr"} {
		bad := map[string]string{k: v}
		if _, _, err := parseConfig("serve", nil, func(k string) string { return bad[k] }, io.Discard); err == nil {
			t.Errorf("%s=%s accepted", k, v)
		}
	}
}

// The towns' answers are exactly what docs/openapi.yaml says.
func TestOpenAPITownResponses(t *testing.T) {
	doc, _ := loadOpenAPI(t)
	e := newTownsEnv(t)
	check := func(want int, r secReq, template string) []byte {
		t.Helper()
		resp, body := e.do(r)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", r.method, r.path, resp.StatusCode, body)
		}
		openAPICheckResponse(t, doc, r.method, template, resp, body)
		return body
	}
	check(201, secReq{method: "POST", path: "/api/v1/towns", secret: e.admin,
		body: `{"code":"kranj","name":{"sl":"Kranj"},"timezone":"Europe/Ljubljana","languages":["sl"]}`}, "/api/v1/towns")
	check(200, secReq{method: "GET", path: "/api/v1/towns", secret: e.admin}, "/api/v1/towns")
	check(200, secReq{method: "GET", path: "/api/v1/towns/kranj", secret: e.admin}, "/api/v1/towns/{code}")
	check(200, secReq{method: "PATCH", path: "/api/v1/towns/kranj", secret: e.admin, body: `{"public_url":"https://kranj.example"}`}, "/api/v1/towns/{code}")
	check(201, secReq{method: "POST", path: "/api/v1/towns/kranj/tokens", secret: e.admin, body: `{"label":"office"}`}, "/api/v1/towns/{code}/tokens")
	check(200, secReq{method: "GET", path: "/api/v1/towns/kranj/tokens", secret: e.admin}, "/api/v1/towns/{code}/tokens")
	check(200, secReq{method: "GET", path: "/api/v1/public/towns"}, "/api/v1/public/towns")
	check(404, secReq{method: "GET", path: "/api/v1/towns/maribor", secret: e.admin}, "/api/v1/towns/{code}")
	check(403, secReq{method: "POST", path: "/api/v1/towns", secret: e.officeK, body: `{}`}, "/api/v1/towns")
	body := check(200, secReq{method: "GET", path: "/api/v1/ledger/verify", secret: e.admin}, "/api/v1/ledger/verify")
	if !strings.Contains(string(body), `"towns":[`) {
		t.Fatalf("network verify %s", body)
	}
	check(200, secReq{method: "GET", path: "/api/v1/ledger/verify", secret: e.officeP}, "/api/v1/ledger/verify")
}

// A card looked up by number at another town's desk: that office sees none of the card, but
// learns which town issued it (its office can help the holder); at the issuing town's desk the
// card is found as always, and a number no town issued names no town.
func TestCardNumberAtAnotherTownsDesk(t *testing.T) {
	e := newTownsEnv(t)
	type answer struct {
		Items    []cardJSON `json:"items"`
		IssuedBy *struct {
			Code string            `json:"code"`
			Name map[string]string `json:"name"`
		} `json:"issued_by"`
	}
	search := func(secret, number string) answer {
		t.Helper()
		var a answer
		b := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/cards?number=" + number, secret: secret}, nil)
		if err := json.Unmarshal(b, &a); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		return a
	}
	if a := search(e.officeP, e.card.Number); len(a.Items) != 0 || a.IssuedBy == nil || a.IssuedBy.Code != "koper" {
		t.Fatalf("Koper's card at Ptuj's desk: %+v, want no card and issued_by koper", a)
	}
	if a := search(e.officeK, e.card.Number); len(a.Items) != 1 || a.Items[0].ID != e.card.ID || a.IssuedBy != nil {
		t.Fatalf("Koper's card at Koper's desk: %+v", a)
	}
	unknown, err := card.NewNumber() // a valid number no town issued
	if err != nil || unknown == e.card.Number {
		t.Fatal(err)
	}
	if a := search(e.officeP, unknown); len(a.Items) != 0 || a.IssuedBy != nil {
		t.Fatalf("a number no town issued: %+v", a)
	}
}
