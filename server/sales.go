package main

// Sales points (docs/sales-points.md): the office's routes
//
//	POST  /api/v1/sales-points             handleSalesPointCreate
//	GET   /api/v1/sales-points             handleSalesPointList
//	GET   /api/v1/sales-points/:id         handleSalesPointGet
//	PATCH /api/v1/sales-points/:id         handleSalesPointUpdate
//	POST  /api/v1/sales-points/:id/token   handleSalesPointToken
//
// and a sales point's own (its secret, requireSalesPoint)
//
//	GET  /api/v1/sales/me                       handleSalesMe
//	POST /api/v1/sales/cards                    handleSalesCardCreate
//	GET  /api/v1/sales/cards                    handleSalesCardList
//	POST /api/v1/sales/cards/:id/cancel         handleSalesCardCancel
//	GET  /api/v1/sales/cards/:id/receipt.pdf    handleSalesCardReceipt

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// salesPointPrefix starts every sales point's secret.
const salesPointPrefix = "ccs"

type salesPointJSON struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Products   []string `json:"products"`
	Commission string   `json:"commission"`
	Active     bool     `json:"active"`
	Token      string   `json:"token,omitempty"` // only in the answer to the create
	CreatedAt  string   `json:"created_at"`
}

func toSalesPointJSON(p merchant.SalesPoint) salesPointJSON {
	return salesPointJSON{ID: p.ID, Name: p.Name, Products: p.Products, Commission: formatPercent(p.CommissionBP),
		Active: p.Active, CreatedAt: timeJSON(p.CreatedAt)}
}

// salesPointRequest is the body of a create, and of a PATCH decoded over the stored fields.
type salesPointRequest struct {
	Name       string   `json:"name"`
	Products   []string `json:"products"`
	Commission string   `json:"commission"`
	Active     *bool    `json:"active"`
}

// readSalesPoint reads a create body: the API's and the demo's (server/demo.go).
func readSalesPoint(body []byte) (merchant.SalesPoint, error) {
	var req salesPointRequest
	if err := decodeJSON(body, &req, false); err != nil {
		return merchant.SalesPoint{}, err
	}
	if req.Commission == "" {
		req.Commission = "0"
	}
	bp, err := parsePercent("commission", req.Commission)
	if err != nil {
		return merchant.SalesPoint{}, err
	}
	if req.Active != nil && !*req.Active {
		return merchant.SalesPoint{}, badRequest("a sales point is created active")
	}
	return merchant.SalesPoint{Name: req.Name, Products: req.Products, CommissionBP: bp}, nil
}

// handleSalesPointCreate is POST /api/v1/sales-points: 201 with the secret, shown only here.
func (s *server) handleSalesPointCreate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	p, err := readSalesPoint(c.Body())
	if err != nil {
		return err
	}
	token := newSecret(salesPointPrefix)
	sum := sha256.Sum256([]byte(token))
	if err := s.db.CreateSalesPoint(c.UserContext(), town, &p, sum[:]); err != nil {
		return err
	}
	out := toSalesPointJSON(p)
	out.Token = token
	return c.Status(fiber.StatusCreated).JSON(out)
}

// handleSalesPointList is GET /api/v1/sales-points.
func (s *server) handleSalesPointList(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	return sendList(c, func(p storage.Page) ([]merchant.SalesPoint, string, error) {
		return s.db.SalesPoints(c.UserContext(), town, p)
	}, toSalesPointJSON)
}

// handleSalesPointGet is GET /api/v1/sales-points/:id.
func (s *server) handleSalesPointGet(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	p, err := s.db.SalesPoint(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toSalesPointJSON(p))
}

// handleSalesPointUpdate is PATCH /api/v1/sales-points/:id: any of name, products,
// commission, active (false: its secret stops working until it is true again).
func (s *server) handleSalesPointUpdate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	body := bytes.Clone(c.Body())
	var probe salesPointRequest
	if err := decodeJSON(body, &probe, false); err != nil {
		return err
	}
	var bp *int64
	if probe.Commission != "" {
		v, err := parsePercent("commission", probe.Commission)
		if err != nil {
			return err
		}
		bp = &v
	}
	p, err := s.db.UpdateSalesPoint(c.UserContext(), town, c.Params("id"), func(p *merchant.SalesPoint) {
		if probe.Name != "" {
			p.Name = probe.Name
		}
		if probe.Products != nil {
			p.Products = probe.Products
		}
		if bp != nil {
			p.CommissionBP = *bp
		}
		if probe.Active != nil {
			p.Active = *probe.Active
		}
	})
	if err != nil {
		return err
	}
	return c.JSON(toSalesPointJSON(p))
}

