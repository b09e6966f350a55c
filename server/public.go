package main

import (
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

func (s *server) handleHealth(c *fiber.Ctx) error {
	if _, err := s.db.Setting(c.UserContext(), "health"); err != nil {
		return err
	}
	return c.JSON(fiber.Map{"status": "ok"})
}

// publicCardJSON is what anyone holding the token may see: no token, no holder, no id.
type publicCardJSON struct {
	Number      string            `json:"number"`
	Status      card.Status       `json:"status"`
	Product     string            `json:"product"`
	ProductName map[string]string `json:"product_name"`
	Lang        string            `json:"lang"`
	ActivatedAt *string           `json:"activated_at"`
	ExpiresAt   *string           `json:"expires_at"`
	ActivateBy  string            `json:"activate_by"`
	SecondsLeft int64             `json:"seconds_left"`
}

type publicMerchantJSON struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Category string   `json:"category"`
	Address  string   `json:"address"`
	Lat      *float64 `json:"lat"`
	Lon      *float64 `json:"lon"`
}

func toPublicMerchant(m merchantJSON) publicMerchantJSON {
	return publicMerchantJSON{m.ID, m.Name, m.Category, m.Address, m.Lat, m.Lon}
}

// publicOfferFieldsJSON is an offer as anyone may see it: the offer JSON without
// municipal_share, the subsidy rate the municipality agreed with the merchant, which is
// business between the two (admin and the merchant's own till still see it).
type publicOfferFieldsJSON struct {
	ID          string            `json:"id"`
	Town        string            `json:"town"` // the merchant's town
	MerchantID  string            `json:"merchant_id"`
	Title       map[string]string `json:"title"`
	Kind        string            `json:"kind"`
	Value       *string           `json:"value"`
	MaxDiscount *string           `json:"max_discount"`
	MinAmount   *string           `json:"min_amount"`
	Limit       string            `json:"limit"`
	Products    []string          `json:"products"`
	ValidFrom   *string           `json:"valid_from"`
	ValidUntil  *string           `json:"valid_until"`
	Active      bool              `json:"active"`
	CreatedAt   string            `json:"created_at"`
	UpdatedAt   string            `json:"updated_at"`
}

func toPublicOffer(o offerJSON) publicOfferFieldsJSON {
	return publicOfferFieldsJSON{ID: o.ID, Town: o.Town, MerchantID: o.MerchantID, Title: o.Title, Kind: o.Kind, Value: o.Value,
		MaxDiscount: o.MaxDiscount, MinAmount: o.MinAmount, Limit: o.Limit, Products: o.Products, ValidFrom: o.ValidFrom,
		ValidUntil: o.ValidUntil, Active: o.Active, CreatedAt: o.CreatedAt, UpdatedAt: o.UpdatedAt}
}

type benefitJSON struct {
	Merchant  publicMerchantJSON    `json:"merchant"`
	Offer     publicOfferFieldsJSON `json:"offer"`
	Available bool                  `json:"available"`
	Reason    *string               `json:"reason"`
	UsedAt    *string               `json:"used_at"`
}

// publicCard resolves a token from a public URL (never a bare number) to the card, its
// product and its benefits.
func (s *server) publicCard(c *fiber.Ctx, token string) (card.Card, card.Product, []storage.OfferState, error) {
	ref, err := s.keys.ParseInput(token, false)
	if err != nil {
		return card.Card{}, card.Product{}, nil, err
	}
	return s.db.CardBenefits(c.UserContext(), ref)
}

func toPublicCardJSON(cd card.Card, p card.Product, now time.Time) publicCardJSON {
	return publicCardJSON{
		Number: cd.Number, Status: cd.Status(now), Product: cd.Product, ProductName: p.Name, Lang: cd.Lang,
		ActivatedAt: timePtrJSON(cd.ActivatedAt), ExpiresAt: timePtrJSON(cd.ExpiresAt), ActivateBy: timeJSON(cd.ActivateBy),
		SecondsLeft: int64(cd.TimeLeft(now) / time.Second),
	}
}

func (s *server) handlePublicCardGet(c *fiber.Ctx) error {
	cd, p, states, err := s.publicCard(c, c.Params("token"))
	if err != nil {
		return err
	}
	benefits := make([]benefitJSON, len(states))
	for i, st := range states {
		os := toOfferStateJSON(st)
		benefits[i] = benefitJSON{Merchant: toPublicMerchant(toMerchantJSON(st.Merchant)), Offer: toPublicOffer(os.offerJSON),
			Available: os.Available, Reason: os.Reason, UsedAt: os.UsedAt}
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"card": toPublicCardJSON(cd, p, s.db.Now()), "benefits": benefits})
}

func (s *server) handlePublicCardQR(c *fiber.Ctx) error {
	token := c.Params("token")
	ref, err := s.keys.ParseInput(token, false)
	if err != nil {
		return err
	}
	// The QR holds the URL under the issuing town's base.
	var town string
	if cd, err := s.db.CardByNumber(c.UserContext(), ref.Number); err == nil {
		town = cd.Town
	}
	return s.sendQR(c, town, token)
}

type publicOfferJSON struct {
	Offer    publicOfferFieldsJSON `json:"offer"`
	Merchant publicMerchantJSON    `json:"merchant"`
}

// handlePublicOffersList lists the offers of ?town= (404 town_not_found for an unknown
// code), or of every town, each offer with its town.
func (s *server) handlePublicOffersList(c *fiber.Ctx) error {
	town := c.Query("town")
	if town != "" {
		if _, ok := s.db.CachedTown(town); !ok {
			return errTownNotFound
		}
	}
	return sendList(c, func(p storage.Page) ([]storage.OfferWithMerchant, string, error) {
		return s.db.PublicOffers(c.UserContext(), town, p)
	},
		func(it storage.OfferWithMerchant) publicOfferJSON {
			return publicOfferJSON{Offer: toPublicOffer(toOfferJSON(it.Offer)), Merchant: toPublicMerchant(toMerchantJSON(it.Merchant))}
		})
}
