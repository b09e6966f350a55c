package main

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"testing"
	"time"
)

// reportWorld is a month of redemptions in Koper around its edges: local midnights at both
// ends, the night the clocks go back, a voided redemption, and one each in the months around.
type reportWorld struct {
	ts       *testServer
	included []redemptionJSON // October's, not voided
}

func newReportWorld(t *testing.T) reportWorld {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-resident", -365, "resident")
	a, keyA := ts.mustMerchant(`Bar "Pri Mostu", Koper`, "bar")
	b, keyB := ts.mustMerchant("Pokrajinski muzej", "museum")
	c, keyC := ts.mustMerchant("Gostilna Čevljarska", "restaurant")
	d, keyD := ts.mustMerchant("=Bar D", "bar")
	oa := ts.mustOffer(a.ID, "A", `"kind":"percent","value":"10","limit":"unlimited","municipal_share":"50"`)
	ob := ts.mustOffer(b.ID, "B", `"kind":"free","max_discount":"8.00","limit":"unlimited","municipal_share":"100"`)
	oc := ts.mustOffer(c.ID, "C", `"kind":"amount","value":"5.00","limit":"unlimited","municipal_share":"33.33"`)
	od := ts.mustOffer(d.ID, "D", `"kind":"price","value":"10.00","limit":"unlimited","municipal_share":"12.5"`)

	at := func(month time.Month, day, hour, min int) {
		ts.clock.Set(time.Date(2026, month, day, hour, min, 0, 0, testLoc))
	}
	at(9, 28, 9, 0)
	resident := ts.mustCard("koper-resident", "Maja Kovač", "sl")
	at(9, 30, 23, 30)
	ts.mustRedeem(keyA, resident.Token, oa.ID, "9.99", "sep")

	w := reportWorld{ts: ts}
	in := func(key, tok, offer, amount, idem string) {
		w.included = append(w.included, ts.mustRedeem(key, tok, offer, amount, idem))
	}
	at(10, 1, 0, 30) // 30 September 22:30 UTC
	in(keyA, resident.Token, oa.ID, "10.00", "r1")
	at(10, 10, 12, 0)
	tourist := ts.mustCard("koper-72h", "", "en")
	in(keyB, tourist.Token, ob.ID, "12.00", "r2")
	at(10, 10, 13, 0)
	in(keyA, tourist.Token, oa.ID, "23.45", "r3")
	at(10, 10, 14, 0)
	voided := ts.mustRedeem(keyC, tourist.Token, oc.ID, "40.00", "r4")
	at(10, 10, 14, 5)
	ts.must(200, "POST", "/api/v1/redemptions/"+voided.ID+"/void", `{"reason":"wrong card"}`, asAdmin, nil)
	at(10, 20, 19, 0)
	in(keyC, resident.Token, oc.ID, "30.00", "r5")
	at(10, 25, 2, 30) // the second 02:30 of the night the clocks go back is still 25 October
	ts.clock.Set(ts.clock.Now().Add(time.Hour))
	in(keyD, resident.Token, od.ID, "12.35", "r6")
	at(10, 31, 23, 0)
	late := ts.mustCard("koper-72h", "", "it")
	at(10, 31, 23, 30) // 31 October 22:30 UTC
	in(keyA, late.Token, oa.ID, "5.05", "r7")
	at(11, 1, 0, 30) // 31 October 23:30 UTC, but November in Koper
	ts.mustRedeem(keyB, late.Token, ob.ID, "8.00", "nov")
	at(11, 15, 12, 0)
	return w
}

type counters struct {
	redemptions                      int
	amount, discount, municipalShare int64
}

func (c *counters) add(t *testing.T, redemptions int, amount, discount, share string) {
	t.Helper()
	c.redemptions += redemptions
	c.amount += mustCents(t, amount)
	c.discount += mustCents(t, discount)
	c.municipalShare += mustCents(t, share)
}

