package main

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/gofiber/fiber/v2"
)

// csvOpts are the report CSV's options for spreadsheets. Their zero value is the contract's
// CSV: the merchants table, comma-separated, UTF-8 without a byte-order mark.
type csvOpts struct {
	table     string      // merchants (default), categories, products, days, adjustments or issuers
	town      string      // the report's town: the issuer of a month frozen before the network
	semicolon bool        // ';' between fields, and the language's decimal separator
	bom       bool        // a UTF-8 byte-order mark first, so Excel reads UTF-8 (not Windows-1250)
	lang      i18n.Locale // names of categories and products; decimal separator with semicolon
}

// reportTables are the tables of the report the CSV gives.
var reportTables = []string{"merchants", "categories", "products", "days", "adjustments", "issuers"}

// parseCSVOpts reads ?table=, ?sep=, ?bom= (and takes the paper's language). Bad values are
// 400 invalid_request.
func parseCSVOpts(c *fiber.Ctx, l i18n.Locale) (csvOpts, error) {
	return parseCSVOptsOf(c, l, reportTables)
}

// parseCSVOptsOf is parseCSVOpts for a paper whose tables are tables, the first the default.
func parseCSVOptsOf(c *fiber.Ctx, l i18n.Locale, tables []string) (csvOpts, error) {
	o := csvOpts{table: c.Query("table", tables[0]), lang: l}
	valid := false
	for _, t := range tables {
		valid = valid || t == o.table
	}
	if !valid {
		return o, badRequest("table must be %s or %s", strings.Join(tables[:len(tables)-1], ", "), tables[len(tables)-1])
	}
	switch c.Query("sep", "comma") {
	case "comma":
	case "semicolon":
		o.semicolon = true
	default:
		return o, badRequest("sep must be comma or semicolon")
	}
	switch c.Query("bom", "false") {
	case "false":
	case "true":
		o.bom = true
	default:
		return o, badRequest("bom must be true or false")
	}
	return o, nil
}

// writer starts a CSV document in buf with o's options (a byte-order mark, ';' between fields,
// CRLF line ends) and returns it with the money format that goes with the separator: the
// language's decimal separator beside ';', else the contract's "23.50".
func (o csvOpts) writer(buf *bytes.Buffer) (*csv.Writer, func(cents int64) string) {
	if o.bom {
		buf.WriteString("\uFEFF")
	}
	w := csv.NewWriter(buf)
	w.UseCRLF = true
	if o.semicolon {
		w.Comma = ';'
		return w, o.lang.Decimal
	}
	return w, formatMoney
}

// reportCSVTable is one table of the report as CSV (RFC 4180, CRLF line ends, UTF-8), each
// table ending in a TOTAL row whose figures are the sums of the rows above (for days and
// adjustments; the other tables' totals are the month's, as in the report). Local times are
// in the report's zone, named in the column header. With zero opts it is reportCSV.
func reportCSVTable(r merchant.Report, o csvOpts, names paperNames) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	month := r.Month.String()
	counters := func(c merchant.Counters) []string {
		return []string{strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed), money(c.Amount), money(c.Discount), money(c.MunicipalShare)}
	}
	head := []string{"redemptions", "cards_used", "amount", "discount", "municipal_share"}
	t := r.Totals.Counters
	switch o.table {
	case "merchants":
		w.Write(append([]string{"month", "merchant_id", "name", "category"}, head...))
		for _, m := range r.Merchants {
			w.Write(append([]string{month, m.MerchantID, csvSafe(m.Name), m.Category}, counters(m.Counters)...))
		}
		w.Write(append([]string{month, "TOTAL", "", ""}, counters(t)...))
	case "categories", "products":
		key, lines := "category", r.Categories
		name := o.lang.Category
		if o.table == "products" {
			key, lines = "product", r.Products
			name = func(code string) string { return o.lang.ProductName(code, names.products[code]) }
		}
		w.Write(append([]string{"month", key, "name"}, head...))
		for _, k := range lines {
			w.Write(append([]string{month, k.Key, csvSafe(name(k.Key))}, counters(k.Counters)...))
		}
		w.Write(append([]string{month, "TOTAL", ""}, counters(t)...))
	case "days":
		w.Write([]string{"month", "date", "redemptions", "discount"})
		var n int
		var disc int64
		for _, d := range r.Days {
			w.Write([]string{month, d.Date, strconv.Itoa(d.Redemptions), money(d.Discount)})
			n, disc = n+d.Redemptions, disc+d.Discount
		}
		w.Write([]string{month, "TOTAL", strconv.Itoa(n), money(disc)})
	case "issuers":
		w.Write(append([]string{"month", "town"}, head...))
		for _, l := range r.OwnIssuers(o.town) {
			w.Write(append([]string{month, l.Town}, counters(l.Counters)...))
		}
		w.Write(append([]string{month, "TOTAL"}, counters(t)...))
	case "adjustments":
		loc := zone(r.Timezone)
		local := func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
		w.Write([]string{"month", "redemption_id", "merchant_id", "name", "category", "product",
			"redeemed_at (" + loc.String() + ")", "voided_at (" + loc.String() + ")", "reason", "amount", "discount", "municipal_share"})
		a := r.Adjustments
		for _, it := range a.Items {
			w.Write([]string{month, it.RedemptionID, it.MerchantID, csvSafe(it.MerchantName), it.Category, it.Product,
				local(it.CreatedAt), local(it.VoidedAt), csvSafe(it.Reason), money(it.Amount), money(it.Discount), money(it.MunicipalShare)})
		}
		w.Write([]string{month, "TOTAL", "", "", "", "", "", "", "", money(a.Amount), money(a.Discount), money(a.MunicipalShare)})
	}
	w.Flush()
	return buf.Bytes()
}
