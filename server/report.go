package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
)

type countersJSON struct {
	Redemptions    int    `json:"redemptions"`
	CardsUsed      int    `json:"cards_used"`
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	MunicipalShare string `json:"municipal_share"`
}

func toCountersJSON(c merchant.Counters) countersJSON {
	return countersJSON{c.Redemptions, c.CardsUsed, formatMoney(c.Amount), formatMoney(c.Discount), formatMoney(c.MunicipalShare)}
}

type reportJSON struct {
	Month    string `json:"month"`
	Timezone string `json:"timezone"`
	Totals   struct {
		Redemptions    int    `json:"redemptions"`
		Voided         int    `json:"voided"`
		CardsUsed      int    `json:"cards_used"`
		CardsIssued    int    `json:"cards_issued"`
		CardsActivated int    `json:"cards_activated"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
	} `json:"totals"`
	Merchants   []merchantLineJSON `json:"merchants"`
	Categories  []categoryLineJSON `json:"categories"`
	Products    []productLineJSON  `json:"products"`
	Days        []dayJSON          `json:"days"`
	Adjustments adjustmentsJSON    `json:"adjustments"`
	// Issuers are absent from a report frozen before the network of towns.
	Issuers []issuerLineJSON `json:"issuers"`
	// Sales are absent from a month without cards issued by sales points (and from every
	// report frozen before them), so those reports keep their bytes.
	Sales []salesLineJSON `json:"sales,omitempty"`
}

// issuerLineJSON is a town report's line of the redemptions of the cards one town issued.
type issuerLineJSON struct {
	Town string `json:"town"`
	countersJSON
}

// adjustmentsJSON are the month's adjustments: voids of redemptions of closed months, booked
// in the month of the void with negative amounts (docs/reports.md).
type adjustmentsJSON struct {
	Count          int              `json:"count"`
	Amount         string           `json:"amount"`
	Discount       string           `json:"discount"`
	MunicipalShare string           `json:"municipal_share"`
	Items          []adjustmentJSON `json:"items"`
}

type adjustmentJSON struct {
	RedemptionID   string `json:"redemption_id"`
	MerchantID     string `json:"merchant_id"`
	Name           string `json:"name"`
	Category       string `json:"category"`
	Product        string `json:"product"`
	CreatedAt      string `json:"created_at"`
	VoidedAt       string `json:"voided_at"`
	Reason         string `json:"reason"`
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	MunicipalShare string `json:"municipal_share"`
}

func toAdjustmentJSON(a merchant.Adjustment) adjustmentJSON {
	return adjustmentJSON{a.RedemptionID, a.MerchantID, a.MerchantName, a.Category, a.Product, timeJSON(a.CreatedAt),
		timeJSON(a.VoidedAt), a.Reason, formatMoney(a.Amount), formatMoney(a.Discount), formatMoney(a.MunicipalShare)}
}

type merchantLineJSON struct {
	MerchantID string `json:"merchant_id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	countersJSON
}

type categoryLineJSON struct {
	Category string `json:"category"`
	countersJSON
}

type productLineJSON struct {
	Product string `json:"product"`
	countersJSON
}

type dayJSON struct {
	Date        string `json:"date"`
	Redemptions int    `json:"redemptions"`
	Discount    string `json:"discount"`
}

func toReportJSON(r merchant.Report) reportJSON {
	var out reportJSON
	out.Month, out.Timezone = r.Month.String(), r.Timezone
	t := r.Totals
	out.Totals.Redemptions, out.Totals.Voided, out.Totals.CardsUsed = t.Redemptions, t.Voided, t.CardsUsed
	out.Totals.CardsIssued, out.Totals.CardsActivated = t.CardsIssued, t.CardsActivated
	out.Totals.Amount, out.Totals.Discount, out.Totals.MunicipalShare = formatMoney(t.Amount), formatMoney(t.Discount), formatMoney(t.MunicipalShare)
	out.Merchants = make([]merchantLineJSON, len(r.Merchants))
	for i, m := range r.Merchants {
		out.Merchants[i].MerchantID, out.Merchants[i].Name, out.Merchants[i].Category = m.MerchantID, m.Name, m.Category
		out.Merchants[i].countersJSON = toCountersJSON(m.Counters)
	}
	out.Categories = make([]categoryLineJSON, len(r.Categories))
	for i, l := range r.Categories {
		out.Categories[i].Category, out.Categories[i].countersJSON = l.Key, toCountersJSON(l.Counters)
	}
	out.Products = make([]productLineJSON, len(r.Products))
	for i, l := range r.Products {
		out.Products[i].Product, out.Products[i].countersJSON = l.Key, toCountersJSON(l.Counters)
	}
	out.Days = make([]dayJSON, len(r.Days))
	for i, d := range r.Days {
		out.Days[i] = dayJSON{d.Date, d.Redemptions, formatMoney(d.Discount)}
	}
	a := r.Adjustments
	out.Adjustments = adjustmentsJSON{Count: a.Count, Amount: formatMoney(a.Amount), Discount: formatMoney(a.Discount),
		MunicipalShare: formatMoney(a.MunicipalShare), Items: make([]adjustmentJSON, len(a.Items))}
	for i, it := range a.Items {
		out.Adjustments.Items[i] = toAdjustmentJSON(it)
	}
	out.Issuers = make([]issuerLineJSON, len(r.Issuers))
	for i, l := range r.Issuers {
		out.Issuers[i] = issuerLineJSON{l.Town, toCountersJSON(l.Counters)}
	}
	out.Sales = toSalesLinesJSON(r.Sales)
	return out
}

// encodeReport is the report's JSON document, as served and as frozen when its month closes.
func encodeReport(r merchant.Report) ([]byte, error) { return json.Marshal(toReportJSON(r)) }

// decodeReport reads a report back from its JSON document (a closed month's frozen report),
// to render it as CSV or PDF.
func decodeReport(b []byte) (merchant.Report, error) {
	var in reportJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return merchant.Report{}, err
	}
	var r merchant.Report
	var err error
	if r.Month, err = merchant.ParseMonth(in.Month); err != nil {
		return r, err
	}
	r.Timezone = in.Timezone
	p := centsParser{}
	t := in.Totals
	r.Totals = merchant.Totals{Voided: t.Voided, CardsIssued: t.CardsIssued, CardsActivated: t.CardsActivated,
		Counters: merchant.Counters{Redemptions: t.Redemptions, CardsUsed: t.CardsUsed,
			Amount: p.parse(t.Amount), Discount: p.parse(t.Discount), MunicipalShare: p.parse(t.MunicipalShare)}}
	counters := func(c countersJSON) merchant.Counters {
		return merchant.Counters{Redemptions: c.Redemptions, CardsUsed: c.CardsUsed,
			Amount: p.parse(c.Amount), Discount: p.parse(c.Discount), MunicipalShare: p.parse(c.MunicipalShare)}
	}
	for _, l := range in.Merchants {
		r.Merchants = append(r.Merchants, merchant.MerchantLine{MerchantID: l.MerchantID, Name: l.Name, Category: l.Category, Counters: counters(l.countersJSON)})
	}
	for _, l := range in.Categories {
		r.Categories = append(r.Categories, merchant.KeyLine{Key: l.Category, Counters: counters(l.countersJSON)})
	}
	for _, l := range in.Products {
		r.Products = append(r.Products, merchant.KeyLine{Key: l.Product, Counters: counters(l.countersJSON)})
	}
	for _, d := range in.Days {
		r.Days = append(r.Days, merchant.DayLine{Date: d.Date, Redemptions: d.Redemptions, Discount: p.parse(d.Discount)})
	}
	a := in.Adjustments
	r.Adjustments = merchant.Adjustments{Count: a.Count, Amount: p.parse(a.Amount), Discount: p.parse(a.Discount),
		MunicipalShare: p.parse(a.MunicipalShare)}
	for _, it := range a.Items {
		r.Adjustments.Items = append(r.Adjustments.Items, merchant.Adjustment{RedemptionID: it.RedemptionID,
			MerchantID: it.MerchantID, MerchantName: it.Name, Category: it.Category, Product: it.Product,
			CreatedAt: p.time(it.CreatedAt), VoidedAt: p.time(it.VoidedAt), Reason: it.Reason,
			Amount: p.parse(it.Amount), Discount: p.parse(it.Discount), MunicipalShare: p.parse(it.MunicipalShare)})
	}
	if in.Issuers != nil {
		r.Issuers = make([]merchant.IssuerLine, 0, len(in.Issuers))
		for _, l := range in.Issuers {
			r.Issuers = append(r.Issuers, merchant.IssuerLine{Town: l.Town, Counters: counters(l.countersJSON)})
		}
	}
	r.Sales = fromSalesLinesJSON(in.Sales, &p)
	return r, p.err
}

