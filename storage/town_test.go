package storage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"github.com/citycard/citycard/storage/storagetest"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// Two towns on one database: koper (the city fixture) and ptuj, with a network card used in
// both. Each town's reports, closes and chain hold what happened at its merchants; the month
// rollup and the distinct cards carry the issuing town; no row is left without a town.
func TestTwoTownsKeepApart(t *testing.T) {
	ctx := context.Background()
	c := mustCity(t, storagetest.DSN(t), testLoc)
	db := c.db
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateTown(ctx, &ptuj); !errors.Is(err, ErrTownExists) {
		t.Fatalf("a town twice: %v", err)
	}
	net := card.Product{Code: "net-72h", Name: map[string]string{"en": "Network"}, ValidityHours: 72, PriceCents: 4000,
		Audience: "tourist", Towns: []string{"ptuj", "koper"}}
	if err := db.CreateProduct(ctx, &net); err != nil {
		t.Fatal(err)
	}
	if p, err := db.Product(ctx, "ptuj", "koper-year"); !errors.Is(err, card.ErrNoProduct) {
		t.Fatalf("ptuj sees koper's product: %+v %v", p, err)
	}
	sum := sha256.Sum256([]byte("ptuj-key"))
	mp := merchant.Merchant{Town: "ptuj", Name: "Gostilna", Category: "restaurant"}
	if err := db.CreateMerchant(ctx, &mp, sum[:]); err != nil {
		t.Fatal(err)
	}
	op := merchant.Offer{MerchantID: mp.ID, Title: map[string]string{"sl": "10 %"}, Kind: merchant.KindPercent, Value: 1000,
		Limit: "unlimited", MunicipalShare: 10000, Active: true}
	if err := db.CreateOffer(ctx, "koper", &op); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("koper made an offer for ptuj's merchant: %v", err)
	}
	if err := db.CreateOffer(ctx, "ptuj", &op); err != nil {
		t.Fatal(err)
	}
	// ptuj issues network cards; koper's year card is not accepted in ptuj.
	c.clock.Set(time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC))
	netCards, err := db.CreateCards(ctx, "ptuj", c.kr, "net-72h", 2, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.CreateCards(ctx, "ptuj", c.kr, "koper-year", 1, "", ""); !errors.Is(err, card.ErrNoProduct) {
		t.Fatalf("ptuj issued koper's product: %v", err)
	}
	redeemAt := func(at time.Time, o merchant.Offer, cd card.Card, amount int64) (merchant.Redemption, error) {
		c.clock.Set(at)
		cityKey++
		r, _, err := db.Redeem(ctx, merchant.RedeemRequest{MerchantID: o.MerchantID, CardInput: cd.Token, OfferID: o.ID,
			Amount: amount, IdempotencyKey: "t" + time.Duration(cityKey).String()}, card.Ref{Number: cd.Number, FromToken: true})
		return r, err
	}
	if _, err := redeemAt(time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC), op, c.cards[0], 1000); !errors.Is(err, card.ErrNotAccepted) {
		t.Fatalf("koper's card in ptuj: %v", err)
	}
	day := time.Date(2026, 10, 2, 9, 0, 0, 0, time.UTC)
	inKoper, err := redeemAt(day, c.offers[0], netCards[0], 2000) // 10 % at a koper merchant
	if err != nil || inKoper.Town != "koper" || inKoper.CardTown != "ptuj" {
		t.Fatalf("network card in koper: %+v %v", inKoper, err)
	}
	inPtuj, err := redeemAt(day.Add(time.Hour), op, netCards[0], 3000)
	if err != nil || inPtuj.Town != "ptuj" || inPtuj.CardTown != "ptuj" {
		t.Fatalf("network card in ptuj: %+v %v", inPtuj, err)
	}
	if _, err := redeemAt(day.Add(2*time.Hour), c.offers[0], c.cards[0], 1000); err != nil {
		t.Fatal(err)
	}
	// Another town's redemption is not found, not voidable.
	if _, err := db.Void(ctx, "ptuj", inKoper.ID, "", "x"); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("ptuj voided koper's redemption: %v", err)
	}
	if _, err := db.Redemption(ctx, "ptuj", inKoper.ID); !errors.Is(err, merchant.ErrNotFound) {
		t.Fatalf("ptuj read koper's redemption: %v", err)
	}
	if _, _, err := db.Redemptions(ctx, RedemptionFilter{}, Page{}); err == nil {
		t.Fatal("a list of redemptions without a town")
	}

	oct, _ := merchant.ParseMonth("2026-10")
	k, err := db.MonthReport(ctx, "koper", oct)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.MonthReport(ctx, "ptuj", oct)
	if err != nil {
		t.Fatal(err)
	}
	if k.Totals.Redemptions != 2 || k.Totals.Amount != 3000 || k.Totals.CardsIssued != 0 {
		t.Errorf("koper's October: %+v", k.Totals)
	}
	if p.Totals.Redemptions != 1 || p.Totals.Amount != 3000 || p.Totals.CardsIssued != 2 || p.Totals.CardsActivated != 1 {
		t.Errorf("ptuj's October: %+v", p.Totals)
	}
	// The issuing town, for the report's issuers and the clearing.
	rows, cards := issuerRollups(t, db, "koper", oct)
	if rows["ptuj"] != 2000 || rows["koper"] != 1000 || cards["ptuj"] != 1 || cards["koper"] != 1 {
		t.Errorf("koper's October by issuer: amounts %v, cards %v", rows, cards)
	}

	// koper closes October; ptuj's stays open. A void then is an adjustment in koper and a
	// void in ptuj.
	c.clock.Set(time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC))
	render := func(r merchant.Report) ([]byte, error) { return json.Marshal(r) }
	if _, err := db.CloseMonth(ctx, "koper", oct, render); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := db.ClosedMonth(ctx, "ptuj", oct); ok {
		t.Fatal("koper's close closed ptuj's month")
	}
	if _, err := db.Void(ctx, "koper", inKoper.ID, "", "late"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Void(ctx, "ptuj", inPtuj.ID, "", "late"); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	rs, _ := db.reader(context.Background()).query(`SELECT town || ':' || kind FROM ledger WHERE redemption_id IN (?, ?) AND kind <> 'redemption' ORDER BY town`, inKoper.ID, inPtuj.ID)
	for rs.Next() {
		var s string
		rs.Scan(&s)
		kinds = append(kinds, s)
	}
	rs.Close()
	if len(kinds) != 2 || kinds[0] != "koper:adjustment" || kinds[1] != "ptuj:void" {
		t.Errorf("voids booked as %v", kinds)
	}
	for _, town := range []string{"koper", "ptuj"} {
		chk, err := db.VerifyLedger(ctx, town)
		if err != nil || !chk.OK {
			t.Fatalf("verify %s = %+v, %v", town, chk, err)
		}
	}
	// Each chain is its own: numbered from 1 in each town.
	var first int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM ledger WHERE seq = 1`).Scan(&first)
	if first != 2 {
		t.Errorf("%d chains start at 1, want 2", first)
	}
	// Every row of every town-owned table names an existing town.
	for _, table := range []string{"merchants", "offers", "cards", "redemptions", "ledger", "rollup_days", "rollup_months",
		"rollup_card_uses", "rollup_cards", "month_closes", "ledger_checkpoints", "office_tokens", "product_towns", "product_codes"} {
		var n int
		if err := db.reader(context.Background()).queryRow(`SELECT count(*) FROM ` + table + ` WHERE town NOT IN (SELECT code FROM towns)`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s: %d rows of no town (%v)", table, n, err)
		}
	}
	var badCardTown int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM redemptions WHERE card_town NOT IN (SELECT code FROM towns)`).Scan(&badCardTown)
	if badCardTown != 0 {
		t.Errorf("%d redemptions of no issuing town", badCardTown)
	}
}

// issuerRollups is town's month by issuing town: amounts from rollup_months and distinct
// cards from the issuer scope, as MonthReport hands them to the report.
func issuerRollups(t *testing.T, db *DB, town string, m merchant.Month) (map[string]int64, map[string]int) {
	t.Helper()
	q := db.reader(context.Background())
	amounts := map[string]int64{}
	rows, err := q.query(`SELECT card_town, sum(amount_cents + adj_amount_cents) FROM rollup_months
		WHERE town = ? AND month = ? GROUP BY card_town`, town, m.String())
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var v int64
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		amounts[k] = v
	}
	rows.Close()
	cc, err := cardCounts(q, town, m)
	if err != nil {
		t.Fatal(err)
	}
	return amounts, cc.Issuers
}
