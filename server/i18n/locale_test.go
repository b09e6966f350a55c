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

// TestLocaleDates: every language writes days, months and the last valid moment its own
// way; an end at local midnight names the day before, to 23:59, so the last day is clear.
func TestLocaleDates(t *testing.T) {
	loc, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	morning := time.Date(2027, 12, 6, 9, 0, 0, 0, loc)
	midnight := time.Date(2027, 10, 30, 0, 0, 0, 0, loc) // the card ends as the 30th begins
	for _, tc := range []struct {
		lang                                 string
		date, dateTime, long, month          string
		untilMorning, untilMidnight, untilSh string
	}{
		{"sl", "6. 12. 2027", "6. 12. 2027 09:00", "6. decembra 2027", "november 2026",
			"6. decembra 2027, 09:00", "29. oktobra 2027, 23:59", "29. 10. 2027 23:59"},
		{"it", "6/12/2027", "6/12/2027 09:00", "6 dicembre 2027", "novembre 2026",
			"6 dicembre 2027, 09:00", "29 ottobre 2027, 23:59", "29/10/2027 23:59"},
		{"de", "06.12.2027", "06.12.2027 09:00", "6. Dezember 2027", "November 2026",
			"6. Dezember 2027, 09:00", "29. Oktober 2027, 23:59", "29.10.2027 23:59"},
		{"en", "6 Dec 2027", "6 Dec 2027 09:00", "6 December 2027", "November 2026",
			"6 December 2027, 09:00", "29 October 2027, 23:59", "29 Oct 2027 23:59"},
	} {
		l := NewLocale(tc.lang)
		for _, c := range []struct{ what, got, want string }{
			{"Date", l.Date(morning), tc.date},
			{"DateTime", l.DateTime(morning.UTC(), loc), tc.dateTime},
			{"LongDate", l.LongDate(morning), tc.long},
			{"MonthYear", l.MonthYear(2026, time.November), tc.month},
			{"Until 09:00", l.Until(morning.UTC(), loc), tc.untilMorning},
			{"Until midnight", l.Until(midnight.UTC(), loc), tc.untilMidnight},
			{"UntilShort midnight", l.UntilShort(midnight.UTC(), loc), tc.untilSh},
		} {
			if c.got != c.want {
				t.Errorf("%s %s: %q, want %q", tc.lang, c.what, c.got, c.want)
			}
		}
	}
	// Every month has a name in every language, none left empty.
	for _, lang := range []string{"sl", "it", "en", "de"} {
		for m := time.January; m <= time.December; m++ {
			if NewLocale(lang).MonthName(m) == "" {
				t.Errorf("%s: month %d has no name", lang, m)
			}
		}
	}
}
