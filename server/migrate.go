package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
	"github.com/citycard/citycard/storage/postgres"
)

const migrateUsage = `usage: citycard migrate-db [--from FILE] --to postgres://USER@HOST/DB

Copies a whole SQLite database (--from, default CITYCARD_DB) into an empty PostgreSQL
database (--to): every town, every table, the ledger. It refuses a target that holds any row,
naming the table. The copy is one PostgreSQL transaction of one moment of the file (a
service still writing it goes on, and what it writes later is not copied). Then it checks
that every town's ledger verifies on the target with the head the source had at that moment,
and that every closed month's report (JSON and every CSV table) is byte-identical. A run
that fails, in the copy or in its check, leaves the target empty, and can be run again.
Exit status 0 when the copy is checked; otherwise 1, with a line saying what is wrong.
See docs/migrate-db.md.
`

// migrateCommand is "citycard migrate-db": SQLite to PostgreSQL, checked.
func migrateCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var from, to string
	cfg, fs, err := parseConfig("migrate-db", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&from, "from", "", "the SQLite file to copy (default: CITYCARD_DB, or --db)")
		fs.StringVar(&to, "to", "", "the PostgreSQL database to copy into, postgres://… (required; it must be empty)")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, migrateUsage)
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if from == "" {
		from = cfg.DB
	}
	if to == "" {
		fmt.Fprint(stderr, migrateUsage)
		return errors.New("migrate-db: --to postgres://… is required")
	}
	if storage.IsPostgres(from) {
		return fmt.Errorf("migrate-db: --from %s is PostgreSQL: give the SQLite file to copy", postgres.Redact(from))
	}
	if !storage.IsPostgres(to) {
		return fmt.Errorf("migrate-db: --to must be a postgres:// or postgresql:// URL, got %q", to)
	}
	if _, err := os.Stat(from); err != nil {
		return fmt.Errorf("migrate-db: --from: %w", err)
	}
	fmt.Fprintf(stdout, "migrate-db: copying %s into %s\n", from, postgres.Redact(to))
	start := time.Now()
	p := newCopyProgress(stdout)
	m, err := storage.MigrateDB(ctx, from, to, p.update)
	p.finish()
	if err != nil {
		return fmt.Errorf("migrate-db: %w", err)
	}
	var rows int64
	for _, c := range m.Tables {
		rows += c.Rows
	}
	fmt.Fprintf(stdout, "migrate-db: copied %d rows in %d tables in %s\n", rows, len(m.Tables), time.Since(start).Round(time.Millisecond))
	if err := checkMigration(ctx, from, to, m, cfg, stdout); err != nil {
		// Never a half-checked target: it is emptied, and a run once the cause is fixed
		// finds it empty.
		if eerr := storage.EmptyTarget(context.WithoutCancel(ctx), to); eerr != nil {
			return fmt.Errorf("migrate-db: the copy was committed to %s, but its check failed: %w; emptying it failed too (%v): drop its tables before running migrate-db again", postgres.Redact(to), err, eerr)
		}
		return fmt.Errorf("migrate-db: the copy into %s was emptied again because its check failed: %w", postgres.Redact(to), err)
	}
	fmt.Fprintln(stdout, "migrate-db: done: the ledgers verify and the closed months are identical; point CITYCARD_DB at the PostgreSQL URL")
	return nil
}

// checkMigration checks the copy m of from in to as the service would serve it, against the
// source as it was at the moment copied (m): the same towns; every town's ledger verifies on
// the target, to the length and head the source had then; every month closed on the target is
// the same in the source (a frozen report never changes), and renders the same JSON and CSV
// bytes (every CSV table) through the functions the report endpoint uses. A source a service
// kept writing meanwhile has moved on, and that is no failure. When a target's ledger does
// not verify, the source's is verified too, to tell a bad source from a bad copy.
func checkMigration(ctx context.Context, from, to string, m storage.Migration, cfg Config, stdout io.Writer) error {
	src, err := storage.OpenReadOnly(ctx, from, cfg.Loc)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := storage.OpenReadOnly(ctx, to, cfg.Loc)
	if err != nil {
		return err
	}
	defer dst.Close()
	towns := slices.Sorted(slices.Values(m.Towns))
	if have := slices.Sorted(slices.Values(dst.TownCodes())); !slices.Equal(towns, have) {
		return fmt.Errorf("the towns are %s on the target, %s in the source", strings.Join(have, ", "), strings.Join(towns, ", "))
	}
	for _, town := range towns {
		have, err := dst.VerifyLedger(ctx, town)
		if err != nil {
			return fmt.Errorf("%s: the target's ledger: %w", town, err)
		}
		if !have.OK {
			want, err := src.VerifyLedger(ctx, town)
			if err != nil {
				return fmt.Errorf("%s: the source's ledger: %w", town, err)
			}
			if !want.OK {
				return fmt.Errorf("%s: the source's ledger does not verify (first bad %s: %s), so neither does its copy: see citycard ledger verify --db %s", town, want.FirstBad, want.Problem, from)
			}
			return fmt.Errorf("%s: the target's ledger does not verify: first bad %s: %s", town, have.FirstBad, have.Problem)
		}
		if want := m.Heads[town]; have.Entries != want.Entries || have.Head != want.Head {
			return fmt.Errorf("%s: the target's ledger has %d entries, head %x; the source had %d, head %x, when copied", town, have.Entries, have.Head, want.Entries, want.Head)
		}
		closes, err := dst.MonthCloses(ctx, town)
		if err != nil {
			return err
		}
		for _, cl := range closes {
			if err := sameMonth(ctx, src, dst, town, cl.Month, i18n.NewLocale(cfg.Languages[0])); err != nil {
				return fmt.Errorf("%s %s: %w", town, cl.Month, err)
			}
		}
		months := "closed months"
		if len(closes) == 1 {
			months = "closed month"
		}
		fmt.Fprintf(stdout, "migrate-db: %s: ledger ok, %d entries, head %x; %d %s identical\n", town, have.Entries, have.Head, len(closes), months)
	}
	return nil
}

