package i18n

import "testing"

// TestPickLang: ?lang= first, then Accept-Language by its q (ties: the first named; q=0 and
// unknown languages never), then the holder's language, then English.
func TestPickLang(t *testing.T) {
	for _, c := range []struct{ query, accept, holder, want string }{
		{"it", "de", "sl", "it"},
		{"fr", "de;q=0.5, it;q=0.9", "", "it"},
		{"", "de, it", "", "de"},
		{"", "de;q=0.8, it;q=0.8", "", "de"},
		{"", "IT-it;q=0.2", "", "it"},
		{"", "de;q=0, fr", "sl", "sl"},
		{"", "", "xx", "en"},
	} {
		if got := PickLang(c.query, c.accept, c.holder); got != c.want {
			t.Errorf("PickLang(%q, %q, %q) = %q, want %q", c.query, c.accept, c.holder, got, c.want)
		}
	}
}
