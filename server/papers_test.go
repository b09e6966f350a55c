package main

import (
	"bytes"
	"encoding/csv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/shopspring/decimal"
)

// readCSV reads a CSV answer the way a spreadsheet told its encoding and separator would:
// UTF-8, the byte-order mark (if bom) stripped, fields split on sep.
func readCSV(t *testing.T, body []byte, bom bool, sep rune) [][]string {
	t.Helper()
	if !utf8.Valid(body) {
		t.Fatal("the CSV is not UTF-8")
	}
	if got := bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")); got != bom {
		t.Fatalf("byte-order mark %v, want %v", got, bom)
	}
	r := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(body, []byte("\xEF\xBB\xBF"))))
	r.Comma = sep
	recs, err := r.ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, body)
	}
	return recs
}

// csvCents reads an amount written with decimal separator dec.
func csvCents(t *testing.T, s string, dec string) int64 {
	t.Helper()
	if dec == "," {
		if strings.Contains(s, ".") {
			t.Fatalf("amount %q has a '.' where the language writes ','", s)
		}
		s = strings.Replace(s, ",", ".", 1)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatalf("amount %q: %v", s, err)
	}
	return d.Shift(2).IntPart()
}

func TestReportCSVForSpreadsheets(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	const report = "/api/v1/reports/monthly?month=2026-10&format=csv"
	plain := e.ok(200, "GET", report, e.admin, "", nil)
	if !bytes.HasPrefix(plain, []byte("month,merchant_id,name,category,redemptions,cards_used,amount,discount,municipal_share\r\n")) {
		t.Fatalf("the contract's CSV changed:\n%s", plain)
	}
	if same := e.ok(200, "GET", report+"&table=merchants&sep=comma&bom=false", e.admin, "", nil); !bytes.Equal(same, plain) {
		t.Fatalf("explicit defaults give another CSV:\n%s\nnot\n%s", same, plain)
	}

	// Each table, as Slovene Excel opens it: BOM, semicolons, decimal commas. Every table's
	// TOTAL is the sum of its rows.
	sums := map[string]struct {
		cols  []int // amount columns
		first string
	}{
		"merchants":   {[]int{6, 7, 8}, "merchant_id"},
		"categories":  {[]int{5, 6, 7}, "category"},
		"products":    {[]int{5, 6, 7}, "product"},
		"days":        {[]int{3}, "date"},
		"adjustments": {[]int{9, 10, 11}, "redemption_id"},
		"issuers":     {[]int{4, 5, 6}, "town"},
	}
	for _, lang := range []struct{ code, dec string }{{"sl", ","}, {"de", ","}, {"it", ","}, {"en", "."}} {
		for table, want := range sums {
			body := e.ok(200, "GET", report+"&table="+table+"&sep=semicolon&bom=true&lang="+lang.code, e.admin, "", nil)
			recs := readCSV(t, body, true, ';')
			// With lang=, the headers and TOTAL are in the language (TestCSVInTheLanguage).
			if recs[0][1] == want.first || recs[0][1] == "" {
				t.Fatalf("%s %s: header %v not in the language", lang.code, table, recs[0])
			}
			last := recs[len(recs)-1]
			if tot := i18n.NewLocale(lang.code).T("total"); last[1] != tot {
				t.Fatalf("%s: last row %v, want %s", table, last, tot)
			}
			for _, col := range want.cols {
				var sum int64
				for _, rec := range recs[1 : len(recs)-1] {
					sum += csvCents(t, rec[col], lang.dec)
				}
				if total := csvCents(t, last[col], lang.dec); total != sum || total == 0 && table != "days" {
					t.Errorf("%s %s: %s TOTAL %d, rows add up to %d", lang.code, table, recs[0][col], total, sum)
				}
			}
		}
	}
	// Comma-separated, the decimal point stays a point whatever the language.
	recs := readCSV(t, e.ok(200, "GET", report+"&table=days&lang=de", e.admin, "", nil), false, ',')
	if got := recs[len(recs)-1]; got[3] != "6.05" {
		t.Errorf("days TOTAL discount %q, want 6.05", got[3])
	}
	// Names in the language; local times with their zone in the header.
	cats := readCSV(t, e.ok(200, "GET", report+"&table=categories&lang=sl", e.admin, "", nil), false, ',')
	if cats[1][1] != "restaurant" || cats[1][2] != "Restavracija" || cats[2][1] != "shop" || cats[2][2] != "Trgovina" {
		t.Errorf("categories %v", cats)
	}
	prods := readCSV(t, e.ok(200, "GET", report+"&table=products&lang=it", e.admin, "", nil), false, ',')
	if prods[1][1] != "koper-year" || prods[1][2] != "Koper resident card" {
		t.Errorf("products %v", prods)
	}
	adj := readCSV(t, e.ok(200, "GET", report+"&table=adjustments", e.admin, "", nil), false, ',')
	if h := strings.Join(adj[0], ","); !strings.Contains(h, "redeemed_at (Europe/Ljubljana),voided_at (Europe/Ljubljana)") {
		t.Errorf("adjustments header %s", h)
	}
	if row := adj[1]; row[1] != k.a || row[6] != "2026-09-30 23:59:00" || row[7] != "2026-10-20 09:00:00" || row[8] != "returned shoes" || row[9] != "-20.00" {
		t.Errorf("adjustment row %v", row)
	}
	// A closed month gives the same bytes for the same options.
	first := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=csv&table=days&sep=semicolon&bom=true", e.admin, "", nil)
	if again := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=csv&table=days&sep=semicolon&bom=true", e.admin, "", nil); !bytes.Equal(first, again) {
		t.Error("a closed month's CSV changed between two requests")
	}
	for _, q := range []string{"&table=offers", "&sep=tab", "&bom=yes", "&lang=fr", "&sep=Semicolon"} {
		e.wantError(400, "invalid_request", "GET", report+q, e.admin, "")
	}
}

