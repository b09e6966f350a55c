package papers

import (
	"bytes"
	"strconv"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
)

// NetworkTables are the tables of the network report's CSV, the default first.
var NetworkTables = []string{"clearing", "towns"}

// NetworkCSV is one table of the network report as CSV (RFC 4180, CRLF, UTF-8, with the
// papers' options): "clearing", one row per (issuer, acceptor), or "towns", one row per town;
// each ends in a TOTAL row, the network's totals, which are the sums of the rows above.
func NetworkCSV(n merchant.NetworkReport, o CSVOpts) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	month := n.Month.String()
	counters := func(c merchant.Counters) []string {
		return []string{strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed), money(c.Amount), money(c.Discount), money(c.MunicipalShare)}
	}
	head := []string{"redemptions", "cards_used", "amount", "discount", "municipal_share"}
	switch o.Table {
	case "towns":
		w.Write(o.head(append([]string{"month", "town", "closed"}, head...)...))
		for _, t := range n.Towns {
			w.Write(append([]string{month, t.Town, strconv.FormatBool(t.Closed)}, counters(t.Totals.Counters)...))
		}
		w.Write(append([]string{month, o.total(), ""}, counters(n.Totals.Counters)...))
	default:
		w.Write(o.head(append([]string{"month", "issuer", "acceptor"}, head...)...))
		for _, l := range n.Clearing {
			w.Write(append([]string{month, l.Issuer, l.Acceptor}, counters(l.Counters)...))
		}
		w.Write(append([]string{month, o.total(), ""}, counters(n.Totals.Counters)...))
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

// NetworkPDF is the network report for the towns: the network's totals, a table of the towns'
// totals, the clearing lines, and the clearing matrices (municipal share, discount,
// redemptions) of issuing town × town of redemption with their row and column sums. Towns
// are printed by name (names: code → name in l's language; a code without one prints itself);
// the footer's time is in loc.
func NetworkPDF(n merchant.NetworkReport, meta Meta, l i18n.Locale, names map[string]string, loc *time.Location) ([]byte, error) {
	title := nt(l, "title", l.MonthYear(n.Month.Year, n.Month.Month))
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
