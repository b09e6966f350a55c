package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/citycard/citycard/merchant"
)

// BenchmarkMonthReport10M measures the monthly report of a city with 10 million redemptions
// over one year (200 merchants with 2 offers each, 3 products, a million cards): the report
// reads rollups, so it costs merchants × days × offers × products, not redemptions.
// Building the data set takes a few minutes and a few GB in a temporary directory, so it
// runs only when asked for by name:
//
//	go test ./storage -run '^$' -bench MonthReport10M -benchtime 20x
//
// CITYCARD_BENCH_REDEMPTIONS sets another number of redemptions (a quick look: 100000);
// CITYCARD_BENCH_DB=/some/file.db keeps the data set there and reuses it on the next run.
//
// CITYCARD_BENCH_PG=postgres://… (an empty database, or one that already holds this data set
// from an earlier run) measures PostgreSQL too (sub-benchmark postgres): the data set is
// copied there with MigrateDB, as `citycard migrate-db` would, then ANALYZEd.
func BenchmarkMonthReport10M(b *testing.B) {
	if testing.Short() {
		b.Skip("builds 10 million redemptions")
	}
	n := 10_000_000
	if v := os.Getenv("CITYCARD_BENCH_REDEMPTIONS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1000 {
			b.Fatalf("CITYCARD_BENCH_REDEMPTIONS=%q", v)
		}
	}
	ds := benchDataSet{n: n, merchants: 200, offers: 2, products: 3, cards: 1_000_000,
		from: time.Date(2025, 1, 1, 0, 0, 0, 0, testLoc), to: time.Date(2026, 1, 1, 0, 0, 0, 0, testLoc)}
	// CITYCARD_BENCH_DB keeps the data set in a file for the next run (built if missing).
	path, reuse := os.Getenv("CITYCARD_BENCH_DB"), false
	if path == "" {
		path = filepath.Join(b.TempDir(), "bench.db")
	} else if _, err := os.Stat(path); err == nil {
		reuse = true
	}
	ctx := context.Background()
	db, err := Open(ctx, path, testLoc)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if !reuse {
		start := time.Now()
		if err := ds.build(path); err != nil {
			db.Close()
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				os.Remove(f) // not a data set to reuse next time
			}
			b.Fatal(err)
		}
		b.Logf("built %d redemptions in %v", n, time.Since(start).Round(time.Second))
	} else {
		var have int
		if err := db.reader(ctx).queryRow(`SELECT count(*) FROM redemptions`).Scan(&have); err != nil || have != n {
			b.Fatalf("%s holds %d redemptions (%v), not the %d of this data set: remove it to build it again", path, have, err, n)
		}
	}
	if !b.Run("sqlite", func(b *testing.B) { benchMonthReport(b, db, ds) }) {
		return
	}

	pg := os.Getenv("CITYCARD_BENCH_PG")
	if pg == "" {
		return
	}
	if err := copyBenchDataSet(ctx, b, path, pg, n); err != nil {
		b.Fatal(err)
	}
	pdb, err := Open(ctx, pg, testLoc)
	if err != nil {
		b.Fatal(err)
	}
	defer pdb.Close()
	b.Run("postgres", func(b *testing.B) { benchMonthReport(b, pdb, ds) })
}

