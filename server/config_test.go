package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citycard/citycard/storage/storagetest"
)

// An admin token shorter than 32 characters is refused at start-up, before the database is
// opened or created, with a message naming the variable.
func TestShortAdminTokenRefused(t *testing.T) {
	db := filepath.Join(t.TempDir(), "citycard.db")
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{"short", false},
		{strings.Repeat("x", 31), false},
		{strings.Repeat("ž", 31), false}, // characters, not bytes
		{strings.Repeat("x", 32), true},
	} {
		err := checkAdminToken(tc.token)
		if (err == nil) != tc.ok {
			t.Fatalf("token of %d characters: %v, want ok=%v", len([]rune(tc.token)), err, tc.ok)
		}
	}
	getenv := func(k string) string {
		switch k {
		case "CITYCARD_ADMIN_TOKEN":
			return "load-1764600000000000000" // what .ci/loadtest used to set: 24 characters
		case "CITYCARD_DB":
			return db
		case "CITYCARD_ADDR":
			return "127.0.0.1:0"
		}
		return ""
	}
	err := run(context.Background(), []string{"serve"}, getenv, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "CITYCARD_ADMIN_TOKEN") || !strings.Contains(err.Error(), "32") {
		t.Fatalf("serve with a 24-character admin token: %v, want a refusal naming CITYCARD_ADMIN_TOKEN and 32", err)
	}
	if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the database was created before the token was refused: %v", err)
	}
}

// The PostgreSQL pool's size comes from CITYCARD_PG_MAX_CONNS and CITYCARD_PG_MIN_CONNS, its
// writes at once from CITYCARD_PG_MAX_WRITES; anything but a sensible whole number is
// refused, naming the variable.
func TestPostgresPoolSettings(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		return cfg, err
	}
	cfg, err := parse(map[string]string{"CITYCARD_PG_MAX_CONNS": "32", "CITYCARD_PG_MIN_CONNS": "4", "CITYCARD_PG_MAX_WRITES": "6"})
	if err != nil || cfg.PGMaxConns != 32 || cfg.PGMinConns != 4 || cfg.PGMaxWrites != 6 {
		t.Fatalf("32/4/6: %+v %v", cfg, err)
	}
	for _, env := range []map[string]string{
		{"CITYCARD_PG_MAX_CONNS": "0"}, {"CITYCARD_PG_MAX_CONNS": "many"}, {"CITYCARD_PG_MIN_CONNS": "-1"},
		{"CITYCARD_PG_MAX_CONNS": "100000"}, {"CITYCARD_PG_MAX_CONNS": "4", "CITYCARD_PG_MIN_CONNS": "8"},
		{"CITYCARD_PG_MAX_WRITES": "0"}, {"CITYCARD_PG_MAX_WRITES": "a few"},
	} {
		if _, err := parse(env); err == nil || !strings.Contains(err.Error(), "CITYCARD_PG_") {
			t.Errorf("%v: %v, want refused naming the variable", env, err)
		}
	}
}

// An admin token configured with white space around it (CITYCARD_ADMIN_TOKEN=" cca_… " in an
// env file, or a pasted newline) is trimmed: the service starts and the token signs in, since
// a client's bearer secret never carries that white space.
func TestPaddedAdminTokenSignsIn(t *testing.T) {
	for _, pad := range []string{" ", "\n", " \t"} {
		env := map[string]string{"CITYCARD_ADMIN_TOKEN": pad + testAdminToken + pad, "CITYCARD_DB": storagetest.DSN(t)}
		cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.AdminToken != testAdminToken {
			t.Fatalf("admin token %q configured, want it trimmed to %q", env["CITYCARD_ADMIN_TOKEN"], testAdminToken)
		}
		ts := newTestServer(t, asServed(), realClock(), withConfig(func(c *Config) { *c = cfg }), logTo(io.Discard))
		if r := ts.do("GET", "/api/v1/merchants", "", asAdmin); r.status != 200 {
			t.Fatalf("sign-in with the admin token configured as %q: %d %s, want 200", env["CITYCARD_ADMIN_TOKEN"], r.status, r.body)
		}
	}
}

