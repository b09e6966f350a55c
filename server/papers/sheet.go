package papers

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"strconv"
	"strings"
	"time"

	"codeberg.org/go-pdf/fpdf"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
	"github.com/skip2/go-qrcode"
)

// The print sheet: A4 portrait, ten cards of 85.6 × 54 mm (ID-1, a credit card's size) in two
// columns of five, edge to edge, with crop marks in the margins on every cut line. Printing
// happens on the server, in one request, so a batch of 1,000 cards never meets the rate
// limit (a page of 1,000 QR images did: 263 of them broke).
const (
	sheetCardW   = 85.6
	sheetCardH   = 54.0
	sheetCols    = 2
	sheetRows    = 5
	SheetPerPage = sheetCols * sheetRows            // cards on a page
	sheetX0      = (210 - sheetCols*sheetCardW) / 2 // 19.4 mm
	sheetY0      = (297 - sheetRows*sheetCardH) / 2 // 13.5 mm
	sheetPad     = 4.0                              // inside each card, around the QR code
	sheetQR      = 28.0                             // the QR code's side; 4 mm of white around it is its quiet zone
	sheetMark    = 6.0                              // length of a crop mark
	sheetMarkGap = 2.0                              // between a crop mark and the card
)

// sheetCardRect is where card i of a page lies on it (mm from the top left corner).
func sheetCardRect(i int) (x, y, w, h float64) {
	col, row := i%sheetCols, (i/sheetCols)%sheetRows
	return sheetX0 + float64(col)*sheetCardW, sheetY0 + float64(row)*sheetCardH, sheetCardW, sheetCardH
}

// SheetQR is where the QR code of card i of a page lies on it: its top left corner (mm from
// the page's) and its side, for the tests that scan the printed cards again. Its quiet zone
// is 4 mm of white on every side.
func SheetQR(i int) (x, y, side float64) {
	x, y, _, _ = sheetCardRect(i)
	return x + sheetPad, y + sheetPad, sheetQR
}

// SheetCard is one card to print with the product it belongs to.
type SheetCard struct {
	Card    card.Card
	Product card.Product
	URL     string // the URL inside the QR code
}

// SheetPDF prints cards, ten to a page. Each card shows its QR code, its number grouped in
// fours, its product's name, validity and activation deadline in the card's language (or
// lang's, for a card without one), and a line of instructions in that language and in each
// of the town's languages.
func SheetPDF(title string, cards []SheetCard, l i18n.Locale, town []string, loc *time.Location, meta Meta) ([]byte, error) {
	d := newPDF(title, loc, meta, l)
	d.SetFooterFunc(nil)
	d.SetAutoPageBreak(false, 0)
	d.SetMargins(0, 0, 0)
	pages := (len(cards) + SheetPerPage - 1) / SheetPerPage
	enc := &png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: new(pngBuffers)}
	for i, sc := range cards {
		if i%SheetPerPage == 0 {
			d.AddPage()
			d.cropMarks(min(SheetPerPage, len(cards)-i))
			d.SetFont(pdfFont, "", 6)
			d.SetTextColor(120, 120, 120)
			d.Text(sheetX0, 297-3, l.Tf("sheet.page", title, strconv.Itoa(i/SheetPerPage+1), strconv.Itoa(pages)))
			d.SetTextColor(0, 0, 0)
		}
		if err := d.sheetCard(i%SheetPerPage, sc, l, town, enc); err != nil {
			return nil, err
		}
	}
	return d.bytes()
}

// qrGray draws a QR code's modules as a grey image of px pixels a module. Grey, not a
// two-colour palette: fpdf compresses a paletted image's palette with a compressor of its
// own each time, over 1 MB for every card of a sheet.
func qrGray(modules [][]bool, px int) *image.Gray {
	n := len(modules) * px
	img := image.NewGray(image.Rect(0, 0, n, n))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for y, row := range modules {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := 0; dy < px; dy++ {
				off := (y*px+dy)*img.Stride + x*px
				for dx := 0; dx < px; dx++ {
					img.Pix[off+dx] = 0
				}
			}
		}
	}
	return img
}

// pngBuffers keeps one PNG encoder's buffers (its compressor) for the next image.
type pngBuffers struct{ b *png.EncoderBuffer }

func (p *pngBuffers) Get() *png.EncoderBuffer  { return p.b }
func (p *pngBuffers) Put(b *png.EncoderBuffer) { p.b = b }

