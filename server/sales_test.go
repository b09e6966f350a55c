package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/storage/storagetest"
)

// salesEnv is a server with koper-72h (25.00), koper-24h and a hotel issuing koper-72h at
// 12.5 % commission.
type salesEnv struct {
	*testServer
	hotel  salesPointJSON
	secret string
}

func newSalesEnv(t *testing.T, opts ...testOption) *salesEnv {
	t.Helper()
	ts := newTestServer(t, opts...)
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-24h", 24, "tourist")
	e := &salesEnv{testServer: ts}
	e.hotel, e.secret = e.mustSalesPoint("Hotel Histria", "12.5", "koper-72h")
	return e
}

func (ts *testServer) mustSalesPoint(name, commission string, products ...string) (salesPointJSON, string) {
	ts.t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "products": products, "commission": commission})
	var p salesPointJSON
	ts.must(201, "POST", "/api/v1/sales-points", string(b), asAdmin, &p)
	if !strings.HasPrefix(p.Token, "ccs_") || p.ID == "" || !p.Active {
		ts.t.Fatalf("created sales point %+v", p)
	}
	return p, p.Token
}

func (e *salesEnv) sell(secret, body string) response {
	e.t.Helper()
	return e.do("POST", "/api/v1/sales/cards", body, asKey(secret))
}

func (e *salesEnv) mustSell(secret, product, holder string) cardJSON {
	e.t.Helper()
	var c cardJSON
	e.must(201, "POST", "/api/v1/sales/cards", fmt.Sprintf(`{"product":%q,"holder":%q,"lang":"it"}`, product, holder), asKey(secret), &c)
	return c
}

