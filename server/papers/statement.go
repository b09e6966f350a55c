package papers

import (
	"bytes"
	"time"

	"github.com/citycard/citycard/merchant"
)

// StatementsCSV is month's statements as CSV: a row per redemption and adjustment, a
// "statement" row with each merchant's figures and a final TOTAL row (RFC 4180, UTF-8).
// With o's zero value it is the contract's CSV (times in UTC, RFC 3339). The Excel variant
// (o.Excel) writes times in o.Zone ("2026-11-03 14:05:00", the zone named in the header) and
// card numbers as text (="123456789012"), so a spreadsheet keeps all 12 digits; with
// o.Localized headers, line kinds and TOTAL are in o.Lang.
func StatementsCSV(month merchant.Month, statements []merchant.Statement, o CSVOpts) []byte {
	var buf bytes.Buffer
	w, money := o.writer(&buf)
	m := month.String()
	when, cardNumber := timeJSON, func(n string) string { return n }
	created, voided := "created_at", "voided_at"
	if o.Excel() {
		loc := o.Zone
		if loc == nil {
			loc = time.UTC
		}
		when = func(t time.Time) string { return t.In(loc).Format("2006-01-02 15:04:05") }
		created, voided = created+" ("+loc.String()+")", voided+" ("+loc.String()+")"
		cardNumber = func(n string) string {
			if n == "" {
				return ""
			}
			return `="` + n + `"`
		}
	}
	line := func(kind string) string {
		switch {
		case !o.Localized:
			return kind
		case kind == "total":
			return o.total()
		}
		return o.Lang.T("csv.line." + kind)
	}
	w.Write(o.head("month", "merchant_id", "name", "line", "redemption_id", created, voided, "card_number",
		"amount", "discount", "municipal_share"))
	for _, s := range statements {
		for _, r := range s.Items {
			w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), line("redemption"), r.ID, when(r.CreatedAt), "", cardNumber(r.CardNumber),
				money(r.Amount), money(r.Discount), money(r.MunicipalShare)})
		}
		for _, a := range s.Adjustments {
			w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), line("adjustment"), a.RedemptionID, when(a.CreatedAt),
				when(a.VoidedAt), "", money(a.Amount), money(a.Discount), money(a.MunicipalShare)})
		}
		w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), line("statement"), "", "", "", "", "",
			money(s.Discount), money(s.MunicipalShare)})
	}
	w.Write([]string{m, o.total(), "", line("total"), "", "", "", "", "", "", money(merchant.StatementsTotal(statements))})
	w.Flush()
	return buf.Bytes()
}
