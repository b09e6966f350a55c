package main

import (
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type productRequest struct {
	Code                   string            `json:"code"`
	Name                   map[string]string `json:"name"`
	ValidityHours          *int              `json:"validity_hours"`
	ValidityDays           *int              `json:"validity_days"`
	Price                  string            `json:"price"`
	Audience               string            `json:"audience"`
	ActivationDeadlineDays *int              `json:"activation_deadline_days"`
	Towns                  []string          `json:"towns"`
}

type productJSON struct {
	Code                   string            `json:"code"`
	Town                   string            `json:"town,omitempty"` // absent for a network product
	Towns                  []string          `json:"towns"`
	Name                   map[string]string `json:"name"`
	ValidityHours          *int              `json:"validity_hours"`
	ValidityDays           *int              `json:"validity_days"`
	Price                  string            `json:"price"`
	Audience               string            `json:"audience"`
	ActivationDeadlineDays int               `json:"activation_deadline_days"`
	CreatedAt              string            `json:"created_at"`
}

func toProductJSON(p card.Product) productJSON {
	out := productJSON{Code: p.Code, Town: p.Town, Towns: p.Towns, Name: p.Name, Price: formatMoney(p.PriceCents), Audience: p.Audience,
		ActivationDeadlineDays: p.ActivationDeadlineDays, CreatedAt: timeJSON(p.CreatedAt)}
	if p.ValidityHours > 0 {
		out.ValidityHours = &p.ValidityHours
	} else {
		out.ValidityDays = &p.ValidityDays
	}
	return out
}

// toProduct converts the request; explicit zeros stay distinguishable from absent fields so
// that "validity_hours": 0 is an error, not "not given".
func (r productRequest) toProduct() (card.Product, error) {
	p := card.Product{Code: r.Code, Name: r.Name, Audience: r.Audience}
	if r.ValidityHours != nil {
		if *r.ValidityHours < 1 {
			return p, badRequest("validity_hours must be 1 to 8760")
		}
		p.ValidityHours = *r.ValidityHours
	}
	if r.ValidityDays != nil {
		if *r.ValidityDays < 1 {
			return p, badRequest("validity_days must be 1 to 3660")
		}
		p.ValidityDays = *r.ValidityDays
	}
	if r.ActivationDeadlineDays != nil {
		if *r.ActivationDeadlineDays < 1 {
			return p, badRequest("activation_deadline_days must be 1 to 3660")
		}
		p.ActivationDeadlineDays = *r.ActivationDeadlineDays
	}
	price, err := parseMoney("price", r.Price)
	if err != nil {
		return p, err
	}
	p.PriceCents = price
	return p, nil
}

func (s *server) handleProductCreate(c *fiber.Ctx) error {
	var req productRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	p, err := req.toProduct()
	if err != nil {
		return err
	}
	// The network admin naming no town and listing towns creates a network product.
	if !(isNetwork(c) && !townNamed(c) && req.Towns != nil) {
		if p.Town, err = townOf(c); err != nil {
			return err
		}
	}
	p.Towns = req.Towns
	if err := s.db.CreateProduct(c.UserContext(), &p); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toProductJSON(p))
}

// handleProductList lists the products the town may use: its own and the network products
// that accept it. The network admin naming no town in a deployment of several sees all.
func (s *server) handleProductList(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil && !(isNetwork(c) && !townNamed(c)) {
		return err
	}
	return sendList(c, func(p storage.Page) ([]card.Product, string, error) { return s.db.Products(c.UserContext(), town, p) }, toProductJSON)
}