// TestSalesPointAPI: the office creates, lists, changes and re-keys a sales point (the secret
// shown only at create and rotation); the sales point issues its products only, sees its
// own cards only and cancels within 30 minutes before any use; the office finds its cards.
func TestSalesPointAPI(t *testing.T) {
	e := newSalesEnv(t)
	doc, _ := loadOpenAPI(t)
	check := func(r response, method, template string) {
		t.Helper()
		openAPICheckResponse(t, doc, method, template, &http.Response{StatusCode: r.status, Header: r.header}, r.body)
	}
	check(e.do("GET", "/api/v1/sales-points/"+e.hotel.ID, "", asAdmin), "GET", "/api/v1/sales-points/{id}")
	list := e.must(200, "GET", "/api/v1/sales-points", "", asAdmin, nil)
	if strings.Contains(string(list.body), "ccs_") || strings.Contains(string(list.body), `"token"`) {
		t.Fatalf("the list shows a secret: %s", list.body)
	}
	check(list, "GET", "/api/v1/sales-points")
	tic, ticSecret := e.mustSalesPoint("TIC Koper", "0", "koper-72h", "koper-24h")

	c := e.mustSell(e.secret, "koper-72h", "Giulia Rossi")
	if c.SalesPoint == nil || *c.SalesPoint != e.hotel.ID || c.Holder == nil || *c.Holder != "Giulia Rossi" || c.Lang != "it" {
		t.Fatalf("sold card %+v", c)
	}
	check(e.sell(e.secret, `{"product":"koper-72h"}`), "POST", "/api/v1/sales/cards")
	wantError(t, e.sell(e.secret, `{"product":"koper-24h"}`), 422, "product_not_allowed")
	wantError(t, e.sell(e.secret, `{"product":"koper-year"}`), 422, "product_not_allowed")
	wantError(t, e.sell(e.secret, `{"product":"koper-72h","lang":"fr"}`), 400, "invalid_request")
	wantError(t, e.sell(e.secret, `{}`), 400, "invalid_request")
	wantError(t, e.do("POST", "/api/v1/sales-points", `{"name":"X","products":["nope"],"commission":"10"}`, asAdmin), 404, "product_not_found")
	wantError(t, e.do("POST", "/api/v1/sales-points", `{"name":"X","commission":"101"}`, asAdmin), 400, "invalid_request")
	wantError(t, e.do("POST", "/api/v1/sales-points", `{"name":"","commission":"1"}`, asAdmin), 400, "invalid_request")

	// Its own cards only; another's is 404.
	var mine listBody[cardJSON]
	check(e.must(200, "GET", "/api/v1/sales/cards", "", asKey(e.secret), &mine), "GET", "/api/v1/sales/cards")
	if len(mine.Items) != 2 {
		t.Fatalf("the hotel lists %d cards, want 2", len(mine.Items))
	}
	var theirs listBody[cardJSON]
	e.must(200, "GET", "/api/v1/sales/cards?month=2026-10", "", asKey(ticSecret), &theirs)
	if len(theirs.Items) != 0 {
		t.Fatalf("the tourist office sees the hotel's cards: %+v", theirs.Items)
	}
	wantError(t, e.do("POST", "/api/v1/sales/cards/"+c.ID+"/cancel", `{}`, asKey(ticSecret)), 404, "card_not_found")
	wantError(t, e.do("GET", "/api/v1/sales/cards/"+c.ID+"/receipt.pdf", "", asKey(ticSecret)), 404, "card_not_found")
	office := e.mustCard("koper-72h", "", "")
	wantError(t, e.do("POST", "/api/v1/sales/cards/"+office.ID+"/cancel", `{}`, asKey(e.secret)), 404, "card_not_found")
	wantError(t, e.do("GET", "/api/v1/sales/cards?month=2026-13", "", asKey(e.secret)), 400, "invalid_request")

	// The cancel window at its edges, and a used card.
	for _, tc := range []struct {
		after      time.Duration
		wantStatus int
	}{{29*time.Minute + 59*time.Second, 200}, {30 * time.Minute, 409}, {30*time.Minute + time.Second, 409}} {
		cd := e.mustSell(e.secret, "koper-72h", "")
		e.clock.Add(tc.after)
		r := e.do("POST", "/api/v1/sales/cards/"+cd.ID+"/cancel", `{"reason":"guest left"}`, asKey(e.secret))
		if tc.wantStatus == 409 {
			wantError(t, r, 409, "cancel_window_over")
		} else {
			check(r, "POST", "/api/v1/sales/cards/{id}/cancel")
			var got cardJSON
			if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || got.Status != "blocked" || got.BlockReason != "guest left" {
				t.Fatalf("cancel at %v: %d %s", tc.after, r.status, r.body)
			}
			wantError(t, e.do("POST", "/api/v1/sales/cards/"+cd.ID+"/cancel", `{}`, asKey(e.secret)), 409, "already_cancelled")
		}
		e.clock.Add(time.Minute)
	}
	m, key := e.mustMerchant("Kavarna Loggia", "restaurant")
	o := e.mustOffer(m.ID, "Coffee", `"kind":"percent","value":"10","limit":"unlimited"`)
	used := e.mustSell(e.secret, "koper-72h", "")
	e.mustRedeem(key, used.Token, o.ID, "10.00", "used-1")
	wantError(t, e.do("POST", "/api/v1/sales/cards/"+used.ID+"/cancel", `{}`, asKey(e.secret)), 409, "cancel_window_over")
	// A cancelled card is refused at the till.
	cancelled := e.mustSell(e.secret, "koper-72h", "")
	e.must(200, "POST", "/api/v1/sales/cards/"+cancelled.ID+"/cancel", "", asKey(e.secret), nil)
	wantError(t, e.redeem(key, cancelled.Token, o.ID, "10.00", "used-2"), 422, "card_blocked")
	// The office cannot unblock it: it was never billed.
	wantError(t, e.do("POST", "/api/v1/cards/"+cancelled.ID+"/unblock", `{}`, asAdmin), 409, "already_cancelled")

	// The office finds a sales point's cards.
	var found listBody[cardJSON]
	e.must(200, "GET", "/api/v1/cards?sales_point="+tic.ID, "", asAdmin, &found)
	if len(found.Items) != 0 {
		t.Fatalf("the tourist office issued no card, the search finds %d", len(found.Items))
	}
	e.must(200, "GET", "/api/v1/cards?sales_point="+e.hotel.ID, "", asAdmin, &found)
	if len(found.Items) != 7 {
		t.Fatalf("the search by sales point finds %d cards, want 7", len(found.Items))
	}
	for _, cd := range found.Items {
		if cd.SalesPoint == nil || *cd.SalesPoint != e.hotel.ID {
			t.Fatalf("card %s of the search names sales point %v", cd.ID, cd.SalesPoint)
		}
	}
}

