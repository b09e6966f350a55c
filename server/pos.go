package main

import (
	"errors"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// tillCardJSON is what a till sees of a card: no holder, no token.
type tillCardJSON struct {
	Number      string      `json:"number"`
	Status      card.Status `json:"status"`
	Product     string      `json:"product"`
	ActivatedAt *string     `json:"activated_at"`
	ExpiresAt   *string     `json:"expires_at"`
	// AcceptedIn, only for a card whose product this merchant's town does not accept: the
	// towns where it is valid, so the till can say where instead of refusing every offer.
	AcceptedIn []townRefJSON `json:"accepted_in,omitempty"`
}

// townRefJSON names a town: its code and its name by language.
type townRefJSON struct {
	Code string            `json:"code"`
	Name map[string]string `json:"name"`
}

type offerStateJSON struct {
	offerJSON
	Available bool    `json:"available"`
	Reason    *string `json:"reason"`
	UsedAt    *string `json:"used_at"`
}

func toOfferStateJSON(st storage.OfferState) offerStateJSON {
	out := offerStateJSON{offerJSON: toOfferJSON(st.Offer), Available: st.Reason == nil, UsedAt: timePtrJSON(st.UsedAt)}
	if st.Reason != nil {
		code := errorCode(st.Reason)
		out.Reason = &code
	}
	return out
}

type checkRequest struct {
	Card string `json:"card"`
}

func (s *server) handlePosMe(c *fiber.Ctx) error {
	m := currentMerchant(c)
	page := storage.Page{Limit: 500}
	offers, _, err := s.db.Offers(c.UserContext(), m.Town, m.ID, page)
	if err != nil {
		return err
	}
	out := make([]offerJSON, len(offers))
	for i, o := range offers {
		out[i] = toOfferJSON(o)
	}
	// The zone lets the web till ask for "today" and show times as the city's clocks do.
	t, _ := s.db.CachedTown(m.Town)
	return c.JSON(fiber.Map{"merchant": toMerchantJSON(m), "offers": out, "timezone": s.db.TownLoc(m.Town).String(), "town": toTownFaceJSON(t)})
}

func (s *server) handlePosCheck(c *fiber.Ctx) error {
	var req checkRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Card) == "" {
		return badRequest("card is required")
	}
	ref, err := s.keys.ParseInput(req.Card, true)
	if err != nil {
		return err
	}
	cd, states, err := s.db.CheckCard(c.UserContext(), currentMerchant(c).ID, ref)
	if err != nil {
		return err
	}
	offers := make([]offerStateJSON, len(states))
	notAccepted := false
	for i, st := range states {
		offers[i] = toOfferStateJSON(st)
		notAccepted = notAccepted || errors.Is(st.Reason, card.ErrNotAccepted)
	}
	tc := tillCardJSON{Number: cd.Number, Status: cd.Status(s.db.Now()), Product: cd.Product,
		ActivatedAt: timePtrJSON(cd.ActivatedAt), ExpiresAt: timePtrJSON(cd.ExpiresAt)}
	if notAccepted {
		if tc.AcceptedIn, err = s.acceptedIn(c, cd); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"card": tc, "offers": offers})
}

type redeemRequest struct {
	Card       string  `json:"card"`
	OfferID    string  `json:"offer_id"`
	Amount     string  `json:"amount"`
	Terminal   string  `json:"terminal"`
	OccurredAt *string `json:"occurred_at"` // an offline till's sale time (docs/offline.md)
}

// redeemParams validates a quote's or redemption's body and resolves the card.
func (s *server) redeemParams(c *fiber.Ctx) (merchant.RedeemRequest, card.Ref, error) {
	var body redeemRequest
	if err := decodeBody(c, &body); err != nil {
		return merchant.RedeemRequest{}, card.Ref{}, err
	}
	return s.redeemBody(body, currentMerchant(c).ID, strings.Clone(c.Get("Idempotency-Key")))
}

