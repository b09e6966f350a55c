package main

import (
	"context"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/gofiber/fiber/v2"
)

// loadSheet gathers the products of cards and builds what papers.SheetPDF prints. A card's
// product is the one its town sees by the card's product code (codes are unique per town).
func (s *server) loadSheet(ctx context.Context, cards []card.Card) ([]papers.SheetCard, error) {
	products := map[[2]string]card.Product{}
	out := make([]papers.SheetCard, len(cards))
	for i, c := range cards {
		key := [2]string{c.Town, c.Product}
		p, ok := products[key]
		if !ok {
			var err error
			if p, err = s.db.Product(ctx, c.Town, c.Product); err != nil {
				return nil, err
			}
			products[key] = p
		}
		out[i] = papers.SheetCard{Card: c, Product: p, URL: s.cardURL(c.Town, c.Token)}
	}
	return out, nil
}

// sendSheet answers with the print sheet of cards.
func (s *server) sendSheet(c *fiber.Ctx, title, filename string, cards []card.Card) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	l, err := s.paperLangIn(town, c.Query("lang"))
	if err != nil {
		return err
	}
	sheet, err := s.loadSheet(c.UserContext(), cards)
	if err != nil {
		return err
	}
	// The cards carry instructions in their town's languages, dates in its zone.
	body, err := papers.SheetPDF(title, sheet, l, s.townLanguages(town), s.db.TownLoc(town), papers.Meta{Generated: s.db.Now(), CardName: cardNameOf(s.db, town)})
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/pdf")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+filename+`"`)
	return c.Send(body)
}

// handleBatchSheet is the print sheet of a batch's cards, in the order they were issued.
func (s *server) handleBatchSheet(c *fiber.Ctx) error {
	if _, err := s.paperLang(c.Query("lang")); err != nil {
		return err
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	b, cards, err := s.db.BatchCards(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendSheet(c, batchTitle(b), "citycard-"+b.ID+".pdf", cards)
}

// batchTitle names a batch on its sheet: its name, else its id.
func batchTitle(b card.Batch) string {
	if b.Name != "" {
		return b.Name
	}
	return b.ID
}

// handleCardSheet is the print sheet of the cards ?ids=crd_a,crd_b,… (1 to 1,000, printed in
// that order) or of the batch ?batch=.
func (s *server) handleCardSheet(c *fiber.Ctx) error {
	if _, err := s.paperLang(c.Query("lang")); err != nil {
		return err
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	ids, batch := c.Query("ids"), c.Query("batch")
	switch {
	case ids != "" && batch != "":
		return badRequest("give ids or batch, not both")
	case batch != "":
		b, cards, err := s.db.BatchCards(c.UserContext(), town, batch)
		if err != nil {
			return err
		}
		return s.sendSheet(c, batchTitle(b), "citycard-"+b.ID+".pdf", cards)
	case ids == "":
		return badRequest("ids (card ids separated by commas) or batch is required")
	}
	list := strings.Split(ids, ",")
	if len(list) > card.MaxBatchCards {
		return badRequest("ids must name 1 to 1000 cards")
	}
	for i, id := range list {
		id = strings.TrimSpace(id) // "crd_a, crd_b" as a person types it
		list[i] = id
		if id == "" || len(id) > 64 {
			return badRequest("ids must be card ids separated by commas")
		}
	}
	cards, err := s.db.CardsByID(c.UserContext(), town, list)
	if err != nil {
		return err
	}
	title := i18n.NewLocale(s.townLanguages(town)[0]).T("sheet.title")
	if l, err := s.paperLangIn(town, c.Query("lang")); err == nil {
		title = l.T("sheet.title")
	}
	return s.sendSheet(c, title, "citycard-cards.pdf", cards)
}
