package storage

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"time"
)

// Retention (issue 22, docs/privacy.md): holder data of cards long expired is erased, and the
// audit log's client addresses are shortened once old, in small batches, each its own short
// write, so a till's sale never waits long behind one.

// RetentionOptions says what the retention job keeps and how it works.
type RetentionOptions struct {
	HolderDays  int // days after a card expired (or its activation deadline passed), in its town's calendar
	AddressDays int // days an audit entry keeps its client's full address
	Batch       int // rows a write changes at most (default 100)
	DryRun      bool
	// Pause, if not 0, is the least rest between two batches; the rest is at least as long as
	// the batch took, so the job has the writer at most half the time and the tills' writes
	// queued behind a batch go first.
	Pause time.Duration
	// Progress, if set, is called after each batch with what that batch did.
	Progress func(RetentionBatch)
}

// RetentionBatch is one batch of the retention job: cards erased or addresses shortened.
type RetentionBatch struct {
	Town      string // the cards' town; "" for addresses
	Cards     int
	Addresses int
	Took      time.Duration // the write's time, queue and commit included
}

// RetentionResult is what a run did (or, in a dry run, would do).
type RetentionResult struct {
	Cards     int
	Addresses int
	Due       []RetentionDue // dry run: the cards that would be erased
}

// RetentionDue is a card the retention job would erase.
type RetentionDue struct {
	Town, ID, Number string
	Since            time.Time // when it expired, or its activation deadline passed
}

// retentionActor audits the job's erasures.
const retentionActor = "retention"

// HolderCutoff is the instant before which a card must have expired in town (or have missed
// its activation deadline) for its holder data to be erased at now: the start of the town's
// day days before today. A card that expired on day D is kept through day D+days and erased
// from day D+days+1, in the town's zone.
func (db *DB) HolderCutoff(town string, now time.Time, days int) time.Time {
	loc := db.TownLoc(town)
	y, m, d := now.In(loc).Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, loc)
}

// retentionQueries find a town's cards due, by the two partial indexes of migration 0024:
// expired cards, and cards never activated whose deadline passed.
var retentionQueries = []string{
	`SELECT id, number, expires_at FROM cards WHERE town = ? AND erased_at IS NULL AND (holder <> '' OR block_reason <> '') AND expires_at < ? ORDER BY expires_at LIMIT ?`,
	`SELECT id, number, activate_by FROM cards WHERE town = ? AND erased_at IS NULL AND activated_at IS NULL AND (holder <> '' OR block_reason <> '') AND activate_by < ? ORDER BY activate_by LIMIT ?`,
}

// Retention runs the retention job once over every town (see RetentionOptions). Every
// erasure is EraseCard's, with reason "retention" and actor "retention"; it stops at ctx's end
// between batches, returning what it did so far.
func (db *DB) Retention(ctx context.Context, opt RetentionOptions) (RetentionResult, error) {
	var res RetentionResult
	if opt.Batch <= 0 {
		opt.Batch = 100
	}
	if _, ok := ctx.Value(actorKey{}).(actor); !ok {
		ctx = WithActor(ctx, retentionActor, newID("ret"))
	}
	now := db.Now()
	for _, town := range db.TownCodes() {
		cutoff := ms(db.HolderCutoff(town, now, opt.HolderDays))
		for _, q := range retentionQueries {
			if opt.DryRun {
				due, err := retentionDue(db.reader(ctx), q, town, cutoff)
				if err != nil {
					return res, err
				}
				res.Due = append(res.Due, due...)
				res.Cards += len(due)
				continue
			}
			for {
				if err := ctx.Err(); err != nil {
					return res, err
				}
				start := time.Now()
				n := 0
				var numbers []string
				err := db.update(ctx, func(tx *Tx) error {
					n, numbers = 0, numbers[:0]
					rows, err := tx.query(q, town, cutoff, opt.Batch)
					if err != nil {
						return err
					}
					var ids []string
					for rows.Next() {
						var id, number string
						var since int64
						if err := rows.Scan(&id, &number, &since); err != nil {
							rows.Close()
							return err
						}
						ids, numbers = append(ids, id), append(numbers, number)
					}
					rows.Close()
					if err := rows.Err(); err != nil {
						return err
					}
					for _, id := range ids {
						// The same conditional write as an office's erasure: a card erased
						// meanwhile is skipped, never erased twice.
						ok, err := eraseCard(tx, town, id, retentionActor)
						if err != nil {
							return err
						}
						if ok {
							n++
						}
					}
					return nil
				})
				for _, num := range numbers {
					db.cache.cards.invalidate(num, false)
				}
				if err != nil {
					return res, err
				}
				res.Cards += n
				if opt.Progress != nil && len(numbers) > 0 {
					opt.Progress(RetentionBatch{Town: town, Cards: n, Took: time.Since(start)})
				}
				if len(numbers) < opt.Batch {
					break
				}
				if err := rest(ctx, opt.Pause, time.Since(start)); err != nil {
					return res, err
				}
			}
		}
	}
	if !opt.DryRun {
		var err error
		if res.Addresses, err = db.shortenAddresses(ctx, now.AddDate(0, 0, -opt.AddressDays), opt); err != nil {
			return res, err
		}
	} else {
		var n int
		if err := db.reader(ctx).queryRow(`SELECT count(*) FROM audit WHERE created_at < ? AND client_addr <> '' AND client_addr NOT LIKE '%/%'`,
			ms(now.AddDate(0, 0, -opt.AddressDays))).Scan(&n); err != nil {
			return res, err
		}
		res.Addresses = n
	}
	if !opt.DryRun && (res.Cards > 0 || res.Addresses > 0) {
		if err := db.scrub(ctx); err != nil {
			slog.Warn("retention: scrub", "err", err)
		}
	}
	return res, nil
}

