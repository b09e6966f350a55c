package main

import (
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type batchRequest struct {
	Product string  `json:"product"`
	Count   int     `json:"count"`
	Lang    string  `json:"lang"`
	Name    *string `json:"name"`
}

type batchJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Product   string `json:"product"`
	Count     int    `json:"count"`
	Lang      string `json:"lang"`
	CreatedAt string `json:"created_at"`
}

func toBatchJSON(b card.Batch) batchJSON {
	return batchJSON{ID: b.ID, Name: b.Name, Product: b.Product, Count: b.Count, Lang: b.Lang, CreatedAt: timeJSON(b.CreatedAt)}
}

// handleCardBatch issues a batch of cards, optionally named so it can be found and
// reprinted: 201 {"batch":{…},"cards":[…]}.
func (s *server) handleCardBatch(c *fiber.Ctx) error {
	var req batchRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Product == "" {
		return badRequest("product is required")
	}
	if req.Count < 1 || req.Count > card.MaxBatchCards {
		return badRequest("count must be 1 to 1000")
	}
	if req.Lang != "" && !card.ValidLang(req.Lang) {
		return badRequest("lang must be one of sl, it, en, de")
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	b := card.Batch{Town: town, Product: req.Product, Count: req.Count, Lang: req.Lang}
	if req.Name != nil {
		name, err := card.CleanBatchName(*req.Name)
		if err != nil {
			return err
		}
		b.Name = name
	}
	cards, err := s.db.CreateBatch(c.UserContext(), s.keys, &b)
	if err != nil {
		return err
	}
	out := make([]cardJSON, len(cards))
	for i, cd := range cards {
		out[i] = s.toCardJSON(cd)
	}
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"batch": toBatchJSON(b), "cards": out})
}

// handleBatchList lists batches newest first; ?q= keeps those whose name contains it,
// ignoring case.
func (s *server) handleBatchList(c *fiber.Ctx) error {
	q := c.Query("q")
	if len([]rune(q)) > 100 {
		return badRequest("q must be at most 100 characters")
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	f := storage.BatchFilter{Town: town, Query: q}
	return sendList(c, func(p storage.Page) ([]card.Batch, string, error) { return s.db.Batches(c.UserContext(), f, p) }, toBatchJSON)
}

func (s *server) handleBatchGet(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	b, err := s.db.Batch(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toBatchJSON(b))
}
