package storage

import (
	"context"
	"crypto/sha256"
	"github.com/citycard/citycard/storage/storagetest"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
)

// city is a test database with a year-long product, merchants of several categories with
// offers of each kind, and cards.
type city struct {
	db     *DB
	clock  *fixedClock
	path   string
	kr     *card.Keyring
	offers []merchant.Offer
	cards  []card.Card
}

func mustCity(tb testing.TB, path string, loc *time.Location) *city {
	tb.Helper()
	ctx := context.Background()
	db, err := Open(ctx, path, loc)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	clock := &fixedClock{t: time.Date(2026, 9, 1, 8, 0, 0, 0, time.UTC)}
	db.SetClock(clock.Now)
	c := &city{db: db, clock: clock, path: path}
	if c.kr, err = db.Keyring(ctx, ""); err != nil {
		tb.Fatal(err)
	}
	for _, code := range []string{"koper-year", "koper-family"} {
		p := card.Product{Town: "koper", Code: code, Name: map[string]string{"en": code}, ValidityDays: 365, PriceCents: 1000, Audience: "resident"}
		if err := db.CreateProduct(ctx, &p); err != nil {
			tb.Fatal(err)
		}
	}
	for i, cat := range []string{"shop", "restaurant", "museum", "restaurant"} {
		m := merchant.Merchant{Town: "koper", Name: "Čevljarna " + strconv.Itoa(i), Category: cat}
		sum := sha256.Sum256([]byte("key" + strconv.Itoa(i)))
		if err := db.CreateMerchant(ctx, &m, sum[:]); err != nil {
			tb.Fatal(err)
		}
		for _, o := range []merchant.Offer{
			{Kind: merchant.KindPercent, Value: 1000, MunicipalShare: 5000},
			{Kind: merchant.KindAmount, Value: 250, MunicipalShare: 3333},
		} {
			o.MerchantID, o.Title, o.Limit, o.Active = m.ID, map[string]string{"en": "offer"}, "unlimited", true
			if err := db.CreateOffer(ctx, "koper", &o); err != nil {
				tb.Fatal(err)
			}
			c.offers = append(c.offers, o)
		}
	}
	for _, code := range []string{"koper-year", "koper-family"} {
		cards, err := db.CreateCards(ctx, "koper", c.kr, code, 12, "", "")
		if err != nil {
			tb.Fatal(err)
		}
		c.cards = append(c.cards, cards...)
	}
	return c
}

var cityKey int

