package main

import (
	"context"
	"encoding/json"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
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
	pdf, err := papers.NetworkPDF(n, papers.Meta{Generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, i18n.NewLocale("en"), names, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	text := pdfText(t, pdf)
	for _, want := range []string{"Network report — October 2026", "€4,000.01", "-€7.00", "closed", "open", "Redeemed in"} {
		if !strings.Contains(text, want) {
			t.Errorf("the network PDF lacks %q", want)
		}
	}
	checkNetworkPDF(t, text, n, names)

	// Slovene: names of the texts in the language.
	pdf, err = papers.NetworkPDF(n, papers.Meta{Generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, i18n.NewLocale("sl"), names, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, "Poročilo mreže — oktober 2026") || !strings.Contains(text, "4.000,01 €") {
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
	pdf, err := papers.NetworkPDF(n, papers.Meta{Generated: time.Date(2026, 11, 2, 7, 0, 0, 0, time.UTC)}, i18n.NewLocale("en"), names, time.UTC)
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
		opts     papers.CSVOpts
		sep      rune
		dec      string
		first    string
		rows     int
		moneyCol int
	}{
		{papers.CSVOpts{Table: "clearing"}, ',', ".", "issuer", 5, 5},
		{papers.CSVOpts{Table: "towns", Semicolon: true, BOM: true, Lang: i18n.NewLocale("sl")}, ';', ",", "town", 3, 5},
	} {
		recs := readCSV(t, papers.NetworkCSV(n, tc.opts), tc.opts.BOM, tc.sep)
		if recs[0][1] != tc.first || len(recs) != tc.rows+2 {
			t.Fatalf("%s: %v", tc.opts.Table, recs)
		}
		last := recs[len(recs)-1]
		if last[1] != "TOTAL" {
			t.Fatalf("%s: last row %v", tc.opts.Table, last)
		}
		want := []int64{n.Totals.Amount, n.Totals.Discount, n.Totals.MunicipalShare}
		for k := 0; k < 3; k++ {
			col := tc.moneyCol + k
			var sum int64
			for _, r := range recs[1 : len(recs)-1] {
				sum += csvCents(t, r[col], tc.dec)
			}
			if total := csvCents(t, last[col], tc.dec); total != sum || total != want[k] {
				t.Errorf("%s %s: TOTAL %d, rows %d, network %d", tc.opts.Table, recs[0][col], total, sum, want[k])
			}
		}
		var redemptions, cards int
		for _, r := range recs[1 : len(recs)-1] {
			a, _ := strconv.Atoi(r[tc.moneyCol-2])
			b, _ := strconv.Atoi(r[tc.moneyCol-1])
			redemptions, cards = redemptions+a, cards+b
		}
		if last[tc.moneyCol-2] != strconv.Itoa(redemptions) || last[tc.moneyCol-1] != strconv.Itoa(cards) {
			t.Errorf("%s: TOTAL counts %v, rows add up to %d %d", tc.opts.Table, last, redemptions, cards)
		}
	}
}

// networkEnv is townsEnv with a third town, kranj (its merchant K with an offer), a network
// product accepted in all three, a card of it issued by each town's office, and redemptions
// of each card in other towns in September (closed by koper and ptuj, open in kranj) and
// October (open), with a void in October of a September redemption: an adjustment.
type networkEnv struct {
	*townsEnv
	keyK                    string
	offerK                  offerJSON
	cardK, cardP, cardKranj string // tokens of the network cards koper, ptuj and kranj issued
}

func newNetworkEnv(t *testing.T) *networkEnv {
	e := &networkEnv{townsEnv: newTownsEnv(t)}
	kranj := map[string]string{HeaderTown: "kranj"}
	clock := e.clock
	clock.Set(time.Date(2026, 9, 10, 10, 0, 0, 0, time.UTC))
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/towns", secret: e.admin,
		body: `{"code":"kranj","name":{"sl":"Kranj","de":"Krainburg"},"timezone":"Europe/Ljubljana","languages":["sl","de"]}`}, nil)
	var created struct {
		Merchant merchantJSON `json:"merchant"`
		APIKey   string       `json:"api_key"`
	}
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/merchants", secret: e.admin, header: kranj,
		body: `{"name":"Muzej K","category":"museum"}`}, &created)
	e.keyK = created.APIKey
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/merchants/" + created.Merchant.ID + "/offers", secret: e.admin, header: kranj,
		body: `{"title":{"sl":"Vstopnina -3 €"},"kind":"amount","value":"3.00","limit":"unlimited","municipal_share":"33.33"}`}, &e.offerK)
	offerK := e.offerK
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/products", secret: e.admin,
		body: `{"code":"net-90d","name":{"en":"Network card"},"validity_days":90,"price":"40.00","audience":"tourist","towns":["koper","ptuj","kranj"]}`}, nil)
	issue := func(h map[string]string) string {
		var cd cardJSON
		e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards", secret: e.admin, header: h, body: `{"product":"net-90d"}`}, &cd)
		return cd.Token
	}
	cK, cP, cR := issue(e.koper), issue(e.ptujHeaders), issue(kranj)
	e.cardK, e.cardP, e.cardKranj = cK, cP, cR
	n := 0
	redeem := func(key, token, offer, amount string) string {
		n++
		var r redemptionJSON
		e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/pos/redemptions", secret: key,
			header: map[string]string{"Idempotency-Key": "k" + strconv.Itoa(n)},
			body:   `{"card":"` + token + `","offer_id":"` + offer + `","amount":"` + amount + `"}`}, &r)
		return r.ID
	}
	at := func(month time.Month, day, hour int) { clock.Set(time.Date(2026, month, day, hour, 0, 0, 0, time.UTC)) }
	// September.
	at(9, 12, 9)
	redeem(e.keyA, cK, e.offerA.ID, "12.35")
	redeem(e.keyP, cK, e.offerP.ID, "20.00")
	toVoid := redeem(e.keyA, cP, e.offerA.ID, "33.33")
	redeem(e.keyK, cR, offerK.ID, "9.99")
	redeem(e.keyK, cP, offerK.ID, "15.00")
	// October: koper and ptuj close September; the card of koper is used in all three towns.
	at(10, 2, 8)
	for _, h := range []map[string]string{e.koper, e.ptujHeaders} {
		e.call(t, 200, "", secReq{method: "POST", path: "/api/v1/reports/monthly/2026-09/close", secret: e.admin, header: h}, nil)
	}
	at(10, 3, 10)
	redeem(e.keyA, cK, e.offerA.ID, "7.77")
	redeem(e.keyP, cK, e.offerP.ID, "1.01")
	redeem(e.keyK, cK, offerK.ID, "4.50")
	redeem(e.keyB, cR, e.offerB.ID, "100.00")
	redeem(e.keyP, cR, e.offerP.ID, "0.99")
	e.call(t, 200, "", secReq{method: "POST", path: "/api/v1/redemptions/" + toVoid + "/void", secret: e.admin, header: e.koper,
		body: `{"reason":"returned"}`}, nil)
	at(11, 2, 9)
	return e
}

