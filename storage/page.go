package storage

import (
	"database/sql"
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"strings"
)

// ErrBadCursor is returned for a list cursor this service did not hand out.
var ErrBadCursor = errors.New("cursor is not valid")

// Page asks for one page of a list: at most Limit items after Cursor (from the previous
// page's next cursor; empty for the first page).
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) limit() int {
	if p.Limit < 1 || p.Limit > 500 {
		return 100
	}
	return p.Limit
}

// position decodes the cursor into the last seq seen; first is returned for no cursor.
func (p Page) position(first int64) (int64, error) {
	if p.Cursor == "" {
		return first, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(p.Cursor)
	if err != nil || !strings.HasPrefix(string(raw), "s:") {
		return 0, ErrBadCursor
	}
	v, err := strconv.ParseInt(string(raw[2:]), 10, 64)
	if err != nil || v < 0 {
		return 0, ErrBadCursor
	}
	return v, nil
}

func cursorAt(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("s:" + strconv.FormatInt(seq, 10)))
}

// list runs a query whose last two placeholders are the cursor position and the limit, and
// scans one page. desc says the query orders by seq descending ("seq < ?").
func list[T any](q querier, query string, args []any, p Page, desc bool, scan func(*sql.Rows) (T, int64, error)) ([]T, string, error) {
	first := int64(0)
	if desc {
		first = math.MaxInt64
	}
	pos, err := p.position(first)
	if err != nil {
		return nil, "", err
	}
	n := p.limit()
	rows, err := q.query(query, append(args, pos, n+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	out := make([]T, 0, n)
	var last int64
	next := ""
	for rows.Next() {
		if len(out) == n {
			next = cursorAt(last)
			break
		}
		v, seq, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		out = append(out, v)
		last = seq
	}
	return out, next, rows.Err()
}
