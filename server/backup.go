package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/citycard/citycard/storage"
)

// backupCommand is "citycard backup --to FILE": a consistent copy of the database
// (CITYCARD_DB or --db) taken while the service runs, checked before it is kept. See
// docs/operations.md for restoring one.
func backupCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var to string
	cfg, fs, err := parseConfig("backup", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&to, "to", "", "the new file to write the copy to (required)")
	})
	if err != nil {
		return err
	}
	if to == "" {
		fs.Usage()
		return errors.New("backup: --to FILE is required")
	}
	if err := storage.Backup(ctx, cfg.DB, to); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup of %s written to %s (integrity_check ok)\n", cfg.DB, to)
	return nil
}
