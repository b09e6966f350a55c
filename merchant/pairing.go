package merchant

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"time"
)

// Pairing a till: the office makes a one-time code for a merchant, shown as a QR code of the
// till's URL; the till exchanges it for a key of its own. The code is short-lived and used
// once; only its SHA-256 is stored, and it is never the key itself.

// PairingTTL is how long a pairing code may be used after it was made.
const PairingTTL = 10 * time.Minute

// ErrPairingInvalid is a pairing code that is malformed, unknown, used or expired: the till
// cannot tell which, so that codes cannot be probed.
var ErrPairingInvalid = errors.New("pairing code is wrong, used or expired")

// pairingAlphabet has no 0/O, 1/I/L: a code read aloud or typed is not mistaken.
const pairingAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// pairingLen is the number of characters of a code: 31^12, about 59 bits, for 10 minutes
// behind the failed sign-in limit.
const pairingLen = 12

// NewPairingCode returns a random code written in groups of four: "K7QX-M3PA-RT9W".
func NewPairingCode() (string, error) {
	b := make([]byte, pairingLen)
	var sb strings.Builder
	for i := 0; i < pairingLen; {
		if _, err := rand.Read(b[:1]); err != nil {
			return "", err
		}
		// 248 = 8 × 31: rejecting the rest keeps every character equally likely.
		if b[0] >= 248 {
			continue
		}
		if i > 0 && i%4 == 0 {
			sb.WriteByte('-')
		}
		sb.WriteByte(pairingAlphabet[int(b[0])%len(pairingAlphabet)])
		i++
	}
	return sb.String(), nil
}

// PairingCodeHash is what is stored of a code: the SHA-256 of its canonical form (upper
// case, without spaces and dashes). A malformed code returns ErrPairingInvalid.
func PairingCodeHash(code string) ([]byte, error) {
	var sb strings.Builder
	for _, r := range strings.ToUpper(code) {
		switch {
		case r == '-' || r == ' ':
			continue
		case r < 128 && strings.IndexByte(pairingAlphabet, byte(r)) >= 0:
			sb.WriteRune(r)
		default:
			return nil, ErrPairingInvalid
		}
		if sb.Len() > pairingLen {
			return nil, ErrPairingInvalid
		}
	}
	if sb.Len() != pairingLen {
		return nil, ErrPairingInvalid
	}
	sum := sha256.Sum256([]byte(sb.String()))
	return sum[:], nil
}
