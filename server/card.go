package main

import (
	"errors"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type cardJSON struct {
	ID          string            `json:"id"`
	Town        string            `json:"town"`
	Number      string            `json:"number"`
	Product     string            `json:"product"`
	Status      card.Status       `json:"status"`
	Holder      *string           `json:"holder"` // null once erased (docs/privacy.md)
	Lang        string            `json:"lang"`
	IssuedAt    string            `json:"issued_at"`
	ActivatedAt *string           `json:"activated_at"`
	ExpiresAt   *string           `json:"expires_at"`
	ActivateBy  string            `json:"activate_by"`
	BlockedAt   *string           `json:"blocked_at"`
	BlockReason string            `json:"block_reason"`
	Token       string            `json:"token"`
	QRURL       string            `json:"qr_url"`
	BatchID     *string           `json:"batch_id"`
	Redemptions *[]redemptionJSON `json:"redemptions,omitempty"`
	ErasedAt    *string           `json:"erased_at,omitempty"`
}

func (s *server) toCardJSON(c card.Card) cardJSON {
	holder := &c.Holder
	if c.ErasedAt != nil {
		holder = nil
	}
	return cardJSON{
		ID: c.ID, Town: c.Town, Number: c.Number, Product: c.Product, Status: c.Status(s.db.Now()), Holder: holder, Lang: c.Lang,
		ErasedAt: timePtrJSON(c.ErasedAt),
		IssuedAt: timeJSON(c.IssuedAt), ActivatedAt: timePtrJSON(c.ActivatedAt), ExpiresAt: timePtrJSON(c.ExpiresAt),
		ActivateBy: timeJSON(c.ActivateBy), BlockedAt: timePtrJSON(c.BlockedAt), BlockReason: c.BlockReason,
		Token: c.Token, QRURL: s.cardURL(c.Town, c.Token), BatchID: strPtr(c.BatchID),
	}
}

// strPtr is nil for "" (JSON null), else a pointer to s.
func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// cardURL is the URL inside a card's QR code: under the issuing town's public URL, or the
// deployment's (CITYCARD_PUBLIC_URL) if the town has none.
func (s *server) cardURL(town, token string) string {
	if t, ok := s.db.CachedTown(town); ok && t.PublicURL != "" {
		return t.PublicURL + "/c/" + token
	}
	return s.cfg.PublicURL + "/c/" + token
}

type cardRequest struct {
	Product string `json:"product"`
	Holder  string `json:"holder"`
	Lang    string `json:"lang"`
}

func (s *server) handleCardCreate(c *fiber.Ctx) error {
	var req cardRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Product == "" {
		return badRequest("product is required")
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	cards, err := s.db.CreateCards(c.UserContext(), town, s.keys, req.Product, 1, req.Holder, req.Lang)
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(s.toCardJSON(cards[0]))
}

// handleCardList lists the town's cards newest first, filtered by ?number= (the printed
// number, with or without spaces; 400 if it is not a valid card number), ?batch= and ?product=.
func (s *server) handleCardList(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	f := storage.CardFilter{Town: town, Product: c.Query("product"), Batch: c.Query("batch")}
	if raw := c.Query("number"); raw != "" {
		n, err := card.NormalizeNumber(raw)
		if err != nil {
			return badRequest("number must be a card's 12-digit number (spaces allowed) with a valid check digit")
		}
		f.Number = n
		return s.cardsByNumber(c, f)
	}
	return sendList(c, func(p storage.Page) ([]card.Card, string, error) { return s.db.Cards(c.UserContext(), f, p) }, s.toCardJSON)
}

// cardNumberList is the answer to a search by number: the town's card, or none and, when
// another town of the network issued a card of that number, that town (`issued_by`), so the
// desk can send the holder to that town's office. Nothing else of the other town's card is
// shown (docs/api-extensions.md, "A card of another town at the desk").
type cardNumberList struct {
	listBody[cardJSON]
	IssuedBy *townRef `json:"issued_by,omitempty"`
}

// townRef names a town: its code and its name by language.
type townRef struct {
	Code string            `json:"code"`
	Name map[string]string `json:"name"`
}

func (s *server) cardsByNumber(c *fiber.Ctx, f storage.CardFilter) error {
	if _, err := pageParams(c); err != nil {
		return err
	}
	cards, _, err := s.db.Cards(c.UserContext(), f, storage.Page{Limit: 1})
	if err != nil {
		return err
	}
	out := cardNumberList{listBody: newList([]cardJSON{}, "")}
	for _, cd := range cards {
		out.Items = append(out.Items, s.toCardJSON(cd))
	}
	if len(cards) == 0 {
		other, err := s.db.CardByNumber(c.UserContext(), f.Number)
		if err == nil && other.Town != f.Town {
			if t, ok := s.db.CachedTown(other.Town); ok {
				out.IssuedBy = &townRef{Code: t.Code, Name: t.Name}
			}
		} else if err != nil && !errors.Is(err, card.ErrNotFound) {
			return err
		}
	}
	return c.JSON(out)
}

// handleCardGet answers one of the town's cards with every use of it, in any town that
// accepts it: the issuing office follows its own card.
func (s *server) handleCardGet(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	cd, err := s.db.Card(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	reds, err := s.allRedemptions(c, storage.RedemptionFilter{CardID: cd.ID})
	if err != nil {
		return err
	}
	out := s.toCardJSON(cd)
	out.Redemptions = &reds
	return c.JSON(out)
}

// allRedemptions pages through every redemption matching f (a card has few).
func (s *server) allRedemptions(c *fiber.Ctx, f storage.RedemptionFilter) ([]redemptionJSON, error) {
	out := []redemptionJSON{}
	page := storage.Page{Limit: 500}
	for {
		items, next, err := s.db.Redemptions(c.UserContext(), f, page)
		if err != nil {
			return nil, err
		}
		for _, r := range items {
			out = append(out, toRedemptionJSON(r))
		}
		if next == "" {
			return out, nil
		}
		page.Cursor = next
	}
}

type blockRequest struct {
	Reason string `json:"reason"`
}

func (s *server) handleCardBlock(c *fiber.Ctx) error   { return s.setBlocked(c, true) }
func (s *server) handleCardUnblock(c *fiber.Ctx) error { return s.setBlocked(c, false) }

func (s *server) setBlocked(c *fiber.Ctx, blocked bool) error {
	var req blockRequest
	if err := decodeJSON(c.Body(), &req, true); err != nil {
		return err
	}
	reason, err := card.CleanText("reason", req.Reason, 300, false)
	if err != nil {
		return err
	}
	req.Reason = reason
	if blocked && req.Reason == "" {
		req.Reason = "blocked"
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	cd, err := s.db.SetBlocked(c.UserContext(), town, c.Params("id"), blocked, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(s.toCardJSON(cd))
}

func (s *server) handleCardQR(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	cd, err := s.db.Card(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return s.sendQR(c, cd.Town, cd.Token)
}
