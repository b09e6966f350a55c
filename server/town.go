package main

import (
	"crypto/sha256"
	"errors"
	"strings"

	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// HeaderTown names the town the network admin acts in (as Stripe Connect's Stripe-Account).
const HeaderTown = "Citycard-Town"

// Roles of an admin-side caller.
const (
	roleNetwork = "network" // the admin token: every town
	roleOffice  = "office"  // an office token: its town only
)

var (
	errTownRequired = errorf(fiber.StatusBadRequest, "town_required", "this deployment has several towns: name one with the Citycard-Town header")
	errTownNotFound = errorf(fiber.StatusNotFound, "town_not_found", "no town with this code")
	errNetworkOnly  = errorf(fiber.StatusForbidden, "forbidden", "only the network admin may call this endpoint")
)

// officeTokenPrefix starts every office token, so a token's kind shows at a glance.
const officeTokenPrefix = "cco_"

// resolveTown decides, once per request, the town an admin-side caller acts in, and puts it
// in c.Locals("town") ("" when the network admin names none in a deployment of several
// towns: an endpoint that needs a town then answers town_required). An office acts in its
// own town; naming another is 403 forbidden.
func (s *server) resolveTown(c *fiber.Ctx, role, own string) error {
	named := strings.TrimSpace(c.Get(HeaderTown))
	c.Locals("role", role)
	if role == roleOffice {
		if named != "" && named != own {
			return errForbidden
		}
		c.Locals("town", own)
		return nil
	}
	if named != "" {
		if _, ok := s.db.CachedTown(named); !ok {
			return errTownNotFound
		}
		c.Locals("town", named)
		c.Locals("town_named", true)
		return nil
	}
	if codes := s.db.TownCodes(); len(codes) == 1 {
		c.Locals("town", codes[0])
	} else {
		c.Locals("town", "")
	}
	return nil
}

// townOf is the town the request acts in, as resolved by the auth middleware; town_required
// if the network admin named none in a deployment of several towns.
func townOf(c *fiber.Ctx) (string, error) {
	t, _ := c.Locals("town").(string)
	if t == "" {
		return "", errTownRequired
	}
	return t, nil
}

// isNetwork reports whether the caller is the network admin.
func isNetwork(c *fiber.Ctx) bool {
	r, _ := c.Locals("role").(string)
	return r == roleNetwork
}

// townNamed reports whether the network admin named a town with the header.
func townNamed(c *fiber.Ctx) bool {
	v, _ := c.Locals("town_named").(bool)
	return v
}

// requireNetwork lets only the network admin through (after requireAdmin).
func requireNetwork(c *fiber.Ctx) error {
	if !isNetwork(c) {
		return errNetworkOnly
	}
	return nil
}

// officeBySecret finds the live office token secret is. Tokens are stored as SHA-256.
func (s *server) officeBySecret(c *fiber.Ctx, secret string) (storage.OfficeToken, bool, error) {
	if !strings.HasPrefix(secret, officeTokenPrefix) {
		return storage.OfficeToken{}, false, nil
	}
	sum := sha256.Sum256([]byte(secret))
	t, err := s.db.OfficeTokenByHash(c.UserContext(), sum[:])
	if errors.Is(err, storage.ErrTokenNotFound) {
		return t, false, nil
	}
	return t, err == nil, err
}

// townJSON is a town as served.
type townJSON struct {
	Code      string            `json:"code"`
	Name      map[string]string `json:"name"`
	Timezone  string            `json:"timezone"`
	Languages []string          `json:"languages"`
	PublicURL string            `json:"public_url"`
	CardName  map[string]string `json:"card_name"` // every language filled in (the town's name + " Card" where none is set)
	Color     string            `json:"color"`     // #rrggbb
	Privacy   townPrivacyJSON   `json:"privacy"`   // "" fields: not filled in
	CreatedAt string            `json:"created_at"`
}

// townPrivacyJSON is a town's privacy fields as served and set: the controller named by its
// privacy notice, its address and its contact (an e-mail address or a URL). All three are ""
// while not filled in; {} in a PATCH clears them.
type townPrivacyJSON struct {
	Controller string `json:"controller"`
	Address    string `json:"address"`
	Contact    string `json:"contact"`
}

// townFaceJSON is a town as its till shows it: its name, its card's name and its colour.
type townFaceJSON struct {
	Code     string            `json:"code"`
	Name     map[string]string `json:"name"`
	CardName map[string]string `json:"card_name"`
	Color    string            `json:"color"`
}

func toTownFaceJSON(t storage.Town) townFaceJSON {
	return townFaceJSON{t.Code, t.Name, t.CardNames(), t.TownColor()}
}

func toTownJSON(t storage.Town) townJSON {
	return townJSON{t.Code, t.Name, t.Timezone, t.Languages, t.PublicURL, t.CardNames(), t.TownColor(),
		townPrivacyJSON(t.Privacy), timeJSON(t.CreatedAt)}
}

type townBody struct {
	Code      *string           `json:"code"`
	Name      map[string]string `json:"name"`
	Timezone  *string           `json:"timezone"`
	Languages []string          `json:"languages"`
	PublicURL *string           `json:"public_url"`
	CardName  map[string]string `json:"card_name"` // replaces the names set; {} goes back to the defaults
	Color     *string           `json:"color"`     // "" goes back to the default
	Privacy   *townPrivacyJSON  `json:"privacy"`   // replaces all three; {} clears them
}

// handleTownCreate is POST /api/v1/towns (network admin).
func (s *server) handleTownCreate(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	var b townBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	t := storage.Town{Name: b.Name, Languages: b.Languages}
	if b.Code != nil {
		t.Code = *b.Code
	}
	if b.Timezone != nil {
		t.Timezone = *b.Timezone
	}
	if b.PublicURL != nil {
		t.PublicURL = *b.PublicURL
	}
	t.CardName = b.CardName
	if b.Color != nil {
		t.Color = *b.Color
	}
	if b.Privacy != nil {
		t.Privacy = storage.TownPrivacy(*b.Privacy)
	}
	if err := s.db.CreateTown(c.UserContext(), &t); err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(toTownJSON(t))
}

// handleTownList is GET /api/v1/towns: every town for the network admin, its own for an office.
func (s *server) handleTownList(c *fiber.Ctx) error {
	ts, err := s.db.Towns(c.UserContext())
	if err != nil {
		return err
	}
	out := []townJSON{}
	own, _ := c.Locals("town").(string)
	for _, t := range ts {
		if isNetwork(c) || t.Code == own {
			out = append(out, toTownJSON(t))
		}
	}
	return c.JSON(newList(out, ""))
}

// visibleTown is the town code of the path, if the caller may see it (404 otherwise).
func (s *server) visibleTown(c *fiber.Ctx) (storage.Town, error) {
	code := c.Params("code")
	own, _ := c.Locals("town").(string)
	if !isNetwork(c) && code != own {
		return storage.Town{}, errTownNotFound
	}
	t, err := s.db.Town(c.UserContext(), code)
	return t, err
}

// handleTownGet is GET /api/v1/towns/{code}.
func (s *server) handleTownGet(c *fiber.Ctx) error {
	t, err := s.visibleTown(c)
	if err != nil {
		return err
	}
	return c.JSON(toTownJSON(t))
}

// handleTownUpdate is PATCH /api/v1/towns/{code} (network admin).
func (s *server) handleTownUpdate(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	var b townBody
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	if b.Code != nil && *b.Code != c.Params("code") {
		return errorf(fiber.StatusBadRequest, "invalid_request", "code cannot be changed")
	}
	t, err := s.db.UpdateTown(c.UserContext(), c.Params("code"), func(t *storage.Town) error {
		if b.Name != nil {
			t.Name = b.Name
		}
		if b.Timezone != nil {
			t.Timezone = *b.Timezone
		}
		if b.Languages != nil {
			t.Languages = b.Languages
		}
		if b.PublicURL != nil {
			t.PublicURL = *b.PublicURL
		}
		if b.CardName != nil {
			t.CardName = b.CardName
		}
		if b.Color != nil {
			t.Color = *b.Color
		}
		if b.Privacy != nil {
			t.Privacy = storage.TownPrivacy(*b.Privacy)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(toTownJSON(t))
}

// officeTokenJSON is a token as listed: never the token itself.
type officeTokenJSON struct {
	ID         string  `json:"id"`
	Label      string  `json:"label"`
	CreatedAt  string  `json:"created_at"`
	LastUsedAt *string `json:"last_used_at"`
}

// newOfficeTokenJSON is the answer to its creation, the only one that holds the token.
type newOfficeTokenJSON struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Token     string `json:"token"`
	CreatedAt string `json:"created_at"`
}

// handleOfficeTokenCreate is POST /api/v1/towns/{code}/tokens (network admin): the token is
// shown only in this answer.
func (s *server) handleOfficeTokenCreate(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	var b struct {
		Label string `json:"label"`
	}
	if err := decodeBody(c, &b); err != nil {
		return err
	}
	secret := newSecret(strings.TrimSuffix(officeTokenPrefix, "_"))
	sum := sha256.Sum256([]byte(secret))
	t, err := s.db.CreateOfficeToken(c.UserContext(), c.Params("code"), b.Label, sum[:])
	if err != nil {
		return err
	}
	return c.Status(fiber.StatusCreated).JSON(newOfficeTokenJSON{ID: t.ID, Label: t.Label, Token: secret, CreatedAt: timeJSON(t.CreatedAt)})
}

// handleOfficeTokenList is GET /api/v1/towns/{code}/tokens (network admin), never the tokens.
func (s *server) handleOfficeTokenList(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	if _, err := s.db.Town(c.UserContext(), c.Params("code")); err != nil {
		return err
	}
	return sendList(c, func(p storage.Page) ([]storage.OfficeToken, string, error) {
		return s.db.OfficeTokens(c.UserContext(), c.Params("code"), p)
	}, func(t storage.OfficeToken) officeTokenJSON {
		return officeTokenJSON{ID: t.ID, Label: t.Label, CreatedAt: timeJSON(t.CreatedAt), LastUsedAt: timePtrJSON(t.LastUsedAt)}
	})
}

// handleOfficeTokenRevoke is DELETE /api/v1/towns/{code}/tokens/{id} (network admin).
func (s *server) handleOfficeTokenRevoke(c *fiber.Ctx) error {
	if err := requireNetwork(c); err != nil {
		return err
	}
	if err := s.db.RevokeOfficeToken(c.UserContext(), c.Params("code"), c.Params("id")); err != nil {
		return err
	}
	return c.SendStatus(fiber.StatusNoContent)
}

// handlePublicTowns is GET /api/v1/public/towns: code, name, languages, card_name, color and
// public_url of every town.
func (s *server) handlePublicTowns(c *fiber.Ctx) error {
	ts, err := s.db.Towns(c.UserContext())
	if err != nil {
		return err
	}
	type pub struct {
		Code      string            `json:"code"`
		Name      map[string]string `json:"name"`
		Languages []string          `json:"languages"`
		CardName  map[string]string `json:"card_name"`
		Color     string            `json:"color"`
		PublicURL string            `json:"public_url"`
	}
	out := make([]pub, 0, len(ts))
	for _, t := range ts {
		out = append(out, pub{t.Code, t.Name, t.Languages, t.CardNames(), t.TownColor(), t.PublicURL})
	}
	return c.JSON(newList(out, ""))
}

// publicTown is the town a public endpoint names with ?town=: 404 town_not_found for an
// unknown code; without it, the only town, or 400 town_required in a deployment of several.
func (s *server) publicTown(c *fiber.Ctx) (string, error) {
	if t := c.Query("town"); t != "" {
		if _, ok := s.db.CachedTown(t); !ok {
			return "", errTownNotFound
		}
		return t, nil
	}
	if codes := s.db.TownCodes(); len(codes) == 1 {
		return codes[0], nil
	}
	return "", errorf(fiber.StatusBadRequest, "town_required", "this deployment has several towns: name one with ?town=")
}
