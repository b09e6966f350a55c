package card

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

func testKeyring(t testing.TB, ids ...uint16) *Keyring {
	t.Helper()
	var keys []SigningKey
	for _, id := range ids {
		k, err := NewSigningKey(id, time.Unix(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	kr, err := NewKeyring(keys)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestTokenRoundTripAndTamper(t *testing.T) {
	kr := testKeyring(t, 1)
	num, _ := NewNumber()
	tok, err := kr.Sign(num)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(tok), TokenLen; got != want {
		t.Fatalf("token length = %d, want %d", got, want)
	}
	if strings.ContainsAny(tok, "+/=") {
		t.Fatalf("token %q is not URL-safe", tok)
	}
	got, err := kr.Verify(tok)
	if err != nil || got != num {
		t.Fatalf("Verify = %q, %v; want %q", got, err, num)
	}
	// Every one-character change of the token is rejected, including the last character, whose
	// low bits are padding in base64.
	alphabet := "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := 0; i < len(tok); i++ {
		for _, r := range alphabet {
			if byte(r) == tok[i] {
				continue
			}
			bad := tok[:i] + string(r) + tok[i+1:]
			if _, err := kr.Verify(bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("token with char %d changed to %c verified", i, r)
			}
		}
	}
	// Another keyring's token (same key id) does not verify.
	other := testKeyring(t, 1)
	tok2, _ := other.Sign(num)
	if _, err := kr.Verify(tok2); !errors.Is(err, ErrInvalid) {
		t.Fatal("token signed by a foreign key verified")
	}
}

func TestTokenForgedNumber(t *testing.T) {
	kr := testKeyring(t, 1)
	a, _ := NewNumber()
	tok, _ := kr.Sign(a)
	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	raw[10] ^= 1 // another card number, same signature
	if _, err := kr.Verify(base64.RawURLEncoding.EncodeToString(raw)); !errors.Is(err, ErrInvalid) {
		t.Fatal("token with an altered number verified")
	}
}

func TestKeyRotation(t *testing.T) {
	old, _ := NewSigningKey(1, time.Unix(0, 0))
	kr1, _ := NewKeyring([]SigningKey{old})
	num, _ := NewNumber()
	oldTok, _ := kr1.Sign(num)

	newer, _ := NewSigningKey(2, time.Unix(0, 0))
	kr2, err := NewKeyring([]SigningKey{old, newer})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := kr2.CurrentID(), uint16(2); got != want {
		t.Fatalf("current key = %d, want %d", got, want)
	}
	if got, err := kr2.Verify(oldTok); err != nil || got != num {
		t.Fatalf("token of the old key after rotation: %q, %v", got, err)
	}
	newTok, _ := kr2.Sign(num)
	if newTok == oldTok {
		t.Fatal("rotation did not change the signing key")
	}
	if got := len(kr2.PublicKeys()); got != 2 {
		t.Fatalf("PublicKeys has %d keys, want 2", got)
	}
}

// A key with an activation time only verifies before it and signs from it on; a keyring
// whose keys are replaced while in use verifies and signs with the new ones at once, and asks
// OnUnknownKey about a key id it does not hold before it refuses the token.
func TestKeyActivationAndReplace(t *testing.T) {
	t0 := time.Date(2026, 10, 15, 10, 0, 0, 0, time.UTC)
	k1, _ := NewSigningKey(1, t0)
	k2, _ := NewSigningKey(2, t0)
	k2.ActivatesAt = t0.Add(time.Hour)
	num, _ := NewNumber()

	other, _ := NewKeyring([]SigningKey{k1, k2})
	if got := other.SignerAt(t0.Add(time.Hour - time.Millisecond)); got != 1 {
		t.Fatalf("signer just before key 2's time: %d, want 1", got)
	}
	if got := other.SignerAt(t0.Add(time.Hour)); got != 2 {
		t.Fatalf("signer at key 2's time: %d, want 2", got)
	}
	tok2, _ := other.SignAt(num, t0.Add(2*time.Hour))
	if len(other.PublicKeys()) != 2 {
		t.Fatal("a key not yet active is not published")
	}
	early := k2
	early.ActivatesAt = t0.Add(24 * time.Hour)
	if kr, _ := NewKeyring([]SigningKey{early}); kr.SignerAt(t0) != 2 {
		t.Fatal("a keyring whose only key is not active yet does not sign with it")
	}

	kr, _ := NewKeyring([]SigningKey{k1})
	asked := 0
	kr.OnUnknownKey(func(kid uint16) {
		asked++
		if kid != 2 {
			t.Errorf("asked about key %d, want 2", kid)
		}
	})
	if _, err := kr.Verify(tok2); err != ErrInvalid || asked != 1 {
		t.Fatalf("token of an unknown key: %v, asked %d times; want ErrInvalid after one question", err, asked)
	}
	kr.OnUnknownKey(func(uint16) { kr.Replace([]SigningKey{k1, k2}) })
	if got, err := kr.Verify(tok2); err != nil || got != num {
		t.Fatalf("token of a key loaded on the question: %q, %v", got, err)
	}
	kr.SetClock(func() time.Time { return t0.Add(2 * time.Hour) })
	if kr.CurrentID() != 2 {
		t.Fatalf("after Replace and key 2's time the keyring signs with %d", kr.CurrentID())
	}
	if err := kr.Replace([]SigningKey{{ID: 3, Public: k2.Public}}); err == nil {
		t.Fatal("Replace took keys without a private half")
	}
	if kr.CurrentID() != 2 {
		t.Fatal("a refused Replace changed the keys")
	}
}

func TestSigningKeyFromSeed(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	k1, err := SigningKeyFromSeed(1, base64.StdEncoding.EncodeToString(seed), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	k2, err := SigningKeyFromSeed(1, base64.RawURLEncoding.EncodeToString(ed25519.NewKeyFromSeed(seed)), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Public.Equal(k2.Public) {
		t.Fatal("seed and full key give different public keys")
	}
	for _, bad := range []string{"", "!!!", base64.StdEncoding.EncodeToString(seed[:31])} {
		if _, err := SigningKeyFromSeed(1, bad, time.Now()); err == nil {
			t.Errorf("SigningKeyFromSeed(%q) accepted", bad)
		}
	}
}

func TestParseInput(t *testing.T) {
	kr := testKeyring(t, 1)
	num, _ := NewNumber()
	tok, _ := kr.Sign(num)
	tests := []struct {
		name        string
		in          string
		allowNumber bool
		want        Ref
		wantErr     bool
	}{
		{"scanned URL", "https://card.koper.si/c/" + tok, false, Ref{num, true}, false},
		{"scanned URL with query and newline", "http://localhost:8080/c/" + tok + "?lang=it\n", false, Ref{num, true}, false},
		{"bare token", tok, false, Ref{num, true}, false},
		{"number for a merchant", FormatNumber(num), true, Ref{num, false}, false},
		{"number on a public endpoint", num, false, Ref{}, true},
		{"number with a wrong check digit", num[:11] + string('0'+(num[11]-'0'+1)%10), true, Ref{}, true},
		{"forged token", tok[:50] + "A" + tok[51:], false, Ref{}, true},
		{"empty", "", true, Ref{}, true},
		{"URL with nothing after /c/", "https://x/c/", true, Ref{}, true},
		{"huge", strings.Repeat("a", MaxInputLen+1), true, Ref{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.ParseInput(tt.in, tt.allowNumber)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("err = %v, want ErrInvalid", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseInput = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func BenchmarkTokenSign(b *testing.B) {
	kr := testKeyring(b, 1)
	num, _ := NewNumber()
	for b.Loop() {
		if _, err := kr.Sign(num); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerify is a scan of a card seen before: the verified-token memo.
func BenchmarkTokenVerify(b *testing.B) {
	kr := testKeyring(b, 1)
	num, _ := NewNumber()
	tok, _ := kr.Sign(num)
	for b.Loop() {
		if _, err := kr.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenVerifyCold is a verification the keyring has not seen before: the Ed25519
// check itself, what a card's first scan costs.
func BenchmarkTokenVerifyCold(b *testing.B) {
	kr := testKeyring(b, 1)
	num, _ := NewNumber()
	tok, _ := kr.Sign(num)
	for b.Loop() {
		if _, err := kr.verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}
