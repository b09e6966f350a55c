// Package papers makes every document the service hands out: report, statement, network and
// print-sheet PDFs and CSV tables, as bytes from domain values and a locale; no HTTP, no storage.
package papers

import (
	"bytes"
	_ "embed"
	"sort"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
)

// The PDFs print with DejaVu Sans Condensed, embedded (license in fonts/LICENSE), so € and
// č, š, ž come out right and the binary needs no font files.
var (
	//go:embed fonts/DejaVuSansCondensed.ttf
	fontRegular []byte
	//go:embed fonts/DejaVuSansCondensed-Bold.ttf
	fontBold []byte
)

const pdfFont = "dejavu"

// Meta is what a PDF says about where it comes from. A closed month's PDF is dated at its
// close and names its frozen report's SHA-256, so it is the same bytes every time.
type Meta struct {
	Generated time.Time // when the paper was made: now, or the month's close
	Closed    bool      // a closed month's paper: its footer says so and names SHA256
	SHA256    string    // the frozen report's SHA-256, in hex
}

// pdfDoc wraps fpdf with the layout helpers the papers share, writing in one language.
type pdfDoc struct {
	*fpdf.Fpdf
	loc  *time.Location
	meta Meta
	l    i18n.Locale
}

const (
	pdfMargin = 15.0
	pdfWidth  = 210 - 2*pdfMargin // A4 portrait
	pdfRow    = 5.5               // a table row of one line
	pdfLine   = 3.8               // each line of a wrapped cell
	pdfWrap   = 8                 // the most lines a wrapped cell prints: a 200-character name in full
)

func newPDF(title string, loc *time.Location, meta Meta, l i18n.Locale) *pdfDoc {
	title = pdfClean(title, 200)
	f := fpdf.New("P", "mm", "A4", "")
	// Fixed dates and a sorted catalog: the same input gives the same bytes.
	f.SetCatalogSort(true)
	f.SetCreationDate(meta.Generated)
	f.SetModificationDate(meta.Generated)
	f.SetTitle(title, true)
	f.SetCreator("citycard", true)
	f.AddUTF8FontFromBytes(pdfFont, "", fontRegular)
	f.AddUTF8FontFromBytes(pdfFont, "B", fontBold)
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfMargin)
	f.AliasNbPages("{nb}")
	d := &pdfDoc{Fpdf: f, loc: loc, meta: meta, l: l}
	f.SetFooterFunc(func() {
		d.SetY(-11)
		d.SetFont(pdfFont, "", 7)
		d.SetTextColor(110, 110, 110)
		left := title + " · " + l.Tf("generated", d.localTime(meta.Generated))
		if meta.Closed {
			left = title + " · " + l.Tf("closed_footer", d.localTime(meta.Generated), meta.SHA256)
		}
		d.CellFormat(pdfWidth-20, 4, d.fit(left, pdfWidth-22), "", 0, "L", false, 0, "")
		d.CellFormat(20, 4, l.Tf("page", strconv.Itoa(f.PageNo()), "{nb}"), "", 0, "R", false, 0, "")
		d.SetTextColor(0, 0, 0)
	})
	return d
}

// localTime is a time as the paper's language writes it, in the town's zone.
func (d *pdfDoc) localTime(t time.Time) string { return d.l.DateTime(t, d.loc) }

func (d *pdfDoc) bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d *pdfDoc) title(s, sub string) {
	d.SetFont(pdfFont, "B", 16)
	for _, line := range d.wrap(s, pdfWidth, 3) {
		d.CellFormat(pdfWidth, 8, line, "", 1, "L", false, 0, "")
	}
	d.SetFont(pdfFont, "", 9)
	d.SetTextColor(80, 80, 80)
	d.MultiCell(pdfWidth, 4.5, sub, "", "L", false)
	d.SetTextColor(0, 0, 0)
	d.Ln(3)
}

func (d *pdfDoc) heading(s string) {
	d.need(14)
	d.Ln(2)
	d.SetFont(pdfFont, "B", 11)
	d.CellFormat(pdfWidth, 7, d.fit(s, pdfWidth), "", 1, "L", false, 0, "")
	d.SetFont(pdfFont, "", 9)
}

// need starts a new page unless h millimetres fit on this one.
func (d *pdfDoc) need(h float64) {
	_, ph := d.GetPageSize()
	if d.GetY()+h > ph-pdfMargin-6 {
		d.AddPage()
	}
}