// centsParser reads the money and times of a stored document, keeping the first error.
type centsParser struct{ err error }

func (p *centsParser) parse(s string) int64 {
	d, err := decimal.NewFromString(s)
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("amount %q: %w", s, err)
	}
	return d.Shift(2).IntPart()
}

func (p *centsParser) time(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil && p.err == nil {
		p.err = err
	}
	return t
}

// reportDoc is a month's report as served: built from the rollups while the month is open,
// the frozen document once it is closed.
type reportDoc struct {
	report merchant.Report
	json   []byte
	closed *storage.MonthClose
}

// loadReport returns town's report document of month m, read in one snapshot.
func loadReport(ctx context.Context, db *storage.DB, town string, m merchant.Month) (reportDoc, error) {
	v, err := db.MonthView(ctx, town, m, false, "")
	if err != nil {
		return reportDoc{}, err
	}
	return reportDocOf(m, v)
}

// reportDocOf is the report document of a month's view: the frozen one once it is closed.
func reportDocOf(m merchant.Month, v storage.MonthView) (reportDoc, error) {
	if cl := v.Closed; cl != nil {
		rep, err := decodeReport(cl.Report)
		if err != nil {
			return reportDoc{}, fmt.Errorf("frozen report of %s: %w", m, err)
		}
		return reportDoc{rep, cl.Report, cl}, nil
	}
	b, err := encodeReport(v.Report)
	return reportDoc{v.Report, b, nil}, err
}

