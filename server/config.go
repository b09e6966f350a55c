package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/postgres"
)

// Config is the service's configuration: defaults, then CITYCARD_* variables, then flags.
type Config struct {
	Addr       string
	DB         string
	PublicURL  string
	AdminToken string
	TZ         string
	RateLimit  int // requests per minute per merchant key or client address; 0 is off
	// MaxOpenConflicts is how many undecided conflicts one merchant may have before its
	// tills' further conflicts are refused for now (CITYCARD_MAX_OPEN_CONFLICTS; 0 is no cap).
	MaxOpenConflicts int
	// RetentionDays is how many days after a card expired (or its activation deadline passed)
	// its holder data is erased (CITYCARD_RETENTION_DAYS); AuditAddressDays how long the audit
	// log keeps a client's whole address (CITYCARD_AUDIT_ADDRESS_DAYS). See docs/privacy.md;
	// the privacy notice states both.
	RetentionDays, AuditAddressDays int
	// RetentionBatch is the rows one retention write changes at most (CITYCARD_RETENTION_BATCH).
	RetentionBatch int
	// PGMaxConns and PGMinConns size each instance's pool on PostgreSQL (0: the defaults);
	// PGMaxWrites bounds its write transactions at once (0: a quarter of the pool, at least 2).
	PGMaxConns, PGMinConns, PGMaxWrites int32
	SigningKey                          string
	MetricsAddr                         string // a separate listen address for GET /metrics; "" serves none
	MetricsToken                        string // bearer token for GET /metrics on the main address; "" answers 404 there
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed (see clientip.go).
	TrustedProxies trustedProxies
	Demo           bool
	Loc            *time.Location
	Languages      []string // the town's languages, its own first: papers print in them (CITYCARD_LANGUAGES)
	// The deployment's first town (a fresh database) or the town an older database's rows
	// are upgraded into: CITYCARD_TOWN (default koper), CITYCARD_TOWN_NAME (default the code
	// capitalised), languages CITYCARD_LANGUAGES, zone CITYCARD_TZ and public URL
	// CITYCARD_PUBLIC_URL.
	Town     string
	TownName string
	// OpenDataLicense is the licence of the open data, a URL, named in the open-data
	// catalogue (CITYCARD_OPEN_DATA_LICENSE, default CC BY 4.0).
	OpenDataLicense string
	dbFromConfig    bool // DB was set explicitly (the demo uses a temporary file otherwise)
	Wallet          WalletConfig
}

// WalletConfig is the wallets' configuration (docs/wallet.md). Without AppleCert there is no
// Apple Wallet pass, without GoogleKey no Google Wallet link: their endpoints answer 404
// wallet_not_configured and no page shows their badge.
type WalletConfig struct {
	AppleCert       string // CITYCARD_APPLE_PASS_CERT: the PKCS#12 file of the Pass Type ID certificate and its key
	ApplePassword   string // CITYCARD_APPLE_PASS_PASSWORD: its password
	AppleWWDR       string // CITYCARD_APPLE_WWDR: Apple's WWDR intermediate certificate, PEM
	ApplePassTypeID string // CITYCARD_APPLE_PASS_TYPE_ID: pass.…, as in the certificate
	AppleTeamID     string // CITYCARD_APPLE_TEAM_ID
	APNsURL         string // CITYCARD_APNS_URL (default Apple's production push service)
	GoogleKey       string // CITYCARD_GOOGLE_WALLET_KEY: the service account's JSON key file
	GoogleIssuerID  string // CITYCARD_GOOGLE_ISSUER_ID
	GoogleAPI       string // CITYCARD_GOOGLE_WALLET_API (default Google's)
	// apnsTLS, if set, is the TLS configuration the APNs client starts from (tests: a
	// local HTTP/2 server's root).
	apnsTLS *tls.Config
}

// defaultOpenDataLicense is the open data's licence unless configured: Creative Commons
// Attribution 4.0, which the EU's portals recommend for public sector data.
const defaultOpenDataLicense = "https://creativecommons.org/licenses/by/4.0/"

