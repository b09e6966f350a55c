package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
)

var ljubljana = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		panic(err)
	}
	return loc
}()

// reportEnv is a server on a temporary database with a settable clock, driven through its
// HTTP routes.
type reportEnv struct {
	t     *testing.T
	ts    *testServer
	db    *storage.DB
	app   *fiber.App
	cfg   Config
	clock *testClock
	admin string
}

func newReportEnv(t *testing.T) *reportEnv {
	t.Helper()
	ts := newTestServer(t, asServed(), withAdmin("cca_test-admin-0123456789abcdefghijkl"), rateLimit(0),
		publicURL(defaultConfig().PublicURL), at(local(2026, 9, 1, 9, 0)), logTo(io.Discard))
	return &reportEnv{t: t, ts: ts, db: ts.db, app: ts.app, cfg: ts.s.cfg, clock: ts.clock, admin: ts.admin}
}

func local(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, ljubljana)
}

func (e *reportEnv) at(t time.Time) { e.clock.Set(t) }

// do sends a request and returns the response and its body.
func (e *reportEnv) do(method, path, token, body string, header ...string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		e.t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	observeError(method, path, resp.StatusCode, b)
	return resp, b
}

// ok sends a request that must get want, and decodes its JSON answer into out (if not nil).
func (e *reportEnv) ok(want int, method, path, token, body string, out any, header ...string) []byte {
	e.t.Helper()
	resp, b := e.do(method, path, token, body, header...)
	if resp.StatusCode != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			e.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return b
}

// wantError checks a request's status and error code.
func (e *reportEnv) wantError(status int, code, method, path, token, body string) {
	e.t.Helper()
	resp, b := e.do(method, path, token, body)
	var eb errorBody
	json.Unmarshal(b, &eb)
	if resp.StatusCode != status || eb.Error.Code != code {
		e.t.Fatalf("%s %s: %d %s, want %d %s", method, path, resp.StatusCode, b, status, code)
	}
}

type testMerchant struct{ id, key, offer string }

func (e *reportEnv) merchant(name, category, offer string) testMerchant {
	var m struct {
		Merchant struct {
			ID string `json:"id"`
		} `json:"merchant"`
		APIKey string `json:"api_key"`
	}
	e.ok(201, "POST", "/api/v1/merchants", e.admin, `{"name":"`+name+`","category":"`+category+`"}`, &m)
	var o struct {
		ID string `json:"id"`
	}
	e.ok(201, "POST", "/api/v1/merchants/"+m.Merchant.ID+"/offers", e.admin, offer, &o)
	return testMerchant{m.Merchant.ID, m.APIKey, o.ID}
}

func (e *reportEnv) cards(n int) []string {
	var out struct {
		Cards []struct {
			Token string `json:"token"`
		} `json:"cards"`
	}
	e.ok(201, "POST", "/api/v1/cards/batch", e.admin, `{"product":"koper-year","count":`+strconv.Itoa(n)+`}`, &out)
	tokens := make([]string, n)
	for i, c := range out.Cards {
		tokens[i] = c.Token
	}
	return tokens
}

var idemKey int

// redeem redeems m's offer on card at time t and returns the redemption's id.
func (e *reportEnv) redeem(t time.Time, m testMerchant, card, amount string) string {
	e.t.Helper()
	e.at(t)
	idemKey++
	var r struct {
		ID string `json:"id"`
	}
	e.ok(201, "POST", "/api/v1/pos/redemptions", m.key,
		`{"card":"`+card+`","offer_id":"`+m.offer+`","amount":"`+amount+`","terminal":"till-1"}`, &r,
		"Idempotency-Key", "k"+strconv.Itoa(idemKey))
	return r.ID
}

func (e *reportEnv) void(t time.Time, id, reason string) {
	e.t.Helper()
	e.at(t)
	e.ok(200, "POST", "/api/v1/redemptions/"+id+"/void", e.admin, `{"reason":"`+reason+`"}`, nil)
}

