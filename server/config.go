package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard/card"
)

// Config is the service's configuration: defaults, then CITYCARD_* variables, then flags.
type Config struct {
	Addr         string
	DB           string
	PublicURL    string
	AdminToken   string
	TZ           string
	RateLimit    int // requests per minute per merchant key or client address; 0 is off
	SigningKey   string
	Demo         bool
	Loc          *time.Location
	Languages    []string // the town's languages, its own first: papers print in them (CITYCARD_LANGUAGES)
	dbFromConfig bool     // DB was set explicitly (the demo uses a temporary file otherwise)
}

func defaultConfig() Config {
	return Config{
		Addr:      ":8080",
		DB:        "citycard.db",
		PublicURL: "http://localhost:8080",
		TZ:        "Europe/Ljubljana",
		RateLimit: 600,
		Languages: []string{"sl", "it"},
	}
}

// parseLanguages reads CITYCARD_LANGUAGES: a comma-separated list of sl, it, en, de, the
// town's own language first, each at most once.
func parseLanguages(v string) ([]string, error) {
	var out []string
	for _, l := range strings.Split(v, ",") {
		l = strings.TrimSpace(l)
		if !card.ValidLang(l) {
			return nil, fmt.Errorf("CITYCARD_LANGUAGES must list sl, it, en or de separated by commas, got %q", v)
		}
		if slices.Contains(out, l) {
			return nil, fmt.Errorf("CITYCARD_LANGUAGES lists %s twice", l)
		}
		out = append(out, l)
	}
	return out, nil
}

// parseConfig reads the environment and the flags of a subcommand; extra adds the
// subcommand's own flags.
func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) (Config, *flag.FlagSet, error) {
	cfg := defaultConfig()
	env := func(key string, dst *string) {
		if v := getenv(key); v != "" {
			*dst = v
		}
	}
	env("CITYCARD_ADDR", &cfg.Addr)
	env("CITYCARD_DB", &cfg.DB)
	env("CITYCARD_PUBLIC_URL", &cfg.PublicURL)
	env("CITYCARD_ADMIN_TOKEN", &cfg.AdminToken)
	env("CITYCARD_TZ", &cfg.TZ)
	env("CITYCARD_SIGNING_KEY", &cfg.SigningKey)
	cfg.dbFromConfig = getenv("CITYCARD_DB") != ""
	if v := getenv("CITYCARD_LANGUAGES"); v != "" {
		langs, err := parseLanguages(v)
		if err != nil {
			return cfg, nil, err
		}
		cfg.Languages = langs
	}
	if v := getenv("CITYCARD_RATE_LIMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return cfg, nil, fmt.Errorf("CITYCARD_RATE_LIMIT must be a whole number >= 0, got %q", v)
		}
		cfg.RateLimit = n
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (CITYCARD_ADDR)")
	dbFlag := fs.String("db", "", "SQLite file (CITYCARD_DB, default citycard.db)")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base of the URL in every QR code (CITYCARD_PUBLIC_URL)")
	fs.StringVar(&cfg.TZ, "tz", cfg.TZ, "the city's time zone (CITYCARD_TZ)")
	fs.IntVar(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per minute per key or address, 0 is off (CITYCARD_RATE_LIMIT)")
	fs.BoolVar(&cfg.Demo, "demo", false, "start on the embedded Koper demo data set")
	for _, add := range extra {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	if *dbFlag != "" {
		cfg.DB, cfg.dbFromConfig = *dbFlag, true
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if !strings.HasPrefix(cfg.PublicURL, "http://") && !strings.HasPrefix(cfg.PublicURL, "https://") {
		return cfg, fs, fmt.Errorf("CITYCARD_PUBLIC_URL must start with http:// or https://, got %q", cfg.PublicURL)
	}
	loc, err := time.LoadLocation(cfg.TZ)
	if err != nil {
		return cfg, fs, fmt.Errorf("CITYCARD_TZ: %w", err)
	}
	cfg.Loc = loc
	return cfg, fs, nil
}
