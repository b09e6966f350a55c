package main

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
)

// pdfAmounts are the euro amounts of a line of an English PDF's text, in cents.
var pdfEuro = regexp.MustCompile(`-?€[\d,]+\.\d\d`)

func pdfAmounts(t *testing.T, line string) []int64 {
	t.Helper()
	var out []int64
	for _, s := range pdfEuro.FindAllString(line, -1) {
		neg := strings.HasPrefix(s, "-")
		s = strings.NewReplacer("-", "", "€", "", ",", "", ".", "").Replace(s)
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("amount %q: %v", s, err)
		}
		if neg {
			n = -n
		}
		out = append(out, n)
	}
	return out
}

// pdfSection is the lines of text from the line containing start to the next line starting
// with "TOTAL" (included).
func pdfSection(t *testing.T, text, start string) []string {
	t.Helper()
	i := strings.Index(text, start)
	if i < 0 {
		t.Fatalf("the PDF has no %q:\n%s", start, text)
	}
	var out []string
	for _, line := range strings.Split(text[i:], "\n")[1:] {
		line = strings.TrimSpace(line)
		out = append(out, line)
		if strings.HasPrefix(line, "TOTAL") {
			return out
		}
	}
	t.Fatalf("%q has no TOTAL row", start)
	return nil
}

// checkNetworkPDF checks, in an English network PDF, that the clearing table's TOTAL and each
// matrix's row sums and TOTAL row are the sums of their figures, and that they are the
// network's totals.
func checkNetworkPDF(t *testing.T, text string, n merchant.NetworkReport, names map[string]string) {
	t.Helper()
	isRow := func(line string) bool {
		for _, name := range names {
			if strings.HasPrefix(line, name) {
				return true
			}
		}
		return false
	}
	// The clearing lines: amount, discount, municipal share.
	var sum [3]int64
	rows := 0
	for _, line := range pdfSection(t, text, "Clearing between towns") {
		a := pdfAmounts(t, line)
		if strings.HasPrefix(line, "TOTAL") {
			want := [3]int64{n.Totals.Amount, n.Totals.Discount, n.Totals.MunicipalShare}
			if len(a) != 3 || [3]int64(a) != sum || sum != want {
				t.Fatalf("clearing TOTAL %v, lines add up to %v, network totals %v", a, sum, want)
			}
		} else if isRow(line) && len(a) == 3 {
			rows++
			for i := range sum {
				sum[i] += a[i]
			}
		}
	}
	if rows != len(n.Clearing) {
		t.Fatalf("%d clearing lines in the PDF, %d in the report", rows, len(n.Clearing))
	}
	for _, mx := range []struct {
		title string
		total int64
	}{{"Municipal share: issuing town", n.Totals.MunicipalShare}, {"Discount: issuing town", n.Totals.Discount}} {
		section := pdfSection(t, text, mx.title)
		var cols []int64
		var grand int64
		for _, line := range section {
			a := pdfAmounts(t, line)
			if len(a) < 2 || (!isRow(line) && !strings.HasPrefix(line, "TOTAL")) {
				continue
			}
			var s int64
			for _, v := range a[:len(a)-1] {
				s += v
			}
			if s != a[len(a)-1] {
				t.Fatalf("%s: row %q adds up to %d", mx.title, line, s)
			}
			if strings.HasPrefix(line, "TOTAL") {
				if len(cols) != len(a) {
					t.Fatalf("%s: TOTAL %v, rows %v", mx.title, a, cols)
				}
				for i := range a {
					if a[i] != cols[i] {
						t.Fatalf("%s: TOTAL %v, the columns add up to %v", mx.title, a, cols)
					}
				}
				grand = a[len(a)-1]
				continue
			}
			if cols == nil {
				cols = make([]int64, len(a))
			}
			for i := range a {
				cols[i] += a[i]
			}
		}
		if grand != mx.total {
			t.Fatalf("%s: matrix total %d, network total %d", mx.title, grand, mx.total)
		}
	}
}

func testNetworkReport() merchant.NetworkReport {
	m, _ := merchant.ParseMonth("2026-10")
	c := func(n, cards int, amount, discount, share int64) merchant.Counters {
		return merchant.Counters{Redemptions: n, CardsUsed: cards, Amount: amount, Discount: discount, MunicipalShare: share}
	}
	rep := func(lines ...merchant.IssuerLine) merchant.Report {
		r := merchant.Report{Issuers: lines}
		for _, l := range lines {
			r.Totals.Redemptions += l.Redemptions
			r.Totals.CardsUsed += l.CardsUsed
			r.Totals.Amount += l.Amount
			r.Totals.Discount += l.Discount
			r.Totals.MunicipalShare += l.MunicipalShare
		}
		return r
	}
	return merchant.BuildNetworkReport(m, []merchant.TownReport{
		{Town: "koper", Closed: true, Report: rep(merchant.IssuerLine{Town: "koper", Counters: c(4, 3, 400001, 40001, 20001)},
			merchant.IssuerLine{Town: "ptuj", Counters: c(2, 2, 1999, 333, 167)})},
		{Town: "ptuj", Report: rep(merchant.IssuerLine{Town: "koper", Counters: c(1, 1, 1001, 101, 51)},
			merchant.IssuerLine{Town: "kranj", Counters: c(0, 0, -700, -70, -35)})},
		{Town: "kranj", Report: rep(merchant.IssuerLine{Town: "kranj", Counters: c(3, 2, 900, 90, 45)})},
	})
}

