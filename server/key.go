package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"

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

// keysCommand is "citycard keys rotate": it adds a new token signing key to the database.
// Cards issued before keep working (every stored key verifies); the service signs new cards
// with the newest key from its next start.
func keysCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate" {
		fmt.Fprintln(stderr, "usage: citycard keys rotate [--db FILE]")
		return fmt.Errorf("keys: want the subcommand rotate")
	}
	cfg, _, err := parseConfig("keys rotate", args[1:], getenv, stderr)
	if err != nil {
		return err
	}
	// Open would create an empty database: a mistyped path must be an error, not a new file.
	if _, err := os.Stat(cfg.DB); err != nil && !storage.IsPostgres(cfg.DB) {
		return fmt.Errorf("keys rotate: no database at %s (set CITYCARD_DB or --db to the service's file): %w", cfg.DB, err)
	}
	db, err := storage.Open(ctx, cfg.DB, cfg.Loc, cfg.storageOptions()...)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Keyring(ctx, ""); err != nil { // a first key, if the database is new
		return err
	}
	k, err := db.AddSigningKey(storage.WithActor(ctx, "cli", ""), "")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added signing key %d; restart the service to sign new cards with it (cards issued before keep working)\n", k.ID)
	if cfg.SigningKey != "" {
		fmt.Fprintln(stdout, "note: CITYCARD_SIGNING_KEY is set, and the key it names keeps signing while it is")
	}
	return db.Close()
}
