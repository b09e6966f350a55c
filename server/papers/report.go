package papers

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/shopspring/decimal"
)

// CSVSafe keeps a spreadsheet from running a cell as a formula (CSV injection): a cell that
// starts with = + - @ (or their full-width forms) or with any control character gets a
// leading apostrophe. Control characters count because spreadsheets skip some of them (a
// leading NUL) and then read the formula behind; names stored before such characters were
// refused may still hold them.
func CSVSafe(s string) string {
	r, _ := utf8.DecodeRuneInString(s)
	if s != "" && (strings.ContainsRune("=+-@＝＋－＠", r) || card.IsControl(r) || unicode.IsControl(r)) {
		return "'" + s
	}
	return s
}

// OpenDataCSV has one row per day and category: date, category, redemptions, cards,
// suppressed. A suppressed cell leaves its counts empty.
func OpenDataCSV(cells []merchant.OpenDataCell) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write([]string{"date", "category", "redemptions", "cards", "suppressed"})
	for _, c := range cells {
		if c.Suppressed {
			w.Write([]string{c.Date, c.Category, "", "", "true"})
			continue
		}
		w.Write([]string{c.Date, c.Category, strconv.Itoa(c.Redemptions), strconv.Itoa(c.Cards), "false"})
	}
	w.Flush()
	return buf.Bytes()
}

// formatMoney writes cents as the contract's decimal amount: "23.50", "-0.05".
func formatMoney(cents int64) string { return decimal.New(cents, -2).StringFixed(2) }

// timeJSON writes a time as the contract does: RFC 3339 in UTC.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }
