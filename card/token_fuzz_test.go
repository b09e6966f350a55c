package card

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
)

// fuzzKeys are two fixed keys (ids 1 and 2), so seeds and crashers replay the same way.
func fuzzKeys(t testing.TB) (verifier *Keyring, signers map[uint16]*Keyring) {
	t.Helper()
	signers = map[uint16]*Keyring{}
	var all []SigningKey
	for id, seed := range map[uint16]string{1: strings.Repeat("A", 43), 2: strings.Repeat("B", 43)} {
		k, err := SigningKeyFromSeed(id, seed, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, k)
		if signers[id], err = NewKeyring([]SigningKey{k}); err != nil {
			t.Fatal(err)
		}
	}
	verifier, err := NewKeyring(all)
	if err != nil {
		t.Fatal(err)
	}
	return verifier, signers
}

// fuzzSeedTokens are valid tokens of both keys and a few near misses.
func fuzzSeedTokens(t testing.TB) []string {
	_, signers := fuzzKeys(t)
	var out []string
	for _, body := range []string{"10000000000", "36406142377", "99999999999"} {
		num := body + string(rune('0'+luhnDigit(body)))
		for _, kr := range signers {
			tok, err := kr.Sign(num)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, tok, tok[:len(tok)-1]+"A", tok+"A", strings.ToUpper(tok), tok[1:]+"A")
		}
	}
	return append(out, "", "AQAB", strings.Repeat("A", TokenLen), strings.Repeat("_", TokenLen), "not a token")
}

// FuzzVerify: a token verifies only if it is exactly what the key it names signs for the
// number it names: no other string, however close, opens a card.
func FuzzVerify(f *testing.F) {
	for _, s := range fuzzSeedTokens(f) {
		f.Add(s)
	}
	verifier, signers := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, token string) {
		num, err := verifier.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Verify(%q): %v, want ErrInvalid", token, err)
			}
			return
		}
		if !ValidNumber(num) {
			t.Fatalf("Verify(%q) = %q, not a valid card number", token, num)
		}
		raw, err := base64.RawURLEncoding.DecodeString(token)
		if err != nil || len(raw) < 3 {
			t.Fatalf("Verify accepted %q, which is not base64url of a token", token)
		}
		signer, ok := signers[binary.BigEndian.Uint16(raw[1:3])]
		if !ok {
			t.Fatalf("Verify accepted %q, naming an unknown key", token)
		}
		if want, _ := signer.Sign(num); token != want {
			t.Fatalf("Verify accepted %q for %s, but the key signs %q", token, num, want)
		}
	})
}

// FuzzParseInput: what a till scanned or a clerk typed resolves to a card only as the
// verified token it contains, or (for a till) as exactly the digits typed.
func FuzzParseInput(f *testing.F) {
	for _, s := range fuzzSeedTokens(f) {
		for _, allow := range []bool{true, false} {
			f.Add(s, allow)
			f.Add("https://koper.example/c/"+s+"?lang=sl", allow)
			f.Add("  http://localhost:8080/c/"+s+"/qr.png#x ", allow)
		}
	}
	for _, s := range []string{"3640 6142 3778", "3640-6142-3778", "364061423778", "3640\u00a06142\u00a03778", "364061423779", "1", "", " ", "/c/", "/c//c/"} {
		f.Add(s, true)
		f.Add(s, false)
	}
	verifier, signers := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, s string, allowNumber bool) {
		ref, err := verifier.ParseInput(s, allowNumber)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("ParseInput(%q): %v, want ErrInvalid", s, err)
			}
			return
		}
		if len(s) > MaxInputLen {
			t.Fatalf("ParseInput accepted %d bytes, over MaxInputLen", len(s))
		}
		if !ValidNumber(ref.Number) {
			t.Fatalf("ParseInput(%q) = %q, not a valid card number", s, ref.Number)
		}
		if ref.FromToken {
			found := false
			for _, kr := range signers {
				if tok, _ := kr.Sign(ref.Number); strings.Contains(s, tok) {
					found = true
				}
			}
			if !found {
				t.Fatalf("ParseInput(%q) = %s from a token, but no token signed for it is in the input", s, ref.Number)
			}
			return
		}
		if !allowNumber {
			t.Fatalf("ParseInput(%q, false) accepted a typed number", s)
		}
		digits := strings.Map(func(r rune) rune {
			if r == ' ' || r == '-' || r == '\u00a0' {
				return -1
			}
			return r
		}, strings.TrimSpace(s))
		if digits != ref.Number {
			t.Fatalf("ParseInput(%q) = %s, but the input's digits are %q", s, ref.Number, digits)
		}
	})
}
