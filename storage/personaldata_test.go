package storage

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage/storagetest"
)

// TestPersonalDataInventory reads every column of every table from a fresh database of each
// engine and fails on one the inventory (Inventory, docs/privacy.md) does not classify, and
// on an inventory entry naming no column: a new column cannot ship unclassified.
func TestPersonalDataInventory(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "inv.db")
	db, err := Open(ctx, path, testLoc)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	lite, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer lite.Close()
	schemas := map[string][]string{"sqlite": readColumns(t, lite, `SELECT m.name || '.' || p.name FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1`)}
	if os.Getenv("CITYCARD_TEST_POSTGRES") != "" || os.Getenv("CI") != "" {
		url := storagetest.Postgres(t)
		pdb, err := Open(ctx, url, testLoc)
		if err != nil {
			t.Fatal(err)
		}
		pdb.Close()
		pg, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		schemas["postgres"] = readColumns(t, pg, `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_schema = current_schema() ORDER BY 1`)
	}
	for engine, cols := range schemas {
		if len(cols) < 200 {
			t.Fatalf("%s: %d columns read, want the whole schema", engine, len(cols))
		}
		if missing, stale := unclassified(cols); len(missing)+len(stale) > 0 {
			t.Errorf("%s: columns not in the personal data inventory (storage/personaldata.go, docs/privacy.md): %v; inventory entries naming no column: %v",
				engine, missing, stale)
		}
	}
	// Not blind: a new column is reported until classified.
	if missing, _ := unclassified(append(schemas["sqlite"], "cards.nickname")); len(missing) != 1 || missing[0] != "cards.nickname" {
		t.Errorf("a new column cards.nickname: reported %v", missing)
	}
}

func readColumns(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	return scanStrings(t)(db.Query(q))
}

// scanStrings reads a query's one text column: scanStrings(t)(q.query(…)).
func scanStrings(t *testing.T) func(*sql.Rows, error) []string {
	return func(rows *sql.Rows, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			out = append(out, s)
		}
		return out
	}
}

// unclassified is the columns of cols not in Inventory and the entries of Inventory not in cols.
func unclassified(cols []string) (missing, stale []string) {
	seen := map[string]bool{}
	for _, c := range cols {
		seen[c] = true
		if _, ok := Inventory[c]; !ok {
			missing = append(missing, c)
		}
	}
	for c := range Inventory {
		if !seen[c] {
			stale = append(stale, c)
		}
	}
	sort.Strings(stale)
	return missing, stale
}

const holderName = "Ana Novak-Erasmus"

