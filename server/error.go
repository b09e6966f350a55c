package main

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// apiError is an error with its HTTP status and contract code. Its message reaches the client
// as is (English) when the request names no language; key, if set, is the catalogue sentence
// (server/i18n errors.*.json) that replaces it in the language of Accept-Language.
type apiError struct {
	status  int
	code    string
	message string
	key     string
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, code, format string, a ...any) error {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, a...)}
}

// keyed is an apiError with its own catalogue sentence (errors.<lang>.json), for a code whose
// general sentence would not tell the reader what to do.
func keyed(status int, code, key, message string) error {
	return &apiError{status: status, code: code, message: message, key: key}
}

// badRequest is a 400 invalid_request.
func badRequest(format string, a ...any) error {
	return errorf(fiber.StatusBadRequest, "invalid_request", format, a...)
}

// errorTable maps domain errors to the contract's status, code and catalogue sentence. The
// error's own text, client-safe by construction, is the message of a request that names no
// language; with Accept-Language the message is the catalogue's sentence (key, else
// "code.<code>"; see localMessage).
var errorTable = []struct {
	err    error
	status int
	code   string
	key    string
}{
	{card.ErrInvalidInput, 400, "invalid_request", ""},
	{merchant.ErrInvalidInput, 400, "invalid_request", ""},
	{storage.ErrBadCursor, 400, "invalid_request", ""},
	{card.ErrInvalid, 422, "card_invalid", ""},
	{card.ErrNotFound, 404, "card_not_found", ""},
	{card.ErrBlocked, 422, "card_blocked", ""},
	{card.ErrExpired, 422, "card_expired", ""},
	{card.ErrErased, 409, "already_erased", ""},
	{card.ErrNotYetIssued, 422, "card_not_yet_issued", ""},
	{card.ErrNoProduct, 404, "product_not_found", ""},
	{card.ErrBatchNotFound, 404, "not_found", ""},
	{card.ErrProductExists, 409, "already_exists", "product_exists"},
	{merchant.ErrNotFound, 404, "not_found", ""},
	{merchant.ErrOfferNotFound, 404, "offer_not_found", ""},
	{merchant.ErrOfferInactive, 422, "offer_inactive", ""},
	{merchant.ErrOfferNotEligible, 422, "offer_not_eligible", ""},
	{merchant.ErrAmountTooLow, 422, "amount_too_low", ""},
	{merchant.ErrLimitReached, 409, "limit_reached", ""},
	{merchant.ErrIdempotencyMismatch, 422, "idempotency_mismatch", ""},
	{merchant.ErrAlreadyVoided, 409, "already_voided", ""},
	{merchant.ErrSuspended, 403, "merchant_suspended", ""},
	{merchant.ErrMonthOpen, 409, "month_open", ""},
	{merchant.ErrAlreadyClosed, 409, "already_closed", ""},
	{merchant.ErrLedgerMismatch, 409, "ledger_mismatch", ""},
	{card.ErrNotAccepted, 422, "card_not_accepted", ""},
	{card.ErrOtherTowns, 403, "forbidden", "product_other_towns"},
	{storage.ErrTownNotFound, 404, "town_not_found", ""},
	{storage.ErrTownExists, 409, "already_exists", "town_exists"},
	{storage.ErrTokenNotFound, 404, "not_found", ""},
	{merchant.ErrPairingInvalid, 401, "pairing_invalid", ""},
	{storage.ErrKeyRevoked, 401, "unauthorized", "key_revoked"},
	{merchant.ErrOccurredAtOutOfRange, 422, "occurred_at_out_of_range", ""},
	{merchant.ErrAlreadyDecided, 409, "already_decided", ""},
	{merchant.ErrNotConflict, 409, "not_a_conflict", ""},
	{merchant.ErrConflictNotVoidable, 409, "conflict_not_voidable", ""},
	{merchant.ErrConflictsOpen, 409, "conflicts_open", ""},
	{merchant.ErrTooManyConflicts, 429, "too_many_conflicts", ""},
	{storage.ErrWalletAuth, 401, "unauthorized", "wallet_auth"},
	{errWalletNotConfigured, 404, "wallet_not_configured", ""},
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
	Error errorDetail `json:"error"`
}