type pdfCol struct {
	title string
	width float64
	align string // L or R
	wrap  bool   // long text wraps onto more lines (names, reasons); else it is cut with "…"
}

// table draws a table with a header row, repeated on every page it runs over, and a bold
// total row if total is not nil. A row is as tall as its longest wrapped cell.
func (d *pdfDoc) table(cols []pdfCol, rows [][]string, total []string) {
	header := make([]string, len(cols))
	for i, c := range cols {
		header[i] = c.title
	}
	d.SetFont(pdfFont, "B", 8.5)
	d.need(d.rowHeight(cols, header, true) + 2*pdfRow)
	d.tableRow(cols, header, true, true, false)
	for i, row := range rows {
		d.SetFont(pdfFont, "", 8.5)
		if d.tableBreak(cols, row) {
			d.SetFont(pdfFont, "B", 8.5)
			d.tableRow(cols, header, true, true, false)
			d.SetFont(pdfFont, "", 8.5)
		}
		d.tableRow(cols, row, false, i%2 == 1, false)
	}
	if total != nil {
		d.SetFont(pdfFont, "B", 8.5)
		if d.tableBreak(cols, total) {
			d.tableRow(cols, header, true, true, false)
		}
		d.tableRow(cols, total, false, false, true)
	}
	d.SetFont(pdfFont, "", 9)
}

// tableBreak starts a new page if row does not fit on this one, and says whether it did.
func (d *pdfDoc) tableBreak(cols []pdfCol, row []string) bool {
	_, ph := d.GetPageSize()
	if d.GetY()+d.rowHeight(cols, row, false) > ph-pdfMargin-6 {
		d.AddPage()
		return true
	}
	return false
}

// cellLines is what a cell prints: its text wrapped or cut to the column.
func (d *pdfDoc) cellLines(c pdfCol, text string, header bool) []string {
	if c.wrap || header {
		return d.wrap(text, c.width-2, pdfWrap)
	}
	return []string{d.fit(text, c.width-2)}
}

func (d *pdfDoc) rowHeight(cols []pdfCol, row []string, header bool) float64 {
	lines := 1
	for j, c := range cols {
		lines = max(lines, len(d.cellLines(c, row[j], header)))
	}
	if lines == 1 {
		return pdfRow
	}
	return float64(lines)*pdfLine + 1.7
}

// tableRow draws one row in the current font: a header (filled, bottom rule), a total (top
// rule) or a body row (filled when shaded).
func (d *pdfDoc) tableRow(cols []pdfCol, row []string, header, shaded, total bool) {
	h := d.rowHeight(cols, row, header)
	x, y := pdfMargin, d.GetY()
	if header {
		d.SetFillColor(225, 232, 240)
	} else {
		d.SetFillColor(246, 248, 250)
	}
	if shaded {
		d.Rect(x, y, pdfWidth, h, "F")
	}
	d.SetDrawColor(0, 0, 0)
	if header {
		d.Line(x, y+h, x+pdfWidth, y+h)
	}
	if total {
		d.Line(x, y, x+pdfWidth, y)
	}
	cx := x
	for j, c := range cols {
		lines := d.cellLines(c, row[j], header)
		if len(lines) == 1 && h == pdfRow {
			d.SetXY(cx, y)
			d.CellFormat(c.width, pdfRow, lines[0], "", 0, c.align, false, 0, "")
		} else {
			for k, line := range lines {
				d.SetXY(cx, y+0.85+float64(k)*pdfLine)
				d.CellFormat(c.width, pdfLine, line, "", 0, c.align, false, 0, "")
			}
		}
		cx += c.width
	}
	d.SetXY(x, y+h)
}

// keyValues draws label: value pairs in two columns.
func (d *pdfDoc) keyValues(pairs [][2]string) {
	half := pdfWidth / 2
	for i, p := range pairs {
		d.SetFont(pdfFont, "", 10)
		d.CellFormat(half*0.55, 6.5, d.fit(p[0], half*0.55-1), "", 0, "L", false, 0, "")
		d.SetFont(pdfFont, "B", 10)
		ln := 0
		if i%2 == 1 || i == len(pairs)-1 {
			ln = 1
		}
		d.CellFormat(half*0.45, 6.5, d.fit(p[1], half*0.45-1), "", ln, "L", false, 0, "")
	}
	d.SetFont(pdfFont, "", 9)
}

