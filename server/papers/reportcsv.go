package papers

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
)

// CSVOpts are the report CSV's options for spreadsheets. Their zero value is the contract's
// CSV: the merchants table, comma-separated, UTF-8 without a byte-order mark.
type CSVOpts struct {
	Table     string         // merchants (default), categories, products, days, adjustments or issuers
	Town      string         // the report's town: the issuer of a month frozen before the network
	Semicolon bool           // ';' between fields, and the language's decimal separator
	BOM       bool           // a UTF-8 byte-order mark first, so Excel reads UTF-8 (not Windows-1250)
	Lang      i18n.Locale    // names of categories and products; decimal separator with semicolon
	Localized bool           // ?lang= was asked for: headers, categories, line kinds and TOTAL in Lang
	Zone      *time.Location // the town's zone, for the statements' local times (nil: UTC)
}

// Excel reports whether the CSV is the spreadsheet variant (a byte-order mark or ';'): its
// file is named …-excel.csv, its times are local and its card numbers are text.
func (o CSVOpts) Excel() bool { return o.BOM || o.Semicolon }

// csvHeaders are the catalogue keys of the CSV columns' localized headers.
var csvHeaders = map[string]string{
	"month": "csv.month", "merchant_id": "csv.merchant_id", "name": "csv.name", "category": "category",
	"redemptions": "redemptions", "cards_used": "cards_used", "amount": "amount", "discount": "discount",
	"municipal_share": "municipal_share", "product": "product", "date": "date", "redemption_id": "csv.redemption_id",
	"reason": "reason", "line": "csv.line", "created_at": "csv.created_at", "voided_at": "csv.voided_at",
	"card_number": "csv.card_number", "redeemed_at": "redeemed_at",
}

// csvNetworkHeaders are those of the network report's columns, in its own catalogue.
var csvNetworkHeaders = map[string]string{"town": "town", "issuer": "issuer", "acceptor": "acceptor", "closed": "closed"}

// head is the header row: the contract's column names, or with Localized their names in
// Lang ("Mese", "Esercente"…). A column "x (zone)" keeps its zone.
func (o CSVOpts) head(cols ...string) []string {
	if !o.Localized {
		return cols
	}
	out := make([]string, len(cols))
	for i, c := range cols {
		name, zone, _ := strings.Cut(c, " (")
		switch {
		case csvHeaders[name] != "":
			name = o.Lang.T(csvHeaders[name])
		case csvNetworkHeaders[name] != "":
			name = o.Lang.Area("network").T(csvNetworkHeaders[name])
		}
		if zone != "" {
			name += " (" + zone
		}
		out[i] = name
	}
	return out
}

// total is the TOTAL row's mark: "TOTAL", or with Localized the language's ("SKUPAJ").
func (o CSVOpts) total() string {
	if o.Localized {
		return o.Lang.T("total")
	}
	return "TOTAL"
}

// category is a category's code, or with Localized its name in Lang.
func (o CSVOpts) category(code string) string {
	if o.Localized {
		return o.Lang.Category(code)
	}
	return code
}

// ReportTables are the tables of the report the CSV gives.
var ReportTables = []string{"merchants", "categories", "products", "days", "adjustments", "issuers"}

// writer starts a CSV document in buf with o's options (a byte-order mark, ';' between fields,
// CRLF line ends) and returns it with the money format that goes with the separator: the
// language's decimal separator beside ';', else the contract's "23.50".
func (o CSVOpts) writer(buf *bytes.Buffer) (*csv.Writer, func(cents int64) string) {
	if o.BOM {
		buf.WriteString("\uFEFF")
	}
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	if o.Semicolon {
		w.Comma = ';'
		return w, o.Lang.Decimal
	}
	return w, formatMoney
}

// ReportCSV is one table of the report as CSV (RFC 4180, CRLF line ends, UTF-8), each
// table ending in a TOTAL row whose figures are the sums of the rows above (for days and
// adjustments; the other tables' totals are the month's, as in the report). Local times are
// in the report's zone, named in the column header. With only Table "merchants" it is the
// contract's CSV.
func ReportCSV(r merchant.Report, o CSVOpts, names Names) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	month := r.Month.String()
	counters := func(c merchant.Counters) []string {
		return []string{strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed), money(c.Amount), money(c.Discount), money(c.MunicipalShare)}
	}
	head := []string{"redemptions", "cards_used", "amount", "discount", "municipal_share"}
	t := r.Totals.Counters
	switch o.Table {
	case "merchants":
		w.Write(o.head(append([]string{"month", "merchant_id", "name", "category"}, head...)...))
		for _, m := range r.Merchants {
			w.Write(append([]string{month, m.MerchantID, CSVSafe(m.Name), o.category(m.Category)}, counters(m.Counters)...))
		}
		w.Write(append([]string{month, o.total(), "", ""}, counters(t)...))
	case "categories", "products":
		key, lines := "category", r.Categories
		name := o.Lang.Category
		if o.Table == "products" {
			key, lines = "product", r.Products
			name = func(code string) string { return o.Lang.ProductName(code, names.Products[code]) }
		}
		w.Write(o.head(append([]string{"month", key, "name"}, head...)...))
		for _, k := range lines {
			w.Write(append([]string{month, k.Key, CSVSafe(name(k.Key))}, counters(k.Counters)...))
		}
		w.Write(append([]string{month, o.total(), ""}, counters(t)...))
	case "days":
		w.Write(o.head("month", "date", "redemptions", "discount"))
		var n int
		var disc int64
		for _, d := range r.Days {
			w.Write([]string{month, d.Date, strconv.Itoa(d.Redemptions), money(d.Discount)})
			n, disc = n+d.Redemptions, disc+d.Discount
		}
		w.Write([]string{month, o.total(), strconv.Itoa(n), money(disc)})
	case "issuers":
		w.Write(o.head(append([]string{"month", "town"}, head...)...))
		for _, l := range r.OwnIssuers(o.Town) {
			w.Write(append([]string{month, l.Town}, counters(l.Counters)...))
		}
		w.Write(append([]string{month, o.total()}, counters(t)...))
	case "adjustments":
		loc := zone(r.Timezone)
		local := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
		w.Write(o.head("month", "redemption_id", "merchant_id", "name", "category", "product",
			"redeemed_at ("+loc.String()+")", "voided_at ("+loc.String()+")", "reason", "amount", "discount", "municipal_share"))
		a := r.Adjustments
		for _, it := range a.Items {
			w.Write([]string{month, it.RedemptionID, it.MerchantID, CSVSafe(it.MerchantName), o.category(it.Category), it.Product,
				local(it.CreatedAt), local(it.VoidedAt), CSVSafe(it.Reason), money(it.Amount), money(it.Discount), money(it.MunicipalShare)})
		}
		w.Write([]string{month, o.total(), "", "", "", "", "", "", "", money(a.Amount), money(a.Discount), money(a.MunicipalShare)})
	}
	w.Flush()
	return buf.Bytes()
}
