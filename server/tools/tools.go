// Package tools owns the commands that are not the service: the load generator, the demo seeder, migrate-db and backup.
// It may use storage and the domain packages; it never touches Fiber, the HTTP server or its handlers (what it needs of them comes in as parameters).
package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"time"
)

// Config is what the tools need of the service's configuration.
type Config struct {
	DB        string         // the database: a SQLite file or a postgres:// URL (CITYCARD_DB, --db)
	Loc       *time.Location // the city's zone (CITYCARD_TZ, --tz)
	Languages []string       // the town's languages, its own first (CITYCARD_LANGUAGES)
}

// ParseConfig reads the service's environment and its common flags for the command name, plus
// the command's own flags that extra adds, and parses args. It returns the flag set it parsed
// (nil when the environment was refused before the flags were read) and the error of a bad
// variable or flag (flag.ErrHelp for -h), its usage already written.
type ParseConfig func(name string, args []string, extra func(*flag.FlagSet)) (Config, *flag.FlagSet, error)

// decodeStrict decodes one JSON object from b into v: no unknown fields, nothing after it.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("more than one JSON object")
	}
	return nil
}
