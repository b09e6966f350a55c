package main

import (
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// The audit log is written by storage, in the same transaction as each change, for every
// write whose context names an actor: requireAdmin and requireMerchant name the admin or the
// merchant, with the request id (see storage/audit.go). This file only lists it.

type auditJSON struct {
	Town      *string `json:"town"` // null for a network-level action
	Actor     string  `json:"actor"`
	Action    string  `json:"action"`
	Target    string  `json:"target"`
	RequestID string  `json:"request_id"`
	// ClientRequestID is the X-Request-ID the client sent, kept apart from the server's id.
	ClientRequestID string `json:"client_request_id"`
	CreatedAt       string `json:"created_at"`
}

// handleAuditList lists the audit log, newest first; ?actor= ("admin", an office token id,
// a merchant id, "cli") and ?action= (e.g. "card.block") filter it. An office sees its town's
// entries, the network admin every entry (with Citycard-Town: that town's).
func (s *server) handleAuditList(c *fiber.Ctx) error {
	f := storage.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action")}
	if !isNetwork(c) || townNamed(c) {
		town, err := townOf(c)
		if err != nil {
			return err
		}
		f.Town = town
	}
	if len(f.Actor) > 100 || len(f.Action) > 100 {
		return badRequest("actor and action must be at most 100 characters")
	}
	return sendList(c, func(p storage.Page) ([]storage.AuditEntry, string, error) { return s.db.Audit(c.UserContext(), f, p) },
		toAuditJSON)
}

func toAuditJSON(e storage.AuditEntry) auditJSON {
	var town *string
	if e.Town != "" {
		town = &e.Town
	}
	return auditJSON{Town: town, Actor: e.Actor, Action: e.Action, Target: e.Target, RequestID: e.RequestID,
		ClientRequestID: e.ClientRequestID, CreatedAt: timeJSON(e.CreatedAt)}
}
