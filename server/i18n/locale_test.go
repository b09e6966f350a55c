package i18n

import (
	"testing"
	"time"
)

func TestLocaleFormats(t *testing.T) {
	testLoc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 10, 1, 9, 5, 0, 0, testLoc)
	for _, tc := range []struct {
		lang                         string
		money, negative, small, date string
		integer, decimal, dateTime   string
	}{
		{"sl", "1.234,56 €", "-1.234.567,89 €", "0,05 €", "1. 10. 2026", "1.234.567", "1234,56", "1. 10. 2026 09:05"},
		{"it", "1.234,56 €", "-1.234.567,89 €", "0,05 €", "1/10/2026", "1.234.567", "1234,56", "1/10/2026 09:05"},
		{"de", "1.234,56 €", "-1.234.567,89 €", "0,05 €", "01.10.2026", "1.234.567", "1234,56", "01.10.2026 09:05"},
		{"en", "€1,234.56", "-€1,234,567.89", "€0.05", "1 Oct 2026", "1,234,567", "1234.56", "1 Oct 2026 09:05"},
	} {
		l := NewLocale(tc.lang)
		for _, c := range []struct{ got, want string }{
			{l.Money(123456), tc.money},
			{l.Money(-123456789), tc.negative},
			{l.Money(5), tc.small},
			{l.Date(day), tc.date},
			{l.Integer(1234567), tc.integer},
			{l.Decimal(123456), tc.decimal},
			{l.DateTime(day.UTC(), testLoc), tc.dateTime},
		} {
			if c.got != c.want {
				t.Errorf("%s: %q, want %q", tc.lang, c.got, c.want)
			}
		}
	}
	en := NewLocale("en")
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", -1000: "-1,000", 100000: "100,000"} {
		if got := en.Integer(n); got != want {
			t.Errorf("integer(%d) = %q, want %q", n, got, want)
		}
	}
	if got := NewLocale("sl").Date(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)); got != "31. 12. 2026" {
		t.Errorf("sl 31 December: %q", got)
	}
	if got := NewLocale("de").Date(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)); got != "02.01.2027" {
		t.Errorf("de 2 January: %q", got)
	}
	names := map[string]string{"sl": "Kartica 72 ur", "en": "Card 72 h"}
	if got := NewLocale("it").ProductName("koper-72h", names); got != "Kartica 72 ur" {
		t.Errorf("product name without Italian: %q", got)
	}
	if got := NewLocale("en").ProductName("koper-72h", names); got != "Card 72 h" {
		t.Errorf("English product name: %q", got)
	}
	if got := NewLocale("en").ProductName("koper-72h", nil); got != "koper-72h" {
		t.Errorf("product without names: %q", got)
	}
}