// handleSalesPointToken is POST /api/v1/sales-points/:id/token: a new secret; the old one
// stops working at once.
func (s *server) handleSalesPointToken(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	token := newSecret(salesPointPrefix)
	sum := sha256.Sum256([]byte(token))
	if err := s.db.RotateSalesPointToken(c.UserContext(), town, c.Params("id"), sum[:]); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"token": token})
}

// salesPointBySecret finds the sales point whose secret is secret (active or not).
func (s *server) salesPointBySecret(c *fiber.Ctx, secret string) (merchant.SalesPoint, bool, error) {
	if !strings.HasPrefix(secret, salesPointPrefix+"_") {
		return merchant.SalesPoint{}, false, nil
	}
	sum := sha256.Sum256([]byte(secret))
	p, err := s.db.SalesPointByTokenHash(c.UserContext(), sum[:])
	if errors.Is(err, merchant.ErrNotFound) {
		return p, false, nil
	}
	return p, err == nil, err
}

// requireSalesPoint lets only an active sales point's secret through and puts it (and its
// town) in the context: 401 without a valid secret, 403 forbidden for any other role's
// secret and for a sales point that is not active, 429 as for a merchant's key.
func (s *server) requireSalesPoint(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" {
		return s.signinFailed(c)
	}
	p, ok, err := s.salesPointBySecret(c, secret)
	if err != nil {
		return err
	}
	if !ok {
		if other, err := s.otherRole(c, secret); err != nil {
			return err
		} else if other {
			return errForbidden
		}
		return s.signinFailed(c)
	}
	if !p.Active {
		return merchant.ErrSalesPointStopped
	}
	if err := s.limitMerchant(c, p.ID); err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(secret))
	c.Locals("salesPoint", p)
	c.Locals("salesToken", sum[:])
	c.Locals("town", p.Town)
	c.Locals("actor", p.ID)
	c.SetUserContext(storage.WithActor(c.UserContext(), p.ID, requestID(c)))
	return c.Next()
}

// otherRole reports whether secret is the admin token, an office token or a merchant key.
func (s *server) otherRole(c *fiber.Ctx, secret string) (bool, error) {
	if s.isAdmin(secret) {
		return true, nil
	}
	if _, ok, err := s.officeBySecret(c, secret); err != nil || ok {
		return ok, err
	}
	_, ok, err := s.merchantBySecret(c, secret)
	return ok, err
}

func currentSalesPoint(c *fiber.Ctx) (merchant.SalesPoint, []byte) {
	p, _ := c.Locals("salesPoint").(merchant.SalesPoint)
	sum, _ := c.Locals("salesToken").([]byte)
	return p, sum
}

// handleSalesMe is GET /api/v1/sales/me: the sales point, the products it may issue (with
// names and prices) and its town's face, for the counter page.
func (s *server) handleSalesMe(c *fiber.Ctx) error {
	p, _ := currentSalesPoint(c)
	products := []productJSON{}
	for _, code := range p.Products {
		pr, err := s.db.Product(c.UserContext(), p.Town, code)
		if errors.Is(err, card.ErrNoProduct) {
			continue
		} else if err != nil {
			return err
		}
		products = append(products, toProductJSON(pr))
	}
	t, _ := s.db.CachedTown(p.Town)
	return c.JSON(fiber.Map{"sales_point": toSalesPointJSON(p), "products": products,
		"timezone": s.db.TownLoc(p.Town).String(), "town": toTownFaceJSON(t)})
}

// handleSalesCardCreate is POST /api/v1/sales/cards: 201 card, with sales_point; 422
// product_not_allowed for a product the sales point may not issue.
func (s *server) handleSalesCardCreate(c *fiber.Ctx) error {
	var req cardRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Product == "" {
		return badRequest("product is required")
	}
	_, sum := currentSalesPoint(c)
	cd, err := s.db.IssueSale(c.UserContext(), s.keys, sum, req.Product, req.Holder, req.Lang)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.toCardJSON(cd))
}