// copyBenchDataSet copies the data set in the SQLite file at path into the PostgreSQL database
// at pg with MigrateDB and analyzes it, unless pg already holds its n redemptions.
func copyBenchDataSet(ctx context.Context, b *testing.B, path, pg string, n int) error {
	pool, err := pgxpool.New(ctx, pg)
	if err != nil {
		return fmt.Errorf("CITYCARD_BENCH_PG: %w", err)
	}
	defer pool.Close()
	var have int64
	err = pool.QueryRow(ctx, `SELECT count(*) FROM redemptions`).Scan(&have)
	var pe *pgconn.PgError
	switch {
	case err == nil && have == int64(n):
		b.Logf("PostgreSQL already holds the data set (%d redemptions)", have)
		return nil
	case err != nil && !(errors.As(err, &pe) && pe.Code == "42P01"): // 42P01: no such table yet
		return fmt.Errorf("CITYCARD_BENCH_PG: %w", err)
	}
	// An empty target gets the copy; MigrateDB refuses one with other rows (another data set).
	start := time.Now()
	m, err := MigrateDB(ctx, path, pg, nil)
	if err != nil {
		return fmt.Errorf("copy the data set into CITYCARD_BENCH_PG: %w", err)
	}
	var rows int64
	for _, c := range m.Tables {
		rows += c.Rows
	}
	took := time.Since(start)
	if _, err := pool.Exec(ctx, `ANALYZE`); err != nil {
		return fmt.Errorf("ANALYZE: %w", err)
	}
	b.Logf("copied %d rows into PostgreSQL in %v, analyzed in %v", rows, took.Round(time.Second), (time.Since(start) - took).Round(time.Second))
	return nil
}

// benchMonthReport checks the report of 2025-10 against the redemptions (not timed) and
// measures building it.
func benchMonthReport(b *testing.B, db *DB, ds benchDataSet) {
	ctx := context.Background()
	month, _ := merchant.ParseMonth("2025-10") // with the end of summer time
	rep, err := db.MonthReport(ctx, "koper", month)
	if err != nil {
		b.Fatal(err)
	}
	// The rollups were built apart from the redemptions: check they agree.
	s, e := month.Range(testLoc)
	var live, voided int
	var share int64
	if err := db.reader(ctx).queryRow(`SELECT count(*), coalesce(sum(share_cents), 0) FROM redemptions WHERE created_at >= ? AND created_at < ? AND voided_at IS NULL`,
		ms(s), ms(e)).Scan(&live, &share); err != nil {
		b.Fatal(err)
	}
	if err := db.reader(ctx).queryRow(`SELECT count(*) FROM redemptions WHERE created_at >= ? AND created_at < ? AND voided_at IS NOT NULL`,
		ms(s), ms(e)).Scan(&voided); err != nil {
		b.Fatal(err)
	}
	if rep.Totals.Redemptions != live || rep.Totals.Voided != voided || rep.Totals.MunicipalShare != share {
		b.Fatalf("report %+v disagrees with the redemptions: %d live, %d voided, share %d", rep.Totals, live, voided, share)
	}
	if len(rep.Merchants) != ds.merchants {
		b.Fatalf("%d merchant lines, want %d", len(rep.Merchants), ds.merchants)
	}
	b.Logf("%s, 2025-10: %d redemptions, %d voided, %d cards used, %d merchants", db.Engine(), live, voided, rep.Totals.CardsUsed, len(rep.Merchants))
	b.ResetTimer()
	for b.Loop() {
		if _, err := db.MonthReport(ctx, "koper", month); err != nil {
			b.Fatal(err)
		}
	}
}

// benchDataSet is a synthetic city: redemption i is at from + i×step, at merchant i mod M,
// with its offer, product, card and amount given by the formulas in both sql and row.
type benchDataSet struct {
	n, merchants, offers, products, cards int
	from, to                              time.Time
	noRollups                             bool // leave the rollups to the ledger's backfill
}

func (d benchDataSet) step() int64 { return (ms(d.to) - ms(d.from)) / int64(d.n) }

// row is redemption i as the SQL of build inserts it.
func (d benchDataSet) row(i int) (at int64, mer, offer, product, cardNo int, amount, discount, share int64, voided bool) {
	at = ms(d.from) + int64(i)*d.step()
	mer = i % d.merchants
	offer = (i / d.merchants) % d.offers
	product = (i / 7) % d.products
	cardNo = int(int64(i) * 7919 % int64(d.cards))
	amount = 500 + int64(i%5000)
	discount, share = amount/10, amount/20
	return at, mer, offer, product, cardNo, amount, discount, share, i%53 == 0
}

