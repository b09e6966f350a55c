package card

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// NumberLen is the number of digits of a card number, check digit included.
const NumberLen = 12

// NewNumber returns a random card number: 11 random digits (the first not zero) and a Luhn
// check digit. Random, not sequential, so numbers cannot be enumerated.
func NewNumber() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(9e10))
	if err != nil {
		return "", err
	}
	body := big.NewInt(0).Add(n, big.NewInt(1e10)).String() // 10000000000..99999999999
	return body + string(rune('0'+luhnDigit(body))), nil
}

// luhnDigit is the check digit that makes body+digit pass the Luhn test.
func luhnDigit(body string) int {
	sum := 0
	for i := len(body) - 1; i >= 0; i-- {
		d := int(body[i] - '0')
		if (len(body)-1-i)%2 == 0 { // the digit left of the check digit is doubled
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// ValidNumber reports whether s is 12 digits with a correct Luhn check digit.
func ValidNumber(s string) bool {
	if len(s) != NumberLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return luhnDigit(s[:NumberLen-1]) == int(s[NumberLen-1]-'0')
}

// NormalizeNumber strips spaces and dashes from a typed number and checks it. It returns
// ErrInvalid if what remains is not a valid card number.
func NormalizeNumber(s string) (string, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\u00a0' {
			return -1
		}
		return r
	}, s)
	if !ValidNumber(s) {
		return "", ErrInvalid
	}
	return s, nil
}

// FormatNumber groups a number in fours for printing: "1234 5678 9012".
func FormatNumber(s string) string {
	if len(s) != NumberLen {
		return s
	}
	return s[0:4] + " " + s[4:8] + " " + s[8:12]
}
