package tools

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/citycard/citycard/storage"
)

// Backup is "citycard backup --to FILE": a consistent copy of the database (CITYCARD_DB or
// --db) taken while the service runs, checked before it is kept. See docs/operations.md for
// restoring one. It fails without --to, on a file that exists, and on a copy whose
// integrity_check fails (storage.Backup).
func Backup(ctx context.Context, args []string, parse ParseConfig, stdout io.Writer) error {
	var to string
	cfg, fs, err := parse("backup", args, func(fs *flag.FlagSet) {
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