// columnChart draws one bar per label, from zero up to its value (negative values show no
// bar), with the largest value written over its bar.
func (d *pdfDoc) columnChart(title string, labels []string, values []float64, format func(float64) string) {
	const h = 45.0
	d.heading(title)
	d.need(h + 8)
	x0, y0 := d.GetX()+10, d.GetY()
	w := pdfWidth - 10
	top := maxValue(values)
	d.SetFont(pdfFont, "", 6.5)
	d.SetDrawColor(150, 150, 150)
	d.Line(x0, y0+h, x0+w, y0+h)
	d.Text(x0-10, y0+3, format(top))
	d.Text(x0-10, y0+h, format(0))
	slot := w / float64(max(len(values), 1))
	d.SetFillColor(46, 111, 171)
	for i, v := range values {
		bh := 0.0
		if top > 0 && v > 0 {
			bh = v / top * (h - 2)
		}
		x := x0 + float64(i)*slot
		if bh > 0 {
			d.Rect(x+slot*0.15, y0+h-bh, slot*0.7, bh, "F")
		}
		lw := d.GetStringWidth(labels[i])
		d.Text(x+(slot-lw)/2, y0+h+3.5, labels[i])
	}
	d.SetDrawColor(0, 0, 0)
	d.SetXY(pdfMargin, y0+h+6)
	d.SetFont(pdfFont, "", 9)
}

// barChart draws one horizontal bar per label (wrapped, never cut) with its value written
// after it.
func (d *pdfDoc) barChart(title string, labels []string, values []float64, texts []string) {
	d.heading(title)
	if len(labels) == 0 {
		d.CellFormat(pdfWidth, pdfRow, d.l.T("none"), "", 1, "L", false, 0, "")
		return
	}
	labelW, textW := 55.0, 28.0
	barW := pdfWidth - labelW - textW
	top := maxValue(values)
	d.SetFont(pdfFont, "", 8.5)
	for i := range labels {
		lines := d.wrap(labels[i], labelW-2, 6)
		h := max(pdfRow, float64(len(lines))*pdfLine+1.7)
		d.need(h)
		x, y := d.GetXY()
		for k, line := range lines {
			d.SetXY(x, y+(h-float64(len(lines))*pdfLine)/2+float64(k)*pdfLine)
			d.CellFormat(labelW, pdfLine, line, "", 0, "L", false, 0, "")
		}
		if top > 0 && values[i] > 0 {
			d.SetFillColor(225, 140, 45)
			d.Rect(x+labelW, y+h/2-(pdfRow-2)/2, values[i]/top*barW, pdfRow-2, "F")
		}
		d.SetXY(x+labelW+barW, y)
		d.CellFormat(textW, h, texts[i], "", 1, "R", false, 0, "")
	}
	d.SetFont(pdfFont, "", 9)
}

func maxValue(vs []float64) float64 {
	top := 0.0
	for _, v := range vs {
		top = max(top, v)
	}
	return top
}

func cents(c int64) float64 { return float64(c) / 100 }

// zone loads a report's zone for printing local times (UTC if it is unknown).
func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Names are the names a paper prints instead of codes and ids: products and offers
// by language, merchants with their address and payment details. They are read as they
// are now, also for a closed month (whose figures are frozen).
type Names struct {
	Products  map[string]map[string]string // by product code
	Offers    map[string]map[string]string // by offer id
	Merchants map[string]merchant.Merchant // by merchant id
	Town      string                       // the paper's town (code)
	Towns     map[string]map[string]string // town names by code, by language
	CardName  map[string]string            // the town's card name by language; none: titles name the town alone
}

// TownLabel is how a paper's title names its town, in l's language: "Koper", or with the
// town's card name "Koper · Koper Card"; "" when the paper has no town.
func (n Names) TownLabel(l i18n.Locale) string {
	if n.Town == "" {
		return ""
	}
	name := l.ProductName(n.Town, n.Towns[n.Town])
	if c := l.ProductName("", n.CardName); c != "" && c != name {
		return name + " · " + c
	}
	return name
}