func TestPapersInFourLanguages(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{"sl", []string{"Mesečno poročilo — oktober 2026, Koper", "izdelano 2. 11. 2026 08:00", "34,99 €", "Trgovina", "Restavracija", "Koper resident card",
			"20. 10. 2026", "Unovčitve po dnevih"}},
		{"it", []string{"Rapporto mensile — ottobre 2026, Koper", "generato il 2/11/2026 08:00", "34,99 €", "Negozio", "Ristorante", "20/10/2026", "Utilizzi per giorno"}},
		{"de", []string{"Monatsbericht — Oktober 2026, Koper", "erstellt am 02.11.2026 08:00", "34,99 €", "Geschäft", "Restaurant", "20.10.2026", "Einlösungen pro Tag"}},
		{"en", []string{"Monthly report — October 2026, Koper", "generated 2 Nov 2026 08:00", "€34.99", "Shop", "Restaurant", "20 Oct 2026", "Redemptions per day"}},
	} {
		text := pdfText(t, e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-10&format=pdf&lang="+tc.lang, e.admin, "", nil))
		for _, want := range tc.want {
			if !strings.Contains(text, want) {
				t.Errorf("%s report lacks %q", tc.lang, want)
			}
		}
		// Codes are printed as names.
		for _, code := range []string{"koper-year", " shop ", "restaurant "} {
			if strings.Contains(text, code) {
				t.Errorf("%s report prints the code %q", tc.lang, code)
			}
		}
	}
	e.wantError(400, "invalid_request", "GET", "/api/v1/reports/monthly?month=2026-10&format=pdf&lang=fr", e.admin, "")
	e.wantError(400, "invalid_request", "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&lang=EN", e.admin, "")
}

