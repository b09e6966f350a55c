package main

import (
	"context"
	"fmt"
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// rasterize renders the pages of a PDF at dpi with pdftoppm (Debian's poppler-utils, like
// pdftotext), every page or only page (from 1), and returns the pages' PGM files in order.
func rasterize(t *testing.T, pdf []byte, dpi, page int) []string {
	t.Helper()
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("pdftoppm is missing: run .ci/install-pdf-tools")
		}
		t.Skip("pdftoppm (poppler-utils) is not installed")
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	// Raw PGM: no compression to write or read back, the cheapest way from poppler to Go.
	args := []string{"-r", fmt.Sprint(dpi), "-gray"}
	if page > 0 {
		args = append(args, "-f", fmt.Sprint(page), "-l", fmt.Sprint(page))
	}
	out, err := exec.Command("pdftoppm", append(args, in, filepath.Join(dir, "page"))...).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page-*.pgm"))
	sort.Strings(pages) // pdftoppm pads the page numbers to the same width
	return pages
}

// decodeCard reads the QR code of card slot i of a rasterized page with gozxing, an
// independent decoder, aiming at the code's square and quiet zone as a scanner would.
func decodeCard(img *image.Gray, i, dpi int) (string, error) {
	px := func(mm float64) int { return int(mm / 25.4 * float64(dpi)) }
	x, y, side := papers.SheetQR(i)
	x, y = x-3, y-3
	crop := img.SubImage(image.Rect(px(x), px(y), px(x+side+6), px(y+side+6)))
	bmp, err := gozxing.NewBinaryBitmapFromImage(crop)
	if err != nil {
		return "", err
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		// gozxing's finder-pattern search misses about 1 in 80 of go-qrcode's symbols even
		// in a pristine PNG (data that looks like a finder pattern); the crop is the bare,
		// upright code in its quiet zone, so it may be read as such. Every module is still
		// sampled, decoded and error-corrected.
		res, err = qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true})
	}
	if err != nil {
		return "", err
	}
	return res.GetText(), nil
}

// decodeSheet decodes every card of a print sheet of n cards: pages rasterized at dpi, a
// page with a card that does not read at dpi once more at 2×dpi. It returns the texts in
// print order, "" for a card that never read.
func decodeSheet(t *testing.T, pdf []byte, n, dpi int) []string {
	t.Helper()
	pages := rasterize(t, pdf, dpi, 0)
	if want := (n + papers.SheetPerPage - 1) / papers.SheetPerPage; len(pages) != want {
		t.Fatalf("%d pages, want %d", len(pages), want)
	}
	out := make([]string, n)
	var mu sync.Mutex
	var retry []int
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range work {
				img, err := readPGM(pages[p])
				if err != nil {
					t.Error(err)
					continue
				}
				failed := false
				for i := 0; i < papers.SheetPerPage && p*papers.SheetPerPage+i < n; i++ {
					text, err := decodeCard(img, i, dpi)
					out[p*papers.SheetPerPage+i] = text
					failed = failed || err != nil
				}
				if failed {
					mu.Lock()
					retry = append(retry, p)
					mu.Unlock()
				}
			}
		}()
	}
	for p := range pages {
		work <- p
	}
	close(work)
	wg.Wait()
	for _, p := range retry {
		img, err := readPGM(rasterize(t, pdf, 2*dpi, p+1)[0])
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < papers.SheetPerPage && p*papers.SheetPerPage+i < n; i++ {
			if out[p*papers.SheetPerPage+i] == "" {
				out[p*papers.SheetPerPage+i], _ = decodeCard(img, i, 2*dpi)
			}
		}
	}
	t.Logf("%d of %d pages read again at %d dpi", len(retry), len(pages), 2*dpi)
	return out
}