// cents reads a JSON amount.
func jsonCents(t *testing.T, s string) int64 { return csvCents(t, s, ".") }

func TestNetworkReport(t *testing.T) {
	e := newNetworkEnv(t)
	doc, _ := loadOpenAPI(t)
	towns := []string{"koper", "kranj", "ptuj"}
	for _, tc := range []struct {
		month        string
		closed       map[string]bool
		wantClearing int
	}{
		// September: koper and ptuj closed, kranj open. Pairs: koper→koper, koper→ptuj,
		// ptuj→koper, ptuj→kranj, kranj→kranj.
		{"2026-09", map[string]bool{"koper": true, "ptuj": true}, 5},
		// October: koper's card in three towns, kranj's in koper and ptuj, and the void of
		// ptuj's card's September redemption in koper (an adjustment of the pair ptuj→koper).
		{"2026-10", map[string]bool{}, 6},
	} {
		t.Run(tc.month, func(t *testing.T) {
			var n networkReportJSON
			body := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=" + tc.month, secret: e.admin}, &n)
			for _, f := range []string{"json", "csv", "pdf"} {
				resp, b := e.do(secReq{method: "GET", path: "/api/v1/reports/network?month=" + tc.month + "&format=" + f, secret: e.admin})
				openAPICheckResponse(t, doc, "GET", "/api/v1/reports/network", resp, b)
			}
			if n.Month != tc.month || len(n.Towns) != 3 || len(n.Clearing) != tc.wantClearing {
				t.Fatalf("network report %s", body)
			}
			// Each town's figures are those of its own report (the frozen one if closed), and
			// the clearing lines of which it is the acceptor are its report's issuers.
			for i, code := range towns {
				tt := n.Towns[i]
				var own struct {
					Totals  totalsJSON       `json:"totals"`
					Issuers []issuerLineJSON `json:"issuers"`
				}
				resp, _ := e.do(secReq{method: "GET", path: "/api/v1/reports/monthly?month=" + tc.month, secret: e.admin,
					header: map[string]string{HeaderTown: code}})
				e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=" + tc.month, secret: e.admin,
					header: map[string]string{HeaderTown: code}}, &own)
				if tt.Town != code || tt.Totals != own.Totals || tt.Closed != tc.closed[code] ||
					tt.Closed != (resp.Header.Get("X-Report-SHA256") != "") {
					t.Fatalf("%s in the network: %+v; its own report: %+v (closed %v)", code, tt, own.Totals, resp.Header.Get("X-Report-SHA256") != "")
				}
				// The town's issuers add up to its totals, to the cent.
				var is [3]int64
				var isRed, isCards int
				for _, l := range own.Issuers {
					is[0], is[1], is[2] = is[0]+jsonCents(t, l.Amount), is[1]+jsonCents(t, l.Discount), is[2]+jsonCents(t, l.MunicipalShare)
					isRed, isCards = isRed+l.Redemptions, isCards+l.CardsUsed
				}
				if is != [3]int64{jsonCents(t, own.Totals.Amount), jsonCents(t, own.Totals.Discount), jsonCents(t, own.Totals.MunicipalShare)} ||
					isRed != own.Totals.Redemptions || isCards != own.Totals.CardsUsed {
					t.Fatalf("%s: issuers add up to %v (%d, %d), totals %+v", code, is, isRed, isCards, own.Totals)
				}
				var rows []issuerLineJSON
				for _, c := range n.Clearing {
					if c.Acceptor == code {
						rows = append(rows, issuerLineJSON{Town: c.Issuer, countersJSON: c.countersJSON})
					}
				}
				if !reflect.DeepEqual(rows, own.Issuers) && !(len(rows) == 0 && len(own.Issuers) == 0) {
					t.Fatalf("%s: clearing as acceptor %+v, its issuers %+v", code, rows, own.Issuers)
				}
			}
			// Totals = sum of towns = sum of clearing lines, to the cent.
			var towns, clearing [3]int64
			var tRed, tCards, cRed, cCards int
			for _, tt := range n.Towns {
				towns[0] += jsonCents(t, tt.Totals.Amount)
				towns[1] += jsonCents(t, tt.Totals.Discount)
				towns[2] += jsonCents(t, tt.Totals.MunicipalShare)
				tRed, tCards = tRed+tt.Totals.Redemptions, tCards+tt.Totals.CardsUsed
			}
			for _, c := range n.Clearing {
				clearing[0] += jsonCents(t, c.Amount)
				clearing[1] += jsonCents(t, c.Discount)
				clearing[2] += jsonCents(t, c.MunicipalShare)
				cRed, cCards = cRed+c.Redemptions, cCards+c.CardsUsed
			}
			total := [3]int64{jsonCents(t, n.Totals.Amount), jsonCents(t, n.Totals.Discount), jsonCents(t, n.Totals.MunicipalShare)}
			if towns != total || clearing != total || tRed != n.Totals.Redemptions || cRed != tRed ||
				tCards != n.Totals.CardsUsed || cCards != tCards || total[2] == 0 {
				t.Fatalf("totals %v (%d redemptions, %d cards), towns %v (%d, %d), clearing %v (%d, %d)",
					total, n.Totals.Redemptions, n.Totals.CardsUsed, towns, tRed, tCards, clearing, cRed, cCards)
			}

			// CSV: both tables, with the papers' options; every TOTAL is its rows' sum and the JSON's.
			for _, q := range []struct {
				query, first string
				rows         int
				sep          rune
				dec          string
			}{
				{"", "issuer", len(n.Clearing), ',', "."},
				{"&table=towns&sep=semicolon&bom=true&lang=de", "town", 3, ';', ","},
			} {
				resp, csvBody := e.do(secReq{method: "GET", path: "/api/v1/reports/network?format=csv&month=" + tc.month + q.query, secret: e.admin})
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
					t.Fatalf("CSV %s: %d %s", q.query, resp.StatusCode, csvBody)
				}
				recs := readCSV(t, csvBody, strings.Contains(q.query, "bom"), q.sep)
				totalMark := "TOTAL"
				if strings.Contains(q.query, "lang=de") {
					q.first, totalMark = "Stadt", "SUMME" // lang= names the columns and the TOTAL in the language
				}
				if recs[0][1] != q.first || len(recs) != q.rows+2 || recs[len(recs)-1][1] != totalMark {
					t.Fatalf("CSV %s: %v", q.query, recs)
				}
				last := recs[len(recs)-1]
				for k := 0; k < 3; k++ {
					var sum int64
					for _, r := range recs[1 : len(recs)-1] {
						sum += csvCents(t, r[5+k], q.dec)
					}
					if got := csvCents(t, last[5+k], q.dec); got != sum || got != total[k] {
						t.Errorf("CSV %s %s: TOTAL %d, rows %d, JSON %d", q.query, recs[0][5+k], got, sum, total[k])
					}
				}
			}

			// PDF: the clearing table and the matrices add up, to the JSON's totals.
			resp, pdf := e.do(secReq{method: "GET", path: "/api/v1/reports/network?format=pdf&lang=en&month=" + tc.month, secret: e.admin})
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" {
				t.Fatalf("PDF: %d %s", resp.StatusCode, pdf)
			}
			var rep merchant.NetworkReport
			rep.Totals.Amount, rep.Totals.Discount, rep.Totals.MunicipalShare = total[0], total[1], total[2]
			rep.Clearing = make([]merchant.ClearingLine, len(n.Clearing))
			checkNetworkPDF(t, pdfText(t, pdf), rep, map[string]string{"koper": "Koper", "ptuj": "Ptuj", "kranj": "Kranj"})
		})
	}

	// October: the koper card was used in three towns, so it counts once in each.
	var oct networkReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2026-10", secret: e.admin}, &oct)
	koperCards := 0
	for _, c := range oct.Clearing {
		if c.Issuer == "koper" {
			koperCards += c.CardsUsed
		}
	}
	if koperCards != 3 {
		t.Errorf("koper's card in the October clearing: %d card-town pairs, want 3", koperCards)
	}

	// Who may read it, and bad requests.
	for _, tc := range []struct {
		secret, query string
		status        int
		code          string
	}{
		{e.officeK, "?month=2026-10", 403, "forbidden"},
		{e.officeP, "?month=2026-10&format=pdf", 403, "forbidden"},
		{e.keyA, "?month=2026-10", 403, "forbidden"},
		{"", "?month=2026-10", 401, "unauthorized"},
		{e.admin, "", 400, "invalid_request"},
		{e.admin, "?month=2026-13", 400, "invalid_request"},
		{e.admin, "?month=2026-10&format=xml", 400, "invalid_request"},
		{e.admin, "?month=2026-10&format=csv&table=merchants", 400, "invalid_request"},
		{e.admin, "?month=2026-10&format=pdf&lang=fr", 400, "invalid_request"},
	} {
		e.call(t, tc.status, tc.code, secReq{method: "GET", path: "/api/v1/reports/network" + tc.query, secret: tc.secret}, nil)
	}
	// A month with nothing: every town with zero figures, no clearing line, and the papers say so.
	var empty networkReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2020-01", secret: e.admin}, &empty)
	if len(empty.Towns) != 3 || empty.Clearing == nil || len(empty.Clearing) != 0 || empty.Totals.Amount != "0.00" {
		t.Fatalf("an empty month: %+v", empty)
	}
	_, pdf := e.do(secReq{method: "GET", path: "/api/v1/reports/network?month=2020-01&format=pdf&lang=en", secret: e.admin})
	if !strings.Contains(pdfText(t, pdf), "No redemptions in the network this month.") {
		t.Fatal("the empty month's PDF does not say so")
	}

	// Koper's own report PDF has the table by issuing town, adding up to its totals.
	_, pdf = e.do(secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10&format=pdf&lang=en", secret: e.admin, header: e.koper})
	var sum [3]int64
	for _, line := range pdfSection(t, pdfText(t, pdf), "By issuing town") {
		a := pdfAmounts(t, line)
		if len(a) != 3 {
			continue
		}
		if strings.HasPrefix(line, "TOTAL") {
			if [3]int64(a) != sum || sum[0] != 7444 {
				t.Fatalf("koper's issuers table: TOTAL %v, rows %v, want 74.44 in all", a, sum)
			}
			break
		}
		sum[0], sum[1], sum[2] = sum[0]+a[0], sum[1]+a[1], sum[2]+a[2]
	}
	// The network admin's Citycard-Town changes nothing: the report is the network's.
	a := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2026-10", secret: e.admin}, nil)
	b := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2026-10", secret: e.admin, header: e.koper}, nil)
	if string(a) != string(b) {
		t.Errorf("with Citycard-Town: %s\nwithout: %s", b, a)
	}
}

