package main

import (
	"io"
	"strings"
	"testing"
)

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
