package main

import (
	"encoding/hex"

	"github.com/gofiber/fiber/v2"
)

// ledgerCheckJSON is the answer of verify: ok with the chain's length and head, or the first
// bad record and what is wrong with it.
type ledgerCheckJSON struct {
	OK           bool    `json:"ok"`
	Entries      *int64  `json:"entries,omitempty"`
	Head         *string `json:"head,omitempty"`
	FirstBad     *string `json:"first_bad,omitempty"`
	RedemptionID *string `json:"redemption_id,omitempty"`
	Problem      *string `json:"problem,omitempty"`
}

// handleLedgerVerify walks the ledger's hash chain and checks it against the redemptions.
func (s *server) handleLedgerVerify(c *fiber.Ctx) error {
	chk, err := s.db.VerifyLedger(c.UserContext())
	if err != nil {
		return err
	}
	if chk.OK {
		head := hex.EncodeToString(chk.Head[:])
		return c.JSON(ledgerCheckJSON{OK: true, Entries: &chk.Entries, Head: &head})
	}
	out := ledgerCheckJSON{FirstBad: &chk.FirstBad, Problem: &chk.Problem}
	if chk.RedemptionID != "" {
		out.RedemptionID = &chk.RedemptionID
	}
	return c.JSON(out)
}
