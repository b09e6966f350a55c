package sqlite

import (
	"strings"
	"testing"
)

func TestCheckSettings(t *testing.T) {
	for _, tc := range []struct {
		version string
		vnum    int
		mode    string
		sync    int
		want    string // in the error; "" for none
	}{
		{"3.51.3", 3051003, "wal", 2, ""},
		{"3.52.0", 3052000, "wal", 2, ""},
		{"3.51.2", 3051002, "wal", 2, "older than 3.51.3"},
		{"3.45.1", 3045001, "wal", 2, "older than 3.51.3"},
		{"3.51.3", 3051003, "delete", 2, "not wal"},
		{"3.51.3", 3051003, "wal", 1, "not FULL"},
		{"3.51.3", 3051003, "wal", 0, "not FULL"},
	} {
		err := checkSettings(tc.version, tc.vnum, tc.mode, tc.sync)
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("checkSettings(%s, %s, %d) = %v, want %q", tc.version, tc.mode, tc.sync, err, tc.want)
		}
	}
}