// redeemBody validates one redemption body (a request's or a sync item's) and resolves the card.
func (s *server) redeemBody(body redeemRequest, merchantID, key string) (merchant.RedeemRequest, card.Ref, error) {
	if strings.TrimSpace(body.Card) == "" {
		return merchant.RedeemRequest{}, card.Ref{}, badRequest("card is required")
	}
	if body.OfferID == "" {
		return merchant.RedeemRequest{}, card.Ref{}, badRequest("offer_id is required")
	}
	amount, err := parseMoney("amount", body.Amount)
	if err != nil {
		return merchant.RedeemRequest{}, card.Ref{}, err
	}
	req := merchant.RedeemRequest{
		MerchantID: merchantID, CardInput: strings.TrimSpace(body.Card), OfferID: body.OfferID,
		Amount: amount, Terminal: body.Terminal, IdempotencyKey: key,
	}
	if body.OccurredAt != nil {
		at, err := time.Parse(time.RFC3339, *body.OccurredAt)
		if err != nil {
			return req, card.Ref{}, badRequest("occurred_at must be an RFC 3339 time")
		}
		at = at.UTC().Truncate(time.Millisecond) // stored in milliseconds
		req.OccurredAt = &at
	}
	if err := req.Validate(false); err != nil {
		return req, card.Ref{}, err
	}
	ref, err := s.keys.ParseInput(req.CardInput, true)
	return req, ref, err
}

type quoteJSON struct {
	Amount         string `json:"amount"`
	Discount       string `json:"discount"`
	Total          string `json:"total"`
	MunicipalShare string `json:"municipal_share"`
}

func (s *server) handlePosQuote(c *fiber.Ctx) error {
	req, ref, err := s.redeemParams(c)
	if err != nil {
		return err
	}
	q, err := s.db.Quote(c.UserContext(), req, ref)
	if err != nil {
		return err
	}
	return c.JSON(quoteJSON{formatMoney(q.Amount), formatMoney(q.Discount), formatMoney(q.Total), formatMoney(q.MunicipalShare)})
}

func (s *server) handlePosRedeem(c *fiber.Ctx) (err error) {
	replayed := false
	defer func() {
		if p := recover(); p != nil {
			s.metrics.redemption(errors.New("panic"), false) // counted as internal_error
			panic(p)
		}
		s.metrics.redemption(err, replayed)
	}()
	key := c.Get("Idempotency-Key")
	if len(key) < 1 || len(key) > 255 {
		return badRequest("header Idempotency-Key of 1 to 255 characters is required")
	}
	req, ref, err := s.redeemParams(c)
	if err != nil {
		return err
	}
	r, replayed, err := s.db.Redeem(c.UserContext(), req, ref)
	if err != nil {
		return err
	}
	if replayed {
		c.Set("Idempotent-Replayed", "true")
	}
	return c.Status(fiber.StatusCreated).JSON(toRedemptionJSON(r))
}

func (s *server) handlePosVoid(c *fiber.Ctx) error { return s.voidRedemption(c, currentMerchant(c).ID) }

func (s *server) handlePosRedemptionList(c *fiber.Ctx) error {
	f, err := s.redemptionFilter(c)
	if err != nil {
		return err
	}
	f.MerchantID = currentMerchant(c).ID
	return s.listRedemptions(c, f)
}

// acceptedIn is the towns that accept the card's product, by code.
func (s *server) acceptedIn(c *fiber.Ctx, cd card.Card) ([]townRefJSON, error) {
	p, err := s.db.Product(c.UserContext(), cd.Town, cd.Product)
	if err != nil {
		return nil, err
	}
	towns, err := s.db.Towns(c.UserContext())
	if err != nil {
		return nil, err
	}
	out := []townRefJSON{}
	for _, code := range p.Towns {
		ref := townRefJSON{Code: code, Name: map[string]string{}}
		for _, t := range towns {
			if t.Code == code {
				ref.Name = t.Name
			}
		}
		out = append(out, ref)
	}
	return out, nil
}
