package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

// ledgerCheckJSON is the answer of verify: ok with the chain's length and head, or the first
// bad record and what is wrong with it; for a rollup row, rollup names its table and key.
type ledgerCheckJSON struct {
	OK           bool        `json:"ok"`
	Entries      *int64      `json:"entries,omitempty"`
	Head         *string     `json:"head,omitempty"`
	FirstBad     *string     `json:"first_bad,omitempty"`
	RedemptionID *string     `json:"redemption_id,omitempty"`
	Problem      *string     `json:"problem,omitempty"`
	Rollup       *rollupJSON `json:"rollup,omitempty"`
}

// rollupJSON names a rollup row: its table and its key columns in key order.
type rollupJSON struct {
	Table string            `json:"table"`
	Key   []rollupKeyColumn `json:"key"`
}

type rollupKeyColumn struct {
	Column string `json:"column"`
	Value  string `json:"value"`
}

func toLedgerCheckJSON(chk storage.LedgerCheck) ledgerCheckJSON {
	if chk.OK {
		head := hex.EncodeToString(chk.Head[:])
		return ledgerCheckJSON{OK: true, Entries: &chk.Entries, Head: &head}
	}
	out := ledgerCheckJSON{FirstBad: &chk.FirstBad, Problem: &chk.Problem}
	if chk.RedemptionID != "" {
		out.RedemptionID = &chk.RedemptionID
	}
	if r := chk.Rollup; r != nil {
		out.Rollup = &rollupJSON{Table: r.Table, Key: make([]rollupKeyColumn, len(r.Key))}
		for i, k := range r.Key {
			out.Rollup.Key[i] = rollupKeyColumn{k.Name, k.Value}
		}
	}
	return out
}

// handleLedgerVerify checks the books: the ledger's hash chain against the redemptions, the
// closes and the signed checkpoints, and every rollup against the ledger.
func (s *server) handleLedgerVerify(c *fiber.Ctx) error {
	chk, err := s.db.VerifyLedger(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(toLedgerCheckJSON(chk))
}

// checkpointJSON is a signed checkpoint as served (docs/reports.md says what is signed).
type checkpointJSON struct {
	Entries   int64  `json:"entries"`
	Head      string `json:"head"`
	SignedAt  string `json:"signed_at"`
	KID       string `json:"kid"`
	Signature string `json:"signature"`
	Reason    string `json:"reason"`
}

func toCheckpointJSON(cp merchant.Checkpoint) checkpointJSON {
	return checkpointJSON{Entries: cp.Entries, Head: hex.EncodeToString(cp.Head[:]), SignedAt: timeJSON(cp.SignedAt),
		KID: cp.KID, Signature: base64.RawURLEncoding.EncodeToString(cp.Signature), Reason: cp.Reason}
}

// parseCheckpoint reads a checkpoint saved as served.
func parseCheckpoint(b []byte) (merchant.Checkpoint, error) {
	var in checkpointJSON
	var cp merchant.Checkpoint
	if err := json.Unmarshal(b, &in); err != nil {
		return cp, fmt.Errorf("not a checkpoint: %w", err)
	}
	head, err := hex.DecodeString(in.Head)
	if err != nil || len(head) != 32 {
		return cp, errors.New("not a checkpoint: head must be 64 hex digits")
	}
	copy(cp.Head[:], head)
	if cp.SignedAt, err = time.Parse(time.RFC3339, in.SignedAt); err != nil {
		return cp, errors.New("not a checkpoint: signed_at must be RFC 3339")
	}
	if cp.Signature, err = base64.RawURLEncoding.DecodeString(in.Signature); err != nil {
		return cp, errors.New("not a checkpoint: signature must be base64url without padding")
	}
	if in.Entries < 0 || in.KID == "" || in.Reason == "" {
		return cp, errors.New("not a checkpoint: entries, kid and reason are required")
	}
	cp.Entries, cp.KID, cp.Reason = in.Entries, in.KID, in.Reason
	return cp, nil
}

// handleLedgerCheckpoints lists the signed checkpoints, newest first. Public: anyone may keep
// them, and check them with the keys of GET /api/v1/public/keys (checkpoint_keys).
func (s *server) handleLedgerCheckpoints(c *fiber.Ctx) error {
	return sendList(c, func(p storage.Page) ([]merchant.Checkpoint, string, error) {
		return s.db.Checkpoints(c.UserContext(), p)
	}, toCheckpointJSON)
}

// Checkpoints: at start if the newest is more than a day old, then checked every
// checkpointEvery: signed when the ledger grew since the newest one, and at least daily.
const (
	checkpointEvery   = time.Hour
	checkpointAtLeast = 24 * time.Hour
)

// checkpointTick signs a periodic checkpoint if one is due.
func (s *server) checkpointTick(ctx context.Context) {
	if _, _, err := s.db.CheckpointIfDue(ctx, merchant.CheckpointDaily, checkpointEvery, checkpointAtLeast); err != nil &&
		!errors.Is(err, storage.ErrClosed) && ctx.Err() == nil {
		s.log.Error("ledger checkpoint", "err", err)
	}
}

// checkpointLoop runs checkpointTick every checkpointEvery until ctx is done, then closes done.
func (s *server) checkpointLoop(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.checkpointTick(ctx)
		}
	}
}

const ledgerUsage = `usage: citycard ledger verify [--db FILE] [--checkpoint FILE]

Verifies the books in the database file (CITYCARD_DB), opened read-only: the ledger's hash
chain, the redemptions, closes and checkpoints it must agree with, and every rollup. With
--checkpoint, also that the chain contains a checkpoint saved elsewhere (the JSON object
as served, e.g. the "checkpoint" of a month's close). Exit status 0 if the books are
good; otherwise 1, with one line saying what is wrong.
`

// ledgerCommand is "citycard ledger verify".
func ledgerCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, ledgerUsage)
		return errors.New("ledger: want the subcommand verify")
	}
	var cpFile string
	cfg, fs, err := parseConfig("ledger verify", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cpFile, "checkpoint", "", "a checkpoint saved elsewhere (JSON) the ledger must contain")
	})
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprint(stderr, ledgerUsage)
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var extra []merchant.Checkpoint
	if cpFile != "" {
		b, err := os.ReadFile(cpFile)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		cp, err := parseCheckpoint(b)
		if err != nil {
			return fmt.Errorf("checkpoint %s: %w", cpFile, err)
		}
		extra = append(extra, cp)
	}
	db, err := storage.OpenReadOnly(ctx, cfg.DB, cfg.Loc)
	if err != nil {
		return err
	}
	defer db.Close()
	chk, err := db.VerifyLedger(ctx, extra...)
	if err != nil {
		return err
	}
	if !chk.OK {
		return fmt.Errorf("ledger verify: not ok: first bad %s: %s", chk.FirstBad, chk.Problem)
	}
	fmt.Fprintf(stdout, "ok: %d entries, head %s\n", chk.Entries, hex.EncodeToString(chk.Head[:]))
	return nil
}
