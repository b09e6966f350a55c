package merchant

import (
	"strings"
)

// NormalizeTaxNumber checks a Slovene tax number (davčna številka) and returns its 8 digits.
// It accepts spaces and the "SI" prefix of the VAT identification number. The eighth digit
// is the mod-11 check digit over the first seven, weighted 8 to 2: 11 − (sum mod 11), where
// 10 stands for 0 and a remainder of 0 makes no valid number. ok is false if s is not valid.
func NormalizeTaxNumber(s string) (digits string, ok bool) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	s = strings.TrimPrefix(s, "SI")
	if len(s) != 8 || s[0] == '0' {
		return "", false
	}
	sum := 0
	for i := 0; i < 8; i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
		if i < 7 {
			sum += int(s[i]-'0') * (8 - i)
		}
	}
	check := 11 - sum%11
	switch check {
	case 11:
		return "", false
	case 10:
		check = 0
	}
	if int(s[7]-'0') != check {
		return "", false
	}
	return s, true
}

// ibanLengths are the IBAN lengths of the countries whose merchants a Slovene town is most
// likely to pay; other countries are held to ISO 13616's 15 to 34 characters.
var ibanLengths = map[string]int{"SI": 19, "IT": 27, "HR": 21, "AT": 20, "DE": 22, "HU": 28, "FR": 27, "GB": 22, "CH": 21, "NL": 18, "BE": 16}

// NormalizeIBAN checks an IBAN (ISO 13616: country code, two check digits, the account;
// mod 97 of the rearranged number is 1) and returns it in its electronic form, without
// spaces and in upper case. ok is false if s is not a valid IBAN.
func NormalizeIBAN(s string) (iban string, ok bool) {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	if len(s) < 15 || len(s) > 34 {
		return "", false
	}
	if n, known := ibanLengths[s[:2]]; known && len(s) != n {
		return "", false
	}
	if s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' || s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return "", false
	}
	// Move the first four characters to the end, read letters as 10..35 and take the
	// remainder digit by digit, so no big number is needed.
	rem := 0
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			rem = (rem*100 + int(c-'A') + 10) % 97
		default:
			return "", false
		}
	}
	if rem != 1 {
		return "", false
	}
	return s, true
}

// FormatIBAN groups an IBAN in fours for print: "SI56 1910 0000 0123 438".
func FormatIBAN(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}
