package merchant

import (
	"reflect"
	"testing"
	"time"
)

func TestMonthRange(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	m, err := ParseMonth("2026-10")
	if err != nil {
		t.Fatal(err)
	}
	start, end := m.Range(loc)
	// October starts in summer time (UTC+2) and ends in winter time (UTC+1).
	if want := time.Date(2026, 9, 30, 22, 0, 0, 0, time.UTC); !start.Equal(want) {
		t.Fatalf("start = %v, want %v", start, want)
	}
	if want := time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC); !end.Equal(want) {
		t.Fatalf("end = %v, want %v", end, want)
	}
	if got := len(m.Days()); got != 31 {
		t.Fatalf("October has %d days", got)
	}
	for _, bad := range []string{"2026-13", "2026-1", "26-10", "2026-10-01", "", "1999-12"} {
		if _, err := ParseMonth(bad); err == nil {
			t.Errorf("ParseMonth(%q) accepted", bad)
		}
	}
}

func TestBuildReport(t *testing.T) {
	loc, _ := time.LoadLocation("Europe/Ljubljana")
	m, _ := ParseMonth("2026-10")
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UTC()
	}
	rows := []ReportRow{
		{"m1", "Kavarna", "restaurant", "p72", "c1", at("2026-10-01 00:00"), 2345, 235, 118, false, "ptuj"},
		{"m1", "Kavarna", "restaurant", "p72", "c2", at("2026-10-15 12:00"), 1000, 100, 50, false, "koper"},
		{"m2", "Muzej", "museum", "p24", "c1", at("2026-10-31 23:59"), 500, 500, 250, false, "ptuj"},
		{"m2", "Muzej", "museum", "p24", "c3", at("2026-10-20 10:00"), 500, 500, 250, true, "koper"},  // voided
		{"m2", "Muzej", "museum", "p24", "c3", at("2026-09-30 23:59"), 500, 500, 250, false, "koper"}, // September
		{"m2", "Muzej", "museum", "p24", "c3", at("2026-11-01 00:00"), 500, 500, 250, false, "koper"}, // November
		{"m3", "Bar", "bar", "p72", "c4", at("2026-10-25 02:30"), 333, 33, 0, false, "koper"},         // DST night
	}
	r := BuildReport(m, loc, rows, 7, 3)
	tot := r.Totals
	if tot.Redemptions != 4 || tot.Voided != 1 || tot.CardsUsed != 3 || tot.CardsIssued != 7 || tot.CardsActivated != 3 {
		t.Fatalf("totals = %+v", tot)
	}
	if tot.Amount != 2345+1000+500+333 || tot.Discount != 235+100+500+33 || tot.MunicipalShare != 118+50+250 {
		t.Fatalf("money totals = %+v", tot)
	}
	var sum Counters
	for _, l := range r.Merchants {
		sum.Redemptions += l.Redemptions
		sum.Amount += l.Amount
		sum.Discount += l.Discount
		sum.MunicipalShare += l.MunicipalShare
	}
	for _, lines := range [][]KeyLine{r.Categories, r.Products} {
		var s Counters
		for _, l := range lines {
			s.Redemptions += l.Redemptions
			s.Amount += l.Amount
			s.Discount += l.Discount
			s.MunicipalShare += l.MunicipalShare
		}
		if s != sum {
			t.Fatalf("lines sum to %+v, merchants to %+v", s, sum)
		}
	}
	if sum.Redemptions != tot.Redemptions || sum.Amount != tot.Amount || sum.Discount != tot.Discount || sum.MunicipalShare != tot.MunicipalShare {
		t.Fatalf("merchant lines sum to %+v, totals are %+v", sum, tot.Counters)
	}
	if got, want := r.Merchants[0].Name, "Bar"; got != want {
		t.Fatalf("first merchant = %q, want %q (sorted by name)", got, want)
	}
	// c1 (Ptuj's) was used at Kavarna and Muzej; c2 and c4 are Koper's.
	if want := []IssuerLine{
		{"koper", Counters{Redemptions: 2, CardsUsed: 2, Amount: 1000 + 333, Discount: 100 + 33, MunicipalShare: 50}},
		{"ptuj", Counters{Redemptions: 2, CardsUsed: 1, Amount: 2345 + 500, Discount: 235 + 500, MunicipalShare: 118 + 250}},
	}; !reflect.DeepEqual(r.Issuers, want) {
		t.Fatalf("issuers = %+v, want %+v", r.Issuers, want)
	}
	if got := len(r.Days); got != 31 {
		t.Fatalf("%d day lines, want 31", got)
	}
	if d := r.Days[0]; d.Date != "2026-10-01" || d.Redemptions != 1 || d.Discount != 235 {
		t.Fatalf("1 Oct = %+v", d)
	}
	if d := r.Days[30]; d.Redemptions != 1 || d.Discount != 500 {
		t.Fatalf("31 Oct = %+v", d)
	}
	if d := r.Days[24]; d.Date != "2026-10-25" || d.Redemptions != 1 {
		t.Fatalf("25 Oct = %+v", d)
	}
	var daySum int64
	for _, d := range r.Days {
		daySum += d.Discount
	}
	if daySum != tot.Discount {
		t.Fatalf("days sum to %d, total discount %d", daySum, tot.Discount)
	}
}