// redeem redeems offer o on card cd at t.
func (c *city) redeem(tb testing.TB, t time.Time, o merchant.Offer, cd card.Card, amount int64) merchant.Redemption {
	tb.Helper()
	c.clock.Set(t)
	cityKey++
	r, _, err := c.db.Redeem(context.Background(), merchant.RedeemRequest{MerchantID: o.MerchantID, CardInput: cd.Token,
		OfferID: o.ID, Amount: amount, IdempotencyKey: "k" + strconv.Itoa(cityKey)}, card.Ref{Number: cd.Number, FromToken: true})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

func (c *city) void(tb testing.TB, t time.Time, id string) {
	tb.Helper()
	c.clock.Set(t)
	if _, err := c.db.Void(context.Background(), "koper", id, "", "test void"); err != nil {
		tb.Fatal(err)
	}
}

// busyAutumn makes n random redemptions from 28 September to 3 November 2026 (the end of
// summer time on 25 October among them, and the local midnights around the month ends),
// voiding about one in eight a few hours later, in time order.
func (c *city) busyAutumn(tb testing.TB, n int, seed uint64) []merchant.Redemption {
	rng := rand.New(rand.NewPCG(seed, 1))
	from := time.Date(2026, 9, 28, 0, 0, 0, 0, testLoc)
	span := time.Date(2026, 11, 4, 0, 0, 0, 0, testLoc).Sub(from)
	// Fixed instants on the edges, then random ones, sorted.
	times := []time.Time{
		time.Date(2026, 9, 30, 23, 59, 0, 0, testLoc), time.Date(2026, 10, 1, 0, 0, 0, 0, testLoc),
		time.Date(2026, 10, 25, 2, 30, 0, 0, testLoc), time.Date(2026, 10, 25, 2, 30, 0, 0, testLoc).Add(time.Hour),
		time.Date(2026, 10, 31, 23, 59, 59, 0, testLoc), time.Date(2026, 11, 1, 0, 0, 0, 0, testLoc),
	}
	for len(times) < n {
		times = append(times, from.Add(time.Duration(rng.Int64N(int64(span)))))
	}
	sortTimes(times)
	var out []merchant.Redemption
	var voids []merchant.Redemption
	for _, t := range times {
		// Voids fall due in time order with the redemptions.
		for len(voids) > 0 && !voids[0].CreatedAt.Add(3*time.Hour).After(t) {
			c.void(tb, voids[0].CreatedAt.Add(3*time.Hour), voids[0].ID)
			voids = voids[1:]
		}
		r := c.redeem(tb, t, c.offers[rng.IntN(len(c.offers))], c.cards[rng.IntN(len(c.cards))], 100+rng.Int64N(9900))
		out = append(out, r)
		if rng.IntN(8) == 0 {
			voids = append(voids, r)
		}
	}
	for _, v := range voids {
		c.void(tb, v.CreatedAt.Add(3*time.Hour), v.ID)
	}
	return out
}

func sortTimes(ts []time.Time) {
	for i := 1; i < len(ts); i++ {
		for j := i; j > 0 && ts[j].Before(ts[j-1]); j-- {
			ts[j], ts[j-1] = ts[j-1], ts[j]
		}
	}
}

// reportFromRedemptions is the month's report computed the slow way, from every
// redemption, by merchant.BuildReport.
func reportFromRedemptions(tb testing.TB, db *DB, m merchant.Month) merchant.Report {
	tb.Helper()
	start, end := m.Range(db.Loc)
	rows, err := db.reader(context.Background()).query(`SELECT r.merchant_id, m.name, r.category, r.product_code, r.card_id, r.created_at,
			r.amount_cents, r.discount_cents, r.share_cents, r.voided_at IS NOT NULL, r.card_town
		FROM redemptions r JOIN merchants m ON m.id = r.merchant_id WHERE r.created_at >= ? AND r.created_at < ?`, ms(start), ms(end))
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var lines []merchant.ReportRow
	for rows.Next() {
		var l merchant.ReportRow
		var created int64
		if err := rows.Scan(&l.MerchantID, &l.MerchantName, &l.Category, &l.Product, &l.CardID, &created,
			&l.Amount, &l.Discount, &l.MunicipalShare, &l.Voided, &l.CardTown); err != nil {
			tb.Fatal(err)
		}
		l.CreatedAt = fromMS(created)
		lines = append(lines, l)
	}
	var issued, activated int
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM cards WHERE issued_at >= ? AND issued_at < ?`, ms(start), ms(end)).Scan(&issued)
	db.reader(context.Background()).queryRow(`SELECT count(*) FROM cards WHERE activated_at >= ? AND activated_at < ?`, ms(start), ms(end)).Scan(&activated)
	return merchant.BuildReport(m, db.Loc, lines, issued, activated)
}

func mustReport(tb testing.TB, db *DB, month string) merchant.Report {
	tb.Helper()
	m, err := merchant.ParseMonth(month)
	if err != nil {
		tb.Fatal(err)
	}
	rep, err := db.MonthReport(context.Background(), "koper", m)
	if err != nil {
		tb.Fatal(err)
	}
	return rep
}

func TestRollupReportMatchesRedemptions(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	rs := c.busyAutumn(t, 400, 1)
	for _, month := range []string{"2026-09", "2026-10", "2026-11"} {
		got := mustReport(t, c.db, month)
		want := reportFromRedemptions(t, c.db, got.Month)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s from rollups:\n%+v\nfrom redemptions:\n%+v", month, got, want)
		}
		if got.Totals.Redemptions == 0 || got.Totals.Voided == 0 {
			t.Errorf("%s: a dull month %+v", month, got.Totals)
		}
	}
	// October has 31 local days although it is 31 days and an hour long.
	oct := mustReport(t, c.db, "2026-10")
	if len(oct.Days) != 31 || oct.Days[0].Redemptions == 0 || oct.Days[24].Redemptions < 2 || oct.Days[30].Redemptions == 0 {
		t.Fatalf("October days = %+v", oct.Days)
	}
	if len(rs) != 400 {
		t.Fatalf("%d redemptions", len(rs))
	}
}

func TestRollupsRebuiltForNewZone(t *testing.T) {
	path := storagetest.DSN(t)
	c := mustCity(t, path, testLoc)
	c.busyAutumn(t, 150, 2)
	before := map[string]merchant.Report{}
	for _, month := range []string{"2026-09", "2026-10", "2026-11"} {
		before[month] = mustReport(t, c.db, month)
	}
	c.db.Close()
	// CITYCARD_TZ changed: Open rebuilds the rollups from the ledger. Days move with the zone,
	// but every entry stays in the month it was booked in, so the months' figures do not move.
	db, err := Open(context.Background(), path, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, month := range []string{"2026-09", "2026-10", "2026-11"} {
		got, want := mustReport(t, db, month), before[month]
		if !reflect.DeepEqual(got.Totals.Counters, want.Totals.Counters) || got.Totals.Voided != want.Totals.Voided ||
			!reflect.DeepEqual(got.Merchants, want.Merchants) || !reflect.DeepEqual(got.Products, want.Products) ||
			!reflect.DeepEqual(got.Adjustments, want.Adjustments) {
			t.Errorf("%s in UTC:\n%+v\nbooked in Koper:\n%+v", month, got, want)
		}
	}
	var zone string
	db.reader(context.Background()).queryRow(`SELECT rollup_zone FROM towns WHERE code = 'koper'`).Scan(&zone)
	if zone != "UTC" {
		t.Fatalf("rollup_zone = %q", zone)
	}
	if chk, err := db.VerifyLedger(context.Background(), "koper"); err != nil || !chk.OK {
		t.Fatalf("verify after the rebuild = %+v, %v", chk, err)
	}
}

// An adjustment booked in October (a void at 23:30 on 31 October in Koper) stays October's
// when the zone changes to one where that instant is already 1 November: October counts and
// lists it, November neither (before, October listed it and November counted it).
func TestZoneChangeKeepsAdjustmentInItsMonth(t *testing.T) {
	path := storagetest.DSN(t)
	c := mustCity(t, path, testLoc)
	ctx := context.Background()
	r := c.redeem(t, time.Date(2026, 9, 20, 12, 0, 0, 0, testLoc), c.offers[0], c.cards[0], 1000)
	c.clock.Set(time.Date(2026, 10, 1, 9, 0, 0, 0, testLoc))
	sep, _ := merchant.ParseMonth("2026-09")
	if _, err := c.db.CloseMonth(ctx, "koper", sep, func(merchant.Report) ([]byte, error) { return []byte("{}"), nil }); err != nil {
		t.Fatal(err)
	}
	c.void(t, time.Date(2026, 10, 31, 23, 30, 0, 0, testLoc), r.ID)
	c.db.Close()
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(ctx, path, tokyo)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	oct, nov := mustReport(t, db, "2026-10"), mustReport(t, db, "2026-11")
	if oct.Adjustments.Count != 1 || len(oct.Adjustments.Items) != 1 || oct.Totals.MunicipalShare != r.MunicipalShare*-1 ||
		oct.Days[30].Discount != -r.Discount {
		t.Errorf("October = %+v, want the adjustment counted and listed on its last day", oct)
	}
	if nov.Adjustments.Count != 0 || len(nov.Adjustments.Items) != 0 || nov.Totals.MunicipalShare != 0 {
		t.Errorf("November = %+v, want no adjustment", nov)
	}
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
		t.Fatalf("verify = %+v, %v", chk, err)
	}
}

func TestLedgerBackfilledOnMigration(t *testing.T) {
	storagetest.SkipOnPostgres(t, "an upgrade from SQLite's version 1 schema; PostgreSQL starts at the finished one")
	path := storagetest.DSN(t)
	c := mustCity(t, path, testLoc)
	rs := c.busyAutumn(t, 60, 3)
	oct := mustReport(t, c.db, "2026-10")
	c.db.Close()
	// Make the file what version 1 left: no ledger, no rollups.
	raw, err := storagetest.SQLOpen(t, path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range append([]string{`DROP TABLE ledger`, `DROP TABLE rollup_days`, `DROP TABLE rollup_months`,
		`DROP TABLE rollup_card_uses`, `DROP TABLE rollup_cards`, `DROP TABLE month_closes`,
		`DROP TABLE ledger_checkpoints`, `DROP TABLE checkpoint_keys`,
		// Only the migrations whose tables were dropped or changed run again (the others, such
		// as 0007's column of audit, which is kept, stay applied); by name, as their numbers
		// depend on which migrations the build has.
		`DELETE FROM schema_migrations WHERE name IN ('0003_ledger.sql', '0004_books.sql', '0010_towns.sql', '0019_open_conflicts.sql', '0020_product_codes.sql', '0021_town_face.sql',
			'0022_wallet.sql', '0023_sales_points.sql', '0024_personal_data.sql', '0025_town_privacy.sql')`}, undoTowns...) {
		if _, err := raw.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	raw.Close()
	db, err := Open(context.Background(), path, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	chk, err := db.VerifyLedger(context.Background(), "koper")
	if err != nil {
		t.Fatal(err)
	}
	var voided int64
	for _, r := range rs {
		if r2, _ := db.Redemption(context.Background(), "koper", r.ID); r2.VoidedAt != nil {
			voided++
		}
	}
	if !chk.OK || chk.Entries != int64(len(rs))+voided {
		t.Fatalf("after backfill: %+v, want ok with %d entries", chk, int64(len(rs))+voided)
	}
	if got := mustReport(t, db, "2026-10"); !reflect.DeepEqual(got, oct) {
		t.Fatalf("October after backfill:\n%+v\nbefore:\n%+v", got, oct)
	}
}

func TestCloseMonth(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	ctx := context.Background()
	sep, _ := merchant.ParseMonth("2026-09")
	r := c.redeem(t, time.Date(2026, 9, 30, 23, 59, 59, 0, testLoc), c.offers[0], c.cards[0], 1000)
	render := func(rep merchant.Report) ([]byte, error) { return []byte(strconv.Itoa(rep.Totals.Redemptions)), nil }
	c.clock.Set(time.Date(2026, 10, 1, 0, 0, 0, 0, testLoc).Add(-time.Millisecond))
	if _, err := c.db.CloseMonth(ctx, "koper", sep, render); err != merchant.ErrMonthOpen {
		t.Fatalf("close a millisecond early: %v", err)
	}
	c.clock.Set(time.Date(2026, 10, 1, 0, 0, 0, 0, testLoc))
	cl, err := c.db.CloseMonth(ctx, "koper", sep, render)
	if err != nil || string(cl.Report) != "1" || cl.SHA256 != sha256.Sum256([]byte("1")) || cl.LedgerEntries != 1 {
		t.Fatalf("close = %+v, %v", cl, err)
	}
	if _, err := c.db.CloseMonth(ctx, "koper", sep, render); err != merchant.ErrAlreadyClosed {
		t.Fatalf("close twice: %v", err)
	}
	// The void of a closed month's redemption is booked as an adjustment of the void's month.
	c.void(t, time.Date(2026, 10, 2, 9, 0, 0, 0, testLoc), r.ID)
	if cp := cl.Checkpoint; cp == nil || cp.Entries != 2 || cp.Reason != "close 2026-09" {
		t.Fatalf("close's checkpoint = %+v, want one of the 2 entries with the close", cp)
	}
	var kind, month string
	c.db.reader(context.Background()).queryRow(`SELECT kind, month FROM ledger WHERE seq = 2`).Scan(&kind, &month)
	if kind != merchant.LedgerClose || month != "2026-09" {
		t.Fatalf("entry 2 = %s in %s, want the close of 2026-09", kind, month)
	}
	c.db.reader(context.Background()).queryRow(`SELECT kind, month FROM ledger WHERE seq = 3`).Scan(&kind, &month)
	if kind != merchant.LedgerAdjustment || month != "2026-10" {
		t.Fatalf("void entry = %s in %s, want an adjustment in 2026-10", kind, month)
	}
	oct := mustReport(t, c.db, "2026-10")
	if a := oct.Adjustments; a.Count != 1 || a.Amount != -1000 || a.Discount != -100 || a.MunicipalShare != -50 ||
		len(a.Items) != 1 || a.Items[0].RedemptionID != r.ID || oct.Totals.MunicipalShare != -50 || oct.Days[1].Discount != -100 {
		t.Fatalf("October = %+v", oct)
	}
	// September's rollups are untouched (its report is frozen anyway).
	if got := mustReport(t, c.db, "2026-09"); got.Totals.Redemptions != 1 || got.Totals.Voided != 0 {
		t.Fatalf("September's rollups changed: %+v", got.Totals)
	}
	got, ok, err := c.db.ClosedMonth(ctx, "koper", sep)
	if err != nil || !ok || string(got.Report) != "1" || !got.ClosedAt.Equal(cl.ClosedAt) {
		t.Fatalf("ClosedMonth = %+v %v %v", got, ok, err)
	}
}

func TestOpenDataCells(t *testing.T) {
	c := mustCity(t, storagetest.DSN(t), testLoc)
	day := time.Date(2026, 10, 7, 12, 0, 0, 0, testLoc)
	// Five cards at the shop (merchant 0): shown. At the restaurants (merchants 1 and 3, one
	// category), three cards, one of them twice: suppressed.
	for i := 0; i < 5; i++ {
		c.redeem(t, day.Add(time.Duration(i)*time.Minute), c.offers[0], c.cards[i], 500)
	}
	for i, o := range []int{2, 6, 6, 2} {
		c.redeem(t, day.Add(time.Duration(i)*time.Hour), c.offers[o], c.cards[i%3], 500)
	}
	m, _ := merchant.ParseMonth("2026-10")
	cells, err := c.db.OpenData(context.Background(), "koper", m)
	if err != nil {
		t.Fatal(err)
	}
	shown := 0
	for _, cell := range cells {
		if !cell.Suppressed {
			shown++
			if cell.Date != "2026-10-07" || cell.Category != "shop" || cell.Redemptions != 5 || cell.Cards != 5 {
				t.Errorf("shown cell %+v", cell)
			}
		} else if cell.Cards != 0 || cell.Redemptions != 0 {
			t.Errorf("suppressed cell %+v gives counts", cell)
		}
	}
	if shown != 1 || len(cells) != 31*len(merchant.Categories) {
		t.Fatalf("%d cells shown of %d", shown, len(cells))
	}
}

// undoTowns turns a database's town columns and tables back into what the migrations before
// 0010 left (run with foreign keys off, after the ledger, rollup and close tables are gone).
var undoTowns = []string{
	// 0022 to 0025 (wallet passes, sales points, personal data, a town's privacy) before all:
	// they run again after 0010 and 0020 have.
	`DROP TABLE wallet_outbox`, `DROP TABLE wallet_registrations`, `DROP TABLE wallet_passes`,
	`DROP TABLE sales`, `DROP TABLE sales_points`, `DROP TABLE leases`,
	`DROP INDEX audit_client_addr`, `DROP TRIGGER audit_no_update`, `ALTER TABLE audit DROP COLUMN client_addr`,
	`CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END`,
	// 0020: a card's and a batch's product back to products (code).
	`DROP TABLE product_codes`,
	`CREATE TABLE cards_v1 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, number TEXT NOT NULL UNIQUE, token TEXT NOT NULL UNIQUE,
		product_code TEXT NOT NULL REFERENCES products (code), holder TEXT NOT NULL DEFAULT '', lang TEXT NOT NULL DEFAULT '',
		issued_at INTEGER NOT NULL, activate_by INTEGER NOT NULL, activated_at INTEGER, expires_at INTEGER, blocked_at INTEGER,
		block_reason TEXT NOT NULL DEFAULT '', batch_id TEXT REFERENCES batches (id), town TEXT NOT NULL DEFAULT '')`,
	`INSERT INTO cards_v1 SELECT seq, id, number, token, product_code, holder, lang, issued_at, activate_by, activated_at,
		expires_at, blocked_at, block_reason, batch_id, town FROM cards`, `DROP TABLE cards`, `ALTER TABLE cards_v1 RENAME TO cards`,
	`CREATE TABLE batches_v1 (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '',
		name_key TEXT NOT NULL DEFAULT '', product_code TEXT NOT NULL REFERENCES products (code), count INTEGER NOT NULL,
		lang TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL, town TEXT NOT NULL DEFAULT '')`,
	`INSERT INTO batches_v1 SELECT * FROM batches`, `DROP TABLE batches`, `ALTER TABLE batches_v1 RENAME TO batches`,
	`CREATE INDEX batches_town ON batches (town, seq)`, `CREATE INDEX cards_batch ON cards (batch_id, seq)`,
	`CREATE INDEX cards_town ON cards (town, seq)`, `CREATE INDEX cards_town_issued ON cards (town, issued_at)`,
	`CREATE INDEX cards_town_activated ON cards (town, activated_at)`,
	`CREATE INDEX cards_blocked ON cards (blocked_at) WHERE blocked_at IS NOT NULL`,
	`DROP TABLE product_towns`, `DROP TABLE office_tokens`, `DROP TABLE towns`,
	`DROP INDEX merchants_town`, `DROP INDEX offers_town`, `DROP INDEX cards_town`, `DROP INDEX cards_town_issued`,
	`DROP INDEX cards_town_activated`, `DROP INDEX redemptions_town`, `DROP INDEX audit_town`, `DROP INDEX redemptions_open_conflicts`,
	`CREATE INDEX cards_issued ON cards (issued_at)`, `CREATE INDEX cards_activated ON cards (activated_at)`,
	`ALTER TABLE merchants DROP COLUMN town`, `ALTER TABLE offers DROP COLUMN town`, `ALTER TABLE cards DROP COLUMN town`,
	`ALTER TABLE redemptions DROP COLUMN town`, `ALTER TABLE redemptions DROP COLUMN card_town`,
	`ALTER TABLE audit DROP COLUMN town`,
	// products.town references towns, which DROP COLUMN refuses: the table is rebuilt.
	`CREATE TABLE products_v1 (
		seq INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE, name_json TEXT NOT NULL, validity_hours INTEGER,
		validity_days INTEGER, price_cents INTEGER NOT NULL, audience TEXT NOT NULL,
		activation_deadline_days INTEGER NOT NULL, created_at INTEGER NOT NULL)`,
	`INSERT INTO products_v1 SELECT seq, code, name_json, validity_hours, validity_days, price_cents, audience,
		activation_deadline_days, created_at FROM products`,
	`DROP TABLE products`, `ALTER TABLE products_v1 RENAME TO products`,
}
