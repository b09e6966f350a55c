package papers

import (
	"bytes"
	"fmt"
	"image/png"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/skip2/go-qrcode"
)

// The sales points' papers: a month's statements (CSV and PDF, one page a sales point) and a
// card's receipt for the guest, on an 80 mm receipt printer or on A4.

// SalesStatementsCSV is month m's sales statements as one CSV table (RFC 4180, CRLF): one row
// per sales point and product, a row of each sales point's totals, and a TOTAL row, each the
// sum of the rows above it to the cent.
func SalesStatementsCSV(m merchant.Month, lines []merchant.SalesLine, o CSVOpts) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	head := []string{"month", "sales_point", "name", "product", "cards", "cancelled", "amount", "commission", "owed"}
	if o.Localized {
		l := o.Lang
		head = []string{l.T("csv.month"), l.T("sales.sales_point"), l.T("csv.name"), l.T("product"), l.T("sales.cards"),
			l.T("sales.cancelled"), l.T("amount"), l.T("sales.commission"), l.T("sales.owed")}
	}
	_ = w.Write(head)
	row := func(id, name, product string, f merchant.SalesFigures) []string {
		return []string{m.String(), id, CSVSafe(name), product, strconv.Itoa(f.Cards), strconv.Itoa(f.Cancelled),
			money(f.Amount), money(f.Commission), money(f.Owed())}
	}
	for _, l := range lines {
		for _, p := range l.Products {
			_ = w.Write(row(l.SalesPoint, l.Name, p.Product, p.SalesFigures))
		}
		_ = w.Write(row(l.SalesPoint, l.Name, "", l.SalesFigures))
	}
	_ = w.Write(row(o.total(), "", "", merchant.SalesTotals(lines)))
	w.Flush()
	return buf.Bytes()
}

// SalesStatementsPDF is month m's sales statements: a summary of every sales point, then one
// page a sales point with its cards by product, each table adding up to its total.
func SalesStatementsPDF(m merchant.Month, lines []merchant.SalesLine, loc *time.Location, meta Meta, l i18n.Locale, names Names) ([]byte, error) {
	month := l.MonthYear(m.Year, m.Month)
	title := monthTitle(l, "sales.title", m, names)
	d := newPDF(title, loc, meta, l)
	d.AddPage()
	d.title(title, l.Tf("sales.sub", month))
	d.salesTable(l.T("sales.sales_point"), lines)
	if len(lines) == 0 {
		d.SetFont(pdfFont, "", 9)
		d.CellFormat(pdfWidth, 6, l.T("sales.none"), "", 1, "L", false, 0, "")
	}
	for _, s := range lines {
		d.AddPage() // one sales point a page: each statement is sent on its own
		d.title(monthTitle(l, "sales.statement", m, names, s.Name), s.SalesPoint)
		rows := make([][]string, 0, len(s.Products))
		for _, p := range s.Products {
			rows = append(rows, append([]string{l.ProductName(p.Product, names.Products[p.Product])}, salesFigures(l, p.SalesFigures)...))
		}
		d.table(salesCols(l, l.T("product")), rows, append([]string{l.T("total")}, salesFigures(l, s.SalesFigures)...))
	}
	return d.bytes()
}

// salesFigures are the figures' cells of a sales table.
func salesFigures(l i18n.Locale, f merchant.SalesFigures) []string {
	return []string{l.Count(f.Cards), l.Count(f.Cancelled), l.Money(f.Amount), l.Money(f.Commission), l.Money(f.Owed())}
}

// salesCols are a sales table's columns, the first titled first.
func salesCols(l i18n.Locale, first string) []pdfCol {
	return []pdfCol{{first, 60, "L", true}, {l.T("sales.cards"), 18, "R", false}, {l.T("sales.cancelled"), 22, "R", false},
		{l.T("amount"), 26, "R", false}, {l.T("sales.commission"), 26, "R", false}, {l.T("sales.owed"), 28, "R", false}}
}

// salesTable is one line per sales point and their total (the report's and the statements'
// summary).
func (d *pdfDoc) salesTable(first string, lines []merchant.SalesLine) {
	rows := make([][]string, 0, len(lines))
	for _, s := range lines {
		rows = append(rows, append([]string{s.Name}, salesFigures(d.l, s.SalesFigures)...))
	}
	d.table(salesCols(d.l, first), rows, append([]string{d.l.T("total")}, salesFigures(d.l, merchant.SalesTotals(lines))...))
}