// TestPersonalDataAndErasure gives a card personal data in each place the inventory lists
// (holder, a block reason, redemptions, audit events), reads it back, erases it, and checks:
// every item was in the access answer; the card keeps working; the ledger verifies and the
// closed month keeps its bytes and SHA-256; a second erasure is refused; another town's card
// is not found; and no table (on PostgreSQL) or file (SQLite: the database, its WAL after the
// erasure, a fresh backup) holds the name any more.
func TestPersonalDataAndErasure(t *testing.T) {
	db, clock := MustOpenDB(t)
	ctx := WithActor(context.Background(), "admin", "req-1")
	f := mustFixture(t, db)
	// The holder in every place: a year card of theirs, with a sale, and a second card blocked
	// with a reason naming them.
	year := card.Product{Town: "koper", Code: "koper-year", Name: map[string]string{"en": "Koper year"}, ValidityDays: 365, PriceCents: 1000, Audience: "resident"}
	if err := db.CreateProduct(ctx, &year); err != nil {
		t.Fatal(err)
	}
	own, err := db.CreateCards(ctx, "koper", f.kr, year.Code, 1, holderName, "sl")
	if err != nil {
		t.Fatal(err)
	}
	f.card = own[0]
	blocked, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, 1, holderName, "sl")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.SetBlocked(ctx, "koper", blocked[0].ID, true, "lost by "+holderName); err != nil {
		t.Fatal(err)
	}
	req, ref := f.req(f.unlimited, "k1", 1000)
	r1, _, err := db.Redeem(ctx, req, ref)
	if err != nil {
		t.Fatal(err)
	}
	// Close October with the sale in it.
	clock.Set(time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC))
	closed, err := db.CloseMonth(ctx, "koper", mustMonth("2026-10"), jsonReport)
	if err != nil {
		t.Fatal(err)
	}

	pd, err := db.CardPersonalData(ctx, "koper", f.card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pd.Card.Holder != holderName || len(pd.Redemptions) != 1 || pd.Redemptions[0].ID != r1.ID ||
		pd.Redemptions[0].MerchantName != f.merchant.Name || pd.Redemptions[0].Amount != 1000 {
		t.Fatalf("personal data: %+v", pd)
	}
	actions := map[string]bool{}
	for _, e := range pd.Audit {
		actions[e.Action+" "+e.Target] = true
	}
	if !actions["redemption.create "+r1.ID] {
		t.Errorf("audit events naming the card: %+v", pd.Audit)
	}
	if pb, err := db.CardPersonalData(ctx, "koper", blocked[0].ID); err != nil || pb.Card.Holder != holderName || !strings.Contains(pb.Card.BlockReason, holderName) ||
		!strings.Contains(fmt.Sprint(pb.Audit), "card.block") {
		t.Errorf("personal data of the blocked card: %+v, %v", pb, err)
	}
	if _, err := db.CardPersonalData(ctx, "piran", f.card.ID); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("another town's card: %v", err)
	}

	for _, reason := range []string{"", "  ", strings.Repeat("x", MaxEraseReason+1)} {
		if _, err := db.EraseCard(ctx, "koper", f.card.ID, reason); !errors.Is(err, card.ErrInvalidInput) {
			t.Errorf("reason %q: %v", reason, err)
		}
	}
	if _, err := db.EraseCard(ctx, "piran", f.card.ID, "request"); !errors.Is(err, card.ErrNotFound) {
		t.Errorf("another town's card: %v", err)
	}
	for _, id := range []string{f.card.ID, blocked[0].ID} {
		c, err := db.EraseCard(ctx, "koper", id, "the holder asked, art. 17")
		if err != nil {
			t.Fatal(err)
		}
		if c.Holder != "" || c.BlockReason != "" || c.ErasedAt == nil {
			t.Errorf("erased card: %+v", c)
		}
	}
	if _, err := db.EraseCard(ctx, "koper", f.card.ID, "again"); !errors.Is(err, card.ErrErased) {
		t.Errorf("a second erasure: %v", err)
	}

	// The card keeps working; the books are whole.
	req, ref = f.req(f.unlimited, "k2", 2000)
	if _, _, err := db.Redeem(ctx, req, ref); err != nil {
		t.Errorf("redeem after the erasure: %v", err)
	}
	if chk, err := db.VerifyLedger(ctx, "koper"); err != nil || !chk.OK {
		t.Errorf("ledger after the erasure: %+v, %v", chk, err)
	}
	v, err := db.MonthView(ctx, "koper", mustMonth("2026-10"), false, "")
	if err != nil || v.Closed == nil || v.Closed.SHA256 != closed.SHA256 || !bytes.Equal(v.Closed.Report, closed.Report) {
		t.Errorf("closed October after the erasure: %v, %v", v.Closed, err)
	}
	// The erasure's audit entry names the card, never the erased data.
	pd, err = db.CardPersonalData(ctx, "koper", f.card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(fmt.Sprint(pd.Audit), "card.erase") {
		t.Errorf("no card.erase entry: %+v", pd.Audit)
	}
	assertNameGone(t, db, holderName)
}

// assertNameGone fails if name is anywhere in db: on PostgreSQL in any table's rows, on
// SQLite in the bytes of the database file, its write-ahead log and a backup made now.
func assertNameGone(t *testing.T, db *DB, name string) {
	t.Helper()
	ctx := context.Background()
	if storagetest.OnPostgres() {
		tables := scanStrings(t)(db.reader(ctx).query(`SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`))
		for _, tb := range tables {
			var n int
			if err := db.reader(ctx).queryRow(`SELECT count(*) FROM `+tb+` x WHERE x::text LIKE ?`, "%"+name+"%").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				t.Errorf("table %s: %d rows hold %q", tb, n, name)
			}
		}
		return
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := Backup(ctx, db.Path(), backup); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{db.Path(), db.Path() + "-wal", backup} {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(name)) {
			t.Errorf("%s (%d bytes) holds %q", filepath.Base(p), len(b), name)
		}
	}
}

