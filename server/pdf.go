package main

import (
	"bytes"
	_ "embed"
	"fmt"
	"sort"
	"strconv"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
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

// pdfMeta is what a PDF says about where it comes from. A closed month's PDF is dated at its
// close and names its frozen report's SHA-256, so it is the same bytes every time.
type pdfMeta struct {
	generated time.Time
	closed    bool
	sha256    string
}

// pdfDoc wraps fpdf with the layout helpers the reports share.
type pdfDoc struct {
	*fpdf.Fpdf
	loc  *time.Location
	meta pdfMeta
}

const (
	pdfMargin = 15.0
	pdfWidth  = 210 - 2*pdfMargin // A4 portrait
	pdfRow    = 5.5
)

func newPDF(title string, loc *time.Location, meta pdfMeta) *pdfDoc {
	title = pdfClean(title, 200)
	f := fpdf.New("P", "mm", "A4", "")
	// Fixed dates and a sorted catalog: the same input gives the same bytes.
	f.SetCatalogSort(true)
	f.SetCreationDate(meta.generated)
	f.SetModificationDate(meta.generated)
	f.SetTitle(title, true)
	f.SetCreator("citycard", true)
	f.AddUTF8FontFromBytes(pdfFont, "", fontRegular)
	f.AddUTF8FontFromBytes(pdfFont, "B", fontBold)
	f.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	f.SetAutoPageBreak(true, pdfMargin)
	f.AliasNbPages("{nb}")
	d := &pdfDoc{Fpdf: f, loc: loc, meta: meta}
	f.SetFooterFunc(func() {
		f.SetY(-11)
		f.SetFont(pdfFont, "", 7)
		f.SetTextColor(110, 110, 110)
		left := title + " · generated " + d.localTime(meta.generated)
		if meta.closed {
			left = title + " · closed " + d.localTime(meta.generated) + " · report SHA-256 " + meta.sha256
		}
		f.CellFormat(pdfWidth-20, 4, left, "", 0, "L", false, 0, "")
		f.CellFormat(20, 4, fmt.Sprintf("%d / {nb}", f.PageNo()), "", 0, "R", false, 0, "")
		f.SetTextColor(0, 0, 0)
	})
	return d
}

func (d *pdfDoc) localTime(t time.Time) string { return t.In(d.loc).Format("2006-01-02 15:04") }

func (d *pdfDoc) bytes() ([]byte, error) {
	var buf bytes.Buffer
	if err := d.Output(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (d *pdfDoc) title(s, sub string) {
	d.SetFont(pdfFont, "B", 16)
	d.CellFormat(pdfWidth, 9, s, "", 1, "L", false, 0, "")
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
	d.CellFormat(pdfWidth, 7, s, "", 1, "L", false, 0, "")
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
}

// table draws a table with a header row, repeated on every page it runs over. A row whose
// first cell is "TOTAL" is printed in bold.
func (d *pdfDoc) table(cols []pdfCol, rows [][]string) {
	header := func() {
		d.SetFont(pdfFont, "B", 8.5)
		d.SetFillColor(225, 232, 240)
		for _, c := range cols {
			d.CellFormat(c.width, pdfRow+0.5, d.fit(c.title, c.width-2), "B", 0, c.align, true, 0, "")
		}
		d.Ln(-1)
		d.SetFont(pdfFont, "", 8.5)
	}
	d.need(3 * pdfRow)
	header()
	for i, row := range rows {
		_, ph := d.GetPageSize()
		if d.GetY()+pdfRow > ph-pdfMargin-6 {
			d.AddPage()
			header()
		}
		bold := len(row) > 0 && row[0] == "TOTAL"
		if bold {
			d.SetFont(pdfFont, "B", 8.5)
		}
		d.SetFillColor(246, 248, 250)
		for j, c := range cols {
			border := ""
			if bold {
				border = "T"
			}
			d.CellFormat(c.width, pdfRow, d.fit(row[j], c.width-2), border, 0, c.align, i%2 == 1 && !bold, 0, "")
		}
		d.Ln(-1)
		if bold {
			d.SetFont(pdfFont, "", 8.5)
		}
	}
}

// keyValues draws label: value pairs in two columns.
func (d *pdfDoc) keyValues(pairs [][2]string) {
	d.SetFont(pdfFont, "", 10)
	half := pdfWidth / 2
	for i, p := range pairs {
		d.SetFont(pdfFont, "", 10)
		d.CellFormat(half*0.55, 6.5, p[0], "", 0, "L", false, 0, "")
		d.SetFont(pdfFont, "B", 10)
		ln := 0
		if i%2 == 1 || i == len(pairs)-1 {
			ln = 1
		}
		d.CellFormat(half*0.45, 6.5, p[1], "", ln, "L", false, 0, "")
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

// barChart draws one horizontal bar per label with its value written after it.
func (d *pdfDoc) barChart(title string, labels []string, values []float64, texts []string) {
	d.heading(title)
	if len(labels) == 0 {
		d.CellFormat(pdfWidth, pdfRow, "none this month", "", 1, "L", false, 0, "")
		return
	}
	const row = 5.5
	labelW, textW := 55.0, 25.0
	barW := pdfWidth - labelW - textW
	top := maxValue(values)
	d.SetFont(pdfFont, "", 8.5)
	d.SetFillColor(225, 140, 45)
	for i := range labels {
		d.need(row)
		x, y := d.GetXY()
		d.CellFormat(labelW, row, d.fit(labels[i], labelW-2), "", 0, "L", false, 0, "")
		if top > 0 && values[i] > 0 {
			d.Rect(x+labelW, y+1, values[i]/top*barW, row-2, "F")
		}
		d.SetX(x + labelW + barW)
		d.CellFormat(textW, row, texts[i], "", 1, "R", false, 0, "")
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

// euro formats cents for print: "1234.56 €".
func euro(cents int64) string { return formatMoney(cents) + " €" }

func cents(c int64) float64 { return float64(c) / 100 }

// zone loads a report's zone for printing local times (UTC if it is unknown).
func zone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return time.UTC
	}
	return loc
}

// reportPDF is the month's report for the municipality: the totals, charts of redemptions
// per day, discount per category and the top merchants, and tables by merchant, category,
// product and of the adjustments.
func reportPDF(r merchant.Report, meta pdfMeta) ([]byte, error) {
	title := "Monthly report " + r.Month.String()
	d := newPDF(title, zone(r.Timezone), meta)
	d.AddPage()
	sub := "Redemptions of the month in the time zone " + r.Timezone + "; voided ones are left out of every figure."
	if meta.closed {
		sub += " The month is closed: these figures are frozen."
	} else {
		sub += " The month is not closed: figures may still change."
	}
	d.title(title, sub)
	t := r.Totals
	pairs := [][2]string{
		{"Redemptions", strconv.Itoa(t.Redemptions)}, {"Amount", euro(t.Amount)},
		{"Voided", strconv.Itoa(t.Voided)}, {"Discount", euro(t.Discount)},
		{"Cards used", strconv.Itoa(t.CardsUsed)}, {"Municipal share", euro(t.MunicipalShare)},
		{"Cards issued", strconv.Itoa(t.CardsIssued)}, {"Cards activated", strconv.Itoa(t.CardsActivated)},
	}
	if a := r.Adjustments; a.Count > 0 {
		pairs = append(pairs, [2]string{"Adjustments", strconv.Itoa(a.Count)}, [2]string{"of which municipal share", euro(a.MunicipalShare)})
	}
	d.keyValues(pairs)
	if r.Adjustments.Count > 0 {
		d.SetFont(pdfFont, "", 8)
		d.MultiCell(pdfWidth, 4, "Amounts are net of the adjustments: voids, booked this month, of redemptions of months already closed.", "", "L", false)
	}

	labels, values := make([]string, len(r.Days)), make([]float64, len(r.Days))
	for i, day := range r.Days {
		labels[i], values[i] = strconv.Itoa(i+1), float64(day.Redemptions)
	}
	d.columnChart("Redemptions per day", labels, values, func(v float64) string { return strconv.Itoa(int(v)) })

	var cl []string
	var cv []float64
	var ct []string
	for _, c := range r.Categories {
		cl, cv, ct = append(cl, c.Key), append(cv, cents(c.Discount)), append(ct, euro(c.Discount))
	}
	d.barChart("Discount per category", cl, cv, ct)

	top := append([]merchant.MerchantLine(nil), r.Merchants...)
	sort.SliceStable(top, func(i, j int) bool { return top[i].MunicipalShare > top[j].MunicipalShare })
	if len(top) > 10 {
		top = top[:10]
	}
	var ml []string
	var mv []float64
	var mt []string
	for _, m := range top {
		ml, mv, mt = append(ml, m.Name), append(mv, cents(m.MunicipalShare)), append(mt, euro(m.MunicipalShare))
	}
	d.barChart("Top merchants by municipal share", ml, mv, mt)

	d.AddPage()
	d.heading("Merchants")
	rows := make([][]string, 0, len(r.Merchants)+1)
	for _, m := range r.Merchants {
		rows = append(rows, []string{m.Name, m.Category, strconv.Itoa(m.Redemptions), strconv.Itoa(m.CardsUsed),
			euro(m.Amount), euro(m.Discount), euro(m.MunicipalShare)})
	}
	rows = append(rows, []string{"TOTAL", "", strconv.Itoa(t.Redemptions), strconv.Itoa(t.CardsUsed),
		euro(t.Amount), euro(t.Discount), euro(t.MunicipalShare)})
	d.table([]pdfCol{{"Merchant", 46, "L"}, {"Category", 22, "L"}, {"Redemptions", 24, "R"}, {"Cards", 12, "R"},
		{"Amount", 25, "R"}, {"Discount", 23, "R"}, {"Municipal share", 28, "R"}}, rows)

	keyTable := func(title, col string, lines []merchant.KeyLine) {
		d.heading(title)
		rows := make([][]string, 0, len(lines)+1)
		for _, l := range lines {
			rows = append(rows, []string{l.Key, strconv.Itoa(l.Redemptions), strconv.Itoa(l.CardsUsed),
				euro(l.Amount), euro(l.Discount), euro(l.MunicipalShare)})
		}
		rows = append(rows, []string{"TOTAL", strconv.Itoa(t.Redemptions), "", euro(t.Amount), euro(t.Discount), euro(t.MunicipalShare)})
		d.table([]pdfCol{{col, 50, "L"}, {"Redemptions", 24, "R"}, {"Cards", 16, "R"},
			{"Amount", 30, "R"}, {"Discount", 30, "R"}, {"Municipal share", 30, "R"}}, rows)
	}
	keyTable("Categories", "Category", r.Categories)
	keyTable("Products", "Product", r.Products)

	if a := r.Adjustments; a.Count > 0 {
		d.heading("Adjustments")
		rows := make([][]string, 0, len(a.Items)+1)
		for _, it := range a.Items {
			rows = append(rows, []string{d.localTime(it.VoidedAt), it.MerchantName, d.localTime(it.CreatedAt), it.Reason,
				euro(it.Amount), euro(it.Discount), euro(it.MunicipalShare)})
		}
		rows = append(rows, []string{"TOTAL", "", "", "", euro(a.Amount), euro(a.Discount), euro(a.MunicipalShare)})
		d.table([]pdfCol{{"Voided", 27, "L"}, {"Merchant", 40, "L"}, {"Redeemed", 27, "L"}, {"Reason", 26, "L"},
			{"Amount", 20, "R"}, {"Discount", 20, "R"}, {"Share", 20, "R"}}, rows)
	}
	return d.bytes()
}

// statementsPDF is the month's settlement statements: a summary of what the municipality
// owes each merchant, then each merchant's statement with its redemptions and adjustments.
func statementsPDF(st statementSet, meta pdfMeta) ([]byte, error) {
	month := st.doc.report.Month.String()
	title := "Settlement statements " + month
	if len(st.statements) == 1 {
		title = "Settlement statement " + month + " · " + st.statements[0].Name
	}
	d := newPDF(title, st.loc, meta)
	total := merchant.StatementsTotal(st.statements)
	if len(st.statements) != 1 {
		d.AddPage()
		d.title(title, "What the municipality owes each merchant for "+month+": its share of the discounts granted to card holders, net of adjustments.")
		rows := make([][]string, 0, len(st.statements)+1)
		var n int
		var disc int64
		for _, s := range st.statements {
			rows = append(rows, []string{s.Name, strconv.Itoa(s.Redemptions), euro(s.Discount), euro(s.MunicipalShare)})
			n += s.Redemptions
			disc += s.Discount
		}
		rows = append(rows, []string{"TOTAL", strconv.Itoa(n), euro(disc), euro(total)})
		d.table([]pdfCol{{"Merchant", 84, "L"}, {"Redemptions", 26, "R"}, {"Discount", 34, "R"}, {"Owed", 36, "R"}}, rows)
	}
	for _, s := range st.statements {
		d.AddPage()
		d.title("Statement "+month+" · "+s.Name, "Merchant "+s.MerchantID+". Redemptions of "+month+
			" that the municipality co-finances, and voids of earlier, closed months booked in it as adjustments.")
		d.keyValues([][2]string{{"Redemptions", strconv.Itoa(s.Redemptions)}, {"Discount granted", euro(s.Discount)},
			{"Adjustments", strconv.Itoa(len(s.Adjustments))}, {"Owed by the municipality", euro(s.MunicipalShare)}})
		d.heading("Redemptions")
		rows := make([][]string, 0, len(s.Items)+1)
		var items int64
		for _, r := range s.Items {
			rows = append(rows, []string{d.localTime(r.CreatedAt), card.FormatNumber(r.CardNumber), r.Terminal, r.ID,
				euro(r.Amount), euro(r.Discount), euro(r.MunicipalShare)})
			items += r.MunicipalShare
		}
		rows = append(rows, []string{"TOTAL", "", "", "", "", "", euro(items)})
		d.table([]pdfCol{{"Time", 27, "L"}, {"Card", 25, "L"}, {"Terminal", 18, "L"}, {"Redemption", 36, "L"},
			{"Amount", 26, "R"}, {"Discount", 24, "R"}, {"Share", 24, "R"}}, rows)
		if len(s.Adjustments) > 0 {
			d.heading("Adjustments")
			rows := make([][]string, 0, len(s.Adjustments)+1)
			var adj int64
			for _, a := range s.Adjustments {
				rows = append(rows, []string{d.localTime(a.VoidedAt), d.localTime(a.CreatedAt), a.RedemptionID, a.Reason,
					euro(a.Amount), euro(a.Discount), euro(a.MunicipalShare)})
				adj += a.MunicipalShare
			}
			rows = append(rows, []string{"TOTAL", "", "", "", "", "", euro(adj)})
			d.table([]pdfCol{{"Voided", 27, "L"}, {"Redeemed", 27, "L"}, {"Redemption", 36, "L"}, {"Reason", 22, "L"},
				{"Amount", 24, "R"}, {"Discount", 22, "R"}, {"Share", 22, "R"}}, rows)
		}
		d.Ln(3)
		d.SetFont(pdfFont, "B", 11)
		d.CellFormat(pdfWidth, 7, "Owed by the municipality: "+euro(s.MunicipalShare), "", 1, "R", false, 0, "")
		d.SetFont(pdfFont, "", 9)
	}
	return d.bytes()
}
