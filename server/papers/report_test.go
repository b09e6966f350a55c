package papers

import "testing"

// The CSV formula guard treats a leading control character like a leading "=": a leading NUL
// used to slip a formula past it.
func TestCSVSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Kavarna", "Kavarna"},
		{"", ""},
		{"=1+1", "'=1+1"},
		{"+1", "'+1"},
		{"-1", "'-1"},
		{"@SUM(A1)", "'@SUM(A1)"},
		{"\x00=1+1", "'\x00=1+1"},
		{"\t=1+1", "'\t=1+1"},
		{"\r=1", "'\r=1"},
		{"\x1b=1", "'\x1b=1"},
		{"\u0085=1", "'\u0085=1"},
		{"\u202e=1", "'\u202e=1"},
		{"＝1+1", "'＝1+1"},
		{"Kavarna =1", "Kavarna =1"},
	} {
		if got := CSVSafe(tc.in); got != tc.want {
			t.Errorf("CSVSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
