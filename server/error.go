package main

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// apiError is an error with its HTTP status and contract code. Its message reaches the client.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, format string, a ...any) error {
	return &apiError{status, code, fmt.Sprintf(format, a...)}
}

// badRequest is a 400 invalid_request.
func badRequest(format string, a ...any) error {
	return errorf(fiber.StatusBadRequest, "invalid_request", format, a...)
}

// errorTable maps domain errors to the contract's status and code. The error's own text,
// client-safe by construction, becomes the message.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{card.ErrInvalidInput, 400, "invalid_request"},
	{merchant.ErrInvalidInput, 400, "invalid_request"},
	{storage.ErrBadCursor, 400, "invalid_request"},
	{card.ErrInvalid, 422, "card_invalid"},
	{card.ErrNotFound, 404, "card_not_found"},
	{card.ErrBlocked, 422, "card_blocked"},
	{card.ErrExpired, 422, "card_expired"},
	{card.ErrNotYetIssued, 422, "card_not_yet_issued"},
	{card.ErrNoProduct, 404, "product_not_found"},
	{card.ErrBatchNotFound, 404, "not_found"},
	{card.ErrProductExists, 409, "already_exists"},
	{merchant.ErrNotFound, 404, "not_found"},
	{merchant.ErrOfferNotFound, 404, "offer_not_found"},
	{merchant.ErrOfferInactive, 422, "offer_inactive"},
	{merchant.ErrOfferNotEligible, 422, "offer_not_eligible"},
	{merchant.ErrAmountTooLow, 422, "amount_too_low"},
	{merchant.ErrLimitReached, 409, "limit_reached"},
	{merchant.ErrIdempotencyMismatch, 422, "idempotency_mismatch"},
	{merchant.ErrAlreadyVoided, 409, "already_voided"},
	{merchant.ErrSuspended, 403, "merchant_suspended"},
	{merchant.ErrMonthOpen, 409, "month_open"},
	{merchant.ErrAlreadyClosed, 409, "already_closed"},
	{merchant.ErrLedgerMismatch, 409, "ledger_mismatch"},
	{card.ErrNotAccepted, 422, "card_not_accepted"},
	{card.ErrOtherTowns, 403, "forbidden"},
	{storage.ErrTownNotFound, 404, "town_not_found"},
	{storage.ErrTownExists, 409, "already_exists"},
	{storage.ErrTokenNotFound, 404, "not_found"},
	{merchant.ErrPairingInvalid, 401, "pairing_invalid"},
	{storage.ErrKeyRevoked, 401, "unauthorized"},
	{merchant.ErrOccurredAtOutOfRange, 422, "occurred_at_out_of_range"},
	{merchant.ErrAlreadyDecided, 409, "already_decided"},
	{merchant.ErrNotConflict, 409, "not_a_conflict"},
	{merchant.ErrConflictNotVoidable, 409, "conflict_not_voidable"},
	{merchant.ErrConflictsOpen, 409, "conflicts_open"},
	{merchant.ErrTooManyConflicts, 429, "too_many_conflicts"},
}

// errorCode is the contract code of a domain error, or "" if it has none. Used for the
// "reason" of an offer that is not available.
func errorCode(err error) string {
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.code
		}
	}
	return ""
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// handleError is the one place that turns an error into a response: the contract's body for
// known errors, 500 "internal error" (logged with the request id) for anything else.
func handleError(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, code, msg := classify(err)
		if status >= 500 {
			log.Error("request failed", "err", err, "method", c.Method(), "path", logPath(c.Path()), "request_id", requestID(c))
		}
		setSecurityHeaders(c)
		var body errorBody
		body.Error.Code, body.Error.Message = code, msg
		if wantsHTML(c) {
			return renderErrorPage(c, status, code)
		}
		return c.Status(status).JSON(body)
	}
}

func classify(err error) (int, string, string) {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.status, ae.code, ae.message
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.status, e.code, err.Error()
		}
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case fiber.StatusNotFound:
			return 404, "not_found", "no such route"
		case fiber.StatusMethodNotAllowed:
			return 405, "method_not_allowed", "method not allowed"
		case fiber.StatusRequestEntityTooLarge:
			return 413, "payload_too_large", "request body too large"
		case fiber.StatusRequestTimeout:
			return 408, "request_timeout", "request timeout"
		case fiber.StatusTooManyRequests:
			return 429, "rate_limited", "too many requests"
		}
		if fe.Code >= 400 && fe.Code < 500 {
			return fe.Code, "invalid_request", fe.Message
		}
	}
	return 500, "internal_error", "internal error"
}

func requestID(c *fiber.Ctx) string {
	if v, ok := c.Locals("requestid").(string); ok {
		return v
	}
	return ""
}

// logPath is a request path fit for a log: a card token in it is a secret (it opens the
// card's page) and is cut to its first characters.
func logPath(p string) string {
	for _, prefix := range []string{"/c/", "/api/v1/public/cards/"} {
		if rest, ok := strings.CutPrefix(p, prefix); ok && len(rest) > 8 {
			return prefix + rest[:8] + "…"
		}
	}
	return p
}
