package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// Offline tills (API.md "Offline tills", docs/offline.md).

type syncRequest struct {
	Items []syncItem `json:"items"`
}

type syncItem struct {
	IdempotencyKey string  `json:"idempotency_key"`
	Card           string  `json:"card"`
	OfferID        string  `json:"offer_id"`
	Amount         string  `json:"amount"`
	Terminal       string  `json:"terminal"`
	OccurredAt     *string `json:"occurred_at"`
}

type syncResult struct {
	IdempotencyKey string          `json:"idempotency_key"`
	Status         int             `json:"status"`
	Redemption     *redemptionJSON `json:"redemption,omitempty"`
	Error          *errorDetail    `json:"error,omitempty"`
}

// handlePosSync uploads an offline till's queue: each item is a redemption with its own
// idempotency key, recorded (or answered with its error) in order and independently, so one
// bad item never holds back the others; a replayed item gets its original answer.
func (s *server) handlePosSync(c *fiber.Ctx) error {
	var req syncRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if len(req.Items) < 1 || len(req.Items) > merchant.OfflineMaxRedemptions {
		return badRequest("items must hold 1 to %d redemptions", merchant.OfflineMaxRedemptions)
	}
	mid := currentMerchant(c).ID
	out := make([]syncResult, len(req.Items))
	for i, it := range req.Items {
		res := syncResult{IdempotencyKey: it.IdempotencyKey}
		r, replayed, err := s.syncOne(c, mid, it)
		s.metrics.redemption(err, replayed)
		if err != nil {
			status, _, _ := classify(err)
			if status >= 500 {
				return err // the store failed: the till retries the whole upload with the same keys
			}
			d := describe(c, err)
			res.Status, res.Error = status, &d
		} else {
			j := toRedemptionJSON(r)
			res.Status, res.Redemption = fiber.StatusCreated, &j
		}
		out[i] = res
	}
	return c.JSON(fiber.Map{"items": out})
}

// syncOne records one item of an upload as a single redemption with its own key.
func (s *server) syncOne(c *fiber.Ctx, merchantID string, it syncItem) (merchant.Redemption, bool, error) {
	if len(it.IdempotencyKey) < 1 || len(it.IdempotencyKey) > 255 {
		return merchant.Redemption{}, false, badRequest("idempotency_key of 1 to 255 characters is required")
	}
	req, ref, err := s.redeemBody(redeemRequest{Card: it.Card, OfferID: it.OfferID, Amount: it.Amount, Terminal: it.Terminal, OccurredAt: it.OccurredAt}, merchantID, it.IdempotencyKey)
	if err != nil {
		return merchant.Redemption{}, false, err
	}
	return s.db.Redeem(c.UserContext(), req, ref)
}

type usedJSON struct {
	CardNumber string `json:"card_number"`
	OfferID    string `json:"offer_id"`
	Date       string `json:"date"`
}

// handleOfflinePack is everything a till needs to decide offline (API.md). Its ETag is a hash
// of the body without generated_at, valid_until and used, and of the version of used
// (storage.DB.OfflineUsedVersion), so a till polling an unchanged pack gets 304 and keeps the
// one it has, and the server never reads the uses for a 304.
func (s *server) handleOfflinePack(c *fiber.Ctx) error {
	m := currentMerchant(c)
	now := s.db.Now()
	// The version first: the list read after it is never older than the version.
	version, err := s.db.OfflineUsedVersion(c.UserContext(), m.ID, now)
	if err != nil {
		return err
	}
	keys := s.keys.PublicKeys()
	kout := make([]publicKeyJSON, len(keys))
	for i, k := range keys {
		kout[i] = publicKeyJSON{KID: k.ID, Alg: "Ed25519", PublicKey: base64.RawURLEncoding.EncodeToString(k.Public)}
	}
	offers := []offerJSON{}
	err = eachPage(func(p storage.Page) (string, error) {
		items, next, err := s.db.Offers(c.UserContext(), m.Town, m.ID, p)
		for _, o := range items {
			offers = append(offers, toOfferJSON(o))
		}
		return next, err
	})
	if err != nil {
		return err
	}
	blocked, err := s.db.OfflineBlocked(c.UserContext(), now)
	if err != nil {
		return err
	}
	content := fiber.Map{
		"keys": kout, "offers": offers, "blocked": blocked,
		"limits": fiber.Map{"max_hours": merchant.OfflineMaxHours, "max_redemptions": merchant.OfflineMaxRedemptions},
	}
	b, err := json.Marshal(content)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(append(append(b, 0), version...))
	etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderCacheControl, "private, no-cache")
	if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && strings.Contains(inm, etag) {
		return c.SendStatus(fiber.StatusNotModified)
	}
	used, err := s.db.OfflineUsed(c.UserContext(), m.ID, now)
	if err != nil {
		return err
	}
	uout := make([]usedJSON, len(used))
	for i, u := range used {
		uout[i] = usedJSON(u)
	}
	content["used"] = uout
	content["generated_at"] = timeJSON(now)
	content["valid_until"] = timeJSON(now.Add(merchant.OfflineMaxHours * time.Hour))
	return c.JSON(content)
}

type decideRequest struct {
	Note string `json:"note"`
}

