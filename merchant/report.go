package merchant

import (
	"fmt"
	"sort"
	"time"
)

// Month is a calendar month in the city's zone.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth parses "YYYY-MM" (years 2000 to 2999). Errors wrap ErrInvalidInput.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || len(s) != 7 || t.Year() < 2000 || t.Year() > 2999 {
		return Month{}, invalid("month must be YYYY-MM")
	}
	return Month{t.Year(), t.Month()}, nil
}

func (m Month) String() string {
	// Without fmt: the ledger's verification formats a month per entry.
	if m.Year < 0 || m.Year > 9999 {
		return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month))
	}
	b := make([]byte, 0, 7)
	b = append(b, byte('0'+m.Year/1000), byte('0'+m.Year/100%10), byte('0'+m.Year/10%10), byte('0'+m.Year%10), '-')
	return string(append(b, byte('0'+int(m.Month)/10), byte('0'+int(m.Month)%10)))
}

// Range is the month's first instant and the next month's first instant, in UTC, measured
// at local midnight in loc (so a DST change inside the month is accounted for).
func (m Month) Range(loc *time.Location) (start, end time.Time) {
	start = time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, loc)
	end = time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, loc)
	return start.UTC(), end.UTC()
}

// Next is the month after m.
func (m Month) Next() Month {
	if m.Month == time.December {
		return Month{m.Year + 1, time.January}
	}
	return Month{m.Year, m.Month + 1}
}

// Days lists the month's dates, YYYY-MM-DD.
func (m Month) Days() []string {
	var out []string
	for d := time.Date(m.Year, m.Month, 1, 12, 0, 0, 0, time.UTC); d.Month() == m.Month; d = d.AddDate(0, 0, 1) {
		out = append(out, d.Format(dateLayout))
	}
	return out
}

// MonthOf is the local month of t.
func MonthOf(t time.Time, loc *time.Location) Month {
	l := t.In(loc)
	return Month{l.Year(), l.Month()}
}

// ReportRow is one redemption as the report sees it.
type ReportRow struct {
	MerchantID, MerchantName, Category, Product, CardID string
	CreatedAt                                           time.Time
	Amount, Discount, MunicipalShare                    int64
	Voided                                              bool
	CardTown                                            string // the town that issued the card
}

// Counters are the figures kept for the month and for each merchant, category and product.
type Counters struct {
	Redemptions    int
	CardsUsed      int
	Amount         int64
	Discount       int64
	MunicipalShare int64
}

// MerchantLine is one merchant's figures.
type MerchantLine struct {
	MerchantID, Name, Category string
	Counters
}

// KeyLine is the figures of one category or product.
type KeyLine struct {
	Key string
	Counters
}

// IssuerLine is the figures of the redemptions of cards one town issued (Town, its code).
type IssuerLine struct {
	Town string
	Counters
}

// DayLine is one local day's figures.
type DayLine struct {
	Date        string
	Redemptions int
	Discount    int64
}

// Totals are the month's figures.
type Totals struct {
	Counters
	Voided         int
	CardsIssued    int
	CardsActivated int
}

// Report is a month's usage and what the municipality owes. Every total equals the sum of its
// lines (cards_used excepted: a card used at two merchants counts once in the total). The
// money of the totals and of every line is net of the month's adjustments; the counts are of
// the month's own redemptions.
type Report struct {
	Month       Month
	Timezone    string
	Totals      Totals
	Merchants   []MerchantLine // by name, then id
	Categories  []KeyLine      // by category
	Products    []KeyLine      // by product code
	Days        []DayLine      // every day of the month
	Adjustments Adjustments
	// Issuers are the same redemptions (and adjustments) by the town that issued the card,
	// by town code. Nil only in a report frozen before the network of towns: such a month
	// is wholly its own town's (see OwnIssuers).
	Issuers []IssuerLine
	// Sales are the month's cards issued by sales points, one line per sales point
	// (merchant/sales.go); nil in a month without them.
	Sales []SalesLine
}

// Adjustment is the void of a redemption whose month was already closed, booked in the
// month of the void with negative amounts.
type Adjustment struct {
	RedemptionID, MerchantID, MerchantName, Category, Product string
	CreatedAt, VoidedAt                                       time.Time
	Reason                                                    string
	Amount, Discount, MunicipalShare                          int64 // negative
}

