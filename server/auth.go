package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

var (
	errUnauthorized = errorf(fiber.StatusUnauthorized, "unauthorized", "missing or wrong secret")
	errForbidden    = errorf(fiber.StatusForbidden, "forbidden", "this secret may not call this endpoint")
)

// bearer returns the secret of "Authorization: Bearer <secret>", or "".
func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return ""
	}
	return strings.TrimSpace(h[7:])
}

func (s *server) isAdmin(secret string) bool {
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], s.adminHash[:]) == 1
}

// merchantBySecret finds the merchant whose key is secret. Keys are stored as SHA-256 and
// looked up by hash, so the secret never reaches the database.
func (s *server) merchantBySecret(c *fiber.Ctx, secret string) (merchant.Merchant, bool, error) {
	if !strings.HasPrefix(secret, "ccm_") {
		return merchant.Merchant{}, false, nil
	}
	sum := sha256.Sum256([]byte(secret))
	m, err := s.db.MerchantByKeyHash(c.UserContext(), sum[:])
	if errors.Is(err, merchant.ErrNotFound) {
		return m, false, nil
	}
	return m, err == nil, err
}

// requireAdmin lets the admin token (the network admin) and office tokens through, and
// resolves the town the request acts in (resolveTown): 401 without a valid secret, 403 for a
// merchant key, 429 instead of 401 for an address with too many failed sign-ins (a valid
// secret always gets in). The network admin's writes are audited as "admin", an office's
// under its token id.
func (s *server) requireAdmin(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" {
		return s.signinFailed(c)
	}
	if s.isAdmin(secret) {
		if err := s.resolveTown(c, roleNetwork, ""); err != nil {
			return err
		}
		c.Locals("actor", "admin")
		c.SetUserContext(storage.WithActor(c.UserContext(), "admin", requestID(c)))
		return c.Next()
	}
	tok, ok, err := s.officeBySecret(c, secret)
	if err != nil {
		return err
	}
	if ok {
		if err := s.resolveTown(c, roleOffice, tok.Town); err != nil {
			return err
		}
		if err := s.db.TouchOfficeToken(c.UserContext(), tok.ID); err != nil {
			return err
		}
		c.Locals("actor", tok.ID)
		c.SetUserContext(storage.WithOfficeToken(storage.WithActor(c.UserContext(), tok.ID, requestID(c)), tok.ID))
		return c.Next()
	}
	_, ok, err = s.merchantBySecret(c, secret)
	if err != nil {
		return err
	}
	if ok {
		return errForbidden
	}
	if _, ok, err := s.salesPointBySecret(c, secret); err != nil {
		return err
	} else if ok {
		return errForbidden // a sales point has its own routes (server/sales.go)
	}
	return s.signinFailed(c)
}

// requireMerchant lets only an active merchant's key through and puts the merchant in the
// context: 401 without a valid secret, 403 forbidden for the admin token, 403
// merchant_suspended for a suspended merchant, 429 over the merchant's rate, and 429 instead
// of 401 for an address with too many failed sign-ins (a valid key always gets in). The
// merchant's writes are audited under its id.
func (s *server) requireMerchant(c *fiber.Ctx) error {
	secret := bearer(c)
	if secret == "" {
		return s.signinFailed(c)
	}
	m, ok, err := s.merchantBySecret(c, secret)
	if err != nil {
		return err
	}
	if !ok {
		if s.isAdmin(secret) {
			return errForbidden
		}
		if _, office, err := s.officeBySecret(c, secret); err != nil {
			return err
		} else if office {
			return errForbidden
		}
		if _, sp, err := s.salesPointBySecret(c, secret); err != nil {
			return err
		} else if sp {
			return errForbidden
		}
		return s.signinFailed(c)
	}
	if m.Status != merchant.StatusActive {
		return merchant.ErrSuspended
	}
	sum := sha256.Sum256([]byte(secret))
	c.SetUserContext(storage.WithMerchantKey(c.UserContext(), sum[:]))
	if err := s.limitMerchant(c, m.ID); err != nil {
		return err
	}
	c.Locals("merchant", m)
	c.Locals("town", m.Town) // a merchant acts in its own town only
	c.Locals("actor", m.ID)
	c.SetUserContext(storage.WithActor(c.UserContext(), m.ID, requestID(c)))
	return c.Next()
}

// currentMerchant is the merchant requireMerchant let through.
func currentMerchant(c *fiber.Ctx) merchant.Merchant {
	m, _ := c.Locals("merchant").(merchant.Merchant)
	return m
}
