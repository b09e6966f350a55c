package main

import (
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// The audit log is written by storage, in the same transaction as each change, for every
// write whose context names an actor: requireAdmin and requireMerchant name the admin or the
// merchant, with the request id (see storage/audit.go). This file only lists it.

type auditJSON struct {
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	RequestID string `json:"request_id"`
	// ClientRequestID is the X-Request-ID the client sent, kept apart from the server's id.
	ClientRequestID string `json:"client_request_id"`
	CreatedAt       string `json:"created_at"`
}

// handleAuditList lists the audit log, newest first; ?actor= ("admin", a merchant id, "cli")
// and ?action= (e.g. "card.block") filter it.
func (s *server) handleAuditList(c *fiber.Ctx) error {
	f := storage.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action")}
	if len(f.Actor) > 100 || len(f.Action) > 100 {
		return badRequest("actor and action must be at most 100 characters")
	}
	return sendList(c, func(p storage.Page) ([]storage.AuditEntry, string, error) { return s.db.Audit(c.UserContext(), f, p) },
		func(e storage.AuditEntry) auditJSON {
			return auditJSON{Actor: e.Actor, Action: e.Action, Target: e.Target, RequestID: e.RequestID,
				ClientRequestID: e.ClientRequestID, CreatedAt: timeJSON(e.CreatedAt)}
		})
}