// monthTitle is a title of key with the month's name ({0}), the town's label (the last
// argument) and args between; without a town, the title ends at the month.
func monthTitle(l i18n.Locale, key string, m merchant.Month, names Names, args ...string) string {
	label := names.TownLabel(l)
	s := l.Tf(key, append(append([]string{l.MonthYear(m.Year, m.Month)}, args...), label)...)
	if label == "" {
		s = strings.TrimSuffix(s, ", ")
	}
	return s
}

// ReportPDF is the month's report for the municipality: the totals, charts of redemptions
// per day, discount per category and the top merchants, and tables by merchant, category,
// product and of the adjustments. Categories and products are printed by name.
func ReportPDF(r merchant.Report, meta Meta, l i18n.Locale, names Names) ([]byte, error) {
	title := monthTitle(l, "report.title", r.Month, names)
	d := newPDF(title, zone(r.Timezone), meta, l)
	d.AddPage()
	sub := l.Tf("report.sub", r.Timezone)
	if meta.Closed {
		sub += " " + l.T("report.closed")
	} else {
		sub += " " + l.T("report.open")
	}
	d.title(title, sub)
	t := r.Totals
	pairs := [][2]string{
		{l.T("redemptions"), l.Count(t.Redemptions)}, {l.T("amount"), l.Money(t.Amount)},
		{l.T("voided"), l.Count(t.Voided)}, {l.T("discount"), l.Money(t.Discount)},
		{l.T("cards_used"), l.Count(t.CardsUsed)}, {l.T("municipal_share"), l.Money(t.MunicipalShare)},
		{l.T("cards_issued"), l.Count(t.CardsIssued)}, {l.T("cards_activated"), l.Count(t.CardsActivated)},
	}
	if a := r.Adjustments; a.Count > 0 {
		pairs = append(pairs, [2]string{l.T("adjustments"), l.Count(a.Count)}, [2]string{l.T("adjustments_share"), l.Money(a.MunicipalShare)})
	}
	d.keyValues(pairs)
	if r.Adjustments.Count > 0 {
		d.SetFont(pdfFont, "", 8)
		d.MultiCell(pdfWidth, 4, l.T("report.net"), "", "L", false)
	}

	labels, values := make([]string, len(r.Days)), make([]float64, len(r.Days))
	for i, day := range r.Days {
		labels[i], values[i] = strconv.Itoa(i+1), float64(day.Redemptions)
	}
	d.columnChart(l.T("chart.days"), labels, values, func(v float64) string { return l.Integer(int64(v)) })

	var cl, ct []string
	var cv []float64
	for _, c := range r.Categories {
		cl, cv, ct = append(cl, l.Category(c.Key)), append(cv, cents(c.Discount)), append(ct, l.Money(c.Discount))
	}
	d.barChart(l.T("chart.categories"), cl, cv, ct)

	top := append([]merchant.MerchantLine(nil), r.Merchants...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].MunicipalShare > top[j].MunicipalShare })
	if len(top) > 10 {
		top = top[:10]
	}
	var ml, mt []string
	var mv []float64
	for _, m := range top {
		ml, mv, mt = append(ml, m.Name), append(mv, cents(m.MunicipalShare)), append(mt, l.Money(m.MunicipalShare))
	}
	d.barChart(l.T("chart.top"), ml, mv, mt)

	d.AddPage()
	d.heading(l.T("merchants"))
	rows := make([][]string, 0, len(r.Merchants))
	for _, m := range r.Merchants {
		rows = append(rows, []string{m.Name, l.Category(m.Category), l.Count(m.Redemptions), l.Count(m.CardsUsed),
			l.Money(m.Amount), l.Money(m.Discount), l.Money(m.MunicipalShare)})
	}
	d.table([]pdfCol{{l.T("merchant"), 44, "L", true}, {l.T("category"), 26, "L", true}, {l.T("redemptions"), 20, "R", false},
		{l.T("cards"), 14, "R", false}, {l.T("amount"), 26, "R", false}, {l.T("discount"), 24, "R", false}, {l.T("municipal_share"), 26, "R", false}},
		rows, []string{l.T("total"), "", l.Count(t.Redemptions), l.Count(t.CardsUsed), l.Money(t.Amount), l.Money(t.Discount), l.Money(t.MunicipalShare)})

	keyTable := func(title, col string, lines []merchant.KeyLine, name func(string) string) {
		d.heading(title)
		rows := make([][]string, 0, len(lines))
		for _, k := range lines {
			rows = append(rows, []string{name(k.Key), l.Count(k.Redemptions), l.Count(k.CardsUsed),
				l.Money(k.Amount), l.Money(k.Discount), l.Money(k.MunicipalShare)})
		}
		d.table([]pdfCol{{col, 54, "L", true}, {l.T("redemptions"), 22, "R", false}, {l.T("cards"), 16, "R", false},
			{l.T("amount"), 30, "R", false}, {l.T("discount"), 28, "R", false}, {l.T("municipal_share"), 30, "R", false}},
			rows, []string{l.T("total"), l.Count(t.Redemptions), "", l.Money(t.Amount), l.Money(t.Discount), l.Money(t.MunicipalShare)})
	}
	keyTable(l.T("categories"), l.T("category"), r.Categories, l.Category)
	keyTable(l.T("products"), l.T("product"), r.Products, func(code string) string { return l.ProductName(code, names.Products[code]) })

	// By issuing town, once a card of another town was used here.
	issuers := r.OwnIssuers(names.Town)
	other := false
	for _, i := range issuers {
		other = other || i.Town != names.Town
	}
	if other {
		rows := make([][]string, 0, len(issuers))
		for _, i := range issuers {
			rows = append(rows, []string{l.ProductName(i.Town, names.Towns[i.Town]), l.Count(i.Redemptions), l.Count(i.CardsUsed),
				l.Money(i.Amount), l.Money(i.Discount), l.Money(i.MunicipalShare)})
		}
		d.heading(nt(l, "by_issuer"))
		d.table([]pdfCol{{nt(l, "issuer"), 54, "L", true}, {l.T("redemptions"), 22, "R", false}, {l.T("cards"), 16, "R", false},
			{l.T("amount"), 30, "R", false}, {l.T("discount"), 28, "R", false}, {l.T("municipal_share"), 30, "R", false}},
			rows, []string{l.T("total"), l.Count(t.Redemptions), l.Count(t.CardsUsed), l.Money(t.Amount), l.Money(t.Discount), l.Money(t.MunicipalShare)})
	}

	if a := r.Adjustments; a.Count > 0 {
		d.heading(l.T("adjustments"))
		rows := make([][]string, 0, len(a.Items))
		for _, it := range a.Items {
			rows = append(rows, []string{d.localTime(it.VoidedAt), it.MerchantName, d.localTime(it.CreatedAt), it.Reason,
				l.Money(it.Amount), l.Money(it.Discount), l.Money(it.MunicipalShare)})
		}
		d.table([]pdfCol{{l.T("voided_at"), 25, "L", true}, {l.T("merchant"), 36, "L", true}, {l.T("redeemed_at"), 25, "L", true},
			{l.T("reason"), 34, "L", true}, {l.T("amount"), 20, "R", false}, {l.T("discount"), 20, "R", false}, {l.T("share"), 20, "R", false}},
			rows, []string{l.T("total"), "", "", "", l.Money(a.Amount), l.Money(a.Discount), l.Money(a.MunicipalShare)})
	}
	if len(r.Sales) > 0 {
		d.heading(l.T("sales.sales_points"))
		d.salesTable(l.T("sales.sales_point"), r.Sales)
	}
	return d.bytes()
}

