// Command citycard runs a city's experience card: cards with signed QR codes, merchants and
// their offers, redemptions at shop tills, the tourist's card page and the monthly report.
//
//	citycard serve [--demo]   run the service (on the embedded demo data with --demo)
//	citycard report --month YYYY-MM [--format json|csv|pdf] [--out FILE]
//	                          a month's report from the database file
//	citycard healthcheck [--ready]
//	                          exit 0 if the service on CITYCARD_ADDR answers /healthz (/readyz)
//	citycard loadtest         drive a running service with concurrent tills (see tools/loadtest.go)
//	citycard backup --to FILE a consistent copy of the database, taken while the service runs
//	citycard keys rotate|activate|list
//	                          add a card token signing key (published now, signing after a
//	                          grace period), make it sign now, list the keys
//	citycard ledger verify [--checkpoint FILE]
//	                          verify the books in the database file (read-only)
//	citycard retention [--dry-run]
//	                          erase the holder data of long-expired cards, shorten old audit
//	                          addresses (docs/privacy.md); --dry-run lists what it would do
//	citycard migrate-db [--from FILE] --to postgres://…
//	                          copy the SQLite database into an empty PostgreSQL one, checked
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	_ "time/tzdata" // the city's zone must load on images without /usr/share/zoneinfo

	"github.com/citycard/citycard/server/tools"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // the first signal shuts down gracefully; a second one ends the process at once
	}()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "citycard:", err)
		}
		os.Exit(1)
	}
}

const usage = `usage: citycard <command> [flags]

commands:
  serve         run the service (--demo: on the embedded demo towns Koper and Ptuj)
  report        a month's report from the database file: --month YYYY-MM [--format json|csv|pdf] [--out FILE]
  healthcheck   exit 0 if the local service answers /healthz (--ready: /readyz, the database takes writes)
  loadtest      drive a running service with concurrent tills and print throughput and latency
  backup        --to FILE: a consistent copy of the database, taken while the service runs
  keys          rotate [--activate-in DURATION | --activate-at TIME]: add a card token signing key, published
                at once, signing after the grace (no restart); activate KID: sign with it now; list: the keys
  ledger verify verify the books in the database file, read-only: [--checkpoint FILE]
  retention     erase the holder data of cards expired over CITYCARD_RETENTION_DAYS ago and shorten audit
                addresses older than CITYCARD_AUDIT_ADDRESS_DAYS (--dry-run: list what it would do)
  migrate-db    copy the SQLite database into an empty PostgreSQL one and check the copy: [--from FILE] --to postgres://…
`

// run is the whole program, with its environment passed in so tests can drive it.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		cfg, _, err := parseConfig(cmd, rest, getenv, stderr)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "report":
		return runReport(ctx, rest, getenv, stdout, stderr)
	case "healthcheck":
		var ready bool
		cfg, _, err := parseConfig(cmd, rest, getenv, stderr, func(fs *flag.FlagSet) {
			fs.BoolVar(&ready, "ready", false, "ask /readyz (the database takes writes) instead of /healthz")
		})
		if err != nil {
			return err
		}
		path := "/healthz"
		if ready {
			path = "/readyz"
		}
		return healthcheck(ctx, cfg, path)
	case "loadtest":
		return tools.Loadtest(ctx, rest, getenv, stdout, stderr)
	case "backup":
		return tools.Backup(ctx, rest, toolConfig(getenv, stderr), stdout)
	case "keys":
		return keysCommand(ctx, rest, getenv, stdout, stderr)
	case "ledger":
		return ledgerCommand(ctx, rest, getenv, stdout, stderr)
	case "retention":
		return retentionCommand(ctx, rest, getenv, stdout, stderr)
	case "migrate-db":
		return tools.MigrateDB(ctx, rest, toolConfig(getenv, stderr), compareMonth, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// toolConfig is the tools' reading of the configuration: the service's own (parseConfig).
func toolConfig(getenv func(string) string, stderr io.Writer) tools.ParseConfig {
	return func(name string, args []string, extra func(*flag.FlagSet)) (tools.Config, *flag.FlagSet, error) {
		cfg, fs, err := parseConfig(name, args, getenv, stderr, extra)
		return cfg.forTools(), fs, err
	}
}

// forTools is what the tools need of the configuration.
func (cfg Config) forTools() tools.Config {
	return tools.Config{DB: cfg.DB, Loc: cfg.Loc, Languages: cfg.Languages}
}
