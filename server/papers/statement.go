package papers

import (
	"bytes"
	"encoding/csv"

	"github.com/citycard/citycard/merchant"
)

// StatementsCSV is month's statements as CSV: a row per redemption and adjustment, a
// "statement" row with each merchant's figures and a final TOTAL row (RFC 4180, UTF-8).
func StatementsCSV(month merchant.Month, statements []merchant.Statement) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	m := month.String()
	w.Write([]string{"month", "merchant_id", "name", "line", "redemption_id", "created_at", "voided_at", "card_number",
		"amount", "discount", "municipal_share"})
	for _, s := range statements {
		for _, r := range s.Items {
			w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), "redemption", r.ID, timeJSON(r.CreatedAt), "", r.CardNumber,
				formatMoney(r.Amount), formatMoney(r.Discount), formatMoney(r.MunicipalShare)})
		}
		for _, a := range s.Adjustments {
			w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), "adjustment", a.RedemptionID, timeJSON(a.CreatedAt),
				timeJSON(a.VoidedAt), "", formatMoney(a.Amount), formatMoney(a.Discount), formatMoney(a.MunicipalShare)})
		}
		w.Write([]string{m, s.MerchantID, CSVSafe(s.Name), "statement", "", "", "", "", "",
			formatMoney(s.Discount), formatMoney(s.MunicipalShare)})
	}
	w.Write([]string{m, "TOTAL", "", "total", "", "", "", "", "", "", formatMoney(merchant.StatementsTotal(statements))})
	w.Flush()
	return buf.Bytes()
}
