package storage

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/maphash"
	"sort"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
)

// The rollups are checked against the ledger by adding up, from the ledger's entries in one
// pass, what every rollup row must hold (rollupAcc.add), then reading each rollup table in its
// key order and comparing row by row (compare): a merge, with no query per entry.
//
// rollup_days and rollup_months have at most days (or months) × merchants × offers ×
// products rows, so their expected rows are kept exactly. rollup_card_uses has a row per card
// and scope, as many as the ledger has redemptions: for it the walk keeps, per month and
// scope, a sum of keyed 64-bit hashes of (key, card) weighted by the uses (a multiset hash,
// with a seed drawn for each check so nobody can craft a collision), and the count of cards
// per key that rollup_cards must hold. Only when a month and scope disagree is that month
// walked again to name the exact row (exactCardUses).

// dayKey is rollup_days' key; monthKey is rollup_months'.
type dayKey struct{ date, merchant, offer, product, category string }
type monthKey struct{ month, merchant, category, product, cardTown string }

// rollupSums are a rollup row's counters.
type rollupSums struct {
	redemptions, voided, adjustments int64
	amount, discount, share          int64
	adjAmount, adjDiscount, adjShare int64
}

func (s *rollupSums) add(d rollupDelta) {
	s.redemptions += int64(d.redemptions)
	s.voided += int64(d.voided)
	s.adjustments += int64(d.adjustments)
	s.amount += d.amount
	s.discount += d.discount
	s.share += d.share
	s.adjAmount += d.adjAmount
	s.adjDiscount += d.adjDiscount
	s.adjShare += d.adjShare
}

// diff names the first counter in which stored differs from s, or "".
func (s rollupSums) diff(stored rollupSums) string {
	for _, f := range []struct {
		name       string
		want, have int64
	}{
		{"redemptions", s.redemptions, stored.redemptions}, {"voided", s.voided, stored.voided},
		{"amount_cents", s.amount, stored.amount}, {"discount_cents", s.discount, stored.discount},
		{"share_cents", s.share, stored.share}, {"adjustments", s.adjustments, stored.adjustments},
		{"adj_amount_cents", s.adjAmount, stored.adjAmount}, {"adj_discount_cents", s.adjDiscount, stored.adjDiscount},
		{"adj_share_cents", s.adjShare, stored.adjShare},
	} {
		if f.want != f.have {
			return fmt.Sprintf("%s is %d, the ledger adds up to %d", f.name, f.have, f.want)
		}
	}
	return ""
}

type monthSums struct {
	rollupSums
	lastDate string
}

// cardGroup is one month and scope of rollup_card_uses.
type cardGroup struct{ month, scope string }

// cardKey is rollup_cards' key.
type cardKey struct{ month, scope, key string }

type rollupAcc struct {
	town   string // the town whose rollups are checked
	loc    *time.Location
	only   *merchant.Month // when set, entries of other months are left out
	days   map[dayKey]*rollupSums
	months map[monthKey]*monthSums
	uses   map[cardGroup]*[2]uint64
	seeds  [2]maphash.Seed
	// exact, when set, collects the card uses of one group row by row (exactCardUses).
	exact     *cardGroup
	exactUses map[[2]string]int64
}

