package postgres

import (
	"errors"
	"reflect"
	"testing"
)

// convert takes what database/sql reads from SQLite (whose columns hold any type) to what a
// PostgreSQL column of the schema takes, refusing what would lose or change a value.
func TestConvert(t *testing.T) {
	for _, tc := range []struct {
		v    any
		typ  string
		want any
	}{
		{nil, "bigint", nil},
		{int64(-7), "bigint", int64(-7)},
		{float64(3), "bigint", int64(3)},
		{"42", "bigint", int64(42)},
		{[]byte("42"), "bigint", int64(42)},
		{true, "bigint", int64(1)},
		{float64(1.5), "double precision", 1.5},
		{int64(2), "double precision", float64(2)},
		{"text", "text", "text"},
		{[]byte("bytes as text"), "text", "bytes as text"},
		{int64(12), "text", "12"},
		{[]byte{0, 1, 2}, "bytea", []byte{0, 1, 2}},
		{"abc", "bytea", []byte("abc")},
	} {
		got, err := convert(tc.v, tc.typ)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("convert(%#v, %s) = %#v, %v; want %#v", tc.v, tc.typ, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		v   any
		typ string
	}{
		{float64(1.5), "bigint"},
		{"4x", "bigint"},
		{"1.5", "double precision"},
		{"a\x00b", "text"},
		{"\xff\xfe", "text"},
		{float64(1.5), "text"},
		{int64(1), "bytea"},
		{int64(1), "jsonb"},
	} {
		if got, err := convert(tc.v, tc.typ); !errors.Is(err, errConvert) {
			t.Errorf("convert(%#v, %s) = %#v, %v; want refused", tc.v, tc.typ, got, err)
		}
	}
}
