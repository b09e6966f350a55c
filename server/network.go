package main

import (
	"encoding/json"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/gofiber/fiber/v2"
)

// handleReportNetwork is GET /api/v1/reports/network?month=[&format=csv|pdf][&lang=] for the
// network admin: every town's report of the month side by side and the clearing between them
// (docs/reports.md, "Money between towns").
func (s *server) handleReportNetwork(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	m, format, err := monthAndFormat(c)
	if err != nil {
		return err
	}
	l, err := s.paperLang(c.Query("lang"))
	if err != nil {
		return err
	}
	var opts papers.CSVOpts
	if format == "csv" {
		if opts, err = parseCSVOptsOf(c, l, papers.NetworkTables); err != nil {
			return err
		}
	}
	n, names, err := s.networkReport(c, m, l)
	if err != nil {
		return err
	}
	name := "citycard-network-" + m.String()
	var body []byte
	switch format {
	case "json":
		if body, err = encodeNetworkReport(n); err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.Send(body)
	case "csv":
		if opts.Table != papers.NetworkTables[0] {
			name += "-" + opts.Table
		}
		body, name = papers.NetworkCSV(n, opts), csvFilename(name, opts)
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	default:
		if body, err = papers.NetworkPDF(n, papers.Meta{Generated: s.db.Now()}, l, names, s.cfg.Loc); err != nil {
			return err
		}
		name += ".pdf"
		c.Set(fiber.HeaderContentType, "application/pdf")
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	return c.Send(body)
}

// networkReport composes month m's network report from every town's report as the town
// serves it (its frozen report once it closed the month), with the towns' names in l's
// language.
func (s *server) networkReport(c *fiber.Ctx, m merchant.Month, l i18n.Locale) (merchant.NetworkReport, map[string]string, error) {
	towns, err := s.db.Towns(c.UserContext())
	if err != nil {
		return merchant.NetworkReport{}, nil, err
	}
	reports := make([]merchant.TownReport, 0, len(towns))
	names := make(map[string]string, len(towns))
	for _, t := range towns {
		doc, err := loadReport(c.UserContext(), s.db, t.Code, m)
		if err != nil {
			return merchant.NetworkReport{}, nil, err
		}
		reports = append(reports, merchant.TownReport{Town: t.Code, Closed: doc.closed != nil, Report: doc.report})
		names[t.Code] = l.ProductName(t.Code, t.Name)
	}
	return merchant.BuildNetworkReport(m, reports), names, nil
}

// totalsJSON are a report's totals, as in the town report's "totals".
type totalsJSON struct {
	Redemptions    int    `json:"redemptions"`
	Voided         int    `json:"voided"`
	CardsUsed      int    `json:"cards_used"`
	CardsIssued    int    `json:"cards_issued"`
	CardsActivated int    `json:"cards_activated"`
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	MunicipalShare string `json:"municipal_share"`
}

func toTotalsJSON(t merchant.Totals) totalsJSON {
	return totalsJSON{t.Redemptions, t.Voided, t.CardsUsed, t.CardsIssued, t.CardsActivated,
		formatMoney(t.Amount), formatMoney(t.Discount), formatMoney(t.MunicipalShare)}
}

type networkTownJSON struct {
	Town   string     `json:"town"`
	Closed bool       `json:"closed"`
	Totals totalsJSON `json:"totals"`
}

type clearingLineJSON struct {
	Issuer   string `json:"issuer"`
	Acceptor string `json:"acceptor"`
	countersJSON
}

// networkReportJSON is the network report of the contract, plus each town's "closed".
type networkReportJSON struct {
	Month    string             `json:"month"`
	Towns    []networkTownJSON  `json:"towns"`
	Clearing []clearingLineJSON `json:"clearing"`
	Totals   totalsJSON         `json:"totals"`
}

func encodeNetworkReport(n merchant.NetworkReport) ([]byte, error) {
	out := networkReportJSON{Month: n.Month.String(), Towns: make([]networkTownJSON, len(n.Towns)),
		Clearing: make([]clearingLineJSON, len(n.Clearing)), Totals: toTotalsJSON(n.Totals)}
	for i, t := range n.Towns {
		out.Towns[i] = networkTownJSON{t.Town, t.Closed, toTotalsJSON(t.Totals)}
	}
	for i, l := range n.Clearing {
		out.Clearing[i] = clearingLineJSON{l.Issuer, l.Acceptor, toCountersJSON(l.Counters)}
	}
	return json.Marshal(out)
}