type testReport struct {
	Month  string `json:"month"`
	Totals struct {
		Redemptions    int    `json:"redemptions"`
		Voided         int    `json:"voided"`
		CardsUsed      int    `json:"cards_used"`
		CardsIssued    int    `json:"cards_issued"`
		CardsActivated int    `json:"cards_activated"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
	} `json:"totals"`
	Merchants []struct {
		MerchantID     string `json:"merchant_id"`
		Name           string `json:"name"`
		Redemptions    int    `json:"redemptions"`
		CardsUsed      int    `json:"cards_used"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
	} `json:"merchants"`
	Categories []struct {
		Category       string `json:"category"`
		Redemptions    int    `json:"redemptions"`
		MunicipalShare string `json:"municipal_share"`
	} `json:"categories"`
	Days []struct {
		Date        string `json:"date"`
		Redemptions int    `json:"redemptions"`
		Discount    string `json:"discount"`
	} `json:"days"`
	Adjustments struct {
		Count          int    `json:"count"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
		Items          []struct {
			RedemptionID   string `json:"redemption_id"`
			MerchantID     string `json:"merchant_id"`
			MunicipalShare string `json:"municipal_share"`
		} `json:"items"`
	} `json:"adjustments"`
}

func (e *reportEnv) report(month string) (testReport, []byte, *http.Response) {
	e.t.Helper()
	resp, b := e.do("GET", "/api/v1/reports/monthly?month="+month, e.admin, "")
	if resp.StatusCode != 200 {
		e.t.Fatalf("report %s: %d %s", month, resp.StatusCode, b)
	}
	var r testReport
	if err := json.Unmarshal(b, &r); err != nil {
		e.t.Fatal(err)
	}
	return r, b, resp
}

// koperMonth is a hand-computed month, in the city's zone:
//
//	Sep 30 23:59  A  c1 at Čevljarska (10 %, half paid back)   20.00 → discount 2.00, share 1.00
//	Oct  1 00:00  B  c1 at Čevljarska                           35.50 → 3.55, 1.78 (1.775 rounded up)
//	Oct  1 10:00  September is closed
//	Oct 20 09:00  A is voided: an adjustment of October         −20.00, −2.00, −1.00
//	Oct 21 12:00  C  c2 at Loggia (2.00 off, all paid back)     10.00 → 2.00, 2.00; voided at 12:05
//	Oct 24 18:00  D  c2 at Loggia (Saturday)                     8.00 → 2.00, 2.00
//	Oct 25 02:30  E  c3 at Loggia (the night summer time ends)   1.50 → 1.50, 1.50 (capped at the amount)
//	Oct 31 23:59  F  c3 at Čevljarska                            9.99 → 1.00, 0.50 (0.999 → 1.00)
//	Nov  1 00:00  G  c2 at Čevljarska                           50.00 → 5.00, 2.50
type koperMonth struct {
	*reportEnv
	shoe, cafe        testMerchant
	a, b, c, d, e2, f string
	septemberClose    closeJSON
	septemberJSON     []byte
}

func newKoperMonth(t *testing.T) *koperMonth {
	e := newReportEnv(t)
	k := &koperMonth{reportEnv: e}
	e.ok(201, "POST", "/api/v1/products", e.admin,
		`{"code":"koper-year","name":{"en":"Koper resident card"},"validity_days":365,"price":"10.00","audience":"resident"}`, nil)
	k.shoe = e.merchant("Čevljarska delavnica Košir", "shop",
		`{"title":{"en":"10% off"},"kind":"percent","value":"10","limit":"unlimited","municipal_share":"50"}`)
	k.cafe = e.merchant("Kavarna Loggia", "restaurant",
		`{"title":{"en":"2 € off"},"kind":"amount","value":"2.00","limit":"unlimited","municipal_share":"100"}`)
	cards := e.cards(3)
	c1, c2, c3 := cards[0], cards[1], cards[2]
	k.a = e.redeem(local(2026, 9, 30, 23, 59), k.shoe, c1, "20.00")
	k.b = e.redeem(local(2026, 10, 1, 0, 0), k.shoe, c1, "35.50")
	e.at(local(2026, 10, 1, 10, 0))
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-09/close", e.admin, "", &k.septemberClose)
	_, k.septemberJSON, _ = e.report("2026-09")
	e.void(local(2026, 10, 20, 9, 0), k.a, "returned shoes")
	k.c = e.redeem(local(2026, 10, 21, 12, 0), k.cafe, c2, "10.00")
	e.void(local(2026, 10, 21, 12, 5), k.c, "wrong till")
	k.d = e.redeem(local(2026, 10, 24, 18, 0), k.cafe, c2, "8.00")
	k.e2 = e.redeem(local(2026, 10, 25, 2, 30), k.cafe, c3, "1.50")
	k.f = e.redeem(local(2026, 10, 31, 23, 59), k.shoe, c3, "9.99")
	e.redeem(local(2026, 11, 1, 0, 0), k.shoe, c2, "50.00")
	e.at(local(2026, 11, 2, 8, 0))
	return k
}

func TestReportHandComputedMonth(t *testing.T) {
	k := newKoperMonth(t)
	r, _, _ := k.report("2026-10")
	tot := r.Totals
	if tot.Redemptions != 4 || tot.Voided != 1 || tot.CardsUsed != 3 || tot.CardsIssued != 0 || tot.CardsActivated != 2 {
		t.Fatalf("October counts = %+v, want 4 redemptions (B D E F), 1 voided (C), 3 cards, 0 issued, 2 activated (c2, c3)", tot)
	}
	// 54.99 of October's own redemptions less the 20.00 of the adjustment, and so on.
	if tot.Amount != "34.99" || tot.Discount != "6.05" || tot.MunicipalShare != "4.78" {
		t.Fatalf("October money = %s %s %s, want 34.99 6.05 4.78", tot.Amount, tot.Discount, tot.MunicipalShare)
	}
	a := r.Adjustments
	if a.Count != 1 || a.Amount != "-20.00" || a.Discount != "-2.00" || a.MunicipalShare != "-1.00" ||
		len(a.Items) != 1 || a.Items[0].RedemptionID != k.a {
		t.Fatalf("adjustments = %+v, want A's void at -20.00 -2.00 -1.00", a)
	}
	want := map[string][6]string{ // redemptions, cards, amount, discount, share
		"Čevljarska delavnica Košir": {"2", "2", "25.49", "2.55", "1.28"},
		"Kavarna Loggia":             {"2", "2", "9.50", "3.50", "3.50"},
	}
	if len(r.Merchants) != 2 {
		t.Fatalf("%d merchant lines", len(r.Merchants))
	}
	for _, m := range r.Merchants {
		got := [6]string{strconv.Itoa(m.Redemptions), strconv.Itoa(m.CardsUsed), m.Amount, m.Discount, m.MunicipalShare}
		if got != want[m.Name] {
			t.Errorf("%s = %v, want %v", m.Name, got, want[m.Name])
		}
	}
	days := map[string][2]string{}
	for _, d := range r.Days {
		if d.Redemptions != 0 || d.Discount != "0.00" {
			days[d.Date] = [2]string{strconv.Itoa(d.Redemptions), d.Discount}
		}
	}
	wantDays := map[string][2]string{
		"2026-10-01": {"1", "3.55"}, "2026-10-20": {"0", "-2.00"}, "2026-10-24": {"1", "2.00"},
		"2026-10-25": {"1", "1.50"}, "2026-10-31": {"1", "1.00"},
	}
	if len(r.Days) != 31 || len(days) != len(wantDays) {
		t.Fatalf("%d days, busy ones %v, want %v", len(r.Days), days, wantDays)
	}
	for d, w := range wantDays {
		if days[d] != w {
			t.Errorf("%s = %v, want %v", d, days[d], w)
		}
	}
	// September as frozen: A alone, though it has since been voided.
	s, _, _ := k.report("2026-09")
	if s.Totals.Redemptions != 1 || s.Totals.Voided != 0 || s.Totals.MunicipalShare != "1.00" || s.Adjustments.Count != 0 {
		t.Fatalf("September = %+v", s.Totals)
	}
	n, _, _ := k.report("2026-11")
	if n.Totals.Redemptions != 1 || n.Totals.Amount != "50.00" || n.Days[0].Redemptions != 1 {
		t.Fatalf("November = %+v", n.Totals)
	}
}

func TestClosedMonthIsFrozen(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	// A was voided after September closed: September's report is the same bytes.
	_, b, resp := e.report("2026-09")
	if !bytes.Equal(b, k.septemberJSON) {
		t.Fatalf("September's report changed after a void:\n%s\n%s", k.septemberJSON, b)
	}
	sum := sha256.Sum256(b)
	if got := resp.Header.Get("X-Report-SHA256"); got != hex.EncodeToString(sum[:]) || got != k.septemberClose.SHA256 {
		t.Fatalf("X-Report-SHA256 = %q, close said %q, body hashes to %x", got, k.septemberClose.SHA256, sum)
	}
	if k.septemberClose.Month != "2026-09" || len(k.septemberClose.LedgerHead) != 64 {
		t.Fatalf("close = %+v", k.septemberClose)
	}
	// Voiding B (October, open) changes October but not September, in any format.
	csv1 := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=csv", e.admin, "", nil)
	pdf1 := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=pdf", e.admin, "", nil)
	e.void(local(2026, 11, 2, 9, 0), k.b, "mistake")
	e.at(local(2027, 1, 5, 9, 0))
	_, b2, _ := e.report("2026-09")
	csv2 := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=csv", e.admin, "", nil)
	pdf2 := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=pdf", e.admin, "", nil)
	if !bytes.Equal(b2, k.septemberJSON) || !bytes.Equal(csv1, csv2) || !bytes.Equal(pdf1, pdf2) {
		t.Fatal("a closed month's report is not byte-identical from one request to the next")
	}
	if !strings.Contains(string(csv1), "20.00") {
		t.Fatalf("September CSV lacks A: %s", csv1)
	}
	// October was open when B was voided: a plain void there. Then October closes, and a
	// void of its F in November is an adjustment of November, not a change to October.
	var oct closeJSON
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-10/close", e.admin, "", &oct)
	_, octBody, _ := e.report("2026-10")
	e.void(local(2027, 1, 5, 10, 0), k.f, "refund")
	_, octAfter, _ := e.report("2026-10")
	if !bytes.Equal(octBody, octAfter) {
		t.Fatal("October changed after it closed")
	}
	jan, _, _ := e.report("2027-01")
	if jan.Adjustments.Count != 1 || jan.Adjustments.MunicipalShare != "-0.50" || jan.Totals.MunicipalShare != "-0.50" {
		t.Fatalf("January = %+v %+v, want F's void as an adjustment of -0.50", jan.Totals, jan.Adjustments)
	}
}

func TestCloseErrors(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	e.at(local(2026, 11, 30, 23, 59))
	e.wantError(409, "month_open", "POST", "/api/v1/reports/monthly/2026-11/close", e.admin, "")
	e.wantError(409, "month_open", "POST", "/api/v1/reports/monthly/2027-03/close", e.admin, "")
	e.wantError(409, "already_closed", "POST", "/api/v1/reports/monthly/2026-09/close", e.admin, "")
	e.wantError(400, "invalid_request", "POST", "/api/v1/reports/monthly/2026-13/close", e.admin, "")
	e.wantError(403, "forbidden", "POST", "/api/v1/reports/monthly/2026-10/close", k.shoe.key, "")
	e.wantError(401, "unauthorized", "POST", "/api/v1/reports/monthly/2026-10/close", "", "")
	e.wantError(400, "invalid_request", "GET", "/api/v1/reports/monthly?month=2026-10&format=xls", e.admin, "")
	e.at(local(2026, 12, 1, 0, 0)) // the first instant of December: November is over
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-11/close", e.admin, "", nil)
}

type testStatements struct {
	Month        string  `json:"month"`
	ReportSHA256 *string `json:"report_sha256"`
	Statements   []struct {
		MerchantID     string `json:"merchant_id"`
		Name           string `json:"name"`
		Redemptions    int    `json:"redemptions"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
		Items          []struct {
			ID             string `json:"id"`
			Status         string `json:"status"`
			MunicipalShare string `json:"municipal_share"`
		} `json:"items"`
		Adjustments []struct {
			RedemptionID   string `json:"redemption_id"`
			MunicipalShare string `json:"municipal_share"`
		} `json:"adjustments"`
	} `json:"statements"`
	MunicipalShare string `json:"municipal_share"`
}