// TestSecureDeleteOnWriter: the writer connection deletes securely (the bytes an erasure
// frees are zeroed), so an erased name is not left in the file's free space.
func TestSecureDeleteOnWriter(t *testing.T) {
	storagetest.SkipOnPostgres(t, "SQLite's secure_delete")
	db, _ := MustOpenDB(t)
	var on int
	if err := db.update(context.Background(), func(tx *Tx) error {
		return tx.queryRow(`PRAGMA secure_delete`).Scan(&on)
	}); err != nil {
		t.Fatal(err)
	}
	if on != 1 {
		t.Fatalf("PRAGMA secure_delete on the writer = %d, want 1", on)
	}
}

// TestRaceEraseErase: of n erasures of one card at once (through several instances on
// PostgreSQL), exactly one erases it; the others get card.ErrErased; one audit entry.
func TestRaceEraseErase(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	dbs := raceInstances(t, db, &fixedClock{t: db.Now()}, 3)
	ctx := WithActor(context.Background(), "admin", "race")
	cards, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, 10, holderName, "")
	if err != nil {
		t.Fatal(err)
	}
	for round, cd := range cards {
		errs := raceN(raceCardN, func(i int) error {
			_, err := dbs[i%len(dbs)].EraseCard(ctx, "koper", cd.ID, fmt.Sprint("race ", i))
			return err
		})
		oneWinner(t, fmt.Sprintf("round %d", round), errs, card.ErrErased)
	}
	if got := len(auditOrder(t, db, "card.erase")); got != len(cards) {
		t.Errorf("%d card.erase entries for %d cards", got, len(cards))
	}
}

// TestRaceEraseRedeem: an erasure and sales of the same card at once all succeed, and the
// books balance.
func TestRaceEraseRedeem(t *testing.T) {
	db := openRaceDB(t)
	f := mustFixture(t, db)
	ctx := WithActor(context.Background(), "admin", "race")
	for round := range 5 {
		cd, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, 1, holderName, "")
		if err != nil {
			t.Fatal(err)
		}
		g := f
		g.card = cd[0]
		errs := raceN(raceCardN, func(i int) error {
			if i == 0 {
				_, err := db.EraseCard(ctx, "koper", g.card.ID, "race")
				return err
			}
			_, _, err := g.redeem(db, g.unlimited, fmt.Sprintf("r%d-%d", round, i), 100+int64(i))
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d call %d: %v", round, i, err)
			}
		}
	}
	if chk, err := db.VerifyLedger(context.Background(), "koper"); err != nil || !chk.OK {
		t.Errorf("ledger: %+v, %v", chk, err)
	}
}

// TestRaceLease: of several instances claiming the retention lease at once, one has it.
func TestRaceLease(t *testing.T) {
	db := openRaceDB(t)
	dbs := raceInstances(t, db, &fixedClock{t: db.Now()}, 3)
	for round := range 5 {
		name := fmt.Sprint("job", round)
		won := make([]bool, raceCardN)
		errs := raceN(raceCardN, func(i int) error {
			var err error
			won[i], err = dbs[i%len(dbs)].ClaimLease(context.Background(), name, fmt.Sprint("instance", i), time.Minute)
			return err
		})
		n := 0
		for i, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			if won[i] {
				n++
			}
		}
		if n != 1 {
			t.Errorf("round %d: %d instances hold the lease", round, n)
		}
	}
}

