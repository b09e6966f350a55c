package main

import (
	"bytes"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type offerJSON struct {
	ID             string            `json:"id"`
	Town           string            `json:"town"`
	MerchantID     string            `json:"merchant_id"`
	Title          map[string]string `json:"title"`
	Kind           string            `json:"kind"`
	Value          *string           `json:"value"`
	MaxDiscount    *string           `json:"max_discount"`
	MinAmount      *string           `json:"min_amount"`
	Limit          string            `json:"limit"`
	Products       []string          `json:"products"`
	ValidFrom      *string           `json:"valid_from"`
	ValidUntil     *string           `json:"valid_until"`
	MunicipalShare string            `json:"municipal_share"`
	Active         bool              `json:"active"`
	CreatedAt      string            `json:"created_at"`
	UpdatedAt      string            `json:"updated_at"`
}

func toOfferJSON(o merchant.Offer) offerJSON {
	r := offerToRequest(o)
	return offerJSON{
		ID: o.ID, Town: o.Town, MerchantID: o.MerchantID, Title: o.Title, Kind: o.Kind, Value: r.Value, MaxDiscount: r.MaxDiscount,
		MinAmount: r.MinAmount, Limit: o.Limit, Products: o.Products, ValidFrom: r.ValidFrom, ValidUntil: r.ValidUntil,
		MunicipalShare: *r.MunicipalShare, Active: o.Active, CreatedAt: timeJSON(o.CreatedAt), UpdatedAt: timeJSON(o.UpdatedAt),
	}
}

// offerRequest is the body of a create, and of a PATCH decoded over the stored offer.
type offerRequest struct {
	Title          map[string]string `json:"title"`
	Kind           string            `json:"kind"`
	Value          *string           `json:"value"`
	MaxDiscount    *string           `json:"max_discount"`
	MinAmount      *string           `json:"min_amount"`
	Limit          string            `json:"limit"`
	Products       []string          `json:"products"`
	ValidFrom      *string           `json:"valid_from"`
	ValidUntil     *string           `json:"valid_until"`
	MunicipalShare *string           `json:"municipal_share"`
	Active         *bool             `json:"active"`
}

func offerToRequest(o merchant.Offer) offerRequest {
	str := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	share := formatPercent(o.MunicipalShare)
	r := offerRequest{Title: map[string]string{}, Kind: o.Kind, MaxDiscount: formatMoneyPtr(o.MaxDiscount), MinAmount: formatMoneyPtr(o.MinAmount),
		Limit: o.Limit, Products: o.Products, ValidFrom: str(o.ValidFrom), ValidUntil: str(o.ValidUntil), MunicipalShare: &share, Active: &o.Active}
	for k, v := range o.Title {
		r.Title[k] = v
	}
	switch o.Kind {
	case merchant.KindPercent:
		r.Value = str(formatPercent(o.Value))
	case merchant.KindAmount, merchant.KindPrice:
		r.Value = str(formatMoney(o.Value))
	}
	return r
}

// apply fills o from the request, parsing money and percentages; merchant.Offer.Validate
// checks the rest.
func (r offerRequest) apply(o *merchant.Offer) error {
	o.Title, o.Kind, o.Limit, o.Products = r.Title, r.Kind, r.Limit, r.Products
	o.Value = 0
	if r.Value != nil {
		var err error
		switch r.Kind {
		case merchant.KindPercent:
			o.Value, err = parsePercent("value", *r.Value)
		case merchant.KindAmount, merchant.KindPrice:
			o.Value, err = parseMoney("value", *r.Value)
		case merchant.KindFree:
			return badRequest("a free offer takes no value")
		}
		if err != nil {
			return err
		}
	} else if r.Kind != merchant.KindFree {
		return badRequest("value is required for a %s offer", r.Kind)
	}
	var err error
	if o.MaxDiscount, err = parseMoneyPtr("max_discount", r.MaxDiscount); err != nil {
		return err
	}
	if o.MinAmount, err = parseMoneyPtr("min_amount", r.MinAmount); err != nil {
		return err
	}
	o.ValidFrom, o.ValidUntil = "", ""
	if r.ValidFrom != nil {
		if _, err := parseDate("valid_from", *r.ValidFrom); err != nil {
			return err
		}
		o.ValidFrom = *r.ValidFrom
	}
	if r.ValidUntil != nil {
		if _, err := parseDate("valid_until", *r.ValidUntil); err != nil {
			return err
		}
		o.ValidUntil = *r.ValidUntil
	}
	o.MunicipalShare = 0
	if r.MunicipalShare != nil {
		if o.MunicipalShare, err = parsePercent("municipal_share", *r.MunicipalShare); err != nil {
			return err
		}
	}
	o.Active = r.Active == nil || *r.Active
	return nil
}

func (s *server) handleOfferCreate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	var req offerRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	o := merchant.Offer{MerchantID: c.Params("id")}
	if err := req.apply(&o); err != nil {
		return err
	}
	if err := s.db.CreateOffer(c.UserContext(), town, &o); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toOfferJSON(o))
}

func (s *server) handleOfferList(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	id := c.Query("merchant")
	return sendList(c, func(p storage.Page) ([]merchant.Offer, string, error) {
		return s.db.Offers(c.UserContext(), town, id, p)
	}, toOfferJSON)
}

func (s *server) handleOfferGet(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	o, err := s.db.Offer(c.UserContext(), town, c.Params("id"))
	if err != nil {
		return err
	}
	return c.JSON(toOfferJSON(o))
}

// handleOfferUpdate applies a partial update decoded over the stored offer: absent fields keep
// their value, null clears an optional one, and the result is validated as a whole.
func (s *server) handleOfferUpdate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	body := bytes.Clone(c.Body())
	if err := decodeJSON(body, &offerRequest{}, false); err != nil {
		return err
	}
	o, err := s.db.UpdateOffer(c.UserContext(), town, c.Params("id"), func(o *merchant.Offer) error {
		req := offerToRequest(*o)
		if err := decodeJSON(body, &req, false); err != nil {
			return err
		}
		return req.apply(o)
	})
	if err != nil {
		return err
	}
	return c.JSON(toOfferJSON(o))
}
