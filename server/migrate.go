package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/server/i18n"
	"github.com/citycard/citycard/server/papers"
	"github.com/citycard/citycard/storage"
)

// compareMonth is migrate-db's check of a month closed in both databases
// (tools.CompareMonth): sameMonth in the language lang.
func compareMonth(ctx context.Context, src, dst *storage.DB, town string, m merchant.Month, lang string) error {
	return sameMonth(ctx, src, dst, town, m, i18n.NewLocale(lang))
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