// TestSalesPointSecret: switched off, a sales point gets 403; a new secret makes the old one
// 401 at once; every other role's secret on a sales route is 403, a sales point's on any
// other route 403.
func TestSalesPointSecret(t *testing.T) {
	e := newSalesEnv(t)
	var p salesPointJSON
	e.must(200, "PATCH", "/api/v1/sales-points/"+e.hotel.ID, `{"active":false,"commission":"10"}`, asAdmin, &p)
	if p.Active || p.Commission != "10" || p.Name != "Hotel Histria" {
		t.Fatalf("patched %+v", p)
	}
	wantError(t, e.sell(e.secret, `{"product":"koper-72h"}`), 403, "forbidden")
	e.must(200, "PATCH", "/api/v1/sales-points/"+e.hotel.ID, `{"active":true}`, asAdmin, nil)
	e.mustSell(e.secret, "koper-72h", "")
	var rot struct{ Token string }
	e.must(201, "POST", "/api/v1/sales-points/"+e.hotel.ID+"/token", "", asAdmin, &rot)
	wantError(t, e.sell(e.secret, `{"product":"koper-72h"}`), 401, "unauthorized")
	wantError(t, e.do("GET", "/api/v1/sales/me", "", asKey(e.secret)), 401, "unauthorized")
	e.mustSell(rot.Token, "koper-72h", "")
	wantError(t, e.do("GET", "/api/v1/sales/me", "", asAdmin), 403, "forbidden")
	wantError(t, e.do("GET", "/api/v1/cards", "", asKey(rot.Token)), 403, "forbidden")
	wantError(t, e.do("GET", "/api/v1/pos/me", "", asKey(rot.Token)), 403, "forbidden")
	wantError(t, e.do("GET", "/api/v1/sales-points", "", asKey(rot.Token)), 403, "forbidden")
	wantError(t, e.do("GET", "/api/v1/sales-points/sp_nope", "", asAdmin), 404, "not_found")
	wantError(t, e.do("POST", "/api/v1/sales-points/sp_nope/token", "", asAdmin), 404, "not_found")
	wantError(t, e.do("PATCH", "/api/v1/sales-points/sp_nope", `{"name":"x"}`, asAdmin), 404, "not_found")
	wantError(t, e.do("PATCH", "/api/v1/sales-points/"+e.hotel.ID, `{"products":["nope"]}`, asAdmin), 404, "product_not_found")
}

// TestSalesPointRotationInstances (PostgreSQL): a secret rotated through one instance is
// refused by the other at once.
func TestSalesPointRotationInstances(t *testing.T) {
	if !storagetest.OnPostgres() {
		t.Skip("several instances need PostgreSQL")
	}
	ins := newInstances(t, 2)
	a, b := ins[0], ins[1]
	a.mustProduct("koper-72h", 72, "tourist")
	p, secret := a.mustSalesPoint("Hotel Histria", "10", "koper-72h")
	b.must(201, "POST", "/api/v1/sales/cards", `{"product":"koper-72h"}`, asKey(secret), nil)
	var rot struct{ Token string }
	a.must(201, "POST", "/api/v1/sales-points/"+p.ID+"/token", "", asAdmin, &rot)
	wantError(t, b.do("POST", "/api/v1/sales/cards", `{"product":"koper-72h"}`, asKey(secret)), 401, "unauthorized")
	wantError(t, b.do("GET", "/api/v1/sales/cards", "", asKey(secret)), 401, "unauthorized")
	b.must(201, "POST", "/api/v1/sales/cards", `{"product":"koper-72h"}`, asKey(rot.Token), nil)
}

// salesStatements is the JSON of GET /api/v1/reports/sales-statements.
type salesStatements struct {
	Month      string           `json:"month"`
	Closed     bool             `json:"closed"`
	Statements []salesLineJSON  `json:"statements"`
	Totals     salesFiguresJSON `json:"totals"`
}

