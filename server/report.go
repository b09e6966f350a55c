package main

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/citycard/citycard/merchant"
	"github.com/gofiber/fiber/v2"
)

type countersJSON struct {
	Redemptions    int    `json:"redemptions"`
	CardsUsed      int    `json:"cards_used"`
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	MunicipalShare string `json:"municipal_share"`
}

func toCountersJSON(c merchant.Counters) countersJSON {
	return countersJSON{c.Redemptions, c.CardsUsed, formatMoney(c.Amount), formatMoney(c.Discount), formatMoney(c.MunicipalShare)}
}

type reportJSON struct {
	Month    string `json:"month"`
	Timezone string `json:"timezone"`
	Totals   struct {
		Redemptions    int    `json:"redemptions"`
		Voided         int    `json:"voided"`
		CardsUsed      int    `json:"cards_used"`
		CardsIssued    int    `json:"cards_issued"`
		CardsActivated int    `json:"cards_activated"`
		Amount         string `json:"amount"`
		Discount       string `json:"discount"`
		MunicipalShare string `json:"municipal_share"`
	} `json:"totals"`
	Merchants  []merchantLineJSON `json:"merchants"`
	Categories []categoryLineJSON `json:"categories"`
	Products   []productLineJSON  `json:"products"`
	Days       []dayJSON          `json:"days"`
}

type merchantLineJSON struct {
	MerchantID string `json:"merchant_id"`
	Name       string `json:"name"`
	Category   string `json:"category"`
	countersJSON
}

type categoryLineJSON struct {
	Category string `json:"category"`
	countersJSON
}

type productLineJSON struct {
	Product string `json:"product"`
	countersJSON
}

type dayJSON struct {
	Date        string `json:"date"`
	Redemptions int    `json:"redemptions"`
	Discount    string `json:"discount"`
}

func toReportJSON(r merchant.Report) reportJSON {
	var out reportJSON
	out.Month, out.Timezone = r.Month.String(), r.Timezone
	t := r.Totals
	out.Totals.Redemptions, out.Totals.Voided, out.Totals.CardsUsed = t.Redemptions, t.Voided, t.CardsUsed
	out.Totals.CardsIssued, out.Totals.CardsActivated = t.CardsIssued, t.CardsActivated
	out.Totals.Amount, out.Totals.Discount, out.Totals.MunicipalShare = formatMoney(t.Amount), formatMoney(t.Discount), formatMoney(t.MunicipalShare)
	out.Merchants = make([]merchantLineJSON, len(r.Merchants))
	for i, m := range r.Merchants {
		out.Merchants[i].MerchantID, out.Merchants[i].Name, out.Merchants[i].Category = m.MerchantID, m.Name, m.Category
		out.Merchants[i].countersJSON = toCountersJSON(m.Counters)
	}
	out.Categories = make([]categoryLineJSON, len(r.Categories))
	for i, l := range r.Categories {
		out.Categories[i].Category, out.Categories[i].countersJSON = l.Key, toCountersJSON(l.Counters)
	}
	out.Products = make([]productLineJSON, len(r.Products))
	for i, l := range r.Products {
		out.Products[i].Product, out.Products[i].countersJSON = l.Key, toCountersJSON(l.Counters)
	}
	out.Days = make([]dayJSON, len(r.Days))
	for i, d := range r.Days {
		out.Days[i] = dayJSON{d.Date, d.Redemptions, formatMoney(d.Discount)}
	}
	return out
}

// reportCSV is the report as RFC 4180 CSV (CRLF line ends, UTF-8): one row per merchant and a
// final TOTAL row.
func reportCSV(r merchant.Report) []byte {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	w.Write([]string{"month", "merchant_id", "name", "category", "redemptions", "cards_used", "amount", "discount", "municipal_share"})
	row := func(id, name, cat string, c merchant.Counters) []string {
		return []string{r.Month.String(), id, csvSafe(name), cat, strconv.Itoa(c.Redemptions), strconv.Itoa(c.CardsUsed),
			formatMoney(c.Amount), formatMoney(c.Discount), formatMoney(c.MunicipalShare)}
	}
	for _, m := range r.Merchants {
		w.Write(row(m.MerchantID, m.Name, m.Category, m.Counters))
	}
	w.Write(row("TOTAL", "", "", r.Totals.Counters))
	w.Flush()
	return buf.Bytes()
}

// csvSafe keeps a spreadsheet from running a cell as a formula (CSV injection).
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *server) handleReportMonthly(c *fiber.Ctx) error {
	m, err := merchant.ParseMonth(c.Query("month"))
	if err != nil {
		return err
	}
	format := c.Query("format", "json")
	if format != "json" && format != "csv" {
		return badRequest("format must be json or csv")
	}
	rep, err := s.db.MonthReport(c.UserContext(), m)
	if err != nil {
		return err
	}
	if format == "csv" {
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="citycard-`+m.String()+`.csv"`)
		return c.Send(reportCSV(rep))
	}
	return c.JSON(toReportJSON(rep))
}