func TestStatementsCompact(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	e.at(local(2026, 10, 5, 9, 0))
	long := "Društvo za ohranjanje kulturne dediščine in turistično promocijo slovenske Istre ter obalnih mest Koper, Izola in Piran"
	museum := e.merchant(long, "museum",
		`{"title":{"sl":"Brezplačen vstop","it":"Ingresso gratuito","en":"Free entry"},"kind":"free","limit":"unlimited","municipal_share":"100"}`)
	bar := e.merchant("Bar Pristan", "bar", `{"title":{"en":"5% off"},"kind":"percent","value":"5","limit":"unlimited","municipal_share":"20"}`)
	unpaid := e.merchant("Trgovina Brez Deleža", "shop", `{"title":{"en":"1 € off"},"kind":"amount","value":"1.00","limit":"unlimited"}`)
	e.ok(200, "PATCH", "/api/v1/merchants/"+museum.id, e.admin, `{"address":"Kidričeva ulica 19, Koper","tax_number":"40016803","iban":"SI56191000000123438"}`, nil)
	cards := e.cards(4)
	for i, c := range cards {
		e.redeem(local(2026, 10, 6+i, 11, 0), museum, c, "6.00")
		e.redeem(local(2026, 10, 6+i, 12, 0), bar, c, "12.00")
		e.redeem(local(2026, 10, 6+i, 13, 0), unpaid, c, "3.00")
	}
	e.at(local(2026, 11, 2, 8, 0))

	body := e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&lang=it", e.admin, "", nil)
	// The summary, then one page per merchant owed money (issue 19: each statement is filed on
	// its own).
	if pages := bytes.Count(body, []byte("/Type /Page\n")); pages != 5 {
		t.Errorf("statements of 4 merchants owed money take %d pages, want 5", pages)
	}
	text := pdfText(t, body)
	for _, want := range []string{"Kidričeva ulica 19, Koper", "40016803", "SI56 1910 0000 0123 438", "Ingresso gratuito", "Rendiconti — ottobre 2026, Koper",
		"Esercenti a cui il Comune non deve nulla, omessi: 1", "Bar Pristan", "Kavarna Loggia", "obalnih mest Koper, Izola in Piran"} {
		if !strings.Contains(strings.Join(strings.Fields(text), " "), want) {
			t.Errorf("the statements lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Trgovina Brez Deleža") {
		t.Error("a merchant owed nothing is in the statements without all=true")
	}
	// The report wraps the long name in its tables and charts instead of cutting it.
	text = pdfText(t, e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-10&format=pdf", e.admin, "", nil))
	if n := strings.Count(strings.Join(strings.Fields(text), " "), "obalnih mest Koper, Izola in Piran"); n < 2 {
		t.Errorf("the report prints the long name's end %d times, want it in the chart and the table:\n%s", n, text)
	}
	text = pdfText(t, e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&all=true", e.admin, "", nil))
	if !strings.Contains(text, "Trgovina Brez Deleža") {
		t.Error("all=true leaves out the merchant owed nothing")
	}
	// Asked for by name, a statement owed nothing is printed.
	text = pdfText(t, e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&merchant="+unpaid.id, e.admin, "", nil))
	if !strings.Contains(text, "Trgovina Brez Deleža") || !strings.Contains(text, "Občina dolguje: 0,00 €") {
		t.Errorf("the statement of one merchant owed nothing:\n%s", text)
	}
	e.wantError(400, "invalid_request", "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&all=yes", e.admin, "")
}

// TestPDFUnicode: a character outside what the font shows (emoji, anything beyond the Basic
// Multilingual Plane, a control character) in a merchant's name, an offer, a void reason, a
// product or a batch is printed as a replacement, in every PDF, never a 500.
func TestPDFUnicode(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	e.at(local(2026, 10, 5, 9, 0))
	odd := "Bar 🍹 Žabica 𝄞 ok"
	m := e.merchant(odd, "bar", `{"title":{"sl":"Koktajl 🍸 gratis","en":"Cocktail 🍸"},"kind":"free","limit":"unlimited","municipal_share":"50"}`)
	e.ok(201, "POST", "/api/v1/products", e.admin, `{"code":"koper-emoji","name":{"sl":"Kartica 🎫"},"validity_hours":24,"price":"1.00","audience":"tourist"}`, nil)
	var b struct {
		Batch batchJSON `json:"batch"`
	}
	e.ok(201, "POST", "/api/v1/cards/batch", e.admin, `{"product":"koper-emoji","count":2,"name":"Hotel 🏨 Histria"}`, &b)
	cards := e.cards(2)
	id := e.redeem(local(2026, 10, 6, 11, 0), m, cards[0], "6.00")
	e.redeem(local(2026, 10, 6, 12, 0), m, cards[1], "7.00")
	e.at(local(2026, 11, 1, 9, 0))
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-10/close", e.admin, "", nil)
	e.void(local(2026, 11, 3, 9, 0), id, "guest 😀 left")
	e.at(local(2026, 12, 2, 8, 0))

	r := string(papers.Replacement)
	name, reason := "Bar "+r+" Žabica "+r+" ok", "guest "+r+" left"
	for path, wants := range map[string][]string{
		"/api/v1/reports/monthly?month=2026-10&format=pdf":             {name},
		"/api/v1/reports/monthly?month=2026-11&format=pdf":             {name, reason}, // the void is an adjustment of November
		"/api/v1/reports/statements?month=2026-10&format=pdf":          {name, "Koktajl " + r + " gratis"},
		"/api/v1/reports/statements?month=2026-11&format=pdf&all=true": {name, reason},
		"/api/v1/batches/" + b.Batch.ID + "/sheet.pdf":                 {"Hotel " + r + " Histria", "Kartica " + r},
		"/api/v1/reports/monthly?month=2026-11&format=pdf&lang=en":     {name, reason},
		"/api/v1/reports/statements?month=2026-10&format=pdf&lang=it":  {name, "Koktajl " + r + " gratis"},
	} {
		text := pdfText(t, e.ok(200, "GET", path, e.admin, "", nil))
		for _, bad := range []string{"🍹", "𝄞", "😀", "🏨", "🍸", "🎫"} {
			if strings.Contains(text, bad) {
				t.Errorf("%s prints %q, which its font lacks", path, bad)
			}
		}
		flat := strings.Join(strings.Fields(text), " ")
		for _, want := range wants {
			if !strings.Contains(flat, want) {
				t.Errorf("%s lacks %q:\n%s", path, want, text)
			}
		}
	}
}
