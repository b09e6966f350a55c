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
	"slices"
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

// townCheckJSON is one town's line of a network-wide verify.
type townCheckJSON struct {
	Town string `json:"town"`
	ledgerCheckJSON
}

// handleLedgerVerify checks the books of the caller's town: its ledger's hash chain against
// the redemptions, the closes and the signed checkpoints, and every rollup against the
// ledger. The network admin naming no town in a deployment of several gets every town's,
// {"ok","towns":[…]}, ok only if every town's is.
func (s *server) handleLedgerVerify(c *fiber.Ctx) error {
	if town, _ := c.Locals("town").(string); town != "" {
		chk, err := s.db.VerifyLedger(c.UserContext(), town)
		if err != nil {
			return err
		}
		return c.JSON(toLedgerCheckJSON(chk))
	}
	out := struct {
		OK    bool            `json:"ok"`
		Towns []townCheckJSON `json:"towns"`
	}{OK: true, Towns: []townCheckJSON{}}
	for _, town := range s.db.TownCodes() {
		chk, err := s.db.VerifyLedger(c.UserContext(), town)
		if err != nil {
			return err
		}
		out.OK = out.OK && chk.OK
		out.Towns = append(out.Towns, townCheckJSON{town, toLedgerCheckJSON(chk)})
	}
	return c.JSON(out)
}

// checkpointJSON is a signed checkpoint as served (docs/reports.md says what is signed).
type checkpointJSON struct {
	Town      string `json:"town,omitempty"` // version 2: whose chain it describes
	Version   int    `json:"version"`
	Entries   int64  `json:"entries"`
	Head      string `json:"head"`
	SignedAt  string `json:"signed_at"`
	KID       string `json:"kid"`
	Signature string `json:"signature"`
	Reason    string `json:"reason"`
}

func toCheckpointJSON(cp merchant.Checkpoint) checkpointJSON {
	v := cp.Version
	if v == 0 {
		v = 1
	}
	return checkpointJSON{Town: cp.Town, Version: v, Entries: cp.Entries, Head: hex.EncodeToString(cp.Head[:]), SignedAt: timeJSON(cp.SignedAt),
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
	cp.Entries, cp.KID, cp.Reason, cp.Town, cp.Version = in.Entries, in.KID, in.Reason, in.Town, in.Version
	if cp.Version == 0 {
		cp.Version = 1
	}
	if cp.Version > 2 || (cp.Version == 2 && cp.Town == "") {
		return cp, errors.New("not a checkpoint: version must be 1, or 2 with its town")
	}
	return cp, nil
}

// handleLedgerCheckpoints lists the signed checkpoints of every town's chain (?town= one
// town's), newest first. Public: anyone may keep them, and check them with the keys of GET
// /api/v1/public/keys (checkpoint_keys).
func (s *server) handleLedgerCheckpoints(c *fiber.Ctx) error {
	town := c.Query("town")
	if town != "" {
		if _, ok := s.db.CachedTown(town); !ok {
			return errTownNotFound
		}
	}
	return sendList(c, func(p storage.Page) ([]merchant.Checkpoint, string, error) {
		return s.db.Checkpoints(c.UserContext(), town, p)
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

const ledgerUsage = `usage: citycard ledger verify [--db FILE] [--checkpoint FILE] [--town CODE]

Verifies the books in the database file (CITYCARD_DB), opened read-only: each town's hash
chain (or --town's), the redemptions, closes and checkpoints it must agree with, and every
rollup. With --checkpoint, also that the town's chain contains a checkpoint saved elsewhere
(the JSON object as served, e.g. the "checkpoint" of a month's close; one signed before
towns names no town: with several towns, give it with --town). Exit status 0 if the books
are good; otherwise 1, with one line saying what is wrong.
`

// ledgerCommand is "citycard ledger verify".
func ledgerCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		fmt.Fprint(stderr, ledgerUsage)
		return errors.New("ledger: want the subcommand verify")
	}
	var cpFile, only string
	cfg, fs, err := parseConfig("ledger verify", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&cpFile, "checkpoint", "", "a checkpoint saved elsewhere (JSON) the ledger must contain")
		fs.StringVar(&only, "town", "", "verify this town's chain only (default: every town's)")
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
	// Every town's chain (or --town's); one line per town when there are several.
	towns := db.TownCodes()
	if only != "" {
		if _, ok := db.CachedTown(only); !ok {
			return fmt.Errorf("--town %s: no such town in the database", only)
		}
		towns = []string{only}
	}
	// A checkpoint signed before towns names none: with several towns, say whose it is.
	if len(extra) > 0 && extra[0].Town == "" {
		if len(towns) > 1 {
			return errors.New("the checkpoint was signed before towns and names no town: give its town with --town")
		}
		extra[0].Town = towns[0]
	}
	if len(extra) > 0 && !slices.Contains(towns, extra[0].Town) {
		return fmt.Errorf("the checkpoint is of town %s, which is not verified here", extra[0].Town)
	}
	for _, town := range towns {
		chk, err := db.VerifyLedger(ctx, town, extra...)
		if err != nil {
			return err
		}
		prefix := ""
		if len(towns) > 1 {
			prefix = town + ": "
		}
		if !chk.OK {
			return fmt.Errorf("ledger verify: %snot ok: first bad %s: %s", prefix, chk.FirstBad, chk.Problem)
		}
		fmt.Fprintf(stdout, "%sok: %d entries, head %s\n", prefix, chk.Entries, hex.EncodeToString(chk.Head[:]))
	}
	return nil
}