func TestLeaseExpiresAndRenews(t *testing.T) {
	db, clock := MustOpenDB(t)
	ctx := context.Background()
	claim := func(holder string) bool {
		t.Helper()
		ok, err := db.ClaimLease(ctx, "retention", holder, 10*time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !claim("a") || claim("b") || !claim("a") {
		t.Fatal("a claims, b cannot, a renews")
	}
	clock.Add(11 * time.Minute)
	if !claim("b") {
		t.Fatal("an expired lease is free")
	}
	if err := db.ReleaseLease(ctx, "retention", "b"); err != nil {
		t.Fatal(err)
	}
	if !claim("a") {
		t.Fatal("a released lease is free")
	}
}

// TestRetentionEdges: a card that expired on day D (in the town's zone) keeps its holder on
// days D+N-1 and D+N and loses it on D+N+1; so does a card never activated whose deadline
// passed on D. Audit addresses are shortened after their days, IPv4 to /24, IPv6 to /48.
func TestRetentionEdges(t *testing.T) {
	db, clock := MustOpenDB(t)
	f := mustFixture(t, db)
	ctx := WithActor(context.Background(), "admin", "req")
	cards, err := db.CreateCards(ctx, "koper", f.kr, f.card.Product, 3, holderName, "")
	if err != nil {
		t.Fatal(err)
	}
	loc := db.TownLoc("koper")
	// D = 2026-10-20 in Koper, late in the evening (21:30 UTC): the edges follow the town's
	// calendar, not UTC's.
	expired := time.Date(2026, 10, 20, 23, 30, 0, 0, loc)
	if err := db.update(ctx, func(tx *Tx) error {
		if _, err := tx.exec(`UPDATE cards SET activated_at = ?, expires_at = ? WHERE id = ?`, ms(expired.Add(-72*time.Hour)), ms(expired), cards[0].ID); err != nil {
			return err
		}
		// cards[1] never activated, its deadline passed at the same time; cards[2] is still good.
		_, err := tx.exec(`UPDATE cards SET activate_by = ? WHERE id = ?`, ms(expired), cards[1].ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// Audit entries with client addresses, made now (2026-10-15 10:00 UTC).
	for _, addr := range []string{"203.0.113.77", "2001:db8:abcd:12::1"} {
		actx := WithClientAddr(ctx, addr)
		if _, err := db.SetBlocked(actx, "koper", f.card.ID, false, ""); err != nil {
			t.Fatal(err)
		}
	}
	opt := RetentionOptions{HolderDays: 30, AddressDays: 90, Batch: 1}
	holders := func() (string, string, string) {
		var h [3]string
		for i := range 3 {
			c, err := db.Card(ctx, "koper", cards[i].ID)
			if err != nil {
				t.Fatal(err)
			}
			h[i] = c.Holder
		}
		return h[0], h[1], h[2]
	}
	for _, day := range []struct {
		day   int // N-1, N, N+1
		gone  bool
		dry   int
		clock time.Time
	}{
		{29, false, 0, time.Date(2026, 11, 18, 23, 59, 0, 0, loc)},
		{30, false, 0, time.Date(2026, 11, 19, 23, 59, 59, 0, loc)},
		{31, true, 2, time.Date(2026, 11, 20, 0, 0, 0, 0, loc)},
	} {
		clock.Set(day.clock)
		dry, err := db.Retention(ctx, RetentionOptions{HolderDays: 30, AddressDays: 90, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if dry.Cards != day.dry {
			t.Errorf("day D+%d: dry run lists %d cards, want %d: %+v", day.day, dry.Cards, day.dry, dry.Due)
		}
		res, err := db.Retention(ctx, opt)
		if err != nil {
			t.Fatal(err)
		}
		a, b, c := holders()
		if gone := a == "" && b == ""; gone != day.gone || c != holderName || res.Cards != day.dry {
			t.Errorf("day D+%d: holders %q %q %q, %d erased, want erased %v", day.day, a, b, c, res.Cards, day.gone)
		}
	}
	assertNameGoneBut(t, db, cards[2].ID)

	addrs := func() []string {
		return scanStrings(t)(db.reader(ctx).query(`SELECT client_addr FROM audit WHERE client_addr <> '' ORDER BY seq`))
	}
	clock.Set(time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC).AddDate(0, 0, 90).Add(-time.Minute))
	if _, err := db.Retention(ctx, opt); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(addrs()); got != "[203.0.113.77 2001:db8:abcd:12::1]" {
		t.Errorf("addresses before their 90 days: %s", got)
	}
	clock.Add(2 * time.Minute)
	res, err := db.Retention(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(addrs()); got != "[203.0.113.0/24 2001:db8:abcd::/48]" || res.Addresses != 2 {
		t.Errorf("addresses after their 90 days: %s (%d shortened)", got, res.Addresses)
	}
	// The audit log stays append-only for everything else.
	if err := db.update(ctx, func(tx *Tx) error {
		_, err := tx.exec(`UPDATE audit SET actor = 'someone' WHERE client_addr <> ''`)
		return err
	}); err == nil {
		t.Error("an UPDATE of audit.actor went through")
	}
}

// assertNameGoneBut checks that the only card still naming holderName is keep.
func assertNameGoneBut(t *testing.T, db *DB, keep string) {
	t.Helper()
	var n int
	if err := db.reader(context.Background()).queryRow(`SELECT count(*) FROM cards WHERE holder = ? AND id <> ?`, holderName, keep).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d cards besides %s still name the holder", n, keep)
	}
}
