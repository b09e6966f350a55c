package merchant

import (
	"bytes"
	"errors"
	"regexp"
	"testing"
)

func TestPairingCode(t *testing.T) {
	seen := map[string]bool{}
	shape := regexp.MustCompile(`^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$`)
	for range 200 {
		code, err := NewPairingCode()
		if err != nil {
			t.Fatal(err)
		}
		if !shape.MatchString(code) || seen[code] {
			t.Fatalf("code %q: wrong shape or repeated", code)
		}
		seen[code] = true
	}
	code := "K7QX-M3PA-RT9W"
	want, err := PairingCodeHash(code)
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"k7qx m3pa rt9w", "K7QXM3PART9W", " k7qx-m3pa-rt9w "} {
		if got, err := PairingCodeHash(typed); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: not the same code (%v)", typed, err)
		}
	}
	for _, bad := range []string{"", "K7QX-M3PA-RT9", "K7QX-M3PA-RT9WA", "K7QX-M3PA-RT90", "K7QX-M3PA-RT9Ö", "ccm_secret"} {
		if _, err := PairingCodeHash(bad); !errors.Is(err, ErrPairingInvalid) {
			t.Errorf("%q: %v, want ErrPairingInvalid", bad, err)
		}
	}
}
