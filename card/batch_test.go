package card

import (
	"errors"
	"strings"
	"testing"
)

func TestCleanBatchName(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"Hotel Histria, June", "Hotel Histria, June", true},
		{"  Gostišče Čevljar  ", "Gostišče Čevljar", true},
		{strings.Repeat("ž", 100), strings.Repeat("ž", 100), true},
		{strings.Repeat("ž", 101), "", false},
		{"", "", false},
		{"   ", "", false},
		{"Hotel\x00Histria", "", false},
		{"Hotel\nHistria", "", false},
		{"Hotel \u202eairtsiH", "", false}, // a right-to-left override would make it read otherwise
	} {
		got, err := CleanBatchName(tc.in)
		if got != tc.want || (err == nil) != tc.ok || err != nil && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("CleanBatchName(%q) = %q, %v", tc.in, got, err)
		}
	}
}