// The public side of a network: the towns, their offers, and a network card's benefits in
// every town that accepts it, on the API and on the card page, grouped by town.
func TestPublicAcrossTowns(t *testing.T) {
	e := newNetworkEnv(t)
	// Koper is bilingual: its name and offers in Slovene and Italian.
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/koper", secret: e.admin,
		body: `{"name":{"sl":"Koper","it":"Capodistria"},"languages":["sl","it"]}`}, nil)
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/offers/" + e.offerA.ID, secret: e.admin, header: e.koper,
		body: `{"title":{"sl":"10 % popusta","it":"Sconto del 10 %","en":"10% off"}}`}, nil)

	var towns listBody[map[string]any]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/towns"}, &towns)
	if len(towns.Items) != 3 || towns.Items[0]["code"] != "koper" || towns.Items[1]["code"] != "kranj" {
		t.Fatalf("public towns %+v", towns.Items)
	}

	var offers listBody[publicOfferJSON]
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/offers?town=ptuj"}, &offers)
	if len(offers.Items) != 1 || offers.Items[0].Offer.Town != "ptuj" || offers.Items[0].Offer.ID != e.offerP.ID {
		t.Fatalf("ptuj's public offers %+v", offers.Items)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/offers"}, &offers)
	byTown := map[string]int{}
	for _, o := range offers.Items {
		byTown[o.Offer.Town]++
	}
	if byTown["koper"] != 3 || byTown["ptuj"] != 1 || byTown["kranj"] != 1 {
		t.Fatalf("every town's public offers by town: %v", byTown)
	}
	e.call(t, 404, "town_not_found", secReq{method: "GET", path: "/api/v1/public/offers?town=maribor"}, nil)

	// The network card has the benefits of all three towns, each with its town; koper's own
	// card only koper's.
	var pc struct {
		Benefits []benefitJSON `json:"benefits"`
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/cards/" + e.cardP}, &pc)
	got := map[string]int{}
	for _, b := range pc.Benefits {
		if b.Town != b.Offer.Town {
			t.Fatalf("benefit of %s's offer says town %s", b.Offer.Town, b.Town)
		}
		got[b.Town]++
	}
	if got["koper"] != 3 || got["ptuj"] != 1 || got["kranj"] != 1 {
		t.Fatalf("the network card's benefits by town: %v", got)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/public/cards/" + e.card.Token}, &pc)
	for _, b := range pc.Benefits {
		if b.Town != "koper" {
			t.Fatalf("koper's own card lists a benefit in %s", b.Town)
		}
	}

	// The card page of ptuj's card: its own town first, then the others by name; Koper's
	// heading and offer in Slovene and Italian besides the reader's English.
	resp, page := e.do(secReq{method: "GET", path: "/c/" + e.cardP + "?lang=en"})
	if resp.StatusCode != 200 {
		t.Fatalf("card page: %d", resp.StatusCode)
	}
	html := string(page)
	iP, iK, iR := strings.Index(html, `>Ptuj</h3>`), strings.Index(html, `>Koper · Capodistria</h3>`), strings.Index(html, `>Kranj · Krainburg</h3>`)
	if iP < 0 || iK < 0 || iR < 0 || !(iP < iK && iK < iR) {
		t.Fatalf("town headings at %d, %d, %d (want ptuj, koper, kranj in that order):\n%s", iP, iK, iR, html)
	}
	if !strings.Contains(html, `<p class="offer">10% off</p>`) ||
		!strings.Contains(html, `<span lang="sl">10 % popusta</span> · <span lang="it">Sconto del 10 %</span>`) {
		t.Fatalf("koper's offer is not in English with its Slovene and Italian titles:\n%s", html)
	}
	// Kranj's offer has a Slovene title only: shown once, with no second line.
	if strings.Count(html, "Vstopnina -3 €") != 1 {
		t.Fatalf("kranj's offer title shown %d times", strings.Count(html, "Vstopnina -3 €"))
	}
	// The language switch of a koper card lists koper's languages first.
	_, page = e.do(secReq{method: "GET", path: "/c/" + e.cardK})
	if i, j := strings.Index(string(page), `hreflang="it"`), strings.Index(string(page), `hreflang="en"`); i < 0 || j < 0 || i > j {
		t.Fatalf("koper card's languages: it at %d, en at %d", i, j)
	}
	_, page = e.do(secReq{method: "GET", path: "/c/" + e.cardKranj})
	if i, j := strings.Index(string(page), `hreflang="de"`), strings.Index(string(page), `hreflang="it"`); i < 0 || j < 0 || i > j {
		t.Fatalf("kranj card's languages (sl, de first): de at %d, it at %d", i, j)
	}
}

// A month closed before the upgrade to towns keeps its frozen report, which has no issuers:
// the network report, the issuers CSV and the PDF count the whole month as the town's own.
func TestNetworkReportMonthFrozenWithoutIssuers(t *testing.T) {
	e := newTownsEnv(t)
	ctx := context.Background()
	clock := e.clock
	clock.Set(time.Date(2026, 9, 20, 10, 0, 0, 0, time.UTC))
	ref, err := e.s.keys.ParseInput(e.card.Token, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.db.Redeem(ctx, merchant.RedeemRequest{MerchantID: e.merchA.ID, CardInput: e.card.Token,
		OfferID: e.offerA.ID, Amount: 4321, IdempotencyKey: "old"}, ref); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 10, 2, 10, 0, 0, 0, time.UTC))
	sep, _ := merchant.ParseMonth("2026-09")
	// The report as the release before towns froze it: the same document without "issuers".
	if _, err := e.db.CloseMonth(ctx, "koper", sep, func(r merchant.Report) ([]byte, error) {
		b, err := encodeReport(r)
		if err != nil {
			return nil, err
		}
		var doc map[string]json.RawMessage
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, err
		}
		delete(doc, "issuers")
		return json.Marshal(doc)
	}); err != nil {
		t.Fatal(err)
	}
	own := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-09", secret: e.admin, header: e.koper}, nil)
	if strings.Contains(string(own), `"issuers"`) {
		t.Fatalf("the frozen report changed: %s", own)
	}
	var n networkReportJSON
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/network?month=2026-09", secret: e.admin}, &n)
	if len(n.Clearing) != 1 || n.Clearing[0].Issuer != "koper" || n.Clearing[0].Acceptor != "koper" ||
		n.Clearing[0].Redemptions != 1 || n.Clearing[0].Amount != "43.21" || n.Totals.Amount != "43.21" || !n.Towns[0].Closed {
		t.Fatalf("network report of a month frozen before towns: %+v", n)
	}
	csvBody := e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-09&format=csv&table=issuers", secret: e.admin, header: e.koper}, nil)
	recs := readCSV(t, csvBody, false, ',')
	if len(recs) != 3 || recs[1][1] != "koper" || recs[1][4] != "43.21" || recs[2][1] != "TOTAL" || recs[2][4] != "43.21" {
		t.Fatalf("issuers CSV of the frozen month: %v", recs)
	}
	e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-09&format=pdf", secret: e.admin, header: e.koper}, nil)
}