// StatementsPDF is month m's settlement statements sts (times in loc), compact: a summary
// of what the municipality owes each merchant, then each merchant's statement (name,
// address, tax number, IBAN, and one table of its redemptions, each naming its offer, and
// adjustments), one after the other, a new page only when the next does not fit. Merchants owed nothing
// are left out unless all is set (or a single statement was asked for).
func StatementsPDF(m merchant.Month, sts []merchant.Statement, loc *time.Location, meta Meta, l i18n.Locale, names Names, all bool) ([]byte, error) {
	month := l.MonthYear(m.Year, m.Month)
	title := monthTitle(l, "statements.title", m, names)
	statements := sts
	if len(statements) == 1 {
		title = monthTitle(l, "statement.title", m, names, statements[0].Name)
	}
	leftOut := 0
	if len(statements) != 1 && !all {
		kept := make([]merchant.Statement, 0, len(statements))
		for _, s := range statements {
			if s.MunicipalShare != 0 {
				kept = append(kept, s)
			}
		}
		leftOut, statements = len(statements)-len(kept), kept
	}
	d := newPDF(title, loc, meta, l)
	d.AddPage()
	if len(sts) != 1 {
		d.title(title, l.Tf("statements.sub", month))
		rows := make([][]string, 0, len(statements))
		var n int
		var disc, owed int64
		for _, s := range statements {
			rows = append(rows, []string{s.Name, l.Count(s.Redemptions), l.Money(s.Discount), l.Money(s.MunicipalShare)})
			n, disc, owed = n+s.Redemptions, disc+s.Discount, owed+s.MunicipalShare
		}
		d.table([]pdfCol{{l.T("merchant"), 84, "L", true}, {l.T("redemptions"), 26, "R", false}, {l.T("discount"), 34, "R", false},
			{l.T("owed"), 36, "R", false}}, rows, []string{l.T("total"), l.Count(n), l.Money(disc), l.Money(owed)})
		if leftOut > 0 {
			d.SetFont(pdfFont, "", 8)
			d.CellFormat(pdfWidth, 5, l.Tf("statements.left_out", strconv.Itoa(leftOut)), "", 1, "L", false, 0, "")
		}
	}
	for _, s := range statements {
		if len(sts) != 1 {
			d.AddPage() // one merchant per page: each statement is filed or sent on its own
		}
		d.statement(monthTitle(l, "statement.title", m, names, s.Name), s, names)
	}
	return d.bytes()
}

