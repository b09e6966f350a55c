package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// financeMonth is Koper's October (newKoperMonth) with the two merchants' payment details,
// as a finance office files them.
func financeMonth(t *testing.T) *koperMonth {
	k := newKoperMonth(t)
	k.ok(200, "PATCH", "/api/v1/merchants/"+k.shoe.id, k.admin,
		`{"address":"Čevljarska ulica 3, Koper","tax_number":"12345679","iban":"SI56191000000123438"}`, nil)
	k.ok(200, "PATCH", "/api/v1/merchants/"+k.cafe.id, k.admin,
		`{"address":"Titov trg 1, Koper","tax_number":"87654326","iban":"SI39290000055555555"}`, nil)
	return k
}

// keepPDF writes a paper to $CITYCARD_SCREENSHOTS (when set) to be looked at.
func keepPDF(t *testing.T, name string, pdf []byte) {
	if dir := os.Getenv("CITYCARD_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name), pdf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPapersForAFinanceOffice: the report and the statements name the month by its name and
// the town in their titles, print no query parameter and no internal id, and "all
// statements" gives each merchant a page of its own with its address, tax number and IBAN.
func TestPapersForAFinanceOffice(t *testing.T) {
	k := financeMonth(t)
	for _, tc := range []struct {
		lang, report, statements, owed string
	}{
		{"sl", "Mesečno poročilo — oktober 2026, Koper", "Obračuni — oktober 2026, Koper", "Občina dolguje"},
		{"it", "Rapporto mensile — ottobre 2026, Koper", "Rendiconti — ottobre 2026, Koper", "Il Comune deve"},
	} {
		report := k.ok(200, "GET", "/api/v1/reports/monthly?month=2026-10&format=pdf&lang="+tc.lang, k.admin, "", nil)
		keepPDF(t, "report-"+tc.lang+".pdf", report)
		text := pdfText(t, report)
		if !strings.Contains(text, tc.report) {
			t.Errorf("%s report's title is not %q:\n%s", tc.lang, tc.report, text)
		}
		for _, q := range []string{"all=true", "mer_", "2026-10"} {
			if strings.Contains(text, q) {
				t.Errorf("%s report prints %q", tc.lang, q)
			}
		}

		body := k.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&format=pdf&all=true&lang="+tc.lang, k.admin, "", nil)
		keepPDF(t, "statements-"+tc.lang+".pdf", body)
		text = pdfText(t, body)
		for _, q := range []string{"all=true", "mer_", "2026-10"} {
			if strings.Contains(text, q) {
				t.Errorf("%s statements print %q", tc.lang, q)
			}
		}
		pages := strings.Split(strings.TrimRight(text, "\f\n"), "\f")
		if len(pages) != 3 || !strings.Contains(pages[0], tc.statements) {
			t.Fatalf("%s statements: %d pages (want the summary and one per merchant), first:\n%s", tc.lang, len(pages), pages[0])
		}
		merchants := []struct{ name, address, tax, iban string }{
			{"Čevljarska delavnica Košir", "Čevljarska ulica 3, Koper", "12345679", "SI56 1910 0000 0123 438"},
			{"Kavarna Loggia", "Titov trg 1, Koper", "87654326", "SI39 2900 0005 5555 555"},
		}
		for i, m := range merchants {
			other := merchants[1-i].name
			var page string
			for _, p := range pages[1:] {
				if strings.Contains(p, m.name) {
					if page != "" {
						t.Errorf("%s: %s is on more than one page", tc.lang, m.name)
					}
					page = strings.Join(strings.Fields(p), " ")
				}
			}
			month := map[string]string{"sl": "oktober 2026", "it": "ottobre 2026"}[tc.lang]
			for _, want := range []string{m.name + " — " + month + ", Koper", m.address, m.tax, m.iban, tc.owed} {
				if !strings.Contains(page, want) {
					t.Errorf("%s statement of %s lacks %q:\n%s", tc.lang, m.name, want, page)
				}
			}
			if strings.Contains(page, other) {
				t.Errorf("%s: the page of %s also holds %s", tc.lang, m.name, other)
			}
		}
	}
	// The month frozen at its close is the same document, byte for byte, whatever was printed.
	resp, frozen := k.do("GET", "/api/v1/reports/monthly?month=2026-09", k.admin, "")
	sum := sha256.Sum256(frozen)
	if !bytes.Equal(frozen, k.septemberJSON) || hex.EncodeToString(sum[:]) != k.septemberClose.SHA256 || resp.Header.Get("X-Report-SHA256") != k.septemberClose.SHA256 {
		t.Error("September's frozen JSON changed")
	}
}

// TestCSVInTheLanguage: with lang= the report and statements CSVs name their columns, the
// categories and the TOTAL in the language; the spreadsheet variant is a file of its own
// (…-excel.csv) and the statements CSV has the Excel options too: a byte-order mark,
// semicolons, decimal commas, local times and card numbers as text. Without lang= and the
// options, the CSVs are the contract's, as programs read them.
func TestCSVInTheLanguage(t *testing.T) {
	k := financeMonth(t)
	filename := func(query string) string {
		resp, _ := k.do("GET", query, k.admin, "")
		_, name, _ := strings.Cut(resp.Header.Get("Content-Disposition"), "filename=")
		return strings.Trim(name, `"`)
	}
	const report = "/api/v1/reports/monthly?month=2026-10&format=csv"
	excel := "&sep=semicolon&bom=true&lang=it"
	recs := readCSV(t, k.ok(200, "GET", report+excel, k.admin, "", nil), true, ';')
	if h := strings.Join(recs[0], "|"); h != "Mese|ID esercente|Nome|Categoria|Utilizzi|Carte usate|Importo|Sconto|Quota comunale" {
		t.Errorf("Italian headers: %s", h)
	}
	if recs[1][3] != "Ristorante" && recs[1][3] != "Negozio" || recs[len(recs)-1][1] != "TOTALE" {
		t.Errorf("Italian rows: %v", recs)
	}
	if got := filename(report + excel); got != "citycard-2026-10-excel.csv" {
		t.Errorf("Excel report file %q", got)
	}
	if got := filename(report); got != "citycard-2026-10.csv" {
		t.Errorf("plain report file %q", got)
	}

	const statements = "/api/v1/reports/statements?month=2026-10&format=csv"
	plain := k.ok(200, "GET", statements, k.admin, "", nil)
	if !bytes.HasPrefix(plain, []byte("month,merchant_id,name,line,redemption_id,created_at,voided_at,card_number,amount,discount,municipal_share\r\n")) ||
		!regexp.MustCompile(`,redemption,red_\w+,2026-10-\d\dT\d\d:\d\d:\d\dZ,,\d{12},`).Match(plain) {
		t.Errorf("the contract's statements CSV changed:\n%s", plain)
	}
	if got := filename(statements); got != "citycard-statements-2026-10.csv" {
		t.Errorf("plain statements file %q", got)
	}
	body := k.ok(200, "GET", statements+excel, k.admin, "", nil)
	if !bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
		t.Error("the statements CSV for Excel has no byte-order mark")
	}
	// The card number is written ="123456799012" (quoted, with its quotes doubled) so Excel
	// keeps it as text, all 12 digits, instead of 1.23457E+11.
	if !regexp.MustCompile(`;"=""\d{12}""";`).Match(body) {
		t.Errorf("no card number as text:\n%s", body)
	}
	recs = readCSV(t, body, true, ';')
	if h := strings.Join(recs[0], "|"); h != "Mese|ID esercente|Nome|Riga|ID utilizzo|Ora dell'utilizzo (Europe/Ljubljana)|Ora dell'annullamento (Europe/Ljubljana)|Numero carta|Importo|Sconto|Quota comunale" {
		t.Errorf("Italian statements headers: %s", h)
	}
	var sawF bool
	for _, r := range recs[1:] {
		if r[4] == k.f { // Oct 31 23:59 local, 22:59 UTC: written in the town's time
			sawF = r[3] == "utilizzo" && r[5] == "2026-10-31 23:59:00" && r[8] == "9,99" && regexp.MustCompile(`^="\d{12}"$`).MatchString(r[7])
		}
	}
	if !sawF || recs[len(recs)-1][1] != "TOTALE" {
		t.Errorf("Italian statements rows: %v", recs)
	}
	if got := filename(statements + excel); got != "citycard-statements-2026-10-excel.csv" {
		t.Errorf("Excel statements file %q", got)
	}
	k.wantError(400, "invalid_request", "GET", statements+"&sep=tab", k.admin, "")
	k.wantError(400, "invalid_request", "GET", statements+"&bom=yes", k.admin, "")
}
