-- Second stage: the tamper-evident ledger, the report rollups and closed months.
-- All three are written in the same transaction as the redemption or void they book
-- (storage/ledger.go, storage/rollup.go). docs/reports.md explains the design.

-- The append-only hash chain. Entry seq n's hash is SHA-256(hash of entry n-1 || canonical
-- content of entry n), see merchant.LedgerEntry. Amounts of void and adjustment entries
-- are negative. month is the month the entry counts in (an adjustment: the month of the void).
CREATE TABLE ledger (
    seq            INTEGER PRIMARY KEY CHECK (seq >= 1),
    kind           TEXT    NOT NULL CHECK (kind IN ('redemption', 'void', 'adjustment')),
    redemption_id  TEXT    NOT NULL,
    card_id        TEXT    NOT NULL,
    merchant_id    TEXT    NOT NULL,
    offer_id       TEXT    NOT NULL,
    product_code   TEXT    NOT NULL,
    category       TEXT    NOT NULL,
    amount_cents   INTEGER NOT NULL,
    discount_cents INTEGER NOT NULL,
    share_cents    INTEGER NOT NULL,
    created_at     INTEGER NOT NULL, -- the redemption's
    at             INTEGER NOT NULL, -- when this entry was booked
    month          TEXT    NOT NULL CHECK (length(month) = 7),
    reason         TEXT    NOT NULL DEFAULT '',
    hash           BLOB    NOT NULL CHECK (length(hash) = 32)
);
-- At most one redemption entry and one void-or-adjustment entry per redemption.
CREATE UNIQUE INDEX ledger_redemption ON ledger (redemption_id, kind = 'redemption');
CREATE INDEX ledger_adjustments ON ledger (month) WHERE kind = 'adjustment';

-- One row per local day, merchant, offer, product and category: the month's report reads
-- these (and rollup_months), never the redemptions. A void in an open month moves one redemption to voided;
-- a void of a closed month's redemption is an adjustment (adj_*, negative) on the day of
-- the void.
CREATE TABLE rollup_days (
    date               TEXT    NOT NULL, -- local YYYY-MM-DD
    merchant_id        TEXT    NOT NULL,
    offer_id           TEXT    NOT NULL,
    product_code       TEXT    NOT NULL,
    category           TEXT    NOT NULL,
    redemptions        INTEGER NOT NULL DEFAULT 0 CHECK (redemptions >= 0),
    voided             INTEGER NOT NULL DEFAULT 0 CHECK (voided >= 0),
    amount_cents       INTEGER NOT NULL DEFAULT 0,
    discount_cents     INTEGER NOT NULL DEFAULT 0,
    share_cents        INTEGER NOT NULL DEFAULT 0,
    adjustments        INTEGER NOT NULL DEFAULT 0 CHECK (adjustments >= 0),
    adj_amount_cents   INTEGER NOT NULL DEFAULT 0 CHECK (adj_amount_cents <= 0),
    adj_discount_cents INTEGER NOT NULL DEFAULT 0 CHECK (adj_discount_cents <= 0),
    adj_share_cents    INTEGER NOT NULL DEFAULT 0 CHECK (adj_share_cents <= 0),
    PRIMARY KEY (date, merchant_id, offer_id, product_code, category)
) WITHOUT ROWID;

-- The same per local month, merchant, category and product (offers summed): the month's
-- report lines read ~merchants × products rows of it. last_date is the latest day booked.
CREATE TABLE rollup_months (
    month              TEXT    NOT NULL, -- local YYYY-MM
    merchant_id        TEXT    NOT NULL,
    category           TEXT    NOT NULL,
    product_code       TEXT    NOT NULL,
    last_date          TEXT    NOT NULL,
    redemptions        INTEGER NOT NULL DEFAULT 0 CHECK (redemptions >= 0),
    voided             INTEGER NOT NULL DEFAULT 0 CHECK (voided >= 0),
    amount_cents       INTEGER NOT NULL DEFAULT 0,
    discount_cents     INTEGER NOT NULL DEFAULT 0,
    share_cents        INTEGER NOT NULL DEFAULT 0,
    adjustments        INTEGER NOT NULL DEFAULT 0 CHECK (adjustments >= 0),
    adj_amount_cents   INTEGER NOT NULL DEFAULT 0 CHECK (adj_amount_cents <= 0),
    adj_discount_cents INTEGER NOT NULL DEFAULT 0 CHECK (adj_discount_cents <= 0),
    adj_share_cents    INTEGER NOT NULL DEFAULT 0 CHECK (adj_share_cents <= 0),
    PRIMARY KEY (month, merchant_id, category, product_code)
) WITHOUT ROWID;

-- Distinct cards per local month: which cards have live redemptions in a scope (all,
-- merchant, category, product, day_category "YYYY-MM-DD|category"), and how many.
-- The triggers keep rollup_cards.cards equal to the rows of rollup_card_uses.
CREATE TABLE rollup_card_uses (
    month   TEXT    NOT NULL,
    scope   TEXT    NOT NULL CHECK (scope IN ('all', 'merchant', 'category', 'product', 'day_category')),
    key     TEXT    NOT NULL,
    card_id TEXT    NOT NULL,
    uses    INTEGER NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (month, scope, key, card_id)
) WITHOUT ROWID;

CREATE TABLE rollup_cards (
    month TEXT    NOT NULL,
    scope TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    cards INTEGER NOT NULL CHECK (cards >= 0),
    PRIMARY KEY (month, scope, key)
) WITHOUT ROWID;

CREATE TRIGGER rollup_card_uses_insert AFTER INSERT ON rollup_card_uses BEGIN
    INSERT INTO rollup_cards (month, scope, key, cards) VALUES (NEW.month, NEW.scope, NEW.key, 1)
        ON CONFLICT (month, scope, key) DO UPDATE SET cards = cards + 1;
END;

CREATE TRIGGER rollup_card_uses_delete AFTER DELETE ON rollup_card_uses BEGIN
    UPDATE rollup_cards SET cards = cards - 1 WHERE month = OLD.month AND scope = OLD.scope AND key = OLD.key;
END;

-- A closed month: its report as served (JSON bytes), their SHA-256, and the ledger's head
-- and length when it closed.
CREATE TABLE month_closes (
    month          TEXT    PRIMARY KEY CHECK (length(month) = 7),
    closed_at      INTEGER NOT NULL,
    report         BLOB    NOT NULL,
    sha256         BLOB    NOT NULL CHECK (length(sha256) = 32),
    ledger_head    BLOB    NOT NULL CHECK (length(ledger_head) = 32),
    ledger_entries INTEGER NOT NULL CHECK (ledger_entries >= 0)
);

-- The redemptions and voids of version 1 are booked into the ledger (in Go: it hashes) by
-- the first Open after this migration, which then deletes this marker in the same write.
INSERT INTO settings (key, value) VALUES ('ledger_backfill', 'pending');