func newRollupAcc(town string, loc *time.Location, only *merchant.Month) *rollupAcc {
	return &rollupAcc{town: town, loc: loc, only: only, days: map[dayKey]*rollupSums{}, months: map[monthKey]*monthSums{},
		uses: map[cardGroup]*[2]uint64{}, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
}

// add counts one ledger entry (not a close) as applyRollup books it.
func (a *rollupAcc) add(e merchant.LedgerEntry) {
	if a.only != nil && e.Month != *a.only {
		return
	}
	day, d, uses, ok, err := entryRollup(e, a.loc)
	if err != nil || !ok {
		return // an unknown kind cannot be stored: the CHECK on ledger.kind refuses it
	}
	month := e.Month.String()
	if a.exact == nil {
		dk := dayKey{day, e.MerchantID, e.OfferID, e.Product, e.Category}
		ds := a.days[dk]
		if ds == nil {
			ds = &rollupSums{}
			a.days[dk] = ds
		}
		ds.add(d)
		mk := monthKey{month, e.MerchantID, e.Category, e.Product, e.CardTown}
		ms := a.months[mk]
		if ms == nil {
			ms = &monthSums{}
			a.months[mk] = ms
		}
		ms.add(d)
		if day > ms.lastDate {
			ms.lastDate = day
		}
	}
	if uses == 0 {
		return
	}
	for _, s := range cardScopes(day, e) {
		g := cardGroup{month, s[0]}
		if a.exact != nil {
			if g == *a.exact {
				a.exactUses[[2]string{s[1], e.CardID}] += int64(uses)
			}
			continue
		}
		a.addUse(g, s[1], e.CardID, int64(uses))
	}
}

func (a *rollupAcc) addUse(g cardGroup, key, card string, n int64) {
	h := a.uses[g]
	if h == nil {
		h = &[2]uint64{}
		a.uses[g] = h
	}
	s := key + "\x00" + card
	h[0] += uint64(n) * maphash.String(a.seeds[0], s)
	h[1] += uint64(n) * maphash.String(a.seeds[1], s)
	// maphash.Bytes of the same bytes gives the same hash (compareCards relies on it).
}

// rollupProblem is the first rollup row that differs from the ledger: exact names it; a
// card-use group that differs without a row named yet is cardGroup.
type rollupProblem struct {
	exact     *LedgerCheck
	cardGroup cardGroup
}

func (p *rollupProblem) check() LedgerCheck { return *p.exact }

func rowProblem(table string, names, values []string, format string, a ...any) *rollupProblem {
	ref := &RollupRef{Table: table}
	for i := range names {
		ref.Key = append(ref.Key, KeyColumn{names[i], values[i]})
	}
	return &rollupProblem{exact: &LedgerCheck{FirstBad: table + ":" + strings.Join(values, "|"), Rollup: ref,
		Problem: fmt.Sprintf("rollup row %s %s: ", table, strings.Join(values, "|")) + fmt.Sprintf(format, a...)}}
}

// compare reads the rollups (of month, or all for "") in key order and returns the first
// row that differs from what the entries added up to, or nil.
func (a *rollupAcc) compare(q querier, month string) (*rollupProblem, error) {
	if p, err := a.compareDays(q, month); p != nil || err != nil {
		return p, err
	}
	if p, err := a.compareMonths(q, month); p != nil || err != nil {
		return p, err
	}
	return a.compareCards(q, month)
}

var dayColumns = []string{"date", "merchant_id", "offer_id", "product_code", "category"}

func (a *rollupAcc) compareDays(q querier, month string) (*rollupProblem, error) {
	want := make([]dayKey, 0, len(a.days))
	for k := range a.days {
		want = append(want, k)
	}
	sort.Slice(want, func(i, j int) bool { return lessStrings(dayStrings(want[i]), dayStrings(want[j])) })
	from, to := "", "~" // after every date and month (ASCII digits and dashes)
	if month != "" {
		from, to = month+"-01", month+"-32"
	}
	rows, err := q.query(`SELECT date, merchant_id, offer_id, product_code, category, redemptions, voided,
			amount_cents, discount_cents, share_cents, adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents
		FROM rollup_days WHERE town = ? AND date >= ? AND date < ? ORDER BY date, merchant_id, offer_id, product_code, category`, a.town, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var k dayKey
		var s rollupSums
		if err := rows.Scan(&k.date, &k.merchant, &k.offer, &k.product, &k.category, &s.redemptions, &s.voided,
			&s.amount, &s.discount, &s.share, &s.adjustments, &s.adjAmount, &s.adjDiscount, &s.adjShare); err != nil {
			return nil, err
		}
		have := dayStrings(k)
		if i < len(want) && lessStrings(dayStrings(want[i]), have) {
			return rowProblem("rollup_days", dayColumns, dayStrings(want[i]), "missing, the ledger has entries for it"), nil
		}
		if i == len(want) || lessStrings(have, dayStrings(want[i])) {
			return rowProblem("rollup_days", dayColumns, have, "the ledger has no entry for it"), nil
		}
		if d := a.days[want[i]].diff(s); d != "" {
			return rowProblem("rollup_days", dayColumns, have, "%s", d), nil
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if i < len(want) {
		return rowProblem("rollup_days", dayColumns, dayStrings(want[i]), "missing, the ledger has entries for it"), nil
	}
	return nil, nil
}

var monthColumns = []string{"month", "merchant_id", "category", "product_code", "card_town"}

func (a *rollupAcc) compareMonths(q querier, month string) (*rollupProblem, error) {
	want := make([]monthKey, 0, len(a.months))
	for k := range a.months {
		want = append(want, k)
	}
	sort.Slice(want, func(i, j int) bool { return lessStrings(monthStrings(want[i]), monthStrings(want[j])) })
	from, to := "", "~" // after every date and month (ASCII digits and dashes)
	if month != "" {
		from, to = month, month+" " // this month only: nothing stored sorts between
	}
	rows, err := q.query(`SELECT month, merchant_id, category, product_code, card_town, last_date, redemptions, voided,
			amount_cents, discount_cents, share_cents, adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents
		FROM rollup_months WHERE town = ? AND month >= ? AND month < ? ORDER BY month, merchant_id, category, product_code, card_town`, a.town, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var k monthKey
		var s monthSums
		if err := rows.Scan(&k.month, &k.merchant, &k.category, &k.product, &k.cardTown, &s.lastDate, &s.redemptions, &s.voided,
			&s.amount, &s.discount, &s.share, &s.adjustments, &s.adjAmount, &s.adjDiscount, &s.adjShare); err != nil {
			return nil, err
		}
		have := monthStrings(k)
		if i < len(want) && lessStrings(monthStrings(want[i]), have) {
			return rowProblem("rollup_months", monthColumns, monthStrings(want[i]), "missing, the ledger has entries for it"), nil
		}
		if i == len(want) || lessStrings(have, monthStrings(want[i])) {
			return rowProblem("rollup_months", monthColumns, have, "the ledger has no entry for it"), nil
		}
		w := a.months[want[i]]
		if d := w.diff(s.rollupSums); d != "" {
			return rowProblem("rollup_months", monthColumns, have, "%s", d), nil
		}
		if w.lastDate != s.lastDate {
			return rowProblem("rollup_months", monthColumns, have, "last_date is %s, the ledger's latest day is %s", s.lastDate, w.lastDate), nil
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if i < len(want) {
		return rowProblem("rollup_months", monthColumns, monthStrings(want[i]), "missing, the ledger has entries for it"), nil
	}
	return nil, nil
}

var cardsColumns = []string{"month", "scope", "key"}

// compareCards checks rollup_card_uses by month and scope against the entries' hashes, and
// rollup_cards against the number of cards each key has in rollup_card_uses.
func (a *rollupAcc) compareCards(q querier, month string) (*rollupProblem, error) {
	from, to := "", "~" // after every date and month (ASCII digits and dashes)
	if month != "" {
		from, to = month, month+" " // this month only: nothing stored sorts between
	}
	stored := newRollupAcc(a.town, a.loc, nil)
	stored.seeds = a.seeds
	counts := map[cardKey]int64{}
	rows, err := q.query(`SELECT month, scope, key, card_id, uses FROM rollup_card_uses WHERE town = ? AND month >= ? AND month < ?
		ORDER BY month, scope, key, card_id`, a.town, from, to)
	if err != nil {
		return nil, err
	}
	// As many rows as redemptions: read as raw bytes, and strings made only when the key
	// changes (rows come in key order), so a row costs no allocation.
	var rm, rs, rk, rc sql.RawBytes
	var cur cardKey
	var run int64
	var h [2]uint64
	var buf []byte
	flush := func() {
		if run > 0 {
			counts[cur] = run
			g := stored.uses[cardGroup{cur.month, cur.scope}]
			if g == nil {
				g = &[2]uint64{}
				stored.uses[cardGroup{cur.month, cur.scope}] = g
			}
			g[0] += h[0]
			g[1] += h[1]
		}
		run, h = 0, [2]uint64{}
	}
	for rows.Next() {
		var uses int64
		if err := rows.Scan(&rm, &rs, &rk, &rc, &uses); err != nil {
			rows.Close()
			return nil, err
		}
		if string(rm) != cur.month || string(rs) != cur.scope || string(rk) != cur.key {
			flush()
			cur = cardKey{string(rm), string(rs), string(rk)}
		}
		if uses <= 0 {
			rows.Close()
			return rowProblem("rollup_card_uses", []string{"month", "scope", "key", "card_id"},
				[]string{cur.month, cur.scope, cur.key, string(rc)}, "uses is %d, a row is kept only while the card has uses", uses), nil
		}
		buf = append(append(append(buf[:0], rk...), 0), rc...)
		h[0] += uint64(uses) * maphash.Bytes(a.seeds[0], buf)
		h[1] += uint64(uses) * maphash.Bytes(a.seeds[1], buf)
		run++
	}
	flush()
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	groups := map[cardGroup]bool{}
	for g := range a.uses {
		groups[g] = true
	}
	for g := range stored.uses {
		groups[g] = true
	}
	var bad []cardGroup
	for g := range groups {
		w, h := a.uses[g], stored.uses[g]
		if w == nil {
			w = &[2]uint64{}
		}
		if h == nil {
			h = &[2]uint64{}
		}
		if *w != *h {
			bad = append(bad, g)
		}
	}
	if len(bad) > 0 {
		sort.Slice(bad, func(i, j int) bool {
			return bad[i].month < bad[j].month || bad[i].month == bad[j].month && bad[i].scope < bad[j].scope
		})
		return &rollupProblem{cardGroup: bad[0]}, nil
	}
	// rollup_cards: its count for each key must be the number of the key's rows above; a key
	// whose last card was voided keeps its row with 0.
	rows, err = q.query(`SELECT month, scope, key, cards FROM rollup_cards WHERE town = ? AND month >= ? AND month < ?
		ORDER BY month, scope, key`, a.town, from, to)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[cardKey]bool{}
	for rows.Next() {
		var k cardKey
		var n int64
		if err := rows.Scan(&k.month, &k.scope, &k.key, &n); err != nil {
			return nil, err
		}
		seen[k] = true
		if n != counts[k] {
			return rowProblem("rollup_cards", cardsColumns, []string{k.month, k.scope, k.key},
				"cards is %d, rollup_card_uses has %d distinct cards for it", n, counts[k]), nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing [][]string
	for k := range counts {
		if !seen[k] {
			missing = append(missing, []string{k.month, k.scope, k.key})
		}
	}
	if len(missing) > 0 {
		sort.Slice(missing, func(i, j int) bool { return lessStrings(missing[i], missing[j]) })
		k := cardKey{missing[0][0], missing[0][1], missing[0][2]}
		return rowProblem("rollup_cards", cardsColumns, missing[0], "missing, rollup_card_uses has %d distinct cards for it", counts[k]), nil
	}
	return nil, nil
}

// exactCardUses walks the ledger again for the card uses of one month and scope, and names
// the first row of rollup_card_uses (in key order) that differs from them.
func exactCardUses(q querier, town string, loc *time.Location, g cardGroup) (*rollupProblem, error) {
	m, err := merchant.ParseMonth(g.month)
	if err != nil {
		// A stored month that is not one: the row itself is the problem.
		return rowProblem("rollup_card_uses", []string{"month", "scope"}, []string{g.month, g.scope}, "not a month"), nil
	}
	a := newRollupAcc(town, loc, &m)
	a.exact, a.exactUses = &g, map[[2]string]int64{}
	rows, err := q.query(`SELECT `+ledgerColumns+` FROM ledger WHERE town = ? AND month = ? AND kind IN ('redemption', 'void')`, town, g.month)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e merchant.LedgerEntry
		var h []byte
		if err := scanLedgerEntry(rows, &e, &h); err != nil {
			rows.Close()
			return nil, err
		}
		a.add(e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	want := make([][2]string, 0, len(a.exactUses))
	for k, n := range a.exactUses {
		if n != 0 {
			want = append(want, k)
		}
	}
	sort.Slice(want, func(i, j int) bool { return lessStrings(want[i][:], want[j][:]) })
	cols := []string{"month", "scope", "key", "card_id"}
	rows, err = q.query(`SELECT key, card_id, uses FROM rollup_card_uses WHERE town = ? AND month = ? AND scope = ? ORDER BY key, card_id`, town, g.month, g.scope)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	i := 0
	for rows.Next() {
		var k [2]string
		var uses int64
		if err := rows.Scan(&k[0], &k[1], &uses); err != nil {
			return nil, err
		}
		if i < len(want) && lessStrings(want[i][:], k[:]) {
			return rowProblem("rollup_card_uses", cols, []string{g.month, g.scope, want[i][0], want[i][1]},
				"missing, the ledger has %d uses for it", a.exactUses[want[i]]), nil
		}
		if i == len(want) || lessStrings(k[:], want[i][:]) {
			return rowProblem("rollup_card_uses", cols, []string{g.month, g.scope, k[0], k[1]}, "the ledger has no use for it"), nil
		}
		if n := a.exactUses[k]; n != uses {
			return rowProblem("rollup_card_uses", cols, []string{g.month, g.scope, k[0], k[1]},
				"uses is %d, the ledger adds up to %d", uses, n), nil
		}
		i++
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if i < len(want) {
		return rowProblem("rollup_card_uses", cols, []string{g.month, g.scope, want[i][0], want[i][1]},
			"missing, the ledger has %d uses for it", a.exactUses[want[i]]), nil
	}
	return nil, nil
}

func dayStrings(k dayKey) []string {
	return []string{k.date, k.merchant, k.offer, k.product, k.category}
}

func monthStrings(k monthKey) []string {
	return []string{k.month, k.merchant, k.category, k.product, k.cardTown}
}

// lessStrings orders keys column by column, as SQLite's BINARY collation orders the rows.
func lessStrings(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// rollupZone is the zone town's rollups were built for (towns.rollup_zone), which a check
// must add up days in; def if none is recorded.
func rollupZone(q querier, town string, def *time.Location) (*time.Location, error) {
	var zone string
	err := q.queryRow(`SELECT rollup_zone FROM towns WHERE code = ?`, town).Scan(&zone)
	if errors.Is(err, sql.ErrNoRows) || zone == "" {
		return def, nil // no rollups built yet: the town's zone
	}
	if err != nil {
		return nil, err
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("the rollups' zone %q: %w", zone, err)
	}
	return loc, nil
}