// paperOpts say how a paper is rendered: its language, the CSV's options and the names it
// prints instead of codes.
type paperOpts struct {
	lang  i18n.Locale
	csv   papers.CSVOpts
	names papers.Names
}

// render gives the document in format json, csv or pdf, with its content type and a file
// name. A closed month renders from the frozen document alone, so every format gives the
// same bytes every time (for the same options); now dates an open month's PDF.
func (d reportDoc) render(format string, now time.Time, o paperOpts) (body []byte, contentType, filename string, err error) {
	name := "citycard-" + d.report.Month.String()
	switch format {
	case "json":
		return d.json, fiber.MIMEApplicationJSON, name + ".json", nil
	case "csv":
		if o.csv.Table != "" && o.csv.Table != "merchants" {
			name += "-" + o.csv.Table
		}
		if o.csv.Table == "" {
			o.csv.Table = "merchants"
		}
		return papers.ReportCSV(d.report, o.csv, o.names), "text/csv; charset=utf-8", csvFilename(name, o.csv), nil
	case "pdf":
		meta := papers.Meta{Generated: now}
		if d.closed != nil {
			meta = papers.Meta{Generated: d.closed.ClosedAt, Closed: true, SHA256: hex.EncodeToString(d.closed.SHA256[:])}
		}
		body, err := papers.ReportPDF(d.report, meta, o.lang, o.names)
		return body, "application/pdf", name + ".pdf", err
	}
	return nil, "", "", badRequest("format must be json, csv or pdf")
}

// monthAndFormat reads a month's paper's ?month= (YYYY-MM) and ?format= (json, the default,
// csv or pdf): 400 invalid_request otherwise.
func monthAndFormat(c *fiber.Ctx) (merchant.Month, string, error) {
	m, err := merchant.ParseMonth(c.Query("month"))
	if err != nil {
		return m, "", err
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" && format != "pdf" {
		return m, "", badRequest("format must be json, csv or pdf")
	}
	return m, format, nil
}

