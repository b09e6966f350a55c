package storage

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/citycard/citycard/storage/engine"
)

// The audit log records every change made on someone's behalf, in the same transaction as the
// change: a write either commits with its audit entry or not at all. Who is named by the
// context (WithActor); a write whose context names no one (start-up, the demo seed) is not
// audited. Each write function says what it did by calling tx.audit, once it has succeeded.

type actorKey struct{}

type clientRequestIDKey struct{}

type clientAddrKey struct{}

type actor struct {
	id        string
	requestID string
}

// WithActor returns a context whose writes are audited as done by id ("admin", a merchant id,
// "cli") under requestID. requestID is cut to 64 printable ASCII characters, as it may come
// from a client's X-Request-ID header.
func WithActor(ctx context.Context, id, requestID string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor{id: id, requestID: cleanRequestID(requestID)})
}

// WithClientRequestID returns a context whose audited writes also record the request id the
// client sent (its X-Request-ID header), apart from the server's own. It is cut to 64
// printable ASCII characters: anything else is dropped.
func WithClientRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, clientRequestIDKey{}, cleanRequestID(id))
}

// WithClientAddr returns a context whose audited writes also record the client's network
// address (as the server saw it, after trusted proxies). It is personal data: the retention
// job shortens it after CITYCARD_AUDIT_ADDRESS_DAYS (see ShortenAddr, docs/privacy.md).
func WithClientAddr(ctx context.Context, addr string) context.Context {
	if len(addr) > 64 {
		addr = addr[:64]
	}
	return context.WithValue(ctx, clientAddrKey{}, addr)
}

func cleanRequestID(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e {
			return -1
		}
		return r
	}, s)
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

// auditIn appends an entry for the write in progress in town ("" for a network-level action:
// towns, office tokens), if its context names an actor. action is "noun.verb" (e.g.
// "card.block"), target the public id of what changed; never a secret.
func (t *Tx) auditIn(town, action, target string) error {
	if t.ctx == nil {
		return nil
	}
	a, ok := t.ctx.Value(actorKey{}).(actor)
	if !ok || a.id == "" {
		return nil
	}
	if tok, _ := t.ctx.Value(officeTokenKey{}).(string); tok != "" {
		// Every office write is audited, so this is where each checks, inside its own
		// transaction, that its token was not revoked meanwhile (through another instance,
		// whose notification this one may not have had yet).
		var live int
		if err := t.queryRow(`SELECT count(*) FROM office_tokens WHERE id = ? AND revoked_at IS NULL`, tok).Scan(&live); err != nil {
			return err
		}
		if live == 0 {
			return ErrKeyRevoked
		}
	}
	client, _ := t.ctx.Value(clientRequestIDKey{}).(string)
	addr, _ := t.ctx.Value(clientAddrKey{}).(string)
	row := []any{nullStr(town), a.id, action, target, a.requestID, client, addr, ms(t.Now)}
	if t.fold != nil {
		// In a town's batch: written with the batch's other entries at its end.
		t.fold.audit = append(t.fold.audit, row)
		return nil
	}
	return execRows(t, auditInsert, "", [][]any{row})
}

// auditInsert inserts audit rows (execRows), the values in auditIn's order.
const auditInsert = `INSERT INTO audit (town, actor, action, target, request_id, client_request_id, client_addr, created_at) VALUES `

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	Town      string // "" for a network-level action
	Actor     string
	Action    string
	Target    string
	RequestID string // the server's id of the request
	// ClientRequestID is the X-Request-ID the client sent, cleaned; "" if none.
	ClientRequestID string
	// ClientAddr is the client's network address, shortened once old ("" if none; not
	// served by the API, see docs/privacy.md).
	ClientAddr string
	CreatedAt  time.Time
}

// AuditFilter narrows the audit log; empty fields do not filter.
type AuditFilter struct {
	Town   string // the town's entries only (never the network's); "" for all
	Actor  string
	Action string
}

// Audit lists the audit log, newest first.
func (db *DB) Audit(ctx context.Context, f AuditFilter, page Page) ([]AuditEntry, string, error) {
	// A town's entries by the (town, seq) index: "town = ?" spelled out, not "? = '' OR".
	town, args := `1 = 1`, []any{}
	if f.Town != "" {
		town, args = `town = ?`, []any{f.Town}
	}
	return list(db.reader(ctx), `SELECT seq, coalesce(town, ''), actor, action, target, request_id, client_request_id, client_addr, created_at FROM audit
		WHERE `+town+` AND (? = '' OR actor = ?) AND (? = '' OR action = ?) AND seq < ? ORDER BY seq DESC LIMIT ?`,
		append(args, f.Actor, f.Actor, f.Action, f.Action), page, true, func(r *sql.Rows) (AuditEntry, int64, error) {
			var e AuditEntry
			var seq, at int64
			err := r.Scan(&seq, &e.Town, &e.Actor, &e.Action, &e.Target, &e.RequestID, &e.ClientRequestID, &e.ClientAddr, &at)
			e.CreatedAt = fromMS(at)
			return e, seq, err
		})
}

type officeTokenKey struct{}

// WithOfficeToken returns a context whose writes act with the office token id: each checks in
// its transaction that the token is still live (see auditIn), ErrKeyRevoked if not.
func WithOfficeToken(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, officeTokenKey{}, id)
}

type merchantKeyKey struct{}

// WithMerchantKey returns a context whose writes act with the merchant key that hashes to sum
// (a till's request): the writes a till makes (a redemption, a void) check inside their own
// transaction that sum is still one of the merchant's keys, so a key rotated through another
// service instance is refused even before that instance's cache hears of it.
func WithMerchantKey(ctx context.Context, sum []byte) context.Context {
	return context.WithValue(ctx, merchantKeyKey{}, sum)
}

// merchantKeyQuery is checkMerchantKey's read, and whether it makes one (a merchant key in
// the write's context), for a write that sends it ahead (prefetch).
func (t *Tx) merchantKeyQuery(merchantID string) (engine.Query, bool) {
	sum, _ := t.ctx.Value(merchantKeyKey{}).([]byte)
	if sum == nil {
		return engine.Query{}, false
	}
	return engine.Query{SQL: `SELECT (SELECT count(*) FROM merchants WHERE id = ? AND key_hash = ?) +
		(SELECT count(*) FROM merchant_keys WHERE merchant_id = ? AND key_hash = ?)`, Args: []any{merchantID, sum, merchantID, sum}}, true
}

// ErrKeyRevoked is a write made with a merchant key that was rotated or revoked meanwhile, or
// with an office token revoked meanwhile (the client sees 401, as for any wrong secret).
var ErrKeyRevoked = errors.New("the merchant key was rotated or revoked")

// checkMerchantKey refuses (ErrKeyRevoked) a write made with
// a merchant key that is no longer merchantID's; a write with no key in its context (the
// office's, a tool's) passes.
func (t *Tx) checkMerchantKey(merchantID string) error {
	mq, ok := t.merchantKeyQuery(merchantID)
	if !ok {
		return nil
	}
	var n int
	if err := t.queryRow(mq.SQL, mq.Args...).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrKeyRevoked
	}
	return nil
}