// handleSalesCardList is GET /api/v1/sales/cards?month=YYYY-MM (default: this month in the
// town's zone): the cards the sales point issued, newest first.
func (s *server) handleSalesCardList(c *fiber.Ctx) error {
	p, _ := currentSalesPoint(c)
	loc := s.db.TownLoc(p.Town)
	m := merchant.MonthOf(s.db.Now(), loc)
	if raw := c.Query("month"); raw != "" {
		var err error
		if m, err = merchant.ParseMonth(raw); err != nil {
			return err
		}
	}
	from, to := m.Range(loc)
	return sendList(c, func(pg storage.Page) ([]card.Card, string, error) {
		return s.db.SalesCards(c.UserContext(), p.ID, from, to, pg)
	}, s.toCardJSON)
}

type cancelRequest struct {
	Reason string `json:"reason"`
}

// handleSalesCardCancel is POST /api/v1/sales/cards/:id/cancel: 200 card, blocked; 409
// cancel_window_over after 30 minutes or any use; 404 for another sales point's card.
func (s *server) handleSalesCardCancel(c *fiber.Ctx) error {
	var req cancelRequest
	if err := decodeJSON(c.Body(), &req, true); err != nil {
		return err
	}
	if utf8.RuneCountInString(req.Reason) > 200 {
		return badRequest("reason must be at most 200 characters")
	}
	_, sum := currentSalesPoint(c)
	cd, err := s.db.CancelSale(c.UserContext(), sum, c.Params("id"), strings.TrimSpace(req.Reason))
	if err != nil {
		return err
	}
	return c.JSON(s.toCardJSON(cd))
}

// salesCard is the sales point's own card id, or card.ErrNotFound (another's: 404).
func (s *server) salesCard(c *fiber.Ctx) (card.Card, error) {
	p, _ := currentSalesPoint(c)
	cd, err := s.db.Card(c.UserContext(), p.Town, c.Params("id"))
	if err == nil && cd.SalesPoint != p.ID {
		return card.Card{}, card.ErrNotFound
	}
	return cd, err
}

// handleSalesCardReceipt is GET /api/v1/sales/cards/:id/receipt.pdf?paper=80mm|a4: one of
// the sales point's cards for its guest, on a receipt printer's roll (default) or A4.
func (s *server) handleSalesCardReceipt(c *fiber.Ctx) error {
	paper := c.Query("paper", papers.ReceiptPrinter)
	if paper != papers.ReceiptPrinter && paper != papers.ReceiptA4 {
		return badRequest("paper must be 80mm or a4")
	}
	cd, err := s.salesCard(c)
	if err != nil {
		return err
	}
	l, err := s.paperLangIn(cd.Town, c.Query("lang"))
	if err != nil {
		return err
	}
	sheet, err := s.loadSheet(c.UserContext(), []card.Card{cd})
	if err != nil {
		return err
	}
	t, _ := s.db.CachedTown(cd.Town)
	body, err := papers.ReceiptPDF(paper, sheet[0], t.CardNameIn(l.Lang()), l, s.townLanguages(cd.Town), s.db.TownLoc(cd.Town),
		papers.Meta{Generated: cd.IssuedAt})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `inline; filename="citycard-`+cd.Number+`.pdf"`)
	return c.Send(body)
}

// salesFiguresJSON are a sales point's (or product's, or the month's) figures.
type salesFiguresJSON struct {
	Cards      int    `json:"cards"`
	Cancelled  int    `json:"cancelled"`
	Amount     string `json:"amount"`
	Commission string `json:"commission"`
	Owed       string `json:"owed"`
}

func toSalesFiguresJSON(f merchant.SalesFigures) salesFiguresJSON {
	return salesFiguresJSON{f.Cards, f.Cancelled, formatMoney(f.Amount), formatMoney(f.Commission), formatMoney(f.Owed())}
}

// salesProductJSON is a sales line's figures of one product.
type salesProductJSON struct {
	Product string `json:"product"`
	salesFiguresJSON
}

