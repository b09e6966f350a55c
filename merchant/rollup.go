package merchant

import (
	"sort"
	"time"
)

// RollupRow is a stored summary of a merchant's redemptions of one category and product,
// over a local day or a whole month (offers summed): the redemptions that count (not
// voided), how many were voided while their month was open, and the adjustments booked in
// it (negative amounts). Date is the day, or for a month the latest day booked.
type RollupRow struct {
	Date, MerchantID, Category, Product string
	CardTown                            string // the town that issued the cards (month rows only)
	Redemptions, Voided                 int
	Amount, Discount, MunicipalShare    int64
	Adjustments                         int
	AdjAmount, AdjDiscount, AdjShare    int64
}

// CardCounts are the distinct cards with redemptions (not voided) in a month: in total and
// for each merchant, category and product.
type CardCounts struct {
	Total                           int
	Merchants, Categories, Products map[string]int
	Issuers                         map[string]int // by the town that issued the card
}

// BuildReportFromRollups computes the month's report from rollup rows that cover the month
// once (by month or by day: rows dated outside the month are ignored), the sums of its days
// (redemptions, and discount net of the adjustments booked that day), the merchants' names by
// id, the distinct card counts, the adjustments booked in the month and the counts of cards
// issued and activated in it. It gives the report BuildReport gives from the month's
// redemptions, and in addition books the adjustments: their amounts are added to the money
// of the totals and lines and summed in Adjustments.
func BuildReportFromRollups(m Month, loc *time.Location, rows []RollupRow, days []DayLine, names map[string]string, cards CardCounts, adj []Adjustment, cardsIssued, cardsActivated int) Report {
	rep := Report{Month: m, Timezone: loc.String()}
	index := map[string]int{}
	for i, d := range m.Days() {
		rep.Days = append(rep.Days, DayLine{Date: d})
		index[d] = i
	}
	for _, d := range days {
		if i, ok := index[d.Date]; ok {
			rep.Days[i].Redemptions += d.Redemptions
			rep.Days[i].Discount += d.Discount
		}
	}
	merchants := map[string]*MerchantLine{}
	latest := map[string]string{} // merchant id: date|category of its latest row
	cats, prods := map[string]*Counters{}, map[string]*Counters{}
	get := func(mp map[string]*Counters, k string) *Counters {
		c, ok := mp[k]
		if !ok {
			c = &Counters{}
			mp[k] = c
		}
		return c
	}
	for _, r := range rows {
		if _, ok := index[r.Date]; !ok {
			continue
		}
		rep.Totals.Voided += r.Voided
		if r.Redemptions == 0 && r.Adjustments == 0 {
			continue // only voided: in no line, as in BuildReport
		}
		c := Counters{
			Redemptions:    r.Redemptions,
			Amount:         r.Amount + r.AdjAmount,
			Discount:       r.Discount + r.AdjDiscount,
			MunicipalShare: r.MunicipalShare + r.AdjShare,
		}
		rep.Totals.Counters.add(c)
		rep.Adjustments.Count += r.Adjustments
		rep.Adjustments.Amount += r.AdjAmount
		rep.Adjustments.Discount += r.AdjDiscount
		rep.Adjustments.MunicipalShare += r.AdjShare
		ml, ok := merchants[r.MerchantID]
		if !ok {
			ml = &MerchantLine{MerchantID: r.MerchantID, Name: names[r.MerchantID]}
			merchants[r.MerchantID] = ml
		}
		ml.Counters.add(c)
		// A merchant that changed category within the month is listed under its latest.
		if k := r.Date + "|" + r.Category; k > latest[r.MerchantID] {
			latest[r.MerchantID], ml.Category = k, r.Category
		}
		get(cats, r.Category).add(c)
		get(prods, r.Product).add(c)
	}
	rep.Totals.CardsUsed = cards.Total
	rep.Totals.CardsIssued, rep.Totals.CardsActivated = cardsIssued, cardsActivated
	for id, ml := range merchants {
		ml.CardsUsed = cards.Merchants[id]
		rep.Merchants = append(rep.Merchants, *ml)
	}
	sortMerchants(rep.Merchants)
	lines := func(mp map[string]*Counters, counts map[string]int) []KeyLine {
		out := make([]KeyLine, 0, len(mp))
		for k, c := range mp {
			c.CardsUsed = counts[k]
			out = append(out, KeyLine{Key: k, Counters: *c})
		}
		sortKeyLines(out)
		return out
	}
	rep.Categories, rep.Products = lines(cats, cards.Categories), lines(prods, cards.Products)
	rep.Adjustments.Items = append([]Adjustment(nil), adj...)
	sort.SliceStable(rep.Adjustments.Items, func(i, j int) bool {
		a, b := rep.Adjustments.Items[i], rep.Adjustments.Items[j]
		if !a.VoidedAt.Equal(b.VoidedAt) {
			return a.VoidedAt.Before(b.VoidedAt)
		}
		return a.RedemptionID < b.RedemptionID
	})
	return rep
}

func (c *Counters) add(o Counters) {
	c.Redemptions += o.Redemptions
	c.Amount += o.Amount
	c.Discount += o.Discount
	c.MunicipalShare += o.MunicipalShare
}