// monthPaper is what a handler of a month's paper reads first: the town, ?month=, ?format=,
// the paper's options and the month's report document.
type monthPaper struct {
	town   string
	m      merchant.Month
	format string
	o      paperOpts
	doc    reportDoc
}

// loadMonthPaper reads the month's paper request and its report (the report's and the sales
// points' statements' handlers).
func (s *server) loadMonthPaper(c *fiber.Ctx) (monthPaper, error) {
	var p monthPaper
	var err error
	if p.town, err = townOf(c); err != nil {
		return p, err
	}
	if p.m, p.format, err = monthAndFormat(c); err != nil {
		return p, err
	}
	if p.o, err = s.paperOpts(c, p.town, p.format); err != nil {
		return p, err
	}
	p.doc, err = loadReport(c.UserContext(), s.db, p.town, p.m)
	return p, err
}

func (s *server) handleReportMonthly(c *fiber.Ctx) error {
	p, err := s.loadMonthPaper(c)
	if err != nil {
		return err
	}
	town, m, format, o, doc := p.town, p.m, p.format, p.o, p.doc
	body, ctype, filename, err := doc.render(format, s.db.Now(), o)
	if err != nil {
		return err
	}
	if doc.closed != nil {
		c.Set("X-Report-SHA256", hex.EncodeToString(doc.closed.SHA256[:]))
	}
	// Offline conflicts waiting for the office (docs/offline.md): a header on every format,
	// and in an open month's JSON; a closed month's JSON is its frozen body, byte for byte.
	open, err := s.db.OpenConflicts(c.UserContext(), town, m)
	if err != nil {
		return err
	}
	c.Set("X-Open-Conflicts", strconv.Itoa(open))
	if format == "json" && doc.closed == nil {
		if body, err = withOpenConflicts(body, open); err != nil {
			return err
		}
	}
	c.Set(fiber.HeaderContentType, ctype)
	if format != "json" {
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	}
	return c.Send(body)
}

// paperOpts reads a paper's ?lang= and, for CSV, its options, and loads the names a PDF or
// a CSV of names prints.
func (s *server) paperOpts(c *fiber.Ctx, town, format string) (paperOpts, error) {
	l, err := s.paperLangIn(town, c.Query("lang"))
	if err != nil {
		return paperOpts{}, err
	}
	o := paperOpts{lang: l}
	if format == "csv" {
		if o.csv, err = parseCSVOpts(c, l); err != nil {
			return o, err
		}
		o.csv.Town = town
	}
	if format == "pdf" || (format == "csv" && o.csv.Table == "products") {
		if o.names, err = loadPaperNames(c.UserContext(), s.db, town); err != nil {
			return o, err
		}
	}
	return o, nil
}

type closeJSON struct {
	Month      string          `json:"month"`
	ClosedAt   string          `json:"closed_at"`
	SHA256     string          `json:"sha256"`
	LedgerHead string          `json:"ledger_head"`
	Checkpoint *checkpointJSON `json:"checkpoint"`
}

// handleReportClose freezes a month that is over: its report is stored with its SHA-256 and
// the ledger's head, and served byte-identical from then on. The answer carries the
// checkpoint signed with the close, for the municipality to keep (docs/reports.md).
func (s *server) handleReportClose(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	m, err := merchant.ParseMonth(c.Params("month"))
	if err != nil {
		return err
	}
	cl, err := s.db.CloseMonth(c.UserContext(), town, m, encodeReport)
	if err != nil {
		return err
	}
	out := closeJSON{Month: m.String(), ClosedAt: timeJSON(cl.ClosedAt),
		SHA256: hex.EncodeToString(cl.SHA256[:]), LedgerHead: hex.EncodeToString(cl.LedgerHead[:])}
	if cl.Checkpoint != nil {
		cp := toCheckpointJSON(*cl.Checkpoint)
		out.Checkpoint = &cp
	}
	return c.JSON(out)
}

// errOpenDataNotClosed answers open data asked for a month that is not closed.
var errOpenDataNotClosed = keyed(fiber.StatusConflict, "month_open", "open_data_not_closed", "open data is published once the month is closed")

