package main

import (
	"bytes"
	"crypto/sha256"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type merchantJSON struct {
	ID        string   `json:"id"`
	Town      string   `json:"town"`
	Name      string   `json:"name"`
	Category  string   `json:"category"`
	Address   string   `json:"address"`
	TaxNumber string   `json:"tax_number"`
	IBAN      string   `json:"iban"`
	Lat       *float64 `json:"lat"`
	Lon       *float64 `json:"lon"`
	Status    string   `json:"status"`
	CreatedAt string   `json:"created_at"`
}

func toMerchantJSON(m merchant.Merchant) merchantJSON {
	return merchantJSON{ID: m.ID, Town: m.Town, Name: m.Name, Category: m.Category, Address: m.Address, TaxNumber: m.TaxNumber, IBAN: m.IBAN, Lat: m.Lat, Lon: m.Lon,
		Status: m.Status, CreatedAt: timeJSON(m.CreatedAt)}
}

// merchantRequest is the body of a create, and of a PATCH decoded over the stored merchant.
type merchantRequest struct {
	Name      string   `json:"name"`
	Category  string   `json:"category"`
	Address   string   `json:"address"`
	TaxNumber string   `json:"tax_number"`
	IBAN      string   `json:"iban"`
	Lat       *float64 `json:"lat"`
	Lon       *float64 `json:"lon"`
	Status    string   `json:"status"`
}

func (s *server) handleMerchantCreate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	var req merchantRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	m := merchant.Merchant{Town: town, Name: req.Name, Category: req.Category, Address: req.Address, TaxNumber: req.TaxNumber, IBAN: req.IBAN,
		Lat: req.Lat, Lon: req.Lon, Status: req.Status}
	key := newSecret("ccm")
	sum := sha256.Sum256([]byte(key))
	if err := s.db.CreateMerchant(c.UserContext(), &m, sum[:]); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"merchant": toMerchantJSON(m), "api_key": key})
}

func (s *server) handleMerchantList(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	return sendList(c, func(p storage.Page) ([]merchant.Merchant, string, error) {
		return s.db.Merchants(c.UserContext(), town, p)
	}, toMerchantJSON)
}

func (s *server) handleMerchantGet(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	m, err := s.db.Merchant(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toMerchantJSON(m))
}

// handleMerchantUpdate applies a partial update: the body is decoded over the stored fields,
// so absent fields keep their value and "lat": null with "lon": null removes the position.
func (s *server) handleMerchantUpdate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	body := bytes.Clone(c.Body())
	if err := decodeJSON(body, &merchantRequest{}, false); err != nil {
		return err // reject bad bodies before queueing a write
	}
	m, err := s.db.UpdateMerchant(c.UserContext(), town, c.Params("id"), func(m *merchant.Merchant) error {
		req := merchantRequest{Name: m.Name, Category: m.Category, Address: m.Address, TaxNumber: m.TaxNumber, IBAN: m.IBAN,
			Lat: m.Lat, Lon: m.Lon, Status: m.Status}
		if err := decodeJSON(body, &req, false); err != nil {
			return err
		}
		m.Name, m.Category, m.Address, m.Lat, m.Lon, m.Status = req.Name, req.Category, req.Address, req.Lat, req.Lon, req.Status
		m.TaxNumber, m.IBAN = req.TaxNumber, req.IBAN
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(toMerchantJSON(m))
}

func (s *server) handleMerchantKeyRotate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	key := newSecret("ccm")
	sum := sha256.Sum256([]byte(key))
	if err := s.db.SetMerchantKey(c.UserContext(), town, c.Params("id"), sum[:]); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"api_key": key})
}
