package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestLocaleFormats(t *testing.T) {
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
		l := newLocale(tc.lang)
		for _, c := range []struct{ got, want string }{
			{l.money(123456), tc.money},
			{l.money(-123456789), tc.negative},
			{l.money(5), tc.small},
			{l.date(day), tc.date},
			{l.integer(1234567), tc.integer},
			{l.decimal(123456), tc.decimal},
			{l.dateTime(day.UTC(), testLoc), tc.dateTime},
		} {
			if c.got != c.want {
				t.Errorf("%s: %q, want %q", tc.lang, c.got, c.want)
			}
		}
	}
	en := newLocale("en")
	for n, want := range map[int64]string{0: "0", 7: "7", 999: "999", 1000: "1,000", -1000: "-1,000", 100000: "100,000"} {
		if got := en.integer(n); got != want {
			t.Errorf("integer(%d) = %q, want %q", n, got, want)
		}
	}
	if got := newLocale("sl").date(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)); got != "31. 12. 2026" {
		t.Errorf("sl 31 December: %q", got)
	}
	if got := newLocale("de").date(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)); got != "02.01.2027" {
		t.Errorf("de 2 January: %q", got)
	}
	names := map[string]string{"sl": "Kartica 72 ur", "en": "Card 72 h"}
	if got := newLocale("it").productName("koper-72h", names); got != "Kartica 72 ur" {
		t.Errorf("product name without Italian: %q", got)
	}
	if got := newLocale("en").productName("koper-72h", names); got != "Card 72 h" {
		t.Errorf("English product name: %q", got)
	}
	if got := newLocale("en").productName("koper-72h", nil); got != "koper-72h" {
		t.Errorf("product without names: %q", got)
	}
}

func TestConfigLanguages(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want string
		ok   bool
	}{
		{"", "sl,it", true}, // Koper: Slovene and Italian
		{"it,sl", "it,sl", true},
		{" sl , it , en ", "sl,it,en", true},
		{"de", "de", true},
		{"fr", "", false},
		{"sl,sl", "", false},
		{"sl,", "", false},
		{"SL", "", false},
	} {
		cfg, _, err := parseConfig("serve", nil, func(k string) string {
			if k == "CITYCARD_LANGUAGES" {
				return tc.env
			}
			return ""
		}, io.Discard)
		if (err == nil) != tc.ok || err == nil && strings.Join(cfg.Languages, ",") != tc.want {
			t.Errorf("CITYCARD_LANGUAGES=%q: %v, %v; want %q", tc.env, cfg.Languages, err, tc.want)
		}
	}
}
