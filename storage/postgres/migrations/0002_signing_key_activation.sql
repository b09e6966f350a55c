-- When a token signing key starts signing new cards. A rotation adds a key that activates
-- later (citycard keys rotate, docs/operations.md): until then it only verifies, and every
-- instance publishes it (public keys, offline packs) before any signs with it. The keys stored
-- before this migration sign from when they were made.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