func centsOf(t *testing.T, s string) int64 {
	d, err := decimal.NewFromString(s)
	if err != nil {
		t.Fatal(err)
	}
	return d.Shift(2).IntPart()
}

func TestStatementsSumToReport(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	for _, month := range []string{"2026-09", "2026-10", "2026-11"} {
		r, _, _ := e.report(month)
		var st testStatements
		e.ok(200, "GET", "/api/v1/reports/statements?month="+month, e.admin, "", &st)
		var sum int64
		for _, s := range st.Statements {
			sum += centsOf(t, s.MunicipalShare)
			// Each statement's items and adjustments add up to what it says is owed.
			var items int64
			for _, it := range s.Items {
				items += centsOf(t, it.MunicipalShare)
			}
			for _, a := range s.Adjustments {
				items += centsOf(t, a.MunicipalShare)
			}
			if items != centsOf(t, s.MunicipalShare) || len(s.Items) != s.Redemptions {
				t.Errorf("%s %s: %d items summing to %d, statement says %d redemptions owing %s",
					month, s.Name, len(s.Items), items, s.Redemptions, s.MunicipalShare)
			}
		}
		if sum != centsOf(t, r.Totals.MunicipalShare) || st.MunicipalShare != r.Totals.MunicipalShare {
			t.Errorf("%s: statements sum to %d (%s), the report's municipal_share is %s", month, sum, st.MunicipalShare, r.Totals.MunicipalShare)
		}
	}
	// September is closed: A counts there as it stood, and its statement is tied to the
	// frozen report.
	var sep testStatements
	e.ok(200, "GET", "/api/v1/reports/statements?month=2026-09", e.admin, "", &sep)
	if sep.ReportSHA256 == nil || *sep.ReportSHA256 != k.septemberClose.SHA256 || len(sep.Statements) != 1 ||
		len(sep.Statements[0].Items) != 1 || sep.Statements[0].Items[0].ID != k.a || sep.Statements[0].Items[0].Status != "completed" {
		t.Fatalf("September statements = %+v", sep)
	}
	// A merchant sees its own statement only; the admin can ask for one merchant.
	var own, one testStatements
	e.ok(200, "GET", "/api/v1/pos/statements?month=2026-10", k.shoe.key, "", &own)
	e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&merchant="+k.shoe.id, e.admin, "", &one)
	if len(own.Statements) != 1 || own.Statements[0].MerchantID != k.shoe.id || own.MunicipalShare != "1.28" ||
		len(own.Statements[0].Adjustments) != 1 || own.Statements[0].Adjustments[0].RedemptionID != k.a {
		t.Fatalf("own statement = %+v", own)
	}
	if a, b := e.ok(200, "GET", "/api/v1/pos/statements?month=2026-10", k.shoe.key, "", nil),
		e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&merchant="+k.shoe.id, e.admin, "", nil); !bytes.Equal(a, b) {
		t.Fatalf("merchant's and admin's view of one statement differ:\n%s\n%s", a, b)
	}
	e.wantError(404, "not_found", "GET", "/api/v1/reports/statements?month=2026-10&merchant=mer_nope", e.admin, "")
	e.wantError(403, "forbidden", "GET", "/api/v1/pos/statements?month=2026-10", e.admin, "")
	e.wantError(400, "invalid_request", "GET", "/api/v1/pos/statements?month=10-2026", k.cafe.key, "")
	csvBody := e.ok(200, "GET", "/api/v1/reports/statements?month=2026-10&format=csv", e.admin, "", nil)
	recs, err := csv.NewReader(bytes.NewReader(csvBody)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if last := recs[len(recs)-1]; last[1] != "TOTAL" || last[len(last)-1] != "4.78" {
		t.Fatalf("statements CSV ends %v, want TOTAL 4.78", last)
	}
}