// handleConflictDecide accepts or rejects one of the town's conflicts.
func (s *server) handleConflictDecide(decision string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		town, err := townOf(c)
		if err != nil {
			return err
		}
		var req decideRequest
		if err := decodeBody(c, &req); err != nil {
			return err
		}
		r, err := s.db.DecideConflict(c.UserContext(), town, c.Params("id"), decision, req.Note)
		if err != nil {
			return err
		}
		return c.JSON(toRedemptionJSON(r))
	}
}

func (s *server) handleConflictAccept(c *fiber.Ctx) error {
	return s.handleConflictDecide(merchant.DecisionAccepted)(c)
}

func (s *server) handleConflictReject(c *fiber.Ctx) error {
	return s.handleConflictDecide(merchant.DecisionRejected)(c)
}

// Conflicts in bulk (docs/offline.md "Deciding conflicts in bulk"; routes in routes.go):
//   GET  /api/v1/redemptions/conflicts/groups  the town's open conflicts by till and reason
//   POST /api/v1/redemptions/conflicts/decide  one decision on many of them

type conflictGroupJSON struct {
	MerchantID      string `json:"merchant_id"`
	Terminal        string `json:"terminal"`
	Reason          string `json:"reason"`
	Open            int    `json:"open"`
	FirstOccurredAt string `json:"first_occurred_at"`
	LastOccurredAt  string `json:"last_occurred_at"`
}

// handleConflictGroups answers the town's open conflicts grouped by merchant, terminal and
// reason, the largest group first, and how many are open in all.
func (s *server) handleConflictGroups(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	groups, err := s.db.ConflictGroups(c.UserContext(), town)
	if err != nil {
		return err
	}
	out, total := make([]conflictGroupJSON, len(groups)), 0
	for i, g := range groups {
		out[i] = conflictGroupJSON{g.MerchantID, g.Terminal, g.Reason, g.Open, timeJSON(g.First), timeJSON(g.Last)}
		total += g.Open
	}
	return c.JSON(fiber.Map{"items": out, "open": total})
}

type conflictFilterJSON struct {
	MerchantID string  `json:"merchant_id"`
	Terminal   *string `json:"terminal"` // "" is a till without a name; absent, any till
	Reason     string  `json:"reason"`
	Month      string  `json:"month"`
}

type bulkDecideRequest struct {
	Decision string              `json:"decision"`
	Note     string              `json:"note"`
	IDs      []string            `json:"ids"`
	Filter   *conflictFilterJSON `json:"filter"`
}

type bulkDecideResult struct {
	ID         string          `json:"id"`
	Status     int             `json:"status"`
	Redemption *redemptionJSON `json:"redemption,omitempty"`
	Error      *errorDetail    `json:"error,omitempty"`
}

// handleConflictDecideBulk records one decision ("accepted" or "rejected", with a note) on
// the town's conflicts named by ids, or on the open ones a filter selects (the oldest first),
// at most merchant.MaxBulkDecisions per request. Each is decided as
// POST /redemptions/{id}/accept or /reject decides it, and answered on its own (200, or 409
// already_decided, 409 not_a_conflict, 404 not_found); remaining is how many the filter
// still selects, so the console repeats the request until it is 0.
func (s *server) handleConflictDecideBulk(c *fiber.Ctx) error {
	town, err := townOf(c)
	if err != nil {
		return err
	}
	var req bulkDecideRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	if req.Decision != merchant.DecisionAccepted && req.Decision != merchant.DecisionRejected {
		return badRequest("decision must be %q or %q", merchant.DecisionAccepted, merchant.DecisionRejected)
	}
	if (req.IDs == nil) == (req.Filter == nil) {
		return badRequest("give either ids or a filter")
	}
	ctx := c.UserContext()
	ids := req.IDs
	var f storage.ConflictFilter
	if req.Filter != nil {
		f = storage.ConflictFilter{MerchantID: req.Filter.MerchantID, Reason: req.Filter.Reason}
		if req.Filter.Terminal != nil {
			f.Terminal, f.HasTerminal = *req.Filter.Terminal, true
		}
		if req.Filter.Month != "" {
			if f.Month, err = merchant.ParseMonth(req.Filter.Month); err != nil {
				return err
			}
		}
		if ids, _, err = s.db.OpenConflictIDs(ctx, town, f, merchant.MaxBulkDecisions); err != nil {
			return err
		}
	} else if len(ids) < 1 || len(ids) > merchant.MaxBulkDecisions {
		return badRequest("ids must name 1 to %d conflicts", merchant.MaxBulkDecisions)
	}
	decided, err := s.db.DecideConflicts(ctx, town, ids, req.Decision, req.Note)
	if err != nil {
		return err
	}
	out, n := make([]bulkDecideResult, len(decided)), 0
	for i, d := range decided {
		out[i] = bulkDecideResult{ID: d.ID}
		if d.Err != nil {
			status, _, _ := classify(d.Err)
			e := describe(c, d.Err)
			out[i].Status, out[i].Error = status, &e
			continue
		}
		j := toRedemptionJSON(d.Redemption)
		out[i].Status, out[i].Redemption = fiber.StatusOK, &j
		n++
	}
	remaining := 0
	if req.Filter != nil {
		if _, remaining, err = s.db.OpenConflictIDs(ctx, town, f, 0); err != nil {
			return err
		}
	}
	return c.JSON(fiber.Map{"decision": req.Decision, "decided": n, "items": out, "remaining": remaining})
}