// readPGM reads a binary (P5) 8-bit PGM file, as pdftoppm -gray writes it.
func readPGM(path string) (*image.Gray, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var w, h, maxv int
	var magic string
	n, err := fmt.Sscan(string(b[:min(len(b), 64)]), &magic, &w, &h, &maxv) // Sscan takes newlines as spaces
	if err != nil || n != 4 || magic != "P5" || maxv != 255 {
		return nil, fmt.Errorf("%s: not an 8-bit binary PGM", path)
	}
	// The header ends after the single whitespace that follows maxval.
	pix := b[len(b)-w*h:]
	return &image.Gray{Pix: pix, Stride: w, Rect: image.Rect(0, 0, w, h)}, nil
}

// TestSheetThousandCards prints a batch of 1,000 cards in one request and decodes the QR code
// of every card on the sheet: each must be that card's qr_url, in the batch's order.
func TestSheetThousandCards(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and decodes 100 pages")
	}
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	b := ts.mustBatch("koper-72h", 1000, "Hotel Histria, June")
	start := time.Now()
	resp := ts.must(200, "GET", "/api/v1/batches/"+b.Batch.ID+"/sheet.pdf", "", asAdmin, nil)
	made := time.Since(start)
	if ct := resp.header.Get("Content-Type"); ct != "application/pdf" {
		t.Fatalf("Content-Type %q", ct)
	}
	// How long it takes is BenchmarkSheetPDF1000's to say, not a timed test's (-race is 10x slower).
	t.Logf("1,000 cards: %d pages expected, PDF of %d bytes made in %v", 100, len(resp.body), made)
	start = time.Now()
	got := decodeSheet(t, resp.body, 1000, 150)
	t.Logf("rasterized and decoded in %v", time.Since(start))
	bad := 0
	for i, c := range b.Cards {
		if got[i] != c.QRURL {
			bad++
			if bad <= 5 {
				t.Errorf("card %d (%s): QR code reads %q, want %q", i+1, c.Number, got[i], c.QRURL)
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d of 1000 QR codes wrong or unreadable", bad)
	}
}

// TestSheetRequests: the sheet of a list of cards (in the order given), of a batch by either
// route, and every bad request a clear 4xx.
func TestSheetRequests(t *testing.T) {
	ts := newTestServer(t)
	ts.mustProduct("koper-72h", 72, "tourist")
	ts.mustProduct("koper-week", -7, "tourist")
	b := ts.mustBatch("koper-72h", 3, "Hotel Histria, June")
	en := ts.mustCard("koper-week", "", "en")
	de := ts.mustCard("koper-72h", "", "de")
	noLang := ts.mustCard("koper-72h", "", "")

	resp := ts.must(200, "GET", "/api/v1/cards/sheet.pdf?ids="+en.ID+","+de.ID+","+noLang.ID+","+b.Cards[2].ID, "", asAdmin, nil)
	if ct, cd := resp.header.Get("Content-Type"), resp.header.Get("Content-Disposition"); ct != "application/pdf" || !strings.Contains(cd, "attachment") {
		t.Fatalf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	got := decodeSheet(t, resp.body, 4, 150)
	for i, c := range []cardJSON{en, de, noLang, b.Cards[2]} {
		if got[i] != c.QRURL {
			t.Errorf("card %d reads %q, want %q", i, got[i], c.QRURL)
		}
	}
	text := pdfText(t, resp.body)
	for _, want := range []string{
		fmtNumber(en.Number), fmtNumber(de.Number), fmtNumber(noLang.Number),
		"Card koper-week", "7 days from first use", "Activate by 15 Oct 2027", // the card's language
		"Karte koper-72h", "72 Stunden ab der ersten Nutzung", "Aktivieren bis 15.10.2027",
		"Kartica koper-72h", "Aktivirajte do 15. 10. 2027", // no language: the town's own
		"Carta koper-72h", "Da attivare entro il 15/10/2027", // the batch is Italian
		"SL · 72 ur od prve uporabe", "IT · 72 ore dal primo utilizzo", // the town's languages on every card
		"Kodo QR pokažite na blagajni", "Mostra il codice QR alla cassa",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the sheet lacks %q:\n%s", want, text)
		}
	}
	// Ids as a person types them, with spaces after the commas.
	ts.must(200, "GET", "/api/v1/cards/sheet.pdf?ids="+de.ID+",%20"+en.ID, "", asAdmin, nil)
	// ?lang= is the language of cards without one.
	text = pdfText(t, ts.must(200, "GET", "/api/v1/cards/sheet.pdf?lang=en&ids="+noLang.ID, "", asAdmin, nil).body)
	if !strings.Contains(text, "Activate by 15 Oct 2027") || !strings.Contains(text, "SL · 72 ur") {
		t.Errorf("lang=en sheet:\n%s", text)
	}
	for _, path := range []string{"/api/v1/batches/" + b.Batch.ID + "/sheet.pdf", "/api/v1/cards/sheet.pdf?batch=" + b.Batch.ID} {
		got := decodeSheet(t, ts.must(200, "GET", path, "", asAdmin, nil).body, 3, 150)
		for i, c := range b.Cards {
			if got[i] != c.QRURL {
				t.Errorf("%s: card %d reads %q, want %q", path, i, got[i], c.QRURL)
			}
		}
	}

	many := make([]string, 1001)
	for i := range many {
		many[i] = de.ID
	}
	for _, tc := range []struct {
		path   string
		status int
		code   string
	}{
		{"/api/v1/cards/sheet.pdf", 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=", 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=" + de.ID + ",", 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=" + strings.Join(many, ","), 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=" + de.ID + "&batch=" + b.Batch.ID, 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=" + de.ID + "&lang=fr", 400, "invalid_request"},
		{"/api/v1/cards/sheet.pdf?ids=" + de.ID + ",crd_nosuchcard", 404, "card_not_found"},
		{"/api/v1/cards/sheet.pdf?batch=bat_nosuchbatch", 404, "not_found"},
		{"/api/v1/batches/bat_nosuchbatch/sheet.pdf", 404, "not_found"},
		{"/api/v1/batches/" + b.Batch.ID + "/sheet.pdf?lang=xx", 400, "invalid_request"},
	} {
		resp := ts.do("GET", tc.path, "", asAdmin)
		if resp.status != tc.status || resp.errorCode(t) != tc.code {
			t.Errorf("GET %.120s: %d %s, want %d %s", tc.path, resp.status, resp.body, tc.status, tc.code)
		}
	}
	// 1,000 ids fit in one request line.
	resp = ts.must(200, "GET", "/api/v1/cards/sheet.pdf?ids="+strings.Join(many[:1000], ","), "", asAdmin, nil)
	if n := strings.Count(string(resp.body), "/Type /Page\n"); n != 100 {
		t.Errorf("1,000 ids: %d pages, want 100", n)
	}
}

func fmtNumber(n string) string { return n[:4] + " " + n[4:8] + " " + n[8:] }

// BenchmarkSheetPDF1000 makes the print sheet of 1,000 cards (no database): time, bytes
// allocated and the PDF's size.
func BenchmarkSheetPDF1000(b *testing.B) {
	ts := newTestServer(b)
	ts.mustProduct("koper-72h", 72, "tourist")
	var out batchAnswer
	ts.must(201, "POST", "/api/v1/cards/batch", `{"product":"koper-72h","count":1000}`, asAdmin, &out)
	_, cards, err := ts.db.BatchCards(context.Background(), "koper", out.Batch.ID)
	if err != nil {
		b.Fatal(err)
	}
	sheet, err := ts.s.loadSheet(context.Background(), cards)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		pdf, err := papers.SheetPDF("Hotel Histria", sheet, i18n.NewLocale("sl"), []string{"sl", "it"}, testLoc, papers.Meta{Generated: testNow})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(pdf)), "pdf-bytes")
	}
}