func retentionDue(r reader, q, town string, cutoff int64) ([]RetentionDue, error) {
	rows, err := r.query(q, town, cutoff, 1<<30)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RetentionDue
	for rows.Next() {
		d := RetentionDue{Town: town}
		var since int64
		if err := rows.Scan(&d.ID, &d.Number, &since); err != nil {
			return nil, err
		}
		d.Since = fromMS(since)
		out = append(out, d)
	}
	return out, rows.Err()
}

// shortenAddresses shortens the client addresses of audit entries made before cutoff, in
// batches; each entry is changed by a conditional write (still its full address).
func (db *DB) shortenAddresses(ctx context.Context, cutoff time.Time, opt RetentionOptions) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		start := time.Now()
		n, seen := 0, 0
		err := db.update(ctx, func(tx *Tx) error {
			n, seen = 0, 0
			rows, err := tx.query(`SELECT seq, client_addr FROM audit WHERE created_at < ? AND client_addr <> '' AND client_addr NOT LIKE '%/%' ORDER BY created_at LIMIT ?`,
				ms(cutoff), opt.Batch)
			if err != nil {
				return err
			}
			type row struct {
				seq  int64
				addr string
			}
			var todo []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.seq, &r.addr); err != nil {
					rows.Close()
					return err
				}
				todo = append(todo, r)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			seen = len(todo)
			for _, r := range todo {
				res, err := tx.exec(`UPDATE audit SET client_addr = ? WHERE seq = ? AND client_addr = ?`, ShortenAddr(r.addr), r.seq, r.addr)
				if err != nil {
					return err
				}
				if k, _ := res.RowsAffected(); k == 1 {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if opt.Progress != nil && seen > 0 {
			opt.Progress(RetentionBatch{Addresses: n, Took: time.Since(start)})
		}
		if seen < opt.Batch {
			return total, nil
		}
		if err := rest(ctx, opt.Pause, time.Since(start)); err != nil {
			return total, err
		}
	}
}

// rest waits between two batches: at least pause, and at least as long as the batch took
// (nothing when pause is 0); ctx's end ends it.
func rest(ctx context.Context, pause, took time.Duration) error {
	if pause <= 0 {
		return nil
	}
	t := time.NewTimer(max(pause, took))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ShortenAddr is a client address kept past CITYCARD_AUDIT_ADDRESS_DAYS: its network, IPv4
// /24 or IPv6 /48 ("203.0.113.0/24", "2001:db8:1::/48"). What is not an address becomes
// "0.0.0.0/0": it must not stay either.
func ShortenAddr(s string) string {
	if strings.Contains(s, "/") {
		return s
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "0.0.0.0/0"
	}
	a = a.Unmap().WithZone("")
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}