// salesLineJSON is one sales point's line of the monthly report (and its statement).
type salesLineJSON struct {
	SalesPoint string `json:"sales_point"`
	Name       string `json:"name"`
	salesFiguresJSON
	Products []salesProductJSON `json:"products"`
}

func toSalesLinesJSON(lines []merchant.SalesLine) []salesLineJSON {
	if lines == nil {
		return nil
	}
	out := make([]salesLineJSON, len(lines))
	for i, l := range lines {
		out[i] = salesLineJSON{SalesPoint: l.SalesPoint, Name: l.Name, salesFiguresJSON: toSalesFiguresJSON(l.SalesFigures),
			Products: make([]salesProductJSON, len(l.Products))}
		for j, p := range l.Products {
			out[i].Products[j] = salesProductJSON{p.Product, toSalesFiguresJSON(p.SalesFigures)}
		}
	}
	return out
}

// fromSalesLinesJSON reads the sales lines of a frozen report back.
func fromSalesLinesJSON(in []salesLineJSON, p *centsParser) []merchant.SalesLine {
	if in == nil {
		return nil
	}
	figures := func(f salesFiguresJSON) merchant.SalesFigures {
		return merchant.SalesFigures{Cards: f.Cards, Cancelled: f.Cancelled, Amount: p.parse(f.Amount), Commission: p.parse(f.Commission)}
	}
	out := make([]merchant.SalesLine, len(in))
	for i, l := range in {
		out[i] = merchant.SalesLine{SalesPoint: l.SalesPoint, Name: l.Name, SalesFigures: figures(l.salesFiguresJSON)}
		for _, pr := range l.Products {
			out[i].Products = append(out[i].Products, merchant.SalesProductLine{Product: pr.Product, SalesFigures: figures(pr.salesFiguresJSON)})
		}
	}
	return out
}

// salesStatementsJSON is the JSON of GET /api/v1/reports/sales-statements.
type salesStatementsJSON struct {
	Month      string           `json:"month"`
	Closed     bool             `json:"closed"`
	Statements []salesLineJSON  `json:"statements"`
	Totals     salesFiguresJSON `json:"totals"`
}

// handleSalesStatements is GET /api/v1/reports/sales-statements?month=…[&format=pdf|csv]:
// each sales point's statement of the month, from the report (a closed month's from its
// frozen report, so the same bytes every time).
func (s *server) handleSalesStatements(c *fiber.Ctx) error {
	p, err := s.loadMonthPaper(c)
	if err != nil {
		return err
	}
	town, m, o, doc := p.town, p.m, p.o, p.doc
	lines := doc.report.Sales
	name := "citycard-sales-" + m.String()
	switch p.format {
	case "csv":
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+csvFilename(name, o.csv)+`"`)
		return c.Send(papers.SalesStatementsCSV(m, lines, o.csv))
	case "pdf":
		meta := papers.Meta{Generated: s.db.Now()}
		if doc.closed != nil {
			meta = papers.Meta{Generated: doc.closed.ClosedAt, Closed: true, SHA256: hex.EncodeToString(doc.closed.SHA256[:])}
		}
		body, err := papers.SalesStatementsPDF(m, lines, s.db.TownLoc(town), meta, o.lang, o.names)
		if err != nil {
			return err
		}
		c.Set(fiber.HeaderContentType, "application/pdf")
		c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+name+`.pdf"`)
		return c.Send(body)
	}
	out := salesStatementsJSON{Month: m.String(), Closed: doc.closed != nil, Statements: toSalesLinesJSON(lines),
		Totals: toSalesFiguresJSON(merchant.SalesTotals(lines))}
	if out.Statements == nil {
		out.Statements = []salesLineJSON{}
	}
	return c.JSON(out)
}

// sellPage is the counter page's shell: its texts in the four languages and the town it
// shows before it signs in.
type sellPage struct {
	V        string
	Messages map[string]map[string]string
	Town     *townFaceJSON
}

// handleSellPage is GET /sell: the sales point's counter page (server/web/sell.html).
func (s *server) handleSellPage(c *fiber.Ctx) error {
	return s.sendPage(c, "sell.html", sellPage{assetVersion, i18n.Catalogue("sell"), s.pageTown(c)})
}