// Adjustments are a month's adjustments and their sums.
type Adjustments struct {
	Count                            int
	Amount, Discount, MunicipalShare int64
	Items                            []Adjustment // by time of the void
}

// BuildReport computes the month's report from its redemptions (rows outside the month are
// ignored) and the counts of cards issued and activated in the month. Voided redemptions
// count only in Totals.Voided. The service builds reports from rollups
// (BuildReportFromRollups); this row-by-row version is the reference they are tested against.
func BuildReport(m Month, loc *time.Location, rows []ReportRow, cardsIssued, cardsActivated int) Report {
	start, end := m.Range(loc)
	type acc struct {
		Counters
		cards map[string]struct{}
	}
	add := func(a *acc, r ReportRow) {
		a.Redemptions++
		a.Amount += r.Amount
		a.Discount += r.Discount
		a.MunicipalShare += r.MunicipalShare
		if a.cards == nil {
			a.cards = map[string]struct{}{}
		}
		a.cards[r.CardID] = struct{}{}
	}
	var total acc
	merchants := map[string]*acc{}
	names := map[string][2]string{}
	cats, prods, issuers := map[string]*acc{}, map[string]*acc{}, map[string]*acc{}
	rep := Report{Month: m, Timezone: loc.String()}
	days := map[string]int{}
	for i, d := range m.Days() {
		rep.Days = append(rep.Days, DayLine{Date: d})
		days[d] = i
	}
	get := func(mp map[string]*acc, k string) *acc {
		a, ok := mp[k]
		if !ok {
			a = &acc{}
			mp[k] = a
		}
		return a
	}
	for _, r := range rows {
		if r.CreatedAt.Before(start) || !r.CreatedAt.Before(end) {
			continue
		}
		if r.Voided {
			rep.Totals.Voided++
			continue
		}
		add(&total, r)
		add(get(merchants, r.MerchantID), r)
		names[r.MerchantID] = [2]string{r.MerchantName, r.Category}
		add(get(cats, r.Category), r)
		add(get(prods, r.Product), r)
		add(get(issuers, r.CardTown), r)
		if i, ok := days[r.CreatedAt.In(loc).Format(dateLayout)]; ok {
			rep.Days[i].Redemptions++
			rep.Days[i].Discount += r.Discount
		}
	}
	fin := func(a *acc) Counters { c := a.Counters; c.CardsUsed = len(a.cards); return c }
	rep.Totals.Counters = fin(&total)
	rep.Totals.CardsIssued, rep.Totals.CardsActivated = cardsIssued, cardsActivated
	for id, a := range merchants {
		rep.Merchants = append(rep.Merchants, MerchantLine{MerchantID: id, Name: names[id][0], Category: names[id][1], Counters: fin(a)})
	}
	sortMerchants(rep.Merchants)
	lines := func(mp map[string]*acc) []KeyLine {
		out := make([]KeyLine, 0, len(mp))
		for k, a := range mp {
			out = append(out, KeyLine{Key: k, Counters: fin(a)})
		}
		sortKeyLines(out)
		return out
	}
	rep.Categories, rep.Products = lines(cats), lines(prods)
	rep.Issuers = make([]IssuerLine, 0, len(issuers))
	for _, l := range lines(issuers) {
		rep.Issuers = append(rep.Issuers, IssuerLine{Town: l.Key, Counters: l.Counters})
	}
	return rep
}

func sortMerchants(ls []MerchantLine) {
	sort.Slice(ls, func(i, j int) bool {
		a, b := ls[i], ls[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.MerchantID < b.MerchantID
	})
}

// OwnIssuers are the report's issuer lines; for a report frozen before the network of towns
// (Issuers nil), one line of town's own with the month's figures, if it has any: every card
// of such a month was issued by the one town there was.
func (r Report) OwnIssuers(town string) []IssuerLine {
	if r.Issuers != nil {
		return r.Issuers
	}
	if t := r.Totals.Counters; t == (Counters{}) {
		return []IssuerLine{}
	}
	return []IssuerLine{{Town: town, Counters: r.Totals.Counters}}
}

func sortKeyLines(ls []KeyLine) { sort.Slice(ls, func(i, j int) bool { return ls[i].Key < ls[j].Key }) }
