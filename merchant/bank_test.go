package merchant

import "testing"

func TestNormalizeTaxNumber(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"40016803", "40016803", true},     // Mestna občina Koper
		{"SI 4001 6803", "40016803", true}, // as a VAT number, with spaces
		{"si40016803", "40016803", true},
		{"10000003", "10000003", true},
		{"12345670", "", false}, // sum 112, remainder 2: check digit 9
		{"12345679", "12345679", true},
		{"40016804", "", false}, // wrong check digit
		{"4001680", "", false},  // 7 digits
		{"400168030", "", false},
		{"00016803", "", false}, // no leading zero
		{"4001680A", "", false},
		{"", "", false},
		{"10000020", "10000020", true}, // remainder 1: the check 10 is written 0
		{"10000070", "", false},        // remainder 0: no check digit is valid
		{"10000071", "", false},
		{"10000010", "", false},
	} {
		got, ok := NormalizeTaxNumber(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeTaxNumber(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	// Every 7-digit body has at most one check digit, none when the remainder is 0.
	for body := 1000000; body < 1000300; body++ {
		n := 0
		for d := 0; d < 10; d++ {
			if _, ok := NormalizeTaxNumber(itoa(body) + string(rune('0'+d))); ok {
				n++
			}
		}
		if n > 1 {
			t.Fatalf("%d has %d check digits", body, n)
		}
	}
}

func itoa(n int) string {
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}

func TestNormalizeIBAN(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"SI56 1910 0000 0123 438", "SI56191000000123438", true},
		{"si56191000000123438", "SI56191000000123438", true},
		{"IT60 X054 2811 1010 0000 0123 456", "IT60X0542811101000000123456", true},
		{"DE89 3704 0044 0532 0130 00", "DE89370400440532013000", true},
		{"GB82WEST12345698765432", "GB82WEST12345698765432", true},
		{"SI56 1910 0000 0123 439", "", false},    // one digit off
		{"SI65 1910 0000 0123 438", "", false},    // check digits swapped
		{"SI56 1910 0000 0123 4380", "", false},   // a Slovene IBAN is 19 characters
		{"IT60X054281110100000012345", "", false}, // an Italian one 27
		{"SI56-1910-0000-0123-438", "", false},
		{"5656191000000123438", "", false},
		{"SIAB191000000123438", "", false},
		{"", "", false},
		{"SI56", "", false},
		{"SI56 1910 0000 0123 43€", "", false},
	} {
		got, ok := NormalizeIBAN(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("NormalizeIBAN(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
	if got := FormatIBAN("SI56191000000123438"); got != "SI56 1910 0000 0123 438" {
		t.Errorf("FormatIBAN = %q", got)
	}
}