// statement draws one merchant's statement, headed title, where the page is.
func (d *pdfDoc) statement(title string, s merchant.Statement, names Names) {
	l := d.l
	m := names.Merchants[s.MerchantID]
	d.SetFont(pdfFont, "B", 12)
	for _, line := range d.wrap(title, pdfWidth, 3) {
		d.CellFormat(pdfWidth, 6, line, "", 1, "L", false, 0, "")
	}
	orNone := func(v string) string {
		if v == "" {
			return l.T("not_given")
		}
		return v
	}
	iban := m.IBAN
	if iban != "" {
		iban = merchant.FormatIBAN(iban)
	}
	d.SetFont(pdfFont, "", 8.5)
	d.SetTextColor(60, 60, 60)
	details := l.T("address") + ": " + orNone(m.Address) + " · " + l.T("tax_number") + ": " + orNone(m.TaxNumber) +
		" · " + l.T("iban") + ": " + orNone(iban)
	for _, line := range d.wrap(details, pdfWidth, 3) {
		d.CellFormat(pdfWidth, 4.2, line, "", 1, "L", false, 0, "")
	}
	d.SetTextColor(0, 0, 0)
	d.Ln(1.5)
	rows := make([][]string, 0, len(s.Items)+len(s.Adjustments))
	var amount, discount, share int64
	for _, r := range s.Items {
		rows = append(rows, []string{d.localTime(r.CreatedAt), card.FormatNumber(r.CardNumber), l.Title(names.Offers[r.OfferID], r.OfferID),
			r.Terminal, l.Money(r.Amount), l.Money(r.Discount), l.Money(r.MunicipalShare)})
		amount, discount, share = amount+r.Amount, discount+r.Discount, share+r.MunicipalShare
	}
	for _, a := range s.Adjustments {
		rows = append(rows, []string{d.localTime(a.VoidedAt), "", l.T("adjustment") + " (" + d.localTime(a.CreatedAt) + "): " + a.Reason,
			"", l.Money(a.Amount), l.Money(a.Discount), l.Money(a.MunicipalShare)})
		amount, discount, share = amount+a.Amount, discount+a.Discount, share+a.MunicipalShare
	}
	d.table([]pdfCol{{l.T("time"), 28, "L", true}, {l.T("card"), 25, "L", false}, {l.T("offer"), 41, "L", true},
		{l.T("terminal"), 16, "L", false}, {l.T("amount"), 23, "R", false}, {l.T("discount"), 22, "R", false}, {l.T("share"), 25, "R", false}},
		rows, []string{l.T("total"), "", "", "", l.Money(amount), l.Money(discount), l.Money(share)})
	d.SetFont(pdfFont, "B", 10.5)
	d.need(7)
	d.CellFormat(pdfWidth, 7, l.Tf("owed_total", l.Money(s.MunicipalShare)), "", 1, "R", false, 0, "")
	d.SetFont(pdfFont, "", 9)
}
