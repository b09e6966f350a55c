package main

import (
	"context"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Readiness: /healthz says the process answers (liveness: restart it if not); /readyz says
// it can do its job, which for this service means the database takes writes. A full disk
// leaves /healthz green while every redemption fails; /readyz goes 503 then, so a load
// balancer or orchestrator stops sending tills here and an operator is told.

const (
	// readyCacheTime is how long a probe's answer is reused: /readyz is public, and each
	// probe is a durable commit, so strangers polling it cost at most one commit a second.
	readyCacheTime = time.Second
	// readyTimeout bounds a probe: a writer stuck longer than this is not ready.
	readyTimeout = 3 * time.Second
)

var errNotReady = errorf(fiber.StatusServiceUnavailable, "not_ready", "the database cannot take writes")

// readiness runs probe at most once every readyCacheTime and remembers its answer.
type readiness struct {
	probe func(context.Context) error
	now   func() time.Time
	mu    sync.Mutex
	at    time.Time
	err   error
}

// check returns the latest probe's answer, probing again once it is older than readyCacheTime.
func (r *readiness) check(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); r.at.IsZero() || now.Sub(r.at) >= readyCacheTime || now.Before(r.at) {
		ctx, cancel := context.WithTimeout(ctx, readyTimeout)
		r.err = r.probe(ctx)
		cancel()
		r.at = r.now()
	}
	return r.err
}

// handleReady is GET /readyz: 200 {"status":"ready"} when a tiny write commits, else 503
// not_ready (the cause is logged, never shown).
func (s *server) handleReady(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	if err := s.ready.check(c.UserContext()); err != nil {
		s.log.Error("not ready: the database cannot take writes", "err", err, "request_id", requestID(c))
		return errNotReady
	}
	return c.JSON(fiber.Map{"status": "ready"})
}
