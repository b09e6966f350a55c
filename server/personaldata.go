package main

import (
	"github.com/gofiber/fiber/v2"
)

// Personal data of a card's holder (issue 22, docs/privacy.md), for the office of the
// card's town (another town's card is 404, as if it did not exist):
//
//	GET  /api/v1/cards/:id/personal-data  everything stored about the holder (art. 15, 20)
//	POST /api/v1/cards/:id/erase          {"reason"}: erase it (art. 17); the card keeps working

// personalDataJSON is the access answer: the card, its uses, its wallet registrations and the
// audit events naming it or its uses.
type personalDataJSON struct {
	Card        cardJSON                 `json:"card"`
	Redemptions []holderRedemptionJSON   `json:"redemptions"`
	Wallet      []walletRegistrationJSON `json:"wallet_registrations"`
	Audit       []auditJSON              `json:"audit"`
}

// walletRegistrationJSON is a device that registered the card's pass for updates.
type walletRegistrationJSON struct {
	DeviceID  string `json:"device_id"`
	PushToken string `json:"push_token"`
	CreatedAt string `json:"created_at"`
}

type holderRedemptionJSON struct {
	ID       string `json:"id"`
	At       string `json:"created_at"`
	Merchant string `json:"merchant_name"`
	Amount   string `json:"amount"`
	Discount string `json:"discount"`
	Status   string `json:"status"`
	Offline  bool   `json:"offline"`
}

// handleCardPersonalData answers GET /api/v1/cards/:id/personal-data, as a download
// (Content-Disposition: attachment).
func (s *server) handleCardPersonalData(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	pd, err := s.db.CardPersonalData(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	out := personalDataJSON{Card: s.toCardJSON(pd.Card), Redemptions: []holderRedemptionJSON{}, Wallet: []walletRegistrationJSON{}, Audit: []auditJSON{}}
	for _, r := range pd.Redemptions {
		status := "completed"
		switch {
		case r.Voided:
			status = "voided"
		case r.Conflict:
			status = "conflict"
		}
		out.Redemptions = append(out.Redemptions, holderRedemptionJSON{ID: r.ID, At: timeJSON(r.At), Merchant: r.MerchantName,
			Amount: formatMoney(r.Amount), Discount: formatMoney(r.Discount), Status: status, Offline: r.Offline})
	}
	for _, w := range pd.Wallet {
		out.Wallet = append(out.Wallet, walletRegistrationJSON{DeviceID: w.DeviceID, PushToken: w.PushToken, CreatedAt: timeJSON(w.CreatedAt)})
	}
	for _, e := range pd.Audit {
		out.Audit = append(out.Audit, toAuditJSON(e))
	}
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="personal-data-`+pd.Card.ID+`.json"`)
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(out)
}

type eraseRequest struct {
	Reason string `json:"reason"`
}

// handleCardErase answers POST /api/v1/cards/:id/erase: 200 with the card (holder null), 409
// already_erased for a card erased before, 400 without a reason.
func (s *server) handleCardErase(c *fiber.Ctx) error {
	var req eraseRequest
	if err := decodeJSON(c.Body(), &req, true); err != nil {
		return err
	}
	town, err := townOf(c)
	if err != nil {
		return err
	}
	cd, err := s.db.EraseCard(c.UserContext(), town, c.Params("id"), req.Reason)
	if err != nil {
		return err
	}
	s.metrics.erased.WithLabelValues("office").Inc()
	return c.JSON(s.toCardJSON(cd))
}
