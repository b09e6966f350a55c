package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// testdata/upgrade-v1.db was written by the last release before towns (commit 4402325,
// migrations 0001 to 0003): `citycard serve --demo` on a fresh file, then through its HTTP
// API October and November 2026 closed, a November redemption voided after its close (an
// adjustment), and a redemption made in December. Opened by this build it must keep all of
// that in the deployment's town, its ledger verifying and its closed months byte-identical.
func TestUpgradeFromTheLastRelease(t *testing.T) {
	src, err := os.ReadFile("testdata/upgrade-v1.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "city.db")
	if err := os.WriteFile(path, src, 0o600); err != nil {
		t.Fatal(err)
	}
	// What the release stored, read before the upgrade.
	raw, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	frozen := map[string][]byte{}
	rows, err := raw.Query(`SELECT month, report, sha256 FROM month_closes`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var month string
		var report, sum []byte
		if err := rows.Scan(&month, &report, &sum); err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(report); !bytes.Equal(got[:], sum) {
			t.Fatalf("the fixture's %s does not match its own SHA-256", month)
		}
		frozen[month] = report
	}
	rows.Close()
	counts := map[string]int{}
	for _, table := range []string{"products", "merchants", "offers", "cards", "redemptions", "audit", "ledger"} {
		var n int
		if err := raw.QueryRow(`SELECT count(*) FROM ` + table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[table] = n
	}
	raw.Close()
	if len(frozen) != 2 || counts["redemptions"] == 0 {
		t.Fatalf("the fixture has %d closed months and %d redemptions", len(frozen), counts["redemptions"])
	}

	ctx := context.Background()
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	town := DefaultTown("piran", loc) // CITYCARD_TOWN=piran: not the default, so the setting shows
	db, err := Open(ctx, path, loc, WithTown(town))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.TownCodes(); len(got) != 1 || got[0] != "piran" {
		t.Fatalf("towns after the upgrade = %v", got)
	}
	// Every row is piran's, nothing was lost.
	for table, where := range map[string]string{
		"products": "town = 'piran'", "merchants": "town = 'piran'", "offers": "town = 'piran'", "cards": "town = 'piran'",
		"redemptions": "town = 'piran' AND card_town = 'piran'", "audit": "town = 'piran'", "ledger": "town = 'piran'",
	} {
		var all, ok int
		db.reader(context.Background()).queryRow(`SELECT count(*), count(*) FILTER (WHERE `+where+`) FROM `+table).Scan(&all, &ok)
		want := counts[table]
		if table == "ledger" {
			want += len(frozen) // the closes are booked as entries at the upgrade
		}
		if all != want || ok != all {
			t.Errorf("%s: %d rows (%d in piran), want %d, all in piran", table, all, ok, want)
		}
	}
	for _, table := range []string{"rollup_days", "rollup_months", "rollup_card_uses", "rollup_cards", "month_closes", "ledger_checkpoints"} {
		var other int
		db.reader(context.Background()).queryRow(`SELECT count(*) FROM ` + table + ` WHERE town <> 'piran'`).Scan(&other)
		if other != 0 {
			t.Errorf("%s has %d rows of another town", table, other)
		}
	}
	var accepted int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM product_towns WHERE town = 'piran'`).Scan(&accepted)
	if accepted != counts["products"] {
		t.Errorf("%d of %d products are accepted in piran", accepted, counts["products"])
	}
	chk, err := db.VerifyLedger(ctx, "piran")
	if err != nil || !chk.OK || chk.Entries != int64(counts["ledger"]+len(frozen)) {
		t.Fatalf("verify after the upgrade = %+v, %v", chk, err)
	}
	for month, report := range frozen {
		m, _ := merchant.ParseMonth(month)
		cl, ok, err := db.ClosedMonth(ctx, "piran", m)
		if err != nil || !ok || !bytes.Equal(cl.Report, report) || cl.SHA256 != sha256.Sum256(report) {
			t.Errorf("%s after the upgrade: closed %v, %v, same bytes %v", month, ok, err, bytes.Equal(cl.Report, report))
		}
	}
	// The town's face (0021): the default card name and colour, until the office sets them;
	// setting them leaves the closed months as they were.
	if tw, err := db.Town(ctx, "piran"); err != nil || tw.CardName != nil || tw.TownColor() != DefaultTownColor || tw.CardNameIn("sl") != "Piran Card" {
		t.Fatalf("piran's face after the upgrade: %+v, %v", tw, err)
	}
	if _, err := db.UpdateTown(ctx, "piran", func(tw *Town) error {
		tw.CardName, tw.Color = map[string]string{"sl": "Piranska kartica"}, "#005f73"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for month, report := range frozen {
		m, _ := merchant.ParseMonth(month)
		if cl, _, err := db.ClosedMonth(ctx, "piran", m); err != nil || !bytes.Equal(cl.Report, report) {
			t.Errorf("%s after piran's card name: %v, same bytes %v", month, err, bytes.Equal(cl.Report, report))
		}
	}
	// The upgraded town works on: a new redemption is booked in its chain (version 3).
	var m merchant.Merchant
	var o merchant.Offer
	if err := db.reader(context.Background()).queryRow(`SELECT o.id, o.merchant_id FROM offers o JOIN merchants m ON m.id = o.merchant_id
		WHERE o.active = 1 AND o.limit_kind = 'unlimited' AND o.min_amount_cents IS NULL AND o.products_json IS NULL
			AND m.status = 'active' LIMIT 1`).Scan(&o.ID, &m.ID); err != nil {
		t.Fatal(err)
	}
	kr, err := db.Keyring(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var product string
	db.reader(context.Background()).queryRow(`SELECT code FROM products WHERE validity_hours IS NOT NULL LIMIT 1`).Scan(&product)
	cards, err := db.CreateCards(ctx, "piran", kr, product, 1, "", "")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := db.Redeem(ctx, merchant.RedeemRequest{MerchantID: m.ID, CardInput: cards[0].Token, OfferID: o.ID, Amount: 1000,
		IdempotencyKey: "after-upgrade"}, card.Ref{Number: cards[0].Number, FromToken: true})
	if err != nil || r.Town != "piran" || r.CardTown != "piran" {
		t.Fatalf("redeem after the upgrade: %+v %v", r, err)
	}
	if chk, err := db.VerifyLedger(ctx, "piran"); err != nil || !chk.OK {
		t.Fatalf("verify after a new redemption = %+v, %v", chk, err)
	}
	// Product codes are per town (0020): every product is piran's by its code, every
	// foreign key holds, and a second town may take an upgraded product's code.
	var codes, bad int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM product_codes pc JOIN products p ON p.seq = pc.product_seq
		WHERE pc.town = 'piran' AND pc.code = p.code`).Scan(&codes)
	if codes != counts["products"] {
		t.Errorf("%d of %d products have their code in piran", codes, counts["products"])
	}
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&bad)
	if bad != 0 {
		t.Errorf("%d rows break a foreign key after the upgrade", bad)
	}
	ptuj := Town{Code: "ptuj", Name: map[string]string{"sl": "Ptuj"}, Timezone: "Europe/Ljubljana", Languages: []string{"sl"}}
	if err := db.CreateTown(ctx, &ptuj); err != nil {
		t.Fatal(err)
	}
	same := card.Product{Town: "ptuj", Code: product, Name: map[string]string{"sl": "Ptuj"}, ValidityDays: 1, PriceCents: 100, Audience: "tourist"}
	if err := db.CreateProduct(ctx, &same); err != nil {
		t.Fatalf("ptuj's product %s: %v", product, err)
	}
	if _, err := db.CreateCards(ctx, "ptuj", kr, product, 1, "", ""); err != nil {
		t.Fatal(err)
	}
	if p, err := db.Product(ctx, "piran", product); err != nil || p.Town != "piran" || p.ValidityHours == 0 {
		t.Errorf("piran's %s after ptuj's: %+v, %v", product, p, err)
	}
	for month, report := range frozen {
		m, _ := merchant.ParseMonth(month)
		if cl, _, err := db.ClosedMonth(ctx, "piran", m); err != nil || !bytes.Equal(cl.Report, report) {
			t.Errorf("%s after ptuj's product: %v, same bytes %v", month, err, bytes.Equal(cl.Report, report))
		}
	}
}