// TestSalesStatements: the report's sales lines equal the statements, whose rows add up to
// their totals to the cent (commission rounded per card, half away from zero), in an open
// month and in a closed one, whose statements are the same bytes every time in every format.
func TestSalesStatements(t *testing.T) {
	e := newSalesEnv(t)
	doc, _ := loadOpenAPI(t)
	_, tic := e.mustSalesPoint("TIC Koper", "7.5", "koper-72h", "koper-24h")
	// 25.00 × 12.5 % = 3.125 → 3.13 a card; × 7.5 % = 1.875 → 1.88 a card.
	for range 3 {
		e.mustSell(e.secret, "koper-72h", "")
	}
	cancel := e.mustSell(e.secret, "koper-72h", "")
	e.must(200, "POST", "/api/v1/sales/cards/"+cancel.ID+"/cancel", `{}`, asKey(e.secret), nil)
	e.mustSell(tic, "koper-72h", "")
	e.mustSell(tic, "koper-24h", "")
	e.mustSell(tic, "koper-24h", "")

	const month = "2026-10"
	get := func(path string) response {
		t.Helper()
		r := e.must(200, "GET", path, "", asAdmin, nil)
		return r
	}
	verify := func(closed bool) (salesStatements, []byte) {
		t.Helper()
		r := get("/api/v1/reports/sales-statements?month=" + month)
		openAPICheckResponse(t, doc, "GET", "/api/v1/reports/sales-statements", &http.Response{StatusCode: r.status, Header: r.header}, r.body)
		var st salesStatements
		if err := json.Unmarshal(r.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Closed != closed || len(st.Statements) != 2 {
			t.Fatalf("statements %s", r.body)
		}
		hotel, ticLine := st.Statements[0], st.Statements[1]
		if hotel.Name != "Hotel Histria" || hotel.salesFiguresJSON != (salesFiguresJSON{3, 1, "75.00", "9.39", "65.61"}) {
			t.Fatalf("the hotel's statement %+v", hotel)
		}
		if ticLine.salesFiguresJSON != (salesFiguresJSON{3, 0, "75.00", "5.64", "69.36"}) || len(ticLine.Products) != 2 {
			t.Fatalf("the tourist office's statement %+v", ticLine)
		}
		if st.Totals != (salesFiguresJSON{6, 1, "150.00", "15.03", "134.97"}) {
			t.Fatalf("totals %+v", st.Totals)
		}
		// The report's lines are the statements.
		rep := get("/api/v1/reports/monthly?month=" + month)
		var report struct {
			Sales []salesLineJSON `json:"sales"`
		}
		if err := json.Unmarshal(rep.body, &report); err != nil {
			t.Fatal(err)
		}
		a, _ := json.Marshal(report.Sales)
		b, _ := json.Marshal(st.Statements)
		if !bytes.Equal(a, b) {
			t.Fatalf("report's sales %s\nstatements     %s", a, b)
		}
		openAPICheckResponse(t, doc, "GET", "/api/v1/reports/monthly", &http.Response{StatusCode: rep.status, Header: rep.header}, rep.body)
		// The CSV's rows add up to its TOTAL.
		recs, err := csv.NewReader(bytes.NewReader(get("/api/v1/reports/sales-statements?month=" + month + "&format=csv").body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if last := recs[len(recs)-1]; last[1] != "TOTAL" || last[6] != "150.00" || last[7] != "15.03" || last[8] != "134.97" {
			t.Fatalf("CSV ends %v", last)
		}
		return st, r.body
	}
	verify(false)
	text := pdfText(t, get("/api/v1/reports/sales-statements?month="+month+"&format=pdf").body)
	for _, want := range []string{"Obračuni prodajnih mest", "Hotel Histria", "TIC Koper", "9,39 €", "134,97 €", "Provizija"} {
		if !strings.Contains(text, want) {
			t.Errorf("the statements PDF lacks %q:\n%s", want, text)
		}
	}

	text = pdfText(t, get("/api/v1/reports/monthly?month="+month+"&format=pdf").body)
	for _, want := range []string{"Kartice, ki so jih izdala prodajna mesta", "Hotel Histria", "134,97 €"} {
		if !strings.Contains(text, want) {
			t.Errorf("the report PDF lacks %q:\n%s", want, text)
		}
	}

	// A month without sales keeps its report's form: no "sales" key.
	if r := get("/api/v1/reports/monthly?month=2026-09"); bytes.Contains(r.body, []byte(`"sales"`)) {
		t.Fatalf("a month without sales has a sales key: %s", r.body)
	}

	e.clock.Set(time.Date(2026, 11, 2, 9, 0, 0, 0, testLoc))
	e.must(200, "POST", "/api/v1/reports/monthly/"+month+"/close", "", asAdmin, nil)
	_, first := verify(true)
	var firsts [3][]byte
	for i, f := range []string{"json", "csv", "pdf"} {
		firsts[i] = get("/api/v1/reports/sales-statements?month=" + month + "&format=" + f).body
	}
	// Later changes do not reach the closed month: a rename, a new card.
	e.must(200, "PATCH", "/api/v1/sales-points/"+e.hotel.ID, `{"name":"Hotel Histria Renamed"}`, asAdmin, nil)
	e.mustSell(e.secret, "koper-72h", "")
	e.clock.Add(time.Hour)
	for i, f := range []string{"json", "csv", "pdf"} {
		if again := get("/api/v1/reports/sales-statements?month=" + month + "&format=" + f).body; !bytes.Equal(again, firsts[i]) {
			t.Fatalf("the closed month's %s statements changed", f)
		}
	}
	if !bytes.Equal(first, firsts[0]) {
		t.Fatal("the closed month's statements are not one document")
	}
	var nov salesStatements
	e.must(200, "GET", "/api/v1/reports/sales-statements?month=2026-11", "", asAdmin, &nov)
	if nov.Closed || len(nov.Statements) != 1 || nov.Statements[0].Name != "Hotel Histria Renamed" || nov.Totals.Cards != 1 {
		t.Fatalf("November %+v", nov)
	}
	var chk struct {
		OK bool `json:"ok"`
	}
	e.must(200, "GET", "/api/v1/ledger/verify", "", asAdmin, &chk)
	if !chk.OK {
		t.Fatal("the ledger does not verify")
	}
}

// TestSalesReceiptPDF: the receipt printer's card is a page 80 mm wide with the card's number,
// product and instructions in the guest's language and the town's, read back with pdftotext;
// A4 prints the sheet's card.
func TestSalesReceiptPDF(t *testing.T) {
	e := newSalesEnv(t)
	c := e.mustSell(e.secret, "koper-72h", "Giulia Rossi")
	r := e.must(200, "GET", "/api/v1/sales/cards/"+c.ID+"/receipt.pdf", "", asKey(e.secret), nil)
	if r.header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("Content-Type %q", r.header.Get("Content-Type"))
	}
	text := pdfText(t, r.body)
	number := c.Number[:4] + " " + c.Number[4:8] + " " + c.Number[8:]
	for _, want := range []string{number, "Carta koper-72h", "IT ·", "SL ·"} {
		if !strings.Contains(text, want) {
			t.Errorf("the receipt lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Giulia") {
		t.Error("the receipt prints the guest's name")
	}
	if w := pdfPageWidthMM(t, r.body); w < 79.5 || w > 80.5 {
		t.Fatalf("the receipt is %.1f mm wide, want 80", w)
	}
	a4 := e.must(200, "GET", "/api/v1/sales/cards/"+c.ID+"/receipt.pdf?paper=a4", "", asKey(e.secret), nil)
	if w := pdfPageWidthMM(t, a4.body); w < 209 || w > 211 {
		t.Fatalf("the A4 paper is %.1f mm wide", w)
	}
	if !strings.Contains(pdfText(t, a4.body), number) {
		t.Error("the A4 paper lacks the card's number")
	}
	wantError(t, e.do("GET", "/api/v1/sales/cards/"+c.ID+"/receipt.pdf?paper=a5", "", asKey(e.secret)), 400, "invalid_request")
}

// pdfPageWidthMM is the first page's width by pdfinfo, in millimetres.
func pdfPageWidthMM(t *testing.T, pdf []byte) float64 {
	t.Helper()
	if _, err := exec.LookPath("pdfinfo"); err != nil {
		t.Skip("pdfinfo (poppler-utils) is not installed")
	}
	path := filepath.Join(t.TempDir(), "p.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdfinfo", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "Page size:"); ok {
			var w, h float64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%g x %g", &w, &h); err != nil {
				t.Fatalf("pdfinfo %q: %v", line, err)
			}
			return w / 72 * 25.4
		}
	}
	t.Fatalf("pdfinfo gave no page size: %s", out)
	return 0
}