// build writes the data set in bulk straight into the database file, all of it in the
// database's one town: products, merchants, offers and cards, the redemptions by one
// INSERT … SELECT, and the rollups computed here from the same formulas.
func (d benchDataSet) build(path string) error {
	raw, err := sql.Open("sqlite3", "file:"+path+"?_foreign_keys=off&_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	var town string
	if err := raw.QueryRow(`SELECT code FROM towns`).Scan(&town); err != nil {
		return fmt.Errorf("the database's town: %w", err)
	}
	// Town codes are [a-z0-9-]: safe inside a quoted literal.
	tq := "'" + town + "'"
	cats := `'["shop","restaurant","bar","museum","attraction","tour","transport","accommodation","service"]'`
	cat := func(expr string) string { return `json_extract(` + cats + `, '$[' || ((` + expr + `) % 9) || ']')` }
	from, step := ms(d.from), d.step()
	stmts := []string{
		`PRAGMA synchronous = OFF`,
		`PRAGMA cache_size = -1000000`,
		`BEGIN`,
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO products (code, name_json, validity_hours, price_cents, audience, activation_deadline_days, created_at, town)
			SELECT 'p' || i, '{"en":"Product"}', 72, 2500, 'tourist', 365, 0, %s FROM n`, d.products-1, tq),
		fmt.Sprintf(`INSERT INTO product_towns (product_seq, town) SELECT seq, %s FROM products`, tq),
		fmt.Sprintf(`INSERT INTO product_codes (town, code, product_seq) SELECT %s, code, seq FROM products`, tq),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO merchants (id, name, category, status, key_hash, created_at, updated_at, town)
			SELECT printf('mer_%%03d', i), printf('Trgovina Čevljarska %%03d', i), %s, 'active', randomblob(32), 0, 0, %s FROM n`,
			d.merchants-1, cat("i"), tq),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO offers (id, merchant_id, title_json, kind, value, limit_kind, municipal_share_bp, active, created_at, updated_at, town)
			SELECT printf('off_%%03d_%%d', i / %d, i %% %d), printf('mer_%%03d', i / %d), '{"en":"10%%"}', 'percent', 1000,
				'unlimited', 5000, 1, 0, 0, %s FROM n`, d.merchants*d.offers-1, d.offers, d.offers, d.offers, tq),
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO cards (id, number, token, product_code, issued_at, activate_by, activated_at, expires_at, town)
			SELECT printf('crd_%%07d', i), printf('%%012d', i), printf('tok_%%07d', i), 'p' || (i %% %d),
				%d + i * %d, %d + i * %d + 31536000000, %d + i * %d + 3600000, %d + i * %d + 262800000, %s FROM n`,
			d.cards-1, d.products, from, (ms(d.to)-from)/int64(d.cards), from, (ms(d.to)-from)/int64(d.cards),
			from, (ms(d.to)-from)/int64(d.cards), from, (ms(d.to)-from)/int64(d.cards), tq),
		// The same formulas as row.
		fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < %d)
			INSERT INTO redemptions (id, town, card_town, card_id, card_number, merchant_id, offer_id, product_code, category, terminal,
				amount_cents, discount_cents, share_cents, created_at, voided_at, void_reason)
			SELECT printf('red_%%08d', i), %s, %s, printf('crd_%%07d', i * 7919 %% %d), printf('%%012d', i * 7919 %% %d),
				printf('mer_%%03d', i %% %d), printf('off_%%03d_%%d', i %% %d, (i / %d) %% %d), 'p' || ((i / 7) %% %d), %s, '',
				500 + i %% 5000, (500 + i %% 5000) / 10, (500 + i %% 5000) / 20, %d + i * %d,
				CASE WHEN i %% 53 = 0 THEN %d + i * %d + 60000 END, CASE WHEN i %% 53 = 0 THEN 'bench' ELSE '' END
			FROM n`, d.n-1, tq, tq, d.cards, d.cards, d.merchants, d.merchants, d.merchants, d.offers, d.products,
			cat(fmt.Sprintf("i %% %d", d.merchants)), from, step, from, step),
	}
	for _, s := range stmts {
		if _, err := raw.Exec(s); err != nil {
			raw.Exec(`ROLLBACK`)
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	if !d.noRollups {
		if err := d.rollups(raw, town); err != nil {
			raw.Exec(`ROLLBACK`)
			return err
		}
	}
	_, err = raw.Exec(`COMMIT`)
	return err
}

// rollups computes and inserts town's rollup_days, rollup_months and rollup_cards for the data
// set (not rollup_card_uses, which only writes read).
func (d benchDataSet) rollups(raw *sql.DB, town string) error {
	type key struct {
		date                string
		mer, offer, product int
	}
	type agg struct {
		redemptions, voided     int
		amount, discount, share int64
	}
	days := map[key]*agg{}
	type monthKey struct {
		month        string
		mer, product int
	}
	months := map[monthKey]*agg{}
	lastDate := map[monthKey]string{}
	// Distinct cards per scope and key of the current month, as bit sets.
	type scopeKey struct{ scope, key string }
	type count struct {
		month string
		scopeKey
		cards int
	}
	sets := map[scopeKey][]uint64{}
	month := ""
	var counts []count
	flush := func() {
		for k, set := range sets {
			n := 0
			for _, w := range set {
				n += bits.OnesCount64(w)
			}
			counts = append(counts, count{month, k, n})
		}
		sets = map[scopeKey][]uint64{}
	}
	use := func(scope, k string, card int) {
		s := sets[scopeKey{scope, k}]
		if s == nil {
			s = make([]uint64, (d.cards+63)/64)
			sets[scopeKey{scope, k}] = s
		}
		s[card/64] |= 1 << (card % 64)
	}
	for i := 0; i < d.n; i++ {
		at, mer, offer, product, card, amount, discount, share, voided := d.row(i)
		date := fromMS(at).In(testLoc).Format(dateLayout)
		if date[:7] != month {
			if month != "" {
				flush()
			}
			month = date[:7]
		}
		k := key{date, mer, offer, product}
		a := days[k]
		if a == nil {
			a = &agg{}
			days[k] = a
		}
		mk := monthKey{date[:7], mer, product}
		ma := months[mk]
		if ma == nil {
			ma = &agg{}
			months[mk] = ma
		}
		lastDate[mk] = date
		if voided {
			a.voided++
			ma.voided++
			continue
		}
		for _, a := range []*agg{a, ma} {
			a.redemptions++
			a.amount += amount
			a.discount += discount
			a.share += share
		}
		c := merchant.Categories[mer%9]
		use("all", "", card)
		use("merchant", fmt.Sprintf("mer_%03d", mer), card)
		use("category", c, card)
		use("product", "p"+strconv.Itoa(product), card)
		use("day_category", merchant.OpenDataKey(date, c), card)
		use("issuer", town, card)
	}
	flush()
	ins, err := raw.Prepare(`INSERT INTO rollup_days (town, date, merchant_id, offer_id, product_code, category,
		redemptions, voided, amount_cents, discount_cents, share_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for k, a := range days {
		if _, err := ins.Exec(town, k.date, fmt.Sprintf("mer_%03d", k.mer), fmt.Sprintf("off_%03d_%d", k.mer, k.offer),
			"p"+strconv.Itoa(k.product), merchant.Categories[k.mer%9], a.redemptions, a.voided, a.amount, a.discount, a.share); err != nil {
			return err
		}
	}
	mi, err := raw.Prepare(`INSERT INTO rollup_months (town, month, merchant_id, category, product_code, card_town, last_date,
		redemptions, voided, amount_cents, discount_cents, share_cents) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer mi.Close()
	for k, a := range months {
		if _, err := mi.Exec(town, k.month, fmt.Sprintf("mer_%03d", k.mer), merchant.Categories[k.mer%9], "p"+strconv.Itoa(k.product),
			town, lastDate[k], a.redemptions, a.voided, a.amount, a.discount, a.share); err != nil {
			return err
		}
	}
	cc, err := raw.Prepare(`INSERT INTO rollup_cards (town, month, scope, key, cards) VALUES (?, ?, ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer cc.Close()
	for _, c := range counts {
		if _, err := cc.Exec(town, c.month, c.scope, c.key, c.cards); err != nil {
			return err
		}
	}
	return nil
}