// handleOpenData is a town's anonymous counts of the month by day and category for the
// open-data portal: RFC 4180 CSV, every cell of fewer than 5 distinct cards suppressed. The
// town is ?town=, needed only when the deployment has several. Only a closed month is
// published: while a month is open its counts change with every redemption and void, and two
// fetches around one redemption would tell its day and category even where suppression hides
// small cells. Once closed, its counts never change (a later void is an adjustment of the
// month of the void, which is no count), so nothing can be differenced.
func (s *server) handleOpenData(c *fiber.Ctx) error {
	town, err := s.publicTown(c)
	if err != nil {
		return err
	}
	m, err := merchant.ParseMonth(c.Query("month"))
	if err != nil {
		return err
	}
	if _, closed, err := s.db.ClosedMonth(c.UserContext(), town, m); err != nil {
		return err
	} else if !closed {
		return errOpenDataNotClosed
	}
	cells, err := s.db.OpenData(c.UserContext(), town, m)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="citycard-open-data-`+m.String()+`.csv"`)
	return c.Send(papers.OpenDataCSV(cells))
}

const reportUsage = `usage: citycard report --month YYYY-MM [--town CODE] [--format json|csv|pdf] [--lang sl|it|en|de] [--out FILE] [--db FILE]

Writes a town's month's report (--town is needed when the database has several towns) from the database file (CITYCARD_DB) to FILE, or to standard
output. A closed month gives its frozen report. The database is opened read-only: nothing
in it is migrated, rebuilt or written, and it may run beside the service.
`

// runReport is "citycard report": a month's report from the database file, for a clerk who
// prefers a terminal or for a cron job.
func runReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var month, format, out, lang, town string
	cfg, fs, err := parseConfig("report", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&month, "month", "", "the month, YYYY-MM (required)")
		fs.StringVar(&town, "town", "", "the town (needed when the database has several)")
		fs.StringVar(&format, "format", "json", "json, csv or pdf")
		fs.StringVar(&out, "out", "", "write to this file instead of standard output")
		fs.StringVar(&lang, "lang", "", "the PDF's language: sl, it, en or de (default: the first of CITYCARD_LANGUAGES)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, reportUsage)
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	m, err := merchant.ParseMonth(month)
	if err != nil {
		fmt.Fprint(stderr, reportUsage)
		return errors.New("--month must be YYYY-MM")
	}
	if format != "json" && format != "csv" && format != "pdf" {
		return errors.New("--format must be json, csv or pdf")
	}
	db, err := storage.OpenReadOnly(ctx, cfg.DB, cfg.Loc)
	if err != nil {
		return err
	}
	defer db.Close()
	if town == "" {
		if codes := db.TownCodes(); len(codes) == 1 {
			town = codes[0]
		} else {
			return fmt.Errorf("the database has the towns %s: name one with --town", strings.Join(codes, ", "))
		}
	} else if _, ok := db.CachedTown(town); !ok {
		return fmt.Errorf("--town %s: no such town in the database", town)
	}
	doc, err := loadReport(ctx, db, town, m)
	if err != nil {
		return err
	}
	o := paperOpts{lang: i18n.NewLocale(cfg.Languages[0])}
	if lang != "" {
		if !card.ValidLang(lang) {
			return errors.New("--lang must be sl, it, en or de")
		}
		o.lang = i18n.NewLocale(lang)
	}
	o.csv = papers.CSVOpts{Table: "merchants", Lang: o.lang, Town: town}
	if format == "pdf" {
		if o.names, err = loadPaperNames(ctx, db, town); err != nil {
			return err
		}
	}
	body, _, _, err := doc.render(format, db.Now(), o)
	if err != nil {
		return err
	}
	if out == "" {
		_, err = stdout.Write(body)
		return err
	}
	return os.WriteFile(out, body, 0o644)
}

// withOpenConflicts adds "open_conflicts" as the last field of a rendered JSON report,
// keeping the order of the others.
func withOpenConflicts(body []byte, n int) ([]byte, error) {
	b := bytes.TrimRight(body, " \n")
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("report JSON does not end in }")
	}
	out := append([]byte{}, b[:len(b)-1]...)
	return append(out, `,"open_conflicts":`+strconv.Itoa(n)+`}`...), nil
}
