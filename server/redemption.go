package main

import (
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type redemptionJSON struct {
	ID             string  `json:"id"`
	Town           string  `json:"town"`      // the merchant's, whose reports count it
	CardTown       string  `json:"card_town"` // the card's issuing town
	CardNumber     string  `json:"card_number"`
	MerchantID     string  `json:"merchant_id"`
	OfferID        string  `json:"offer_id"`
	Terminal       string  `json:"terminal"`
	Amount         string  `json:"amount"`
	Discount       string  `json:"discount"`
	Total          string  `json:"total"`
	MunicipalShare string  `json:"municipal_share"`
	Status         string  `json:"status"`
	CreatedAt      string  `json:"created_at"`
	VoidedAt       *string `json:"voided_at"`
	VoidReason     *string `json:"void_reason"`
	OccurredAt     string  `json:"occurred_at"` // when the sale happened (created_at)
	RecordedAt     string  `json:"recorded_at"` // when the server stored it
	Offline        bool    `json:"offline"`
	ConflictReason *string `json:"conflict_reason"`
	DecidedAt      *string `json:"decided_at"`
	Decision       *string `json:"decision"`
	DecisionNote   *string `json:"decision_note"`
}

func toRedemptionJSON(r merchant.Redemption) redemptionJSON {
	out := redemptionJSON{
		ID: r.ID, Town: r.Town, CardTown: r.CardTown, CardNumber: r.CardNumber, MerchantID: r.MerchantID, OfferID: r.OfferID, Terminal: r.Terminal,
		Amount: formatMoney(r.Amount), Discount: formatMoney(r.Discount), Total: formatMoney(r.Total()),
		MunicipalShare: formatMoney(r.MunicipalShare), Status: r.Status(), CreatedAt: timeJSON(r.CreatedAt),
		VoidedAt: timePtrJSON(r.VoidedAt),
	}
	if r.VoidedAt != nil {
		out.VoidReason = &r.VoidReason
	}
	out.OccurredAt, out.RecordedAt, out.Offline = timeJSON(r.CreatedAt), timeJSON(r.RecordedAt), r.Offline
	if r.RecordedAt.IsZero() { // read from the ledger, which keeps the sale's time only
		out.RecordedAt = out.OccurredAt
	}
	if r.ConflictReason != "" {
		out.ConflictReason = &r.ConflictReason
	}
	if r.Decision != "" {
		out.DecidedAt, out.Decision, out.DecisionNote = timePtrJSON(r.DecidedAt), &r.Decision, &r.DecisionNote
	}
	return out
}

type voidRequest struct {
	Reason string `json:"reason"`
}

// voidRedemption voids a redemption at the town's merchants, only of merchantID's if it is set.
func (s *server) voidRedemption(c *fiber.Ctx, merchantID string) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	var req voidRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	r, err := s.db.Void(c.UserContext(), town, c.Params("id"), merchantID, req.Reason)
	if err != nil {
		return err
	}
	return c.JSON(toRedemptionJSON(r))
}

func (s *server) handleRedemptionVoid(c *fiber.Ctx) error { return s.voidRedemption(c, "") }

// redemptionFilter reads ?from= and ?to= (local dates in the town's zone, inclusive) and,
// for the admin, ?merchant= and ?card=; it lists the town's redemptions only.
func (s *server) redemptionFilter(c *fiber.Ctx) (storage.RedemptionFilter, error) {
	var f storage.RedemptionFilter
	town, err := townOf(c)
	if err != nil {
		return f, err
	}
	f.Town = town
	switch c.Query("status") {
	case "":
	case merchant.RedemptionConflict:
		f.Conflicts = true // an office's worklist and a till's "which sales became conflicts"
	default:
		return f, badRequest("status must be conflict")
	}
	loc := s.db.TownLoc(town)
	if v := c.Query("from"); v != "" {
		d, err := parseDate("from", v)
		if err != nil {
			return f, err
		}
		f.From = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	}
	if v := c.Query("to"); v != "" {
		d, err := parseDate("to", v)
		if err != nil {
			return f, err
		}
		f.To = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return f, badRequest("from must not be after to")
	}
	return f, nil
}

func (s *server) listRedemptions(c *fiber.Ctx, f storage.RedemptionFilter) error {
	return sendList(c, func(p storage.Page) ([]merchant.Redemption, string, error) {
		return s.db.Redemptions(c.UserContext(), f, p)
	}, toRedemptionJSON)
}

func (s *server) handleRedemptionList(c *fiber.Ctx) error {
	f, err := s.redemptionFilter(c)
	if err != nil {
		return err
	}
	f.MerchantID, f.CardID = c.Query("merchant"), c.Query("card")
	return s.listRedemptions(c, f)
}
