package main

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/skip2/go-qrcode"
)

// pairingJSON is a new pairing code: the code, when it stops working, the till's URL that
// carries it and that URL's QR code as a PNG data URL (an <img> may show it under the strict
// Content-Security-Policy, which allows data: images). The URL carries the code in its
// fragment, which browsers never send to a server, so it stays out of proxy logs.
type pairingJSON struct {
	Code      string `json:"code"`
	ExpiresAt string `json:"expires_at"`
	URL       string `json:"url"`
	QR        string `json:"qr"`
}

// handlePairingCreate makes a one-time pairing code for a merchant's new till (admin).
// Errors: 404 not_found, 403 merchant_suspended.
func (s *server) handlePairingCreate(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	code, err := merchant.NewPairingCode()
	if err != nil {
		return err
	}
	sum, err := merchant.PairingCodeHash(code)
	if err != nil {
		return err
	}
	expires, err := s.db.CreatePairing(c.UserContext(), town, c.Params("id"), sum, merchant.PairingTTL)
	if err != nil {
		return err
	}
	url := s.cfg.PublicURL + "/pos#pair=" + code
	png, err := qrcode.Encode(url, qrcode.Medium, 320)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(pairingJSON{Code: code, ExpiresAt: timeJSON(expires), URL: url,
		QR: "data:image/png;base64," + base64.StdEncoding.EncodeToString(png)})
}

type pairRequest struct {
	Code string `json:"code"`
}

// handlePosPair exchanges a pairing code for a new API key of the code's merchant, one per
// device (public: the code is the credential). A wrong, used or expired code is 401
// pairing_invalid and counts as a failed sign-in of the address, like a wrong key.
func (s *server) handlePosPair(c *fiber.Ctx) error {
	var req pairRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Code) == "" {
		return badRequest("code is required")
	}
	sum, err := merchant.PairingCodeHash(req.Code)
	if err != nil {
		return s.pairingFailed(c)
	}
	key := newSecret("ccm")
	keySum := sha256.Sum256([]byte(key))
	// Audited as "pairing": whoever holds the code, acting for the merchant named as target.
	ctx := storage.WithActor(c.UserContext(), "pairing", requestID(c))
	m, err := s.db.UsePairing(ctx, sum, keySum[:])
	if errors.Is(err, merchant.ErrPairingInvalid) {
		return s.pairingFailed(c)
	}
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.Status(fiber.StatusCreated).JSON(fiber.Map{"api_key": key, "merchant": toMerchantJSON(m)})
}

// pairingFailed counts a wrong pairing code against the address, as a wrong key would be: 429
// once the address's (or everyone's) failures are spent, else 401 pairing_invalid. Only wrong
// codes come here, so a valid code always pairs, whatever the address's failures.
func (s *server) pairingFailed(c *fiber.Ctx) error {
	if err := s.signinFailed(c); !errors.Is(err, errUnauthorized) {
		return err
	}
	return merchant.ErrPairingInvalid
}
