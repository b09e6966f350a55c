-- Fourth stage: books an outsider can check (docs/reports.md, "The ledger" and "Checkpoints").
--
-- The ledger is rebuilt with what a statement prints and version 1 left out of the chain:
-- each entry records the canonical form it was hashed with (version 1 or 2); version 2 adds
-- the card number and the terminal; and a close of a month is an entry too (kind 'close',
-- reason the hex SHA-256 of the frozen report), so deleting a month_closes row cannot reopen
-- a month unnoticed. Old entries keep version 1 and verify as they were hashed.
CREATE TABLE ledger_v2 (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 1),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version IN (1, 2)),
    kind           TEXT    NOT NULL CHECK (kind IN ('redemption', 'void', 'adjustment', 'close')),
    redemption_id  TEXT    NOT NULL,
    card_id        TEXT    NOT NULL,
    card_number    TEXT    NOT NULL DEFAULT '',
    merchant_id    TEXT    NOT NULL,
    offer_id       TEXT    NOT NULL,
    terminal       TEXT    NOT NULL DEFAULT '',
    product_code   TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    amount_cents   INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    share_cents    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    at             INTEGER NOT NULL,
    month          TEXT    NOT NULL CHECK (length(month) = 7),
    reason         TEXT    NOT NULL DEFAULT '',
    hash           BLOB    NOT NULL CHECK (length(hash) = 32),
    -- A close's redemption_id names its month, so the unique index allows one close a month.
    CHECK (kind <> 'close' OR (version = 2 AND redemption_id = 'close:' || month))
);
INSERT INTO ledger_v2 (seq, version, kind, redemption_id, card_id, merchant_id, offer_id, product_code, category,
        amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash)
    SELECT seq, 1, kind, redemption_id, card_id, merchant_id, offer_id, product_code, category,
        amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash
    FROM ledger ORDER BY seq;
DROP TABLE ledger;
ALTER TABLE ledger_v2 RENAME TO ledger;
-- At most one redemption entry and one void-or-adjustment entry per redemption, one close a month.
CREATE UNIQUE INDEX ledger_redemption ON ledger (redemption_id, kind = 'redemption');
-- A month's entries, for the check at its close, its statements and its adjustments.
CREATE INDEX ledger_month ON ledger (month, kind);

-- The keys that sign checkpoints: Ed25519, apart from the card token keys (signing_keys).
CREATE TABLE checkpoint_keys (
    kid         INTEGER PRIMARY KEY CHECK (kid BETWEEN 1 AND 65535),
    private_key BLOB    NOT NULL CHECK (length(private_key) = 64),
    public_key  BLOB    NOT NULL CHECK (length(public_key) = 32),
    created_at  INTEGER NOT NULL
);

-- Signed checkpoints of the ledger: its length and head, signed at a close, daily and at start.
CREATE TABLE ledger_checkpoints (
    seq       INTEGER PRIMARY KEY,
    entries   INTEGER NOT NULL CHECK (entries >= 0),
    head      BLOB    NOT NULL CHECK (length(head) = 32),
    signed_at INTEGER NOT NULL,
    kid       INTEGER NOT NULL REFERENCES checkpoint_keys (kid),
    signature BLOB    NOT NULL CHECK (length(signature) = 64),
    reason    TEXT    NOT NULL CHECK (reason <> '')
);

-- Months closed before this migration get their close entry from the first Open after it
-- (in Go: it hashes), which then deletes this marker in the same write.
INSERT INTO settings (key, value) SELECT 'ledger_close_backfill', 'pending' WHERE EXISTS (SELECT 1 FROM month_closes);
