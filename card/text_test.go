package card

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in       string
		max      int
		required bool
		want     string
		ok       bool
	}{
		{"  Ana Novak  ", 200, false, "Ana Novak", true},
		{strings.Repeat(" ", 250_000) + "wrong item", 300, true, "wrong item", true}, // stored trimmed
		{"", 300, false, "", true},
		{"   ", 300, true, "", false},
		{strings.Repeat("ž", 300), 300, true, strings.Repeat("ž", 300), true}, // characters, not bytes
		{strings.Repeat("ž", 301), 300, true, "", false},
		{"Kavarna 🐸 東", 20, true, "Kavarna 🐸 東", true},
		{"\x00=1+1", 20, true, "", false},
		{"a\tb", 20, true, "", false},
		{"a\nb", 20, true, "", false},
		{"a\x7fb", 20, true, "", false},
		{"a\u0085b", 20, true, "", false},
		{"a\u009bb", 20, true, "", false},
		{"a\u2028b", 20, true, "", false},
		{"a\u202eb", 20, true, "", false},
		{"a\u2066b", 20, true, "", false},
		{"a\u2069b", 20, true, "", false},
		{"a\xffb", 20, true, "", false}, // not UTF-8
		{"\n\t Ana \u2029", 20, true, "Ana", true},
	} {
		got, err := CleanText("holder", tc.in, tc.max, tc.required)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("CleanText(%.40q, %d, %v) = %.40q, %v; want %.40q, ok=%v", tc.in, tc.max, tc.required, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "holder")) {
			t.Errorf("CleanText(%.40q): error %v does not wrap ErrInvalidInput or name the field", tc.in, err)
		}
	}
}
