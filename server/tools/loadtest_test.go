package tools

import "testing"

// TestLoadURLs: --url's list is split, trimmed and checked.
func TestLoadURLs(t *testing.T) {
	got, err := loadURLs("http://127.0.0.1:1/, https://b:2")
	if err != nil || len(got) != 2 || got[0] != "http://127.0.0.1:1" || got[1] != "https://b:2" {
		t.Fatalf("loadURLs = %q, %v", got, err)
	}
	for _, bad := range []string{"", "127.0.0.1:8080", "http://a:1,", "ftp://a", "http://a:1,,http://b:2"} {
		if got, err := loadURLs(bad); err == nil {
			t.Errorf("loadURLs(%q) = %q, want an error", bad, got)
		}
	}
}
