package merchant

import (
	"reflect"
	"testing"
	"time"
)

func TestBuildReportFromRollups(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	m, _ := ParseMonth("2026-10")
	rows := []RollupRow{
		// A month row of m1 (latest day 20th, as a shop) and one of its days as a bar.
		{Date: "2026-10-20", MerchantID: "m1", Category: "shop", Product: "p72", CardTown: "koper", Redemptions: 3, Voided: 1,
			Amount: 3000, Discount: 300, MunicipalShare: 150},
		{Date: "2026-10-25", MerchantID: "m1", Category: "bar", Product: "p24", CardTown: "ptuj", Redemptions: 1, Amount: 500, Discount: 50, MunicipalShare: 25},
		// m2 only had a void: no line, but counted as voided.
		{Date: "2026-10-02", MerchantID: "m2", Category: "museum", Product: "p72", CardTown: "kranj", Voided: 1},
		// m3 only has an adjustment: a line with negative money.
		{Date: "2026-10-07", MerchantID: "m3", Category: "museum", Product: "p72", CardTown: "koper", Adjustments: 1,
			AdjAmount: -2000, AdjDiscount: -2000, AdjShare: -1000},
		// Another month's row is ignored.
		{Date: "2026-11-01", MerchantID: "m1", Category: "shop", Product: "p72", Redemptions: 9, Amount: 9},
	}
	days := []DayLine{{"2026-10-07", 0, -2000}, {"2026-10-20", 3, 300}, {"2026-10-25", 1, 50}, {"2026-09-30", 5, 5}}
	names := map[string]string{"m1": "Čevljarna", "m3": "Muzej"}
	cards := CardCounts{Total: 3, Merchants: map[string]int{"m1": 3}, Categories: map[string]int{"shop": 2, "bar": 1},
		Products: map[string]int{"p72": 2, "p24": 1}, Issuers: map[string]int{"koper": 2, "ptuj": 1}}
	adj := []Adjustment{{RedemptionID: "r9", MerchantID: "m3", VoidedAt: time.Date(2026, 10, 7, 9, 0, 0, 0, loc),
		Amount: -2000, Discount: -2000, MunicipalShare: -1000}}
	r := BuildReportFromRollups(m, loc, rows, days, names, cards, adj, 10, 4)
	tot := r.Totals
	if tot.Redemptions != 4 || tot.Voided != 2 || tot.CardsUsed != 3 || tot.CardsIssued != 10 || tot.CardsActivated != 4 {
		t.Fatalf("counts = %+v", tot)
	}
	if tot.Amount != 1500 || tot.Discount != -1650 || tot.MunicipalShare != -825 {
		t.Fatalf("money = %d %d %d, want net of the adjustment 1500 -1650 -825", tot.Amount, tot.Discount, tot.MunicipalShare)
	}
	if a := r.Adjustments; a.Count != 1 || a.Amount != -2000 || a.MunicipalShare != -1000 || len(a.Items) != 1 {
		t.Fatalf("adjustments = %+v", a)
	}
	if len(r.Merchants) != 2 || r.Merchants[0].Name != "Muzej" || r.Merchants[0].MunicipalShare != -1000 ||
		r.Merchants[1].Category != "bar" || r.Merchants[1].Redemptions != 4 || r.Merchants[1].CardsUsed != 3 {
		t.Fatalf("merchants = %+v", r.Merchants)
	}
	var share int64
	for _, l := range r.Merchants {
		share += l.MunicipalShare
	}
	for _, lines := range [][]KeyLine{r.Categories, r.Products} {
		var s int64
		for _, l := range lines {
			s += l.MunicipalShare
		}
		if s != share || s != tot.MunicipalShare {
			t.Fatalf("lines sum to %d, merchants to %d, total %d", s, share, tot.MunicipalShare)
		}
	}
	// By issuer: Kranj's only void makes no line; Koper's line is net of its adjustment.
	if want := []IssuerLine{
		{"koper", Counters{Redemptions: 3, CardsUsed: 2, Amount: 1000, Discount: -1700, MunicipalShare: -850}},
		{"ptuj", Counters{Redemptions: 1, CardsUsed: 1, Amount: 500, Discount: 50, MunicipalShare: 25}},
	}; !reflect.DeepEqual(r.Issuers, want) {
		t.Fatalf("issuers = %+v, want %+v", r.Issuers, want)
	}
	var disc int64
	for _, d := range r.Days {
		disc += d.Discount
	}
	if len(r.Days) != 31 || disc != tot.Discount || r.Days[6].Discount != -2000 {
		t.Fatalf("days = %+v", r.Days)
	}
}

func TestBuildStatements(t *testing.T) {
	rep := Report{
		Merchants: []MerchantLine{
			{MerchantID: "m1", Name: "A", Counters: Counters{Redemptions: 2, Discount: 300, MunicipalShare: 150}},
			{MerchantID: "m2", Name: "B", Counters: Counters{Redemptions: 1, Discount: 100, MunicipalShare: -50}},
		},
		Adjustments: Adjustments{Items: []Adjustment{{RedemptionID: "r0", MerchantID: "m2", MunicipalShare: -100}}},
	}
	t0 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	items := []Redemption{
		{ID: "r3", MerchantID: "m1", CreatedAt: t0.Add(2 * time.Hour), MunicipalShare: 100},
		{ID: "r1", MerchantID: "m1", CreatedAt: t0, MunicipalShare: 50},
		{ID: "r2", MerchantID: "m2", CreatedAt: t0, MunicipalShare: 50},
	}
	sts := BuildStatements(rep, items, nil)
	if len(sts) != 2 || StatementsTotal(sts) != 100 {
		t.Fatalf("statements = %+v", sts)
	}
	if s := sts[0]; s.MerchantID != "m1" || len(s.Items) != 2 || s.Items[0].ID != "r1" || len(s.Adjustments) != 0 {
		t.Fatalf("m1 = %+v", s)
	}
	if s := sts[1]; len(s.Items) != 1 || len(s.Adjustments) != 1 || s.MunicipalShare != -50 {
		t.Fatalf("m2 = %+v", s)
	}
	one := BuildStatements(rep, items, &Merchant{ID: "m3", Name: "C"})
	if len(one) != 1 || one[0].Name != "C" || one[0].MunicipalShare != 0 || len(one[0].Items) != 0 {
		t.Fatalf("a merchant without a line = %+v", one)
	}
}

func TestOpenDataSuppression(t *testing.T) {
	m, _ := ParseMonth("2026-02")
	cells := OpenData(m, map[string]int{OpenDataKey("2026-02-01", "bar"): 9, OpenDataKey("2026-02-02", "bar"): 4},
		map[string]int{OpenDataKey("2026-02-01", "bar"): 5, OpenDataKey("2026-02-02", "bar"): 4})
	if len(cells) != 28*len(Categories) {
		t.Fatalf("%d cells", len(cells))
	}
	for _, c := range cells {
		switch {
		case c.Date == "2026-02-01" && c.Category == "bar":
			if c.Suppressed || c.Redemptions != 9 || c.Cards != 5 {
				t.Errorf("five cards: %+v", c)
			}
		case !c.Suppressed || c.Redemptions != 0 || c.Cards != 0:
			t.Errorf("cell %+v shown", c)
		}
	}
}
