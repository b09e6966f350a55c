package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/gofiber/fiber/v2"
)

// handleReportNetwork is GET /api/v1/reports/network?month=[&format=csv|pdf][&lang=] for the
// network admin: every town's report of the month side by side and the clearing between them
// (docs/reports.md, "Money between towns").
func (s *server) handleReportNetwork(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	m, err := merchant.ParseMonth(c.Query("month"))
	if err != nil {
		return err
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" && format != "pdf" {
		return badRequest("format must be json, csv or pdf")
	}
	l, err := s.paperLang(c.Query("lang"))
	if err != nil {
		return err
	}
	var opts csvOpts
	if format == "csv" {
		if opts, err = parseCSVOptsOf(c, l, networkTables); err != nil {
			return err
		}
	}
	n, names, err := s.networkReport(c, m, l)
	if err != nil {
		return err
	}
	name := "citycard-network-" + m.String()
	var body []byte
	switch format {
	case "json":
		if body, err = encodeNetworkReport(n); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	case "csv":
		if opts.table != networkTables[0] {
			name += "-" + opts.table
		}
		body, name = networkCSV(n, opts), name+".csv"
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	default:
		if body, err = networkPDF(n, pdfMeta{generated: s.db.Now()}, l, names, s.cfg.Loc); err != nil {
			return err
		}
		name += ".pdf"
		c.Set(fiber.HeaderContentType, "application/pdf")
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(body)
}

// networkReport composes month m's network report from every town's report as the town
// serves it (its frozen report once it closed the month), with the towns' names in l's
// language.
func (s *server) networkReport(c *fiber.Ctx, m merchant.Month, l i18n.Locale) (merchant.NetworkReport, map[string]string, error) {
	towns, err := s.db.Towns(c.UserContext())
	if err != nil {
		return merchant.NetworkReport{}, nil, err
	}
	reports := make([]merchant.TownReport, 0, len(towns))
	names := make(map[string]string, len(towns))
	for _, t := range towns {
		doc, err := loadReport(c.UserContext(), s.db, t.Code, m)
		if err != nil {
			return merchant.NetworkReport{}, nil, err
		}
		reports = append(reports, merchant.TownReport{Town: t.Code, Closed: doc.closed != nil, Report: doc.report})
		names[t.Code] = l.ProductName(t.Code, t.Name)
	}
	return merchant.BuildNetworkReport(m, reports), names, nil
}

// totalsJSON are a report's totals, as in the town report's "totals".
type totalsJSON struct {
	Redemptions    int    `json:"redemptions"`
	Voided         int    `json:"voided"`
	CardsUsed      int    `json:"cards_used"`
	CardsIssued    int    `json:"cards_issued"`
	CardsActivated int    `json:"cards_activated"`
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	MunicipalShare string `json:"municipal_share"`
}

func toTotalsJSON(t merchant.Totals) totalsJSON {
	return totalsJSON{t.Redemptions, t.Voided, t.CardsUsed, t.CardsIssued, t.CardsActivated,
		formatMoney(t.Amount), formatMoney(t.Discount), formatMoney(t.MunicipalShare)}
}

type networkTownJSON struct {
	Town   string     `json:"town"`
	Closed bool       `json:"closed"`
	Totals totalsJSON `json:"totals"`
}

type clearingLineJSON struct {
	Issuer   string `json:"issuer"`
	Acceptor string `json:"acceptor"`
	countersJSON
}

// networkReportJSON is the network report of the contract, plus each town's "closed".
type networkReportJSON struct {
	Month    string             `json:"month"`
	Towns    []networkTownJSON  `json:"towns"`
	Clearing []clearingLineJSON `json:"clearing"`
	Totals   totalsJSON         `json:"totals"`
}

func encodeNetworkReport(n merchant.NetworkReport) ([]byte, error) {
	out := networkReportJSON{Month: n.Month.String(), Towns: make([]networkTownJSON, len(n.Towns)),
		Clearing: make([]clearingLineJSON, len(n.Clearing)), Totals: toTotalsJSON(n.Totals)}
	for i, t := range n.Towns {
		out.Towns[i] = networkTownJSON{t.Town, t.Closed, toTotalsJSON(t.Totals)}
	}
	for i, l := range n.Clearing {
		out.Clearing[i] = clearingLineJSON{l.Issuer, l.Acceptor, toCountersJSON(l.Counters)}
	}
	return json.Marshal(out)
}

// networkTables are the tables of the network report's CSV, the default first.
var networkTables = []string{"clearing", "towns"}

// networkCSV is one table of the network report as CSV (RFC 4180, CRLF, UTF-8, with the
// papers' options): "clearing", one row per (issuer, acceptor), or "towns", one row per town;
// each ends in a TOTAL row, the network's totals, which are the sums of the rows above.
func networkCSV(n merchant.NetworkReport, o csvOpts) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	month := n.Month.String()
	counters := func(c merchant.Counters) []string {
		return []string{strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed), money(c.Amount), money(c.Discount), money(c.MunicipalShare)}
	}
	head := []string{"redemptions", "cards_used", "amount", "discount", "municipal_share"}
	switch o.table {
	case "towns":
		w.Write(append([]string{"month", "town", "closed"}, head...))
		for _, t := range n.Towns {
			w.Write(append([]string{month, t.Town, strconv.FormatBool(t.Closed)}, counters(t.Totals.Counters)...))
		}
		w.Write(append([]string{month, "TOTAL", ""}, counters(n.Totals.Counters)...))
	default:
		w.Write(append([]string{"month", "issuer", "acceptor"}, head...))
		for _, l := range n.Clearing {
			w.Write(append([]string{month, l.Issuer, l.Acceptor}, counters(l.Counters)...))
		}
		w.Write(append([]string{month, "TOTAL", ""}, counters(n.Totals.Counters)...))
	}
	w.Flush()
	return buf.Bytes()
}