// cropMarks draws, in the margins, a short line on every cut line of a page holding n cards.
func (d *pdfDoc) cropMarks(n int) {
	rows := (n + sheetCols - 1) / sheetCols
	cols := min(n, sheetCols)
	right, bottom := sheetX0+float64(cols)*sheetCardW, sheetY0+float64(rows)*sheetCardH
	d.SetDrawColor(0, 0, 0)
	d.SetLineWidth(0.15)
	for c := 0; c <= cols; c++ {
		x := sheetX0 + float64(c)*sheetCardW
		d.Line(x, sheetY0-sheetMarkGap-sheetMark, x, sheetY0-sheetMarkGap)
		d.Line(x, bottom+sheetMarkGap, x, bottom+sheetMarkGap+sheetMark)
	}
	for r := 0; r <= rows; r++ {
		y := sheetY0 + float64(r)*sheetCardH
		d.Line(sheetX0-sheetMarkGap-sheetMark, y, sheetX0-sheetMarkGap, y)
		d.Line(right+sheetMarkGap, y, right+sheetMarkGap+sheetMark, y)
	}
}

// SheetCard draws one card in slot i of the page.
func (d *pdfDoc) sheetCard(i int, sc SheetCard, sheetLang i18n.Locale, town []string, enc *png.Encoder) error {
	x, y, w, _ := sheetCardRect(i)
	c, p := sc.Card, sc.Product
	l := sheetLang
	if card.ValidLang(c.Lang) {
		l = i18n.NewLocale(c.Lang)
	}
	q, err := qrcode.New(sc.URL, qrcode.Medium)
	if err != nil {
		return fmt.Errorf("QR code of card %s: %w", c.ID, err)
	}
	q.DisableBorder = true // the card's white margin is the quiet zone
	// 4 pixels a module: sharp at any print size, a few hundred bytes compressed. One encoder
	// for the sheet: png.Encode would allocate a new compressor (over 1 MB) for every card.
	var buf bytes.Buffer
	if err := enc.Encode(&buf, qrGray(q.Bitmap(), 4)); err != nil {
		return err
	}
	name := "qr-" + c.ID
	d.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: "PNG"}, &buf)
	d.ImageOptions(name, x+sheetPad, y+sheetPad, sheetQR, sheetQR, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")

	// Beside the QR code: product, validity, activation deadline, number.
	tx := x + sheetPad + sheetQR + sheetPad
	tw := x + w - sheetPad - tx
	d.SetXY(tx, y+sheetPad)
	d.SetFont(pdfFont, "B", 9.5)
	for _, line := range d.wrap(l.ProductName(p.Code, p.Name), tw, 2) {
		d.SetX(tx)
		d.CellFormat(tw, 4.3, line, "", 1, "L", false, 0, "")
	}
	d.SetFont(pdfFont, "", 7)
	d.SetX(tx)
	d.CellFormat(tw, 3.6, validityText(l, p), "", 1, "L", false, 0, "")
	d.SetX(tx)
	d.CellFormat(tw, 3.6, d.fit(l.Tf("sheet.activate_by", l.UntilShort(c.ActivateBy, d.loc)), tw), "", 1, "L", false, 0, "")
	d.SetFont(pdfFont, "B", 12.5)
	d.SetXY(tx, y+sheetPad+sheetQR-6)
	d.CellFormat(tw, 6, card.FormatNumber(c.Number), "", 0, "L", false, 0, "")

	// Under it: a line in the card's language and one in each other language of the town.
	langs := []string{l.Lang()}
	for _, t := range town {
		if t != l.Lang() {
			langs = append(langs, t)
		}
	}
	iy := y + sheetPad + sheetQR + 3
	iw := w - 2*sheetPad
	for _, lang := range langs {
		ll := i18n.NewLocale(lang)
		text := strings.ToUpper(lang) + " · " + validityText(ll, p) + ". " + ll.T("sheet.instructions")
		d.SetFont(pdfFont, "", 5.6)
		for _, line := range d.wrap(text, iw, 2) {
			if iy > y+sheetCardH-sheetPad+0.5 {
				return nil // the card is full: the town's last languages give way
			}
			d.SetXY(x+sheetPad, iy)
			d.CellFormat(iw, 2.5, line, "", 0, "L", false, 0, "")
			iy += 2.5
		}
		iy += 0.4
	}
	return nil
}

// validityText is how long a card of p lasts once used: "72 hours from first use".
func validityText(l i18n.Locale, p card.Product) string {
	if p.ValidityHours > 0 {
		return l.Tf("sheet.validity_hours", strconv.Itoa(p.ValidityHours))
	}
	return l.Tf("sheet.validity_days", strconv.Itoa(p.ValidityDays))
}