func TestReportMonthlyJSON(t *testing.T) {
	w := newReportWorld(t)
	var rep reportJSON
	w.ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, &rep)
	if rep.Month != "2026-10" || rep.Timezone != "Europe/Ljubljana" {
		t.Fatalf("month %q zone %q", rep.Month, rep.Timezone)
	}

	// The totals are October's redemptions as the tills got them, the voided one left out.
	var want counters
	for _, r := range w.included {
		want.add(t, 1, r.Amount, r.Discount, r.MunicipalShare)
	}
	var total counters
	total.add(t, rep.Totals.Redemptions, rep.Totals.Amount, rep.Totals.Discount, rep.Totals.MunicipalShare)
	if total != want {
		t.Fatalf("totals %+v, want %+v", total, want)
	}
	if rep.Totals.Voided != 1 || rep.Totals.CardsUsed != 3 || rep.Totals.CardsIssued != 2 || rep.Totals.CardsActivated != 2 {
		t.Fatalf("totals %+v: want 1 voided, 3 cards used, 2 issued, 2 activated", rep.Totals)
	}

	// Every breakdown adds up to the totals, to the cent.
	var merchants, categories, products, days counters
	for _, m := range rep.Merchants {
		merchants.add(t, m.Redemptions, m.Amount, m.Discount, m.MunicipalShare)
	}
	for _, c := range rep.Categories {
		categories.add(t, c.Redemptions, c.Amount, c.Discount, c.MunicipalShare)
	}
	for _, p := range rep.Products {
		products.add(t, p.Redemptions, p.Amount, p.Discount, p.MunicipalShare)
	}
	for _, d := range rep.Days {
		days.add(t, d.Redemptions, "0", d.Discount, "0")
	}
	for name, got := range map[string]counters{"merchants": merchants, "categories": categories, "products": products} {
		if got != want {
			t.Errorf("sum of %s %+v, want %+v", name, got, want)
		}
	}
	if days.redemptions != want.redemptions || days.discount != want.discount {
		t.Errorf("sum of days %+v, want %d redemptions and %d cents of discount", days, want.redemptions, want.discount)
	}
	if len(rep.Merchants) != 4 || len(rep.Categories) != 3 || len(rep.Products) != 2 || len(rep.Days) != 31 {
		t.Fatalf("%d merchants, %d categories, %d products, %d days", len(rep.Merchants), len(rep.Categories), len(rep.Products), len(rep.Days))
	}
	byDay := map[string]int{}
	for _, d := range rep.Days {
		byDay[d.Date] = d.Redemptions
	}
	if byDay["2026-10-01"] != 1 || byDay["2026-10-10"] != 2 || byDay["2026-10-25"] != 1 || byDay["2026-10-31"] != 1 {
		t.Fatalf("days %v", byDay)
	}
	for _, c := range rep.Categories {
		if c.Category == "bar" && (c.Redemptions != 4 || c.CardsUsed != 3) {
			t.Fatalf("bar category %+v: want 4 redemptions by 3 cards", c)
		}
		if c.Category == "restaurant" && (c.Redemptions != 1 || c.Amount != "30.00") {
			t.Fatalf("restaurant category %+v: the voided 40.00 is counted", c)
		}
	}

	// The months around hold one redemption each.
	for _, month := range []string{"2026-09", "2026-11"} {
		var r reportJSON
		w.ts.must(200, "GET", "/api/v1/reports/monthly?month="+month, "", asAdmin, &r)
		if r.Totals.Redemptions != 1 || r.Totals.Voided != 0 {
			t.Errorf("%s: totals %+v, want 1 redemption", month, r.Totals)
		}
	}
	var empty reportJSON
	w.ts.must(200, "GET", "/api/v1/reports/monthly?month=2025-01", "", asAdmin, &empty)
	if empty.Totals.Amount != "0.00" || empty.Merchants == nil || len(empty.Merchants) != 0 || len(empty.Days) != 31 {
		t.Errorf("an empty month: %+v", empty)
	}
}

func TestReportMonthlyCSV(t *testing.T) {
	w := newReportWorld(t)
	var rep reportJSON
	w.ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10", "", asAdmin, &rep)
	resp := w.ts.must(200, "GET", "/api/v1/reports/monthly?month=2026-10&format=csv", "", asAdmin, nil)
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("Content-Type %q", ct)
	}
	if !bytes.HasSuffix(resp.body, []byte("\r\n")) || bytes.Count(resp.body, []byte("\r\n")) != bytes.Count(resp.body, []byte("\n")) {
		t.Fatal("CSV lines do not all end in CRLF (RFC 4180)")
	}
	r := csv.NewReader(bytes.NewReader(resp.body))
	rows, err := r.ReadAll() // also checks that every row has as many fields as the header
	if err != nil {
		t.Fatalf("CSV does not parse: %v\n%s", err, resp.body)
	}
	header := []string{"month", "merchant_id", "name", "category", "redemptions", "cards_used", "amount", "discount", "municipal_share"}
	if strings.Join(rows[0], ",") != strings.Join(header, ",") {
		t.Fatalf("header %v", rows[0])
	}
	if got, want := len(rows), 1+len(rep.Merchants)+1; got != want {
		t.Fatalf("%d rows, want header, %d merchants and TOTAL", got, len(rep.Merchants))
	}
	line := func(id, name, cat string, c countersJSON) string {
		return strings.Join([]string{"2026-10", id, name, cat, strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed), c.Amount, c.Discount, c.MunicipalShare}, "|")
	}
	for i, m := range rep.Merchants {
		name := m.Name
		if strings.HasPrefix(name, "=") {
			name = "'" + name // kept from running as a formula
		}
		if got, want := strings.Join(rows[1+i], "|"), line(m.MerchantID, name, m.Category, m.countersJSON); got != want {
			t.Errorf("row %d: %s, want %s", 1+i, got, want)
		}
	}
	tot := rep.Totals
	if got, want := strings.Join(rows[len(rows)-1], "|"), line("TOTAL", "", "", countersJSON{tot.Redemptions, tot.CardsUsed, tot.Amount, tot.Discount, tot.MunicipalShare}); got != want {
		t.Errorf("TOTAL row %s, want %s", got, want)
	}
	if !strings.Contains(string(resp.body), `"Bar ""Pri Mostu"", Koper"`) || !strings.Contains(string(resp.body), "Gostilna Čevljarska") {
		t.Errorf("names are not quoted as RFC 4180 says, or not UTF-8:\n%s", resp.body)
	}
}