// minAdminTokenLen is the shortest CITYCARD_ADMIN_TOKEN accepted, in characters. The admin
// token is the one secret a person may choose; a short one could be guessed in spite of the
// sign-in limits (which never hold a valid secret back). The generated one has 47.
const minAdminTokenLen = 32

// checkAdminToken refuses a configured admin token shorter than minAdminTokenLen; "" (none
// configured) is fine.
func checkAdminToken(tok string) error {
	if n := utf8.RuneCountInString(tok); n > 0 && n < minAdminTokenLen {
		return fmt.Errorf("CITYCARD_ADMIN_TOKEN is %d characters long; it must have at least %d "+
			"(for instance: head -c 32 /dev/urandom | base64)", n, minAdminTokenLen)
	}
	return nil
}

func defaultConfig() Config {
	return Config{
		Addr:      ":8080",
		DB:        "citycard.db",
		PublicURL: "http://localhost:8080",
		TZ:        "Europe/Ljubljana",
		Town:      "koper",
		RateLimit: 600,
		Languages: []string{"sl", "it"},

		MaxOpenConflicts: merchant.DefaultMaxOpenConflicts,
		RetentionDays:    30,
		AuditAddressDays: 90,
		OpenDataLicense:  defaultOpenDataLicense,
		RetentionBatch:   100,
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
	env("CITYCARD_TOWN", &cfg.Town)
	env("CITYCARD_TOWN_NAME", &cfg.TownName)
	env("CITYCARD_METRICS_ADDR", &cfg.MetricsAddr)
	env("CITYCARD_METRICS_TOKEN", &cfg.MetricsToken)
	env("CITYCARD_APPLE_PASS_CERT", &cfg.Wallet.AppleCert)
	env("CITYCARD_APPLE_PASS_PASSWORD", &cfg.Wallet.ApplePassword)
	env("CITYCARD_APPLE_WWDR", &cfg.Wallet.AppleWWDR)
	env("CITYCARD_APPLE_PASS_TYPE_ID", &cfg.Wallet.ApplePassTypeID)
	env("CITYCARD_APPLE_TEAM_ID", &cfg.Wallet.AppleTeamID)
	env("CITYCARD_APNS_URL", &cfg.Wallet.APNsURL)
	env("CITYCARD_GOOGLE_WALLET_KEY", &cfg.Wallet.GoogleKey)
	env("CITYCARD_GOOGLE_ISSUER_ID", &cfg.Wallet.GoogleIssuerID)
	env("CITYCARD_GOOGLE_WALLET_API", &cfg.Wallet.GoogleAPI)
	// A bearer secret never carries surrounding white space (bearer trims what a client sends),
	// so a token pasted with a space or a newline around it, or quoted as " cca_… " in an env
	// file, would start a service nobody can sign in to: it is trimmed instead.
	cfg.AdminToken = strings.TrimSpace(cfg.AdminToken)
	cfg.MetricsToken = strings.TrimSpace(cfg.MetricsToken)
	if cfg.MetricsToken != "" && len(cfg.MetricsToken) < 32 {
		return cfg, nil, fmt.Errorf("CITYCARD_METRICS_TOKEN must be at least 32 characters (it guards the metrics on the public port), got %d", len(cfg.MetricsToken))
	}
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
	if v := getenv("CITYCARD_MAX_OPEN_CONFLICTS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100000 {
			return cfg, nil, fmt.Errorf("CITYCARD_MAX_OPEN_CONFLICTS must be a whole number from 0 (no cap) to 100000, got %q", v)
		}
		cfg.MaxOpenConflicts = n
	}
	if v := strings.TrimSpace(getenv("CITYCARD_OPEN_DATA_LICENSE")); v != "" {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return cfg, nil, fmt.Errorf("CITYCARD_OPEN_DATA_LICENSE must be the licence's URL (https://…), got %q", v)
		}
		cfg.OpenDataLicense = v
	}
	for _, p := range []struct {
		key      string
		dst      *int
		min, max int
	}{{"CITYCARD_RETENTION_DAYS", &cfg.RetentionDays, 0, 36500}, {"CITYCARD_AUDIT_ADDRESS_DAYS", &cfg.AuditAddressDays, 0, 36500},
		{"CITYCARD_RETENTION_BATCH", &cfg.RetentionBatch, 1, 10000}} {
		if v := getenv(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < p.min || n > p.max {
				return cfg, nil, fmt.Errorf("%s must be a whole number from %d to %d, got %q", p.key, p.min, p.max, v)
			}
			*p.dst = n
		}
	}
	for _, p := range []struct {
		key string
		dst *int32
	}{{"CITYCARD_PG_MAX_CONNS", &cfg.PGMaxConns}, {"CITYCARD_PG_MIN_CONNS", &cfg.PGMinConns}, {"CITYCARD_PG_MAX_WRITES", &cfg.PGMaxWrites}} {
		if v := getenv(p.key); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1000 {
				return cfg, nil, fmt.Errorf("%s must be a whole number from 1 to 1000, got %q", p.key, v)
			}
			*p.dst = int32(n)
		}
	}
	if cfg.PGMaxConns > 0 && cfg.PGMinConns > cfg.PGMaxConns {
		return cfg, nil, fmt.Errorf("CITYCARD_PG_MIN_CONNS (%d) is more than CITYCARD_PG_MAX_CONNS (%d)", cfg.PGMinConns, cfg.PGMaxConns)
	}
	proxies := getenv("CITYCARD_TRUSTED_PROXIES")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Addr, "addr", cfg.Addr, "listen address (CITYCARD_ADDR)")
	dbFlag := fs.String("db", "", "SQLite file or postgres:// URL (CITYCARD_DB, default citycard.db)")
	fs.StringVar(&cfg.PublicURL, "public-url", cfg.PublicURL, "base of the URL in every QR code (CITYCARD_PUBLIC_URL)")
	fs.StringVar(&cfg.TZ, "tz", cfg.TZ, "the city's time zone (CITYCARD_TZ)")
	fs.IntVar(&cfg.RateLimit, "rate-limit", cfg.RateLimit, "requests per minute per key or address, 0 is off (CITYCARD_RATE_LIMIT)")
	fs.StringVar(&proxies, "trusted-proxies", proxies, "comma-separated IPs or CIDRs whose X-Forwarded-For is believed (CITYCARD_TRUSTED_PROXIES)")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", cfg.MetricsAddr, "separate listen address for GET /metrics, e.g. 127.0.0.1:9090 (CITYCARD_METRICS_ADDR)")
	fs.BoolVar(&cfg.Demo, "demo", false, "start on the embedded demo data set: the towns Koper and Ptuj")
	for _, add := range extra {
		add(fs)
	}
	if err := fs.Parse(args); err != nil {
		return cfg, fs, err
	}
	if *dbFlag != "" {
		cfg.DB, cfg.dbFromConfig = *dbFlag, true
	}
	var err error
	if cfg.TrustedProxies, err = parseTrustedProxies(proxies); err != nil {
		return cfg, fs, err
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
	if _, err := cfg.town(); err != nil {
		return cfg, fs, fmt.Errorf("CITYCARD_TOWN, CITYCARD_TOWN_NAME, CITYCARD_LANGUAGES: %w", err)
	}
	return cfg, fs, nil
}

// town is the deployment's first town as configured.
func (cfg Config) town() (storage.Town, error) {
	t := storage.DefaultTown(cfg.Town, cfg.Loc)
	t.PublicURL = cfg.PublicURL
	t.Languages = append([]string(nil), cfg.Languages...)
	if len(t.Languages) > 0 && cfg.TownName == "" {
		t.Name = map[string]string{t.Languages[0]: t.Name["sl"]}
	}
	if cfg.TownName != "" && len(t.Languages) > 0 {
		t.Name = map[string]string{t.Languages[0]: cfg.TownName}
	}
	err := t.Validate()
	return t, err
}

// storageOptions are storage.Open's options for this configuration: the deployment's town.
func (cfg Config) storageOptions() []storage.Option {
	t, err := cfg.town()
	if err != nil {
		return nil // parseConfig refused it already; a Config built in a test keeps the default
	}
	return []storage.Option{storage.WithTown(t), storage.WithPostgres(postgres.Options{MaxConns: cfg.PGMaxConns, MinConns: cfg.PGMinConns, MaxWrites: cfg.PGMaxWrites})}
}