// sameMonth compares a closed month's report in both databases, byte for byte, in JSON and
// in every CSV table (with the names each database holds, for the products table).
func sameMonth(ctx context.Context, src, dst *storage.DB, town string, m merchant.Month, lang i18n.Locale) error {
	a, err := loadReport(ctx, src, town, m)
	if err != nil {
		return fmt.Errorf("the source's report: %w", err)
	}
	b, err := loadReport(ctx, dst, town, m)
	if err != nil {
		return fmt.Errorf("the target's report: %w", err)
	}
	if b.closed == nil {
		return errors.New("closed in the source, open on the target")
	}
	if a.closed == nil {
		return errors.New("closed on the target, open in the source")
	}
	if a.closed.SHA256 != b.closed.SHA256 || a.closed.LedgerHead != b.closed.LedgerHead ||
		a.closed.LedgerEntries != b.closed.LedgerEntries || !a.closed.ClosedAt.Equal(b.closed.ClosedAt) {
		return errors.New("the close (SHA-256, ledger head and length, time) differs")
	}
	namesA, err := loadPaperNames(ctx, src, town)
	if err != nil {
		return err
	}
	namesB, err := loadPaperNames(ctx, dst, town)
	if err != nil {
		return err
	}
	for _, table := range append([]string{""}, papers.ReportTables...) {
		format, what := "csv", "CSV table "+table
		if table == "" {
			format, what = "json", "JSON"
		}
		o := paperOpts{lang: lang, csv: papers.CSVOpts{Table: table, Town: town, Lang: lang}}
		o.names = namesA
		x, _, _, err := a.render(format, time.Time{}, o)
		if err != nil {
			return err
		}
		o.names = namesB
		y, _, _, err := b.render(format, time.Time{}, o)
		if err != nil {
			return err
		}
		if !bytes.Equal(x, y) {
			return fmt.Errorf("the %s differs (%d bytes in the source, %d on the target)", what, len(x), len(y))
		}
	}
	return nil
}

// copyProgress shows MigrateDB's progress: on a terminal, a bar per table redrawn in place;
// otherwise one line per table when it is done, and a line every progressEvery for a table
// that takes longer.
type copyProgress struct {
	w        io.Writer
	terminal bool
	table    string
	done     int64
	total    int64
	started  time.Time
	drawn    time.Time
}

// progressEvery is how often a long table reports in plain lines.
const progressEvery = 10 * time.Second

func newCopyProgress(w io.Writer) *copyProgress {
	return &copyProgress{w: w, terminal: isTerminal(w)}
}

// isTerminal reports whether w is a character device (a terminal), where a bar redrawn with
// \r reads well; in a file or a pipe it would be one long line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// update is the storage.MigrateProgress.
func (p *copyProgress) update(table string, done, total int64) {
	now := time.Now()
	if table != p.table {
		p.finish()
		p.table, p.total, p.started, p.drawn = table, total, now, time.Time{}
	}
	p.done = done
	switch {
	case p.terminal && (now.Sub(p.drawn) >= 100*time.Millisecond || done == total):
		p.drawn = now
		fmt.Fprintf(p.w, "\r  %-20s %s %*d/%d", table, bar(done, total, 30), digits(total), done, total)
	case !p.terminal && done < total && now.Sub(p.started) >= progressEvery && now.Sub(p.drawn) >= progressEvery:
		p.drawn = now
		fmt.Fprintf(p.w, "  %s: %d of %d rows\n", table, done, total)
	}
}

// finish ends the current table's line.
func (p *copyProgress) finish() {
	if p.table == "" {
		return
	}
	took := time.Since(p.started).Round(time.Millisecond)
	if p.terminal {
		fmt.Fprintf(p.w, "\r  %-20s %s %*d/%d rows, %s\n", p.table, bar(p.done, p.total, 30), digits(p.total), p.done, p.total, took)
	} else {
		fmt.Fprintf(p.w, "  %s: %d rows, %s\n", p.table, p.done, took)
	}
	p.table = ""
}

// bar draws done of total as [#####.....] width characters wide.
func bar(done, total int64, width int) string {
	n := width
	if total > 0 {
		n = int(done * int64(width) / total)
	}
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

func digits(n int64) int { return len(fmt.Sprint(n)) }