// Receipt papers.
const (
	ReceiptPrinter = "80mm" // a receipt printer's roll: 80 mm wide (72 mm printed)
	ReceiptA4      = "a4"
	receiptW       = 80.0
	receiptMargin  = 4.0
	receiptQR      = 52.0
)

// ReceiptPDF is one card for its guest on paper ReceiptPrinter (a page 80 mm wide, as long
// as its text) or ReceiptA4 (the print sheet's card, alone on a page): the town's card name,
// the product, the QR code of the card's page, the number, validity and activation deadline,
// and the instructions in the card's language (or l's) and the town's languages.
func ReceiptPDF(paper string, sc SheetCard, cardName string, l i18n.Locale, town []string, loc *time.Location, meta Meta) ([]byte, error) {
	if paper == ReceiptA4 {
		return SheetPDF(cardName, []SheetCard{sc}, l, town, loc, meta)
	}
	if paper != ReceiptPrinter {
		return nil, fmt.Errorf("paper %q: want %s or %s", paper, ReceiptPrinter, ReceiptA4)
	}
	c, p := sc.Card, sc.Product
	if card.ValidLang(c.Lang) {
		l = i18n.NewLocale(c.Lang)
	}
	langs := []string{l.Lang()}
	for _, t := range town {
		if t != l.Lang() {
			langs = append(langs, t)
		}
	}
	q, err := qrcode.New(sc.URL, qrcode.Medium)
	if err != nil {
		return nil, fmt.Errorf("QR code of card %s: %w", c.ID, err)
	}
	q.DisableBorder = true
	var qr bytes.Buffer
	if err := png.Encode(&qr, qrGray(q.Bitmap(), 4)); err != nil {
		return nil, err
	}
	// Twice: first on a long page to learn how long the text runs, then on a page that long
	// (a roll is cut where the paper ends).
	draw := func(height float64) (*pdfDoc, float64) {
		d := newPDF(cardName, loc, meta, l)
		d.SetFooterFunc(nil)
		d.SetMargins(receiptMargin, receiptMargin, receiptMargin)
		d.SetAutoPageBreak(false, 0)
		d.AddPageFormat("P", fpdf.SizeType{Wd: receiptW, Ht: height})
		w := receiptW - 2*receiptMargin
		center := func(size float64, style, text string, h float64, lines int) {
			d.SetFont(pdfFont, style, size)
			for _, line := range d.wrap(text, w, lines) {
				d.SetX(receiptMargin)
				d.CellFormat(w, h, line, "", 1, "C", false, 0, "")
			}
		}
		d.SetY(receiptMargin)
		center(13, "B", cardName, 6, 2)
		center(10, "", l.ProductName(p.Code, p.Name), 5, 2)
		y := d.GetY() + 3
		d.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, bytes.NewReader(qr.Bytes()))
		d.ImageOptions("qr", (receiptW-receiptQR)/2, y, receiptQR, receiptQR, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
		d.SetY(y + receiptQR + 3)
		center(15, "B", card.FormatNumber(c.Number), 7, 1)
		center(9, "", validityText(l, p), 4.5, 2)
		center(9, "", l.Tf("sheet.activate_by", l.UntilShort(c.ActivateBy, loc)), 4.5, 2)
		d.Ln(2)
		for _, lang := range langs {
			ll := i18n.NewLocale(lang)
			d.SetFont(pdfFont, "", 7.5)
			for _, line := range d.wrap(strings.ToUpper(lang)+" · "+ll.T("sheet.instructions"), w, 4) {
				d.SetX(receiptMargin)
				d.CellFormat(w, 3.4, line, "", 1, "L", false, 0, "")
			}
			d.Ln(1)
		}
		d.SetFont(pdfFont, "", 7)
		d.SetX(receiptMargin)
		d.CellFormat(w, 4, l.DateTime(c.IssuedAt, loc), "", 1, "C", false, 0, "")
		return d, d.GetY() + receiptMargin
	}
	_, height := draw(400)
	d, _ := draw(height)
	return d.bytes()
}
