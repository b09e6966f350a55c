package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/merchant"
	"github.com/citycard/citycard/storage"
	"github.com/gofiber/fiber/v2"
)

type publicKeyJSON struct {
	KID       uint16 `json:"kid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"`
}

// checkpointKeyJSON is a key that verifies the ledger's signed checkpoints.
type checkpointKeyJSON struct {
	KID       string `json:"kid"`
	Alg       string `json:"alg"`
	PublicKey string `json:"public_key"`
}

// handlePublicKeys lists every key that verifies card tokens, so a till can check a token
// offline. A token is base64url (no padding) of: version 1 (1 byte), kid (2 bytes, big
// endian), card number (8 bytes, big endian), then the Ed25519 signature (64 bytes) of
// "citycard card token v1\x00" followed by those first 11 bytes. public_key is the raw
// 32-byte Ed25519 key in base64url without padding. checkpoint_keys verify the ledger's
// signed checkpoints (docs/reports.md): a separate key, with ids "ledger-n".
func (s *server) handlePublicKeys(c *fiber.Ctx) error {
	keys := s.keys.PublicKeys()
	out := make([]publicKeyJSON, len(keys))
	for i, k := range keys {
		out[i] = publicKeyJSON{KID: k.ID, Alg: "Ed25519", PublicKey: base64.RawURLEncoding.EncodeToString(k.Public)}
	}
	cks, err := s.db.CheckpointKeys(c.UserContext())
	if err != nil {
		return err
	}
	cout := make([]checkpointKeyJSON, len(cks))
	for i, k := range cks {
		cout[i] = checkpointKeyJSON{KID: k.KID, Alg: "Ed25519", PublicKey: base64.RawURLEncoding.EncodeToString(k.Public)}
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	return c.JSON(fiber.Map{"keys": out, "checkpoint_keys": cout})
}

// keysCommand is "citycard keys rotate|activate|list", on the service's database while it runs.
//
//   - rotate [--activate-in DURATION | --activate-at TIME] adds a new token signing key. Every
//     running instance verifies and publishes it (public keys, offline packs) at once, and
//     signs new cards with it from its activation on: by default storage.KeyGrace from now,
//     longer than an offline pack is valid, so every till holds it before the first card it
//     signs. No restart is needed; cards issued before keep working (every stored key verifies).
//   - activate KID makes a rotated key sign from now on, ahead of its time.
//   - list prints every key: its id, when it was added and when it signs from.
func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const usage = "usage: citycard keys rotate [--activate-in DURATION | --activate-at TIME] | keys activate KID | keys list  [--db FILE]"
	if len(args) == 0 || (args[0] != "rotate" && args[0] != "activate" && args[0] != "list") {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("keys: want the subcommand rotate, activate or list")
	}
	sub := args[0]
	var activateIn time.Duration
	var activateAt string
	cfg, fs, err := parseConfig("keys "+sub, args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		if sub == "rotate" {
			fs.DurationVar(&activateIn, "activate-in", storage.KeyGrace, "how long the new key is published before it signs (0: at once)")
			fs.StringVar(&activateAt, "activate-at", "", "when the new key starts signing, RFC 3339 (instead of --activate-in)")
		}
	})
	if err != nil {
		return err
	}
	var kid uint16
	switch {
	case sub == "activate" && fs.NArg() == 1:
		n, err := strconv.ParseUint(fs.Arg(0), 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("keys activate: %q is not a key id (citycard keys list shows them)", fs.Arg(0))
		}
		kid = uint16(n)
	case fs.NArg() > 0 || sub == "activate":
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("keys %s: unexpected arguments %q", sub, fs.Args())
	}
	var at time.Time
	if activateAt != "" {
		if at, err = time.Parse(time.RFC3339, activateAt); err != nil {
			return fmt.Errorf("keys rotate: --activate-at wants a time like 2026-11-02T09:00:00+01:00: %w", err)
		}
	} else if activateIn < 0 {
		return fmt.Errorf("keys rotate: --activate-in must not be negative, got %s", activateIn)
	}
	// Open would create an empty database: a mistyped path must be an error, not a new file.
	if _, err := os.Stat(cfg.DB); err != nil && !storage.IsPostgres(cfg.DB) {
		return fmt.Errorf("keys %s: no database at %s (set CITYCARD_DB or --db to the service's file): %w", sub, cfg.DB, err)
	}
	db, err := storage.Open(ctx, cfg.DB, cfg.Loc, cfg.storageOptions()...)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Keyring(ctx, ""); err != nil { // a first key, if the database is new
		return err
	}
	ctx = storage.WithActor(ctx, "cli", "")
	switch sub {
	case "rotate":
		if at.IsZero() {
			at = db.Now().Add(activateIn)
		}
		k, err := db.AddSigningKey(ctx, "", at)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added signing key %d: every instance verifies and publishes it now, and signs new cards with it from %s "+
			"(citycard keys activate %d to start sooner); cards issued before keep working\n", k.ID, k.ActivatesAt.Format(time.RFC3339), k.ID)
	case "activate":
		k, err := db.ActivateSigningKey(ctx, kid)
		if errors.Is(err, storage.ErrSigningKeyNotFound) || errors.Is(err, storage.ErrSigningKeyActive) {
			return fmt.Errorf("keys activate %d: %w", kid, err)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "signing key %d signs new cards from now on (%s)\n", k.ID, k.ActivatesAt.Format(time.RFC3339))
		if since := db.Now().Sub(k.CreatedAt); since < merchant.OfflineMaxHours*time.Hour {
			fmt.Fprintf(stdout, "note: it was added %s ago; a till offline since before then cannot check its cards offline until it fetches a fresh offline pack\n",
				since.Round(time.Minute))
		}
	case "list":
		keys, err := db.SigningKeys(ctx)
		if err != nil {
			return err
		}
		kr, err := card.NewKeyring(keys)
		if err != nil {
			return err
		}
		signer := kr.SignerAt(db.Now())
		for _, k := range keys {
			state := "verifies"
			switch {
			case k.ID == signer:
				state = "signs"
			case k.ActivatesAt.After(db.Now()):
				state = "published, signs from " + k.ActivatesAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%d\tadded %s\t%s\n", k.ID, k.CreatedAt.Format(time.RFC3339), state)
		}
	}
	if cfg.SigningKey != "" {
		fmt.Fprintln(stdout, "note: CITYCARD_SIGNING_KEY is set, and the key it names keeps signing on the instances where it is")
	}
	return db.Close()
}
