package storage

import (
	"bytes"
	"database/sql"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/storage/engine"
)

// Prefetching: a write that knows up front which reads it will make sends them all at once
// (tx.prefetch), on an engine that can (engine.Prefetcher: PostgreSQL's pipeline), and its
// readers then find their answers in the Tx instead of making a round trip each. A redemption
// does (Redeem): in a town's batch its reads cost one round trip while the town's ledger head
// is held, not six. The readers are unchanged: tx.queryRow serves a kept answer to the same
// query text with the same arguments, once, and goes to the engine otherwise.
//
// Nothing stale is served: a kept answer is dropped by any statement of the write that may
// change rows (exec, query, execDeferred, a queryRow that is not a SELECT) and at the start and
// end of every savepoint (a batch's member).

// prefetchStore is a Tx's kept answers, by query text and arguments.
type prefetchStore struct {
	kept []prefetchedRow
}

type prefetchedRow struct {
	key  string
	rows [][]any
	err  error
}

// prefetchKey identifies a query by its text and its arguments' values (and types).
func prefetchKey(q string, args []any) string {
	var b strings.Builder
	b.WriteString(q)
	for _, a := range args {
		fmt.Fprintf(&b, "\x00%#v", a)
	}
	return b.String()
}

// prefetching reports whether prefetch would send anything: a write builds its reads' list
// only then (SQLite's reads cost no round trip, and its writer is the redemption's serial part).
func (t *Tx) prefetching() bool {
	_, ok := t.tx.(engine.Prefetcher)
	return ok && !t.db.noPrefetch
}

// prefetch sends qs at once on an engine that can (engine.Prefetcher) and keeps their answers
// for tx.queryRow; on another engine (SQLite) it does nothing: its reads cost no round trip.
func (t *Tx) prefetch(qs ...engine.Query) {
	t.dropPrefetched()
	if !t.prefetching() || len(qs) == 0 {
		return
	}
	res := t.tx.(engine.Prefetcher).Prefetch(qs)
	t.pre = &prefetchStore{kept: make([]prefetchedRow, len(qs))}
	for i, q := range qs {
		t.pre.kept[i] = prefetchedRow{key: prefetchKey(q.SQL, q.Args), rows: res[i].Rows, err: res[i].Err}
	}
}

// served returns the kept answer to query q with args, once, if there is one.
func (t *Tx) served(q string, args []any) (prefetchedRow, bool) {
	if t.pre == nil {
		return prefetchedRow{}, false
	}
	key := prefetchKey(q, args)
	for i, k := range t.pre.kept {
		if k.key == key {
			t.pre.kept = append(t.pre.kept[:i], t.pre.kept[i+1:]...)
			t.db.prefetchServed.Add(1)
			return k, true
		}
	}
	return prefetchedRow{}, false
}

// dropPrefetched forgets the kept answers (counted as missed: sent and never read).
func (t *Tx) dropPrefetched() {
	if t.pre == nil {
		return
	}
	t.db.prefetchMissed.Add(uint64(len(t.pre.kept)))
	t.pre = nil
}

// isSelect reports whether q is a plain read (it cannot change what a kept answer says).
func isSelect(q string) bool {
	q = strings.TrimSpace(q)
	return len(q) >= 6 && strings.EqualFold(q[:6], "SELECT")
}

// servedRow is a kept answer as a row: Scan converts its first row's values into the
// destinations as database/sql would, or returns its error, or sql.ErrNoRows.
type servedRow struct {
	rows [][]any
	err  error
}

func (r servedRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	if len(r.rows) == 0 {
		return sql.ErrNoRows
	}
	row := r.rows[0]
	if len(dest) != len(row) {
		return fmt.Errorf("sql: expected %d destination arguments in Scan, not %d", len(row), len(dest))
	}
	for i, d := range dest {
		if err := assign(d, row[i]); err != nil {
			return fmt.Errorf("sql: Scan error on column index %d: %w", i, err)
		}
	}
	return nil
}

// driverValue normalises a value as a database/sql driver hands it on: integers as int64,
// floats as float64.
func driverValue(v any) any {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int8:
		return int64(v)
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case uint8:
		return int64(v)
	case uint16:
		return int64(v)
	case uint32:
		return int64(v)
	case float32:
		return float64(v)
	}
	return v
}

// assign stores src in dest as database/sql's Scan would, for the values this schema gives:
// never a panic, an error naming the types for anything else.
func assign(dest, src any) error {
	src = driverValue(src)
	switch d := dest.(type) {
	case sql.Scanner:
		if b, ok := src.([]byte); ok {
			src = bytes.Clone(b)
		}
		return d.Scan(src)
	case *any:
		if d == nil {
			break
		}
		if b, ok := src.([]byte); ok {
			src = bytes.Clone(b)
		}
		*d = src
		return nil
	case *[]byte:
		if d == nil {
			break
		}
		switch s := src.(type) {
		case nil:
			*d = nil
			return nil
		case []byte:
			*d = bytes.Clone(s)
			return nil
		case string:
			*d = []byte(s)
			return nil
		}
	case *time.Time:
		if t, ok := src.(time.Time); ok && d != nil {
			*d = t
			return nil
		}
	}
	if src == nil {
		return fmt.Errorf("converting NULL to %T is unsupported", dest)
	}
	dv := reflect.ValueOf(dest)
	if dv.Kind() != reflect.Pointer || dv.IsNil() {
		return fmt.Errorf("destination not a pointer: %T", dest)
	}
	e := dv.Elem()
	fail := func() error { return fmt.Errorf("converting %T (%v) to %T is unsupported", src, src, dest) }
	switch e.Kind() {
	case reflect.String:
		switch s := src.(type) {
		case string:
			e.SetString(s)
		case []byte:
			e.SetString(string(s))
		case int64:
			e.SetString(strconv.FormatInt(s, 10))
		case float64:
			e.SetString(strconv.FormatFloat(s, 'g', -1, 64))
		case bool:
			e.SetString(strconv.FormatBool(s))
		default:
			return fail()
		}
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch s := src.(type) {
		case int64:
			n = s
		case string, []byte:
			v, err := strconv.ParseInt(asString(s), 10, e.Type().Bits())
			if err != nil {
				return fmt.Errorf("converting %T %q to %T: %w", src, asString(s), dest, err)
			}
			n = v
		default:
			return fail()
		}
		if e.OverflowInt(n) {
			return fmt.Errorf("converting %d to %T: value out of range", n, dest)
		}
		e.SetInt(n)
		return nil
	case reflect.Float32, reflect.Float64:
		var f float64
		switch s := src.(type) {
		case float64:
			f = s
		case int64:
			f = float64(s)
		case string, []byte:
			v, err := strconv.ParseFloat(asString(s), e.Type().Bits())
			if err != nil {
				return fmt.Errorf("converting %T %q to %T: %w", src, asString(s), dest, err)
			}
			f = v
		default:
			return fail()
		}
		e.SetFloat(f)
		return nil
	case reflect.Bool:
		switch s := src.(type) {
		case bool:
			e.SetBool(s)
		case int64:
			if s != 0 && s != 1 {
				return fmt.Errorf("converting %d to %T: not 0 or 1", s, dest)
			}
			e.SetBool(s == 1)
		case string, []byte:
			v, err := strconv.ParseBool(asString(s))
			if err != nil {
				return fmt.Errorf("converting %T %q to %T: %w", src, asString(s), dest, err)
			}
			e.SetBool(v)
		default:
			return fail()
		}
		return nil
	}
	return fail()
}

func asString(v any) string {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v.(string)
}