// TestMaxOpenConflictsSetting: CITYCARD_MAX_OPEN_CONFLICTS defaults to 200, takes 0 (no cap)
// to 100000 and refuses anything else; the service's store gets it (openStore).
func TestMaxOpenConflictsSetting(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		return cfg, err
	}
	for v, want := range map[string]int{"": 200, "0": 0, "7": 7, "100000": 100000} {
		cfg, err := parse(map[string]string{"CITYCARD_MAX_OPEN_CONFLICTS": v})
		if err != nil || cfg.MaxOpenConflicts != want {
			t.Errorf("%q: %d, %v; want %d", v, cfg.MaxOpenConflicts, err, want)
		}
	}
	for _, v := range []string{"-1", "many", "100001"} {
		if _, err := parse(map[string]string{"CITYCARD_MAX_OPEN_CONFLICTS": v}); err == nil || !strings.Contains(err.Error(), "CITYCARD_MAX_OPEN_CONFLICTS") {
			t.Errorf("%q: %v, want refused naming the variable", v, err)
		}
	}
	cfg, err := parse(map[string]string{"CITYCARD_MAX_OPEN_CONFLICTS": "7", "CITYCARD_DB": filepath.Join(t.TempDir(), "c.db"),
		"CITYCARD_ADMIN_TOKEN": strings.Repeat("a", 40)})
	if err != nil {
		t.Fatal(err)
	}
	db, _, _, _, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := db.MaxOpenConflicts(); got != 7 {
		t.Fatalf("the store's cap is %d, want 7", got)
	}
}

// The privacy notice's and the open data's settings (issue 22): CITYCARD_RETENTION_DAYS
// (default 30) and CITYCARD_AUDIT_ADDRESS_DAYS (default 90), whole days from 0 to 36500, and
// CITYCARD_OPEN_DATA_LICENSE (default CC BY 4.0), an http(s) URL; anything else refused at
// start, naming the variable.
func TestPrivacyAndOpenDataSettings(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		cfg, _, err := parseConfig("serve", nil, func(k string) string { return env[k] }, io.Discard)
		return cfg, err
	}
	cfg, err := parse(nil)
	if err != nil || cfg.RetentionDays != 30 || cfg.AuditAddressDays != 90 || cfg.OpenDataLicense != "https://creativecommons.org/licenses/by/4.0/" {
		t.Fatalf("defaults: %d, %d, %q, %v", cfg.RetentionDays, cfg.AuditAddressDays, cfg.OpenDataLicense, err)
	}
	cfg, err = parse(map[string]string{"CITYCARD_RETENTION_DAYS": "60", "CITYCARD_AUDIT_ADDRESS_DAYS": "1",
		"CITYCARD_OPEN_DATA_LICENSE": "https://creativecommons.org/publicdomain/zero/1.0/"})
	if err != nil || cfg.RetentionDays != 60 || cfg.AuditAddressDays != 1 || cfg.OpenDataLicense != "https://creativecommons.org/publicdomain/zero/1.0/" {
		t.Fatalf("set: %d, %d, %q, %v", cfg.RetentionDays, cfg.AuditAddressDays, cfg.OpenDataLicense, err)
	}
	for key, bad := range map[string][]string{
		"CITYCARD_RETENTION_DAYS":     {"-1", "a month", "36501"},
		"CITYCARD_AUDIT_ADDRESS_DAYS": {"-1", "99999"},
		"CITYCARD_OPEN_DATA_LICENSE":  {"CC-BY-4.0", "ftp://example.org/licence", "https://"},
	} {
		for _, v := range bad {
			if _, err := parse(map[string]string{key: v}); err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%s=%q: %v, want refused naming the variable", key, v, err)
			}
		}
	}
}
