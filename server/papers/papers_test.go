package papers

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
)

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

// longReport is a month whose adjustments have void reasons and merchant names of n
// characters each, rows of them.
func longReport(n, rows int) merchant.Report {
	r := merchant.Report{Month: merchant.Month{Year: 2026, Month: time.October}, Timezone: "Europe/Ljubljana"}
	reason := strings.Repeat("wrong item ", n/11+1)[:n]
	name := strings.Repeat("Gostilna ", n/9+1)[:n]
	for i := 0; i < rows; i++ {
		r.Adjustments.Items = append(r.Adjustments.Items, merchant.Adjustment{RedemptionID: fmt.Sprint("red_", i), MerchantID: "mer_1",
			MerchantName: name, Category: "bar", Product: "koper-72h", Reason: reason, Amount: -100, Discount: -10, MunicipalShare: -5,
			CreatedAt: time.Date(2026, 9, 30, 10, 0, 0, 0, time.UTC), VoidedAt: time.Date(2026, 10, 2, 10, 0, 0, 0, time.UTC)})
		r.Adjustments.Count++
	}
	r.Merchants = []merchant.MerchantLine{{MerchantID: "mer_1", Name: name, Category: "bar"}}
	return r
}

// TestPDFLongTextIsBounded: a void reason and a merchant name of 250,000 characters (a
// closed month would print them forever) make a report and a statement in well under a
// second's work: what a cell prints is capped and measured once, not re-measured a
// character at a time.
func TestPDFLongTextIsBounded(t *testing.T) {
	r := longReport(250_000, 3)
	start := time.Now()
	pdf, err := ReportPDF(r, Meta{Generated: time.Now()}, i18n.NewLocale("sl"), Names{})
	if err != nil {
		t.Fatal(err)
	}
	sts := []merchant.Statement{{MerchantID: "mer_1", Name: r.Merchants[0].Name, MunicipalShare: -15, Adjustments: r.Adjustments.Items}}
	if _, err := StatementsPDF(r.Month, sts, time.UTC, Meta{Generated: time.Now()}, i18n.NewLocale("en"), Names{}, false); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 5*time.Second*raceSlowdown {
		t.Fatalf("two PDFs with 250,000-character texts took %v", took)
	}
	if text := pdfText(t, pdf); !strings.Contains(text, "…") || !strings.Contains(text, "wrong item") {
		t.Errorf("the long reason is not printed cut with an ellipsis:\n%.2000s", text)
	}
}

// BenchmarkReportPDFLongText shows the cost of a report PDF as its texts grow (flat beyond
// what a cell prints) and as its rows grow (linear).
func BenchmarkReportPDFLongText(b *testing.B) {
	for _, tc := range []struct{ chars, rows int }{{100, 10}, {10_000, 10}, {250_000, 10}, {1_000_000, 10}, {100, 100}, {100, 1000}} {
		b.Run(fmt.Sprintf("chars=%d/rows=%d", tc.chars, tc.rows), func(b *testing.B) {
			r := longReport(tc.chars, tc.rows)
			for i := 0; i < b.N; i++ {
				if _, err := ReportPDF(r, Meta{Generated: time.Now()}, i18n.NewLocale("sl"), Names{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPDFClean(t *testing.T) {
	r := string(Replacement)
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"Čevljar €", 10, "Čevljar €"},
		{"a😀b", 10, "a" + r + "b"},
		{"tab\there\nline\x00", 20, "tab here line "},
		{"abcdef", 4, "abc…"},
		{"abcd", 4, "abcd"},
		{"\xff\xfeok", 10, r + r + "ok"},
		{strings.Repeat("x", 1_000_000), 300, strings.Repeat("x", 299) + "…"},
	} {
		if got := pdfClean(tc.in, tc.max); got != tc.want {
			t.Errorf("pdfClean(%.20q, %d) = %.40q, want %.40q", tc.in, tc.max, got, tc.want)
		}
	}
	if !pdfGlyphs.has('Č') || !pdfGlyphs.has('€') || !pdfGlyphs.has('ž') || pdfGlyphs.has(0x1F600) {
		t.Error("the font's character map was not read")
	}
}
