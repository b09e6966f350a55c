package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/shopspring/decimal"
)

// decodeJSON decodes a request body into v strictly: one JSON object, no unknown fields,
// nothing after it. allowEmpty lets an empty body stand for {}.
func decodeJSON(body []byte, v any, allowEmpty bool) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("request body must be a JSON object")
	}
	if trimmed[0] != '{' {
		// null would decode into the zero request without a word (found by FuzzDecodeJSON)
		return badRequest("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("%s", jsonMessage(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badRequest("request body must hold one JSON object")
	}
	return nil
}

// jsonMessage describes a decoding error without Go type names.
func jsonMessage(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.As(err, &te):
		if te.Field == "" {
			return "request body must be a JSON object"
		}
		want := te.Type.Kind().String()
		switch want {
		case "string":
			want = "a string"
		case "bool":
			want = "true or false"
		case "float64", "int", "int64":
			want = "a number"
		case "map", "struct":
			want = "an object"
		case "slice":
			want = "a list"
		}
		return fmt.Sprintf("field %s must be %s, not %s", te.Field, want, te.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "malformed JSON: unexpected end"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "malformed JSON"
}

// decodeBody is decodeJSON of the request's body.
func decodeBody(c *fiber.Ctx, v any) error { return decodeJSON(c.Body(), v, false) }

var moneyRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,6})(\.[0-9]{1,2})?$`)

// parseMoney parses a money string ("23", "23.5", "23.50") into cents: no sign, no exponent,
// at most two decimals, at most 1000000.00.
func parseMoney(field, s string) (int64, error) {
	if !moneyRE.MatchString(s) {
		return 0, badRequest("%s must be an amount in euros as a string, like \"23.50\"", field)
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, badRequest("%s is not an amount", field)
	}
	cents := d.Shift(2).IntPart()
	if cents > merchant.MaxCents {
		return 0, badRequest("%s must be at most 1000000.00", field)
	}
	return cents, nil
}

// parseMoneyPtr is parseMoney of an optional field.
func parseMoneyPtr(field string, s *string) (*int64, error) {
	if s == nil {
		return nil, nil
	}
	v, err := parseMoney(field, *s)
	return &v, err
}

// formatMoney formats cents as euros with exactly two decimals.
func formatMoney(cents int64) string { return decimal.New(cents, -2).StringFixed(2) }

func formatMoneyPtr(cents *int64) *string {
	if cents == nil {
		return nil
	}
	s := formatMoney(*cents)
	return &s
}

var percentRE = regexp.MustCompile(`^(0|[1-9][0-9]{0,2})(\.[0-9]{1,2})?$`)

// parsePercent parses "10" or "12.5" (0 to 100, at most two decimals) into basis points.
func parsePercent(field, s string) (int64, error) {
	if !percentRE.MatchString(s) {
		return 0, badRequest("%s must be a percentage as a string, like \"12.5\"", field)
	}
	bp := decimal.RequireFromString(s).Shift(2).IntPart()
	if bp > 10000 {
		return 0, badRequest("%s must be 0 to 100", field)
	}
	return bp, nil
}

// formatPercent formats basis points without trailing zeros: 1250 is "12.5".
func formatPercent(bp int64) string { return decimal.New(bp, -2).String() }

// parseDate checks a local date YYYY-MM-DD.
func parseDate(field, s string) (time.Time, error) {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return t, badRequest("%s must be a date YYYY-MM-DD", field)
	}
	return t, nil
}

// pageParams reads ?limit= (1..500, default 100) and ?cursor=.
func pageParams(c *fiber.Ctx) (storage.Page, error) {
	p := storage.Page{Limit: 100, Cursor: c.Query("cursor")}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return p, badRequest("limit must be 1 to 500")
		}
		p.Limit = n
	}
	if len(p.Cursor) > 100 {
		return p, badRequest("cursor is not valid")
	}
	return p, nil
}

// listBody is the contract's list shape.
// listBody is the contract's list shape; next_cursor is null on the last page.
type listBody[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func newList[T any](items []T, next string) listBody[T] {
	if items == nil {
		items = []T{}
	}
	out := listBody[T]{Items: items}
	if next != "" {
		out.NextCursor = &next
	}
	return out
}

// sendList answers a list request: it reads ?limit= and ?cursor=, fetches that page and
// converts each item to its JSON form.
func sendList[T, J any](c *fiber.Ctx, fetch func(storage.Page) ([]T, string, error), toJSON func(T) J) error {
	page, err := pageParams(c)
	if err != nil {
		return err
	}
	items, next, err := fetch(page)
	if err != nil {
		return err
	}
	out := make([]J, len(items))
	for i, it := range items {
		out[i] = toJSON(it)
	}
	return c.JSON(newList(out, next))
}

// timeJSON formats a time as RFC 3339 in UTC, to the second.
func timeJSON(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func timePtrJSON(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := timeJSON(*t)
	return &s
}