// pdfText is the text of a PDF, by pdftotext (Debian's poppler-utils; .ci/install-pdf-tools).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftotext is missing: run .ci/install-pdf-tools")
		}
		t.Skip("pdftotext (poppler-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

func TestReportPDF(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	resp, pdf := e.do("GET", "/api/v1/reports/monthly?month=2026-10&format=pdf", e.admin, "")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("PDF: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Without lang=, the town's own language: Slovene, with its numbers.
	text := pdfText(t, pdf)
	for _, want := range []string{"Mesečno poročilo — oktober 2026, Koper", "34,99 €", "6,05 €", "4,78 €", "-20,00 €",
		"Čevljarska delavnica Košir", "Kavarna Loggia", "Unovčitve po dnevih", "Popust po kategorijah",
		"Ponudniki z največjim deležem občine", "Popravki", "returned shoes"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q", want)
		}
	}
	_, pdf = e.do("GET", "/api/v1/reports/monthly?month=2026-10&format=pdf&lang=en", e.admin, "")
	text = pdfText(t, pdf)
	for _, want := range []string{"Monthly report — October 2026, Koper", "€34.99", "€6.05", "€4.78", "-€20.00",
		"Čevljarska delavnica Košir", "Kavarna Loggia", "Redemptions per day", "Discount per category",
		"Top merchants by municipal share", "Adjustments", "returned shoes"} {
		if !strings.Contains(text, want) {
			t.Errorf("the English PDF's text lacks %q", want)
		}
	}
	_, st := e.do("GET", "/api/v1/reports/statements?month=2026-10&format=pdf&lang=en", e.admin, "")
	text = pdfText(t, st)
	for _, want := range []string{"Settlement statements — October 2026, Koper", "Owed by the municipality: €1.28",
		"Owed by the municipality: €3.50", "€4.78", "Čevljarska delavnica Košir"} {
		if !strings.Contains(text, want) {
			t.Errorf("the statements PDF's text lacks %q:\n%s", want, text)
		}
	}
}

func TestOpenDataSuppressesSmallCells(t *testing.T) {
	e := newReportEnv(t)
	e.ok(201, "POST", "/api/v1/products", e.admin,
		`{"code":"koper-year","name":{"en":"Koper resident card"},"validity_days":365,"price":"10.00","audience":"resident"}`, nil)
	bar := e.merchant("Bar Čoln", "bar", `{"title":{"en":"1 € off"},"kind":"amount","value":"1.00","limit":"unlimited"}`)
	museum := e.merchant("Pokrajinski muzej", "museum", `{"title":{"en":"free"},"kind":"free","limit":"unlimited"}`)
	cards := e.cards(7)
	// Oct 3: six cards at the bar (shown), four at the museum, one of them twice (suppressed).
	for i := 0; i < 6; i++ {
		e.redeem(local(2026, 10, 3, 20, i), bar, cards[i], "5.00")
	}
	for i := 0; i < 4; i++ {
		e.redeem(local(2026, 10, 3, 10, i), museum, cards[i], "8.00")
	}
	e.redeem(local(2026, 10, 3, 11, 0), museum, cards[0], "8.00")
	// Oct 4: five cards at the bar, one voided: four left, suppressed.
	var last string
	for i := 0; i < 5; i++ {
		last = e.redeem(local(2026, 10, 4, 21, i), bar, cards[i], "5.00")
	}
	e.void(local(2026, 10, 4, 22, 0), last, "wrong card")
	e.at(local(2026, 11, 2, 8, 0))
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-10/close", e.admin, "", nil)
	resp, body := e.do("GET", "/api/v1/reports/open-data?month=2026-10", "", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("open data without a token: %d %s", resp.StatusCode, body)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(recs[0], ","), "date,category,redemptions,cards,suppressed"; got != want {
		t.Fatalf("header %q, want %q", got, want)
	}
	if got, want := len(recs)-1, 31*9; got != want {
		t.Fatalf("%d cells, want every day × category = %d", got, want)
	}
	shown := map[string]string{}
	for _, r := range recs[1:] {
		if r[2] == "" && r[3] == "" && r[4] == "true" {
			continue
		}
		n, err := strconv.Atoi(r[3])
		if err != nil || n < 5 || r[4] != "false" {
			t.Fatalf("cell %v shows fewer than 5 cards", r)
		}
		shown[r[0]+" "+r[1]] = r[2] + "/" + r[3]
	}
	if len(shown) != 1 || shown["2026-10-03 bar"] != "6/6" {
		t.Fatalf("shown cells = %v, want only 2026-10-03 bar with 6 redemptions of 6 cards", shown)
	}
	e.wantError(400, "invalid_request", "GET", "/api/v1/reports/open-data?month=oct", "", "")
}

func TestLedgerVerifyEndpoint(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	var v struct {
		OK       bool   `json:"ok"`
		Entries  int    `json:"entries"`
		Head     string `json:"head"`
		FirstBad string `json:"first_bad"`
	}
	e.ok(200, "GET", "/api/v1/ledger/verify", e.admin, "", &v)
	// Seven redemptions, a void, the close of September and an adjustment.
	if !v.OK || v.Entries != 10 || len(v.Head) != 64 {
		t.Fatalf("verify = %+v, want ok with 10 entries", v)
	}
	e.wantError(403, "forbidden", "GET", "/api/v1/ledger/verify", k.shoe.key, "")
}

func TestReportCommand(t *testing.T) {
	k := newKoperMonth(t)
	e := k.reportEnv
	want := e.ok(200, "GET", "/api/v1/reports/monthly?month=2026-09&format=csv", e.admin, "", nil)
	out := filepath.Join(t.TempDir(), "sep.csv")
	getenv := func(key string) string {
		return map[string]string{"CITYCARD_DB": e.cfg.DB}[key]
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"report", "--month", "2026-09", "--format", "csv", "--out", out}, getenv, &stdout, &stderr); err != nil {
		t.Fatalf("report: %v (%s)", err, stderr.String())
	}
	got, err := os.ReadFile(out)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("citycard report wrote %q (%v), the API serves %q", got, err, want)
	}
	stdout.Reset()
	if err := run(context.Background(), []string{"report", "--db", e.cfg.DB, "--month", "2026-09"}, func(string) string { return "" }, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(stdout.Bytes(), k.septemberJSON) {
		t.Fatalf("citycard report printed %s, want the frozen %s", stdout.Bytes(), k.septemberJSON)
	}
	for _, args := range [][]string{
		{"report", "--db", e.cfg.DB},
		{"report", "--db", e.cfg.DB, "--month", "2026-09", "--format", "xls"},
		{"report", "--db", filepath.Join(t.TempDir(), "missing.db"), "--month", "2026-09"},
	} {
		if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}
}

// Two fetches of the open data around one redemption (or void) cannot reveal it: an open
// month is not published at all, and a closed month's counts never change.
func TestOpenDataCannotBeDifferenced(t *testing.T) {
	e := newReportEnv(t)
	e.ok(201, "POST", "/api/v1/products", e.admin,
		`{"code":"koper-year","name":{"en":"Koper resident card"},"validity_days":365,"price":"10.00","audience":"resident"}`, nil)
	bar := e.merchant("Bar Čoln", "bar", `{"title":{"en":"1 € off"},"kind":"amount","value":"1.00","limit":"unlimited"}`)
	cards := e.cards(8)
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, e.redeem(local(2026, 9, 10, 20, i), bar, cards[i], "5.00"))
	}
	// While September is open, before and after a seventh card's redemption: nothing to compare.
	e.wantError(409, "month_open", "GET", "/api/v1/reports/open-data?month=2026-09", "", "")
	e.redeem(local(2026, 9, 10, 21, 0), bar, cards[6], "5.00")
	e.wantError(409, "month_open", "GET", "/api/v1/reports/open-data?month=2026-09", "", "")

	e.at(local(2026, 10, 2, 8, 0))
	e.ok(200, "POST", "/api/v1/reports/monthly/2026-09/close", e.admin, "", nil)
	before := e.ok(200, "GET", "/api/v1/reports/open-data?month=2026-09", "", "", nil)
	if !strings.Contains(string(before), "2026-09-10,bar,7,7,false") {
		t.Fatalf("closed September's open data lacks the day: %s", before)
	}
	// A void of a September redemption and a new redemption, both in October.
	e.void(local(2026, 10, 3, 9, 0), ids[0], "wrong card")
	e.redeem(local(2026, 10, 3, 10, 0), bar, cards[7], "5.00")
	after := e.ok(200, "GET", "/api/v1/reports/open-data?month=2026-09", "", "", nil)
	if !bytes.Equal(before, after) {
		t.Fatalf("closed September's open data changed:\n%s\nthen\n%s", before, after)
	}
	e.wantError(409, "month_open", "GET", "/api/v1/reports/open-data?month=2026-10", "", "")
}