func TestNetworkPDFAddsUp(t *testing.T) {
	n := testNetworkReport()
	names := map[string]string{"koper": "Koper", "ptuj": "Ptuj", "kranj": "Kranj"}
	pdf, err := networkPDF(n, pdfMeta{generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, newLocale("en"), names, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Network report 2026-10", "€4,000.01", "-€7.00", "closed", "open", "Redeemed in"} {
		if !strings.Contains(text, want) {
			t.Errorf("the network PDF lacks %q", want)
		}
	}
	checkNetworkPDF(t, text, n, names)

	// Slovene: names of the texts in the language.
	pdf, err = networkPDF(n, pdfMeta{generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, newLocale("sl"), names, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, "Poročilo omrežja 2026-10") || !strings.Contains(text, "4.000,01 €") {
		t.Errorf("the Slovene network PDF:\n%s", text)
	}
}

// Eight towns: the matrices continue below, and still add up.
func TestNetworkPDFManyTowns(t *testing.T) {
	m, _ := merchant.ParseMonth("2026-10")
	var towns []merchant.TownReport
	names := map[string]string{}
	codes := []string{"kamnik", "koper", "kranj", "krsko", "maribor", "ptuj", "crnomelj", "loka"}
	for i, code := range codes {
		names[code] = strings.ToUpper(code[:1]) + code[1:]
		var r merchant.Report
		r.Issuers = []merchant.IssuerLine{}
		for j, issuer := range codes {
			if (i+j)%3 == 0 {
				c := merchant.Counters{Redemptions: 1 + j, CardsUsed: 1, Amount: int64(1000*i + 7*j + 1), Discount: int64(100*i + j), MunicipalShare: int64(50*i + j)}
				r.Issuers = append(r.Issuers, merchant.IssuerLine{Town: issuer, Counters: c})
				r.Totals.Redemptions += c.Redemptions
				r.Totals.CardsUsed++
				r.Totals.Amount += c.Amount
				r.Totals.Discount += c.Discount
				r.Totals.MunicipalShare += c.MunicipalShare
			}
		}
		towns = append(towns, merchant.TownReport{Town: code, Report: r})
	}
	n := merchant.BuildNetworkReport(m, towns)
	pdf, err := networkPDF(n, pdfMeta{generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, newLocale("en"), names, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf)
	// The first table of each matrix has six columns and no row sums; check the clearing.
	var sum [3]int64
	for _, line := range pdfSection(t, text, "Clearing between towns") {
		a := pdfAmounts(t, line)
		if len(a) == 3 && !strings.HasPrefix(line, "TOTAL") {
			sum[0], sum[1], sum[2] = sum[0]+a[0], sum[1]+a[1], sum[2]+a[2]
		}
	}
	if want := [3]int64{n.Totals.Amount, n.Totals.Discount, n.Totals.MunicipalShare}; sum != want {
		t.Fatalf("clearing lines add up to %v, totals %v", sum, want)
	}
	if got := strings.Count(text, "Municipal share: issuing town"); got != 1 {
		t.Fatalf("%d share matrix headings", got)
	}
}

func TestNetworkCSVAddsUp(t *testing.T) {
	n := testNetworkReport()
	for _, tc := range []struct {
		opts     csvOpts
		sep      rune
		dec      string
		first    string
		rows     int
		moneyCol int
	}{
		{csvOpts{table: "clearing"}, ',', ".", "issuer", 5, 5},
		{csvOpts{table: "towns", semicolon: true, bom: true, lang: newLocale("sl")}, ';', ",", "town", 3, 5},
	} {
		recs := readCSV(t, networkCSV(n, tc.opts), tc.opts.bom, tc.sep)
		if recs[0][1] != tc.first || len(recs) != tc.rows+2 {
			t.Fatalf("%s: %v", tc.opts.table, recs)
		}
		last := recs[len(recs)-1]
		if last[1] != "TOTAL" {
			t.Fatalf("%s: last row %v", tc.opts.table, last)
		}
		want := []int64{n.Totals.Amount, n.Totals.Discount, n.Totals.MunicipalShare}
		for k := 0; k < 3; k++ {
			col := tc.moneyCol + k
			var sum int64
			for _, r := range recs[1 : len(recs)-1] {
				sum += csvCents(t, r[col], tc.dec)
			}
			if total := csvCents(t, last[col], tc.dec); total != sum || total != want[k] {
				t.Errorf("%s %s: TOTAL %d, rows %d, network %d", tc.opts.table, recs[0][col], total, sum, want[k])
			}
		}
		var redemptions, cards int
		for _, r := range recs[1 : len(recs)-1] {
			a, _ := strconv.Atoi(r[tc.moneyCol-2])
			b, _ := strconv.Atoi(r[tc.moneyCol-1])
			redemptions, cards = redemptions+a, cards+b
		}
		if last[tc.moneyCol-2] != strconv.Itoa(redemptions) || last[tc.moneyCol-1] != strconv.Itoa(cards) {
			t.Errorf("%s: TOTAL counts %v, rows add up to %d %d", tc.opts.table, last, redemptions, cards)
		}
	}
}
