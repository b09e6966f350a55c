package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/citycard/citycard/storage"
)

// The retention job (issue 22, docs/privacy.md): once a day in the service, and on demand with
// `citycard retention [--dry-run]`, holder data of cards expired more than
// CITYCARD_RETENTION_DAYS ago is erased and the audit log's client addresses older than
// CITYCARD_AUDIT_ADDRESS_DAYS are shortened. Of several instances one runs it: the one holding
// the lease row "retention" (storage.ClaimLease).

// retentionEvery is how often the service runs the job; retentionLease how long a run's lease
// lasts before another instance may take it over (it is renewed while the run goes on).
const (
	retentionEvery = 24 * time.Hour
	retentionLease = 15 * time.Minute
	retentionJob   = "retention"
	// retentionPause is the least rest between two batches (see storage.RetentionOptions):
	// the job takes the writer at most half the time, so tills keep their pace.
	retentionPause = 10 * time.Millisecond
)

// retentionOptions are the job's options from the configuration.
func (cfg Config) retentionOptions() storage.RetentionOptions {
	return storage.RetentionOptions{HolderDays: cfg.RetentionDays, AddressDays: cfg.AuditAddressDays, Batch: cfg.RetentionBatch, Pause: retentionPause}
}

// instanceID names this process as a lease holder.
func instanceID() string {
	b := make([]byte, 8)
	rand.Read(b)
	host, _ := os.Hostname()
	return host + "-" + hex.EncodeToString(b)
}

// runRetention runs the job once if this instance gets the lease; it logs progress and counts
// and feeds the metrics m (nil: none). It reports whether it ran.
func runRetention(ctx context.Context, db *storage.DB, opt storage.RetentionOptions, holder string, log *slog.Logger, m *metrics) (storage.RetentionResult, bool, error) {
	won, err := db.ClaimLease(ctx, retentionJob, holder, retentionLease)
	if err != nil || !won {
		if err == nil {
			log.Info("retention: another instance runs it", "holder", holder)
		}
		return storage.RetentionResult{}, false, err
	}
	defer db.ReleaseLease(context.WithoutCancel(ctx), retentionJob, holder)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	renewed := time.Now()
	batches := 0
	opt.Progress = func(b storage.RetentionBatch) {
		batches++
		if m != nil {
			m.retention.Observe(b.Took.Seconds())
			m.erased.WithLabelValues("retention").Add(float64(b.Cards))
			m.shortened.Add(float64(b.Addresses))
		}
		if batches%20 == 0 {
			log.Info("retention: progress", "batches", batches, "town", b.Town, "cards", b.Cards, "addresses", b.Addresses)
		}
		// Keep the lease while the run goes on; a lease lost (this instance stalled past it)
		// stops the run between batches: another instance took it over.
		if time.Since(renewed) > retentionLease/3 {
			if ok, err := db.ClaimLease(ctx, retentionJob, holder, retentionLease); err != nil || !ok {
				cancel(errors.New("retention: the lease was lost"))
			}
			renewed = time.Now()
		}
	}
	start := time.Now()
	res, err := db.Retention(ctx, opt)
	if cause := context.Cause(ctx); err != nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	log.Info("retention: done", "cards_erased", res.Cards, "addresses_shortened", res.Addresses, "batches", batches,
		"took", time.Since(start).Round(time.Millisecond), "err", err)
	if m != nil && err == nil {
		m.retentionAt.Set(float64(time.Now().Unix()))
	}
	return res, true, err
}

// retentionLoop runs the job a minute after start and then every retentionEvery, until ctx
// ends; done is closed when it returns.
func (s *server) retentionLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	holder := instanceID()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, _, err := runRetention(ctx, s.db, s.cfg.retentionOptions(), holder, s.log, s.metrics); err != nil && ctx.Err() == nil {
				s.log.Error("retention", "err", err)
			}
			t.Reset(retentionEvery)
		}
	}
}

// retentionCommand is `citycard retention [--dry-run]`.
func retentionCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var dry bool
	cfg, fs, err := parseConfig("retention", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&dry, "dry-run", false, "list what would be erased and shortened, change nothing")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("retention: unexpected arguments %q", fs.Args())
	}
	if _, err := os.Stat(cfg.DB); err != nil && !storage.IsPostgres(cfg.DB) {
		return fmt.Errorf("retention: no database at %s (set CITYCARD_DB or --db to the service's file): %w", cfg.DB, err)
	}
	db, err := storage.Open(ctx, cfg.DB, cfg.Loc, cfg.storageOptions()...)
	if err != nil {
		return err
	}
	defer db.Close()
	opt := cfg.retentionOptions()
	if dry {
		opt.DryRun = true
		res, err := db.Retention(ctx, opt)
		if err != nil {
			return err
		}
		for _, d := range res.Due {
			fmt.Fprintf(stdout, "would erase card %s (%s, town %s): expired %s\n", d.ID, d.Number, d.Town, d.Since.Format(time.RFC3339))
		}
		fmt.Fprintf(stdout, "dry run: %d cards' holder data would be erased (expired more than %d days ago), %d audit addresses shortened (older than %d days)\n",
			res.Cards, cfg.RetentionDays, res.Addresses, cfg.AuditAddressDays)
		return nil
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	res, ran, err := runRetention(storage.WithActor(ctx, "retention", ""), db, opt, instanceID(), log, nil)
	if err != nil {
		return err
	}
	if !ran {
		return errors.New("retention: another instance holds the lease and runs it now; try again later")
	}
	fmt.Fprintf(stdout, "erased the holder data of %d cards, shortened %d audit addresses\n", res.Cards, res.Addresses)
	return nil
}