// nt is the network report's text of key in l's language (the "network" catalogue), with
// {0}, {1}… replaced by args.
func nt(l i18n.Locale, key string, args ...string) string {
	return l.Area("network").Tf(key, args...)
}

// networkMatrixColumns is how many towns of redemption one matrix table shows side by side;
// more make another table below, so the amounts stay legible on A4.
const networkMatrixColumns = 6

// networkPDF is the network report for the towns: the network's totals, a table of the towns'
// totals, the clearing lines, and the clearing matrices (municipal share, discount,
// redemptions) of issuing town × town of redemption with their row and column sums. Towns
// are printed by name (names: code → name in l's language; a code without one prints itself);
// the footer's time is in loc.
func networkPDF(n merchant.NetworkReport, meta pdfMeta, l i18n.Locale, names map[string]string, loc *time.Location) ([]byte, error) {
	title := nt(l, "title", n.Month.String())
	d := newPDF(title, loc, meta, l)
	d.AddPage()
	d.title(title, nt(l, "sub"))
	name := func(code string) string {
		if s := names[code]; s != "" {
			return s
		}
		return code
	}
	t := n.Totals
	d.keyValues([][2]string{
		{l.T("redemptions"), l.Count(t.Redemptions)}, {l.T("amount"), l.Money(t.Amount)},
		{l.T("voided"), l.Count(t.Voided)}, {l.T("discount"), l.Money(t.Discount)},
		{l.T("cards_used"), l.Count(t.CardsUsed)}, {l.T("municipal_share"), l.Money(t.MunicipalShare)},
		{l.T("cards_issued"), l.Count(t.CardsIssued)}, {l.T("cards_activated"), l.Count(t.CardsActivated)},
	})
	d.SetFont(pdfFont, "", 8)
	d.MultiCell(pdfWidth, 4, nt(l, "cards_note"), "", "L", false)

	d.heading(nt(l, "towns"))
	rows := make([][]string, 0, len(n.Towns))
	for _, tt := range n.Towns {
		state := nt(l, "open")
		if tt.Closed {
			state = nt(l, "closed")
		}
		c := tt.Totals
		rows = append(rows, []string{name(tt.Town), state, l.Count(c.Redemptions), l.Count(c.CardsUsed),
			l.Money(c.Amount), l.Money(c.Discount), l.Money(c.MunicipalShare)})
	}
	d.table([]pdfCol{{nt(l, "town"), 36, "L", true}, {nt(l, "month_state"), 20, "L", false}, {l.T("redemptions"), 26, "R", false},
		{l.T("cards"), 14, "R", false}, {l.T("amount"), 28, "R", false}, {l.T("discount"), 26, "R", false}, {l.T("municipal_share"), 30, "R", false}},
		rows, []string{l.T("total"), "", l.Count(t.Redemptions), l.Count(t.CardsUsed), l.Money(t.Amount), l.Money(t.Discount), l.Money(t.MunicipalShare)})

	d.heading(nt(l, "clearing"))
	d.SetFont(pdfFont, "", 8)
	d.MultiCell(pdfWidth, 4, nt(l, "clearing_note"), "", "L", false)
	d.Ln(1)
	if len(n.Clearing) == 0 {
		d.SetFont(pdfFont, "", 9)
		d.MultiCell(pdfWidth, 5, nt(l, "none"), "", "L", false)
		return d.bytes()
	}
	rows = rows[:0]
	for _, c := range n.Clearing {
		rows = append(rows, []string{name(c.Issuer), name(c.Acceptor), l.Count(c.Redemptions), l.Count(c.CardsUsed),
			l.Money(c.Amount), l.Money(c.Discount), l.Money(c.MunicipalShare)})
	}
	d.table([]pdfCol{{nt(l, "issuer"), 30, "L", true}, {nt(l, "acceptor"), 30, "L", true}, {l.T("redemptions"), 26, "R", false},
		{l.T("cards"), 14, "R", false}, {l.T("amount"), 28, "R", false}, {l.T("discount"), 26, "R", false}, {l.T("municipal_share"), 26, "R", false}},
		rows, []string{l.T("total"), "", l.Count(t.Redemptions), l.Count(t.CardsUsed), l.Money(t.Amount), l.Money(t.Discount), l.Money(t.MunicipalShare)})

	// The matrices list every town, as issuer and as acceptor, so a town with nothing to
	// clear shows its empty row and column rather than vanishing.
	var codes []string
	seen := map[string]bool{}
	for _, tt := range n.Towns {
		codes, seen[tt.Town] = append(codes, tt.Town), true
	}
	for _, c := range n.Clearing {
		for _, code := range []string{c.Issuer, c.Acceptor} {
			if !seen[code] {
				codes, seen[code] = append(codes, code), true
			}
		}
	}
	cell := map[[2]string]merchant.Counters{}
	for _, c := range n.Clearing {
		cell[[2]string{c.Issuer, c.Acceptor}] = c.Counters
	}
	byIssuer, byAcceptor := n.ClearingSums()
	for _, mx := range []struct {
		title string
		value func(merchant.Counters) string
	}{
		{l.T("municipal_share"), func(c merchant.Counters) string { return l.Money(c.MunicipalShare) }},
		{l.T("discount"), func(c merchant.Counters) string { return l.Money(c.Discount) }},
		{l.T("redemptions"), func(c merchant.Counters) string { return l.Count(c.Redemptions) }},
	} {
		d.need(40) // the heading and the start of its table on one page
		d.heading(nt(l, "matrix", mx.title))
		for from := 0; from < len(codes); from += networkMatrixColumns {
			cols := codes[from:min(from+networkMatrixColumns, len(codes))]
			last := from+networkMatrixColumns >= len(codes)
			ncols := len(cols)
			if last {
				ncols++ // the row sums
			}
			w := (pdfWidth - 36) / float64(ncols)
			pc := []pdfCol{{nt(l, "issuer") + " \\ " + nt(l, "acceptor"), 36, "L", true}}
			for _, a := range cols {
				pc = append(pc, pdfCol{name(a), w, "R", false})
			}
			if last {
				pc = append(pc, pdfCol{l.T("total"), w, "R", false})
			}
			var rows [][]string
			for _, i := range codes {
				row := []string{name(i)}
				for _, a := range cols {
					row = append(row, mx.value(cell[[2]string{i, a}]))
				}
				if last {
					row = append(row, mx.value(byIssuer[i]))
				}
				rows = append(rows, row)
			}
			total := []string{l.T("total")}
			for _, a := range cols {
				total = append(total, mx.value(byAcceptor[a]))
			}
			if last {
				total = append(total, mx.value(t.Counters))
			}
			d.table(pc, rows, total)
			d.Ln(2)
		}
	}
	return d.bytes()
}
