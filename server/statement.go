package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type statementJSON struct {
	MerchantID     string           `json:"merchant_id"`
	Name           string           `json:"name"`
	Redemptions    int              `json:"redemptions"`
	Discount       string           `json:"discount"`
	MunicipalShare string           `json:"municipal_share"`
	Items          []redemptionJSON `json:"items"`
	Adjustments    []adjustmentJSON `json:"adjustments"`
}

// statementsJSON is the contract's statements document. report_sha256 ties the statements
// of a closed month to its frozen report (null while the month is open).
type statementsJSON struct {
	Month          string          `json:"month"`
	ReportSHA256   *string         `json:"report_sha256"`
	Statements     []statementJSON `json:"statements"`
	MunicipalShare string          `json:"municipal_share"`
}

// statementSet is a month's statements with the report they come from.
type statementSet struct {
	doc        reportDoc
	statements []merchant.Statement
	loc        *time.Location
}

// loadStatements builds month m's statements from its report (frozen, once closed) and its
// counted redemptions, every merchant's or only one's, read in one snapshot. A statement
// whose figures are not the sums of its items is merchant.ErrLedgerMismatch: it is not served.
//
// Everything is town's: its report, its merchants' redemptions, its zone.
func loadStatements(ctx context.Context, db *storage.DB, town string, m merchant.Month, only *merchant.Merchant) (statementSet, error) {
	id := ""
	if only != nil {
		id = only.ID
	}
	v, err := db.MonthView(ctx, town, m, true, id)
	if err != nil {
		return statementSet{}, err
	}
	doc, err := reportDocOf(m, v)
	if err != nil {
		return statementSet{}, err
	}
	sts := merchant.BuildStatements(doc.report, v.Items, only)
	if err := merchant.CheckStatements(sts); err != nil {
		return statementSet{}, err
	}
	return statementSet{doc, sts, db.TownLoc(town)}, nil
}

func (st statementSet) json() statementsJSON {
	out := statementsJSON{Month: st.doc.report.Month.String(), Statements: make([]statementJSON, len(st.statements)),
		MunicipalShare: formatMoney(merchant.StatementsTotal(st.statements))}
	if st.doc.closed != nil {
		sum := hex.EncodeToString(st.doc.closed.SHA256[:])
		out.ReportSHA256 = &sum
	}
	for i, s := range st.statements {
		js := statementJSON{MerchantID: s.MerchantID, Name: s.Name, Redemptions: s.Redemptions,
			Discount: formatMoney(s.Discount), MunicipalShare: formatMoney(s.MunicipalShare),
			Items: make([]redemptionJSON, len(s.Items)), Adjustments: make([]adjustmentJSON, len(s.Adjustments))}
		for j, r := range s.Items {
			js.Items[j] = toRedemptionJSON(r)
		}
		for j, a := range s.Adjustments {
			js.Adjustments[j] = toAdjustmentJSON(a)
		}
		out.Statements[i] = js
	}
	return out
}

// render gives the statements in format json, csv or pdf. The PDF is in o's language and
// leaves out merchants owed nothing unless all is set.
func (st statementSet) render(format string, now time.Time, o paperOpts, all bool) (body []byte, contentType, filename string, err error) {
	name := "citycard-statements-" + st.doc.report.Month.String()
	if len(st.statements) == 1 {
		name += "-" + st.statements[0].MerchantID
	}
	switch format {
	case "json":
		b, err := json.Marshal(st.json())
		return b, fiber.MIMEApplicationJSON, name + ".json", err
	case "csv":
		csv := o.csv
		csv.Zone = st.loc
		return papers.StatementsCSV(st.doc.report.Month, st.statements, csv), "text/csv; charset=utf-8", csvFilename(name, csv), nil
	case "pdf":
		meta := papers.Meta{Generated: now}
		if cl := st.doc.closed; cl != nil {
			meta = papers.Meta{Generated: cl.ClosedAt, Closed: true, SHA256: hex.EncodeToString(cl.SHA256[:])}
		}
		b, err := papers.StatementsPDF(st.doc.report.Month, st.statements, st.loc, meta, o.lang, o.names, all)
		return b, "application/pdf", name + ".pdf", err
	}
	return nil, "", "", badRequest("format must be json, csv or pdf")
}

// sendStatements answers with month's statements in the ?format= asked for (json default).
func (s *server) sendStatements(c *fiber.Ctx, only *merchant.Merchant) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	m, format, err := monthAndFormat(c)
	if err != nil {
		return err
	}
	all := false
	switch c.Query("all", "false") {
	case "false":
	case "true":
		all = true
	default:
		return badRequest("all must be true or false")
	}
	l, err := s.paperLangIn(town, c.Query("lang"))
	if err != nil {
		return err
	}
	o := paperOpts{lang: l}
	if format == "csv" {
		if o.csv, err = parseExcelOpts(c, papers.CSVOpts{Lang: l}); err != nil {
			return err
		}
	}
	st, err := loadStatements(c.UserContext(), s.db, town, m, only)
	if err != nil {
		return err
	}
	if format == "pdf" {
		if o.names, err = loadPaperNames(c.UserContext(), s.db, town); err != nil {
			return err
		}
	}
	body, ctype, filename, err := st.render(format, s.db.Now(), o, all)
	if err != nil {
		return err
	}
	if st.doc.closed != nil {
		c.Set("X-Report-SHA256", hex.EncodeToString(st.doc.closed.SHA256[:]))
	}
	c.Set(fiber.HeaderContentType, ctype)
	if format != "json" {
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	}
	return c.Send(body)
}

// handleStatementList is the municipality's statements of a month: every merchant's, or
// with ?merchant= one merchant's (404 not_found if there is no such merchant).
func (s *server) handleStatementList(c *fiber.Ctx) error {
	id := c.Query("merchant")
	if id == "" {
		return s.sendStatements(c, nil)
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	m, err := s.db.Merchant(c.UserContext(), town, id)
	if err != nil {
		return err
	}
	return s.sendStatements(c, &m)
}

// handlePosStatements is a merchant's own statement of a month.
func (s *server) handlePosStatements(c *fiber.Ctx) error {
	m := currentMerchant(c)
	return s.sendStatements(c, &m)
}