// In a network a town's papers default to its own language and its printed cards carry
// instructions in its languages, not in the first town's (CITYCARD_LANGUAGES).
func TestTownPapersInTheTownsLanguages(t *testing.T) {
	e := newNetworkEnv(t)
	kranj := map[string]string{HeaderTown: "kranj"}
	var b struct {
		Batch batchJSON `json:"batch"`
	}
	e.call(t, 201, "", secReq{method: "POST", path: "/api/v1/cards/batch", secret: e.admin, header: kranj,
		body: `{"product":"net-90d","count":2,"name":"Hotel Creina"}`}, &b)
	sheet := pdfText(t, e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/batches/" + b.Batch.ID + "/sheet.pdf", secret: e.admin, header: kranj}, nil))
	if !strings.Contains(sheet, "mit dem Handy") || !strings.Contains(sheet, "skenirajte") || strings.Contains(sheet, "scansionalo") {
		t.Fatalf("kranj's sheet (languages sl, de):\n%s", sheet)
	}
	// Another town's batch is not found in kranj.
	e.call(t, 404, "", secReq{method: "GET", path: "/api/v1/batches/" + b.Batch.ID + "/sheet.pdf", secret: e.admin, header: e.koper}, nil)
	// Kranj's report without ?lang= is in Slovene; with ?lang=de in German.
	if text := pdfText(t, e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10&format=pdf", secret: e.admin, header: kranj}, nil)); !strings.Contains(text, "Mesečno poročilo — oktober 2026, Kranj") {
		t.Fatalf("kranj's report is not in Slovene:\n%s", text)
	}
	e.call(t, 200, "", secReq{method: "PATCH", path: "/api/v1/towns/kranj", secret: e.admin, body: `{"languages":["de","sl"]}`}, nil)
	if text := pdfText(t, e.call(t, 200, "", secReq{method: "GET", path: "/api/v1/reports/monthly?month=2026-10&format=pdf", secret: e.admin, header: kranj}, nil)); !strings.Contains(text, "Monatsbericht — Oktober 2026, Krainburg") {
		t.Fatalf("kranj's report is not in its own language, German:\n%s", text)
	}
}