// errorDetail is the contract's error object: code, message and, for a request that fails
// validation on one field, that field's JSON path (docs/api-extensions.md).
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

// handleError is the one place that turns an error into a response: the contract's body for
// known errors, 500 "internal error" (logged with the request id) for anything else. The
// message is in the language of Accept-Language (see describe).
func handleError(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		status, code, _ := classify(err)
		if status >= 500 {
			log.Error("request failed", "err", err, "method", c.Method(), "path", logPath(c.Path()), "request_id", requestID(c))
		}
		setSecurityHeaders(c)
		if wantsHTML(c) {
			return renderErrorPage(c, status, code)
		}
		return c.Status(status).JSON(errorBody{Error: describe(c, err)})
	}
}

// describe is the error object of err for this request. A request without Accept-Language
// gets the service's own English message (what API clients and tests have always read);
// one with Accept-Language gets the catalogue's sentence in that language (sl, it, en, de;
// else en): the error's key, else the field's sentence for an invalid field, else the code's
// ("code.<code>"). The English catalogue keeps the service's own, more detailed message for
// an invalid field that has no sentence of its own. code never changes with the language.
func describe(c *fiber.Ctx, err error) errorDetail {
	status, code, msg := classify(err)
	d := errorDetail{Code: code, Message: msg}
	if code == "invalid_request" && status < 500 {
		d.Field = fieldOf(msg)
	}
	if al := c.Get(fiber.HeaderAcceptLanguage); al != "" {
		d.Message = localMessage(i18n.PickLang("", al, ""), d.Code, d.Field, errorKey(err), msg)
	}
	return d
}

// errorKey is the catalogue key of err's own sentence, "" for the code's.
func errorKey(err error) string {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae.key
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			return e.key
		}
	}
	return ""
}

// localMessage is the sentence for an error in lang (see describe); raw is the service's own
// English message.
func localMessage(lang, code, field, key, raw string) string {
	cat := i18n.Catalogue("errors")
	has := func(k string) bool { _, ok := cat["en"][k]; return ok }
	switch {
	case key != "" && has(key):
		return i18n.Translate("errors", lang, key)
	case field != "":
		for f := field; f != ""; f = parentPath(f) {
			if has("field." + f) {
				return i18n.Translate("errors", lang, "field."+f)
			}
		}
		if lang == "en" {
			return raw
		}
		return strings.ReplaceAll(i18n.Translate("errors", lang, "field"), "{field}", field)
	case has("code." + code):
		return i18n.Translate("errors", lang, "code."+code)
	}
	return raw
}

// parentPath is "name" for "name.sl", "" for "name".
func parentPath(f string) string {
	if i := strings.LastIndexByte(f, '.'); i > 0 {
		return f[:i]
	}
	return ""
}

// fieldPathRE is a JSON path as the service's messages write it: name, name.sl, items.3.card.
var fieldPathRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$`)

// fieldOf is the field a validation message is about: the service writes every such message
// field first ("iban must be …", "name.sl is required …", "field amount must be a string,
// not number", "unknown field \"x\""); a message that begins with a word of a sentence
// ("a free offer …", "give ids …") names none.
func fieldOf(msg string) string {
	msg = strings.TrimPrefix(msg, "invalid request: ")
	if rest, ok := strings.CutPrefix(msg, "unknown field "); ok {
		return strings.Trim(rest, `"`)
	}
	msg = strings.TrimPrefix(msg, "field ")
	first, _, _ := strings.Cut(msg, " ")
	switch first {
	case "a", "an", "the", "exactly", "request", "give", "header", "malformed", "this", "no":
		return ""
	}
	if !fieldPathRE.MatchString(first) {
		return ""
	}
	return first
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
