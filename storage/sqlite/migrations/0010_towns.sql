-- Third stage: a network of towns (issue 11, docs/towns.md). Every town-owned row names its
-- town (a towns.code). The rows already stored belong to the deployment's town: Go writes
-- its code, name, zone, languages and public URL into settings (keys 'town_upgrade_*') in this
-- migration's own transaction, just before this script runs, and the script deletes them, so
-- an upgrade cannot stop half-way with rows of no town.

CREATE TABLE towns (
    code        TEXT    PRIMARY KEY CHECK (length(code) BETWEEN 2 AND 32 AND code NOT GLOB '*[^a-z0-9-]*'),
    name        TEXT    NOT NULL, -- JSON {lang: text}
    timezone    TEXT    NOT NULL CHECK (timezone <> ''),
    languages   TEXT    NOT NULL, -- JSON array, the town's own language first
    public_url  TEXT    NOT NULL DEFAULT '',
    -- the zone the town's rollups were built for: a change of timezone rebuilds them
    rollup_zone TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);
INSERT INTO towns (code, name, timezone, languages, public_url, rollup_zone, created_at)
    SELECT (SELECT value FROM settings WHERE key = 'town_upgrade_code'),
           (SELECT value FROM settings WHERE key = 'town_upgrade_name'),
           (SELECT value FROM settings WHERE key = 'town_upgrade_timezone'),
           (SELECT value FROM settings WHERE key = 'town_upgrade_languages'),
           (SELECT value FROM settings WHERE key = 'town_upgrade_public_url'),
           coalesce((SELECT value FROM settings WHERE key = 'rollup_zone'), ''),
           CAST(strftime('%s', 'now') AS INTEGER) * 1000;
DELETE FROM settings WHERE key LIKE 'town_upgrade_%' OR key = 'rollup_zone';

-- A town's office: a token that acts as the admin in its town only. Stored as SHA-256.
CREATE TABLE office_tokens (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    town         TEXT    NOT NULL REFERENCES towns (code),
    label        TEXT    NOT NULL DEFAULT '',
    token_hash   BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX office_tokens_town ON office_tokens (town, seq);

-- Products: town NULL for a network product; product_towns lists where its cards are accepted.
ALTER TABLE products ADD COLUMN town TEXT REFERENCES towns (code);
UPDATE products SET town = (SELECT code FROM towns);
CREATE TABLE product_towns (
    product_code TEXT NOT NULL REFERENCES products (code),
    town         TEXT NOT NULL REFERENCES towns (code),
    PRIMARY KEY (product_code, town)
) WITHOUT ROWID;
INSERT INTO product_towns (product_code, town) SELECT code, town FROM products;

-- The default '' never stays: every insert names the town (a test checks no row has '').
ALTER TABLE merchants ADD COLUMN town TEXT NOT NULL DEFAULT '';
UPDATE merchants SET town = (SELECT code FROM towns);
CREATE INDEX merchants_town ON merchants (town, seq);
ALTER TABLE offers ADD COLUMN town TEXT NOT NULL DEFAULT '';
UPDATE offers SET town = (SELECT code FROM towns);
CREATE INDEX offers_town ON offers (town, seq);
ALTER TABLE cards ADD COLUMN town TEXT NOT NULL DEFAULT '';
UPDATE cards SET town = (SELECT code FROM towns);
CREATE INDEX cards_town ON cards (town, seq);
-- The report counts a town's cards issued and activated in a month: these replace the indexes
-- on issued_at and activated_at alone, which no query uses any more (and a card's activation,
-- in the redemption's write, updates one index, not two).
CREATE INDEX cards_town_issued ON cards (town, issued_at);
CREATE INDEX cards_town_activated ON cards (town, activated_at);
DROP INDEX cards_issued;
DROP INDEX cards_activated;
-- town: the merchant's (the acceptor, whose reports count it); card_town: the card's issuer.
ALTER TABLE redemptions ADD COLUMN town TEXT NOT NULL DEFAULT '';
ALTER TABLE redemptions ADD COLUMN card_town TEXT NOT NULL DEFAULT '';
UPDATE redemptions SET town = (SELECT code FROM towns), card_town = (SELECT code FROM towns);
CREATE INDEX redemptions_town ON redemptions (town, seq);

-- Audit: the town acted in; NULL for network-level actions (towns, office tokens).
DROP TRIGGER audit_no_update;
ALTER TABLE audit ADD COLUMN town TEXT;
UPDATE audit SET town = (SELECT code FROM towns);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
CREATE INDEX audit_town ON audit (town, seq);

-- The ledger: one hash chain per town, seq 1, 2, 3, … within the town. Version 3 entries
-- hash the town and the card's issuing town too.
CREATE TABLE ledger_v3 (
    town           TEXT    NOT NULL,
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version IN (1, 2, 3)),
    kind           TEXT    NOT NULL CHECK (kind IN ('redemption', 'void', 'adjustment', 'close')),
    redemption_id  TEXT    NOT NULL,
    card_id        TEXT    NOT NULL,
    card_number    TEXT    NOT NULL DEFAULT '',
    card_town      TEXT    NOT NULL DEFAULT '',
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
    PRIMARY KEY (town, seq),
    -- A close's redemption_id names its town and month (version 2: its month only), so the
    -- unique index allows one close a month and town.
    CHECK (kind <> 'close' OR (version = 3 AND redemption_id = 'close:' || town || ':' || month)
        OR (version = 2 AND redemption_id = 'close:' || month))
) WITHOUT ROWID; -- the chain is read and appended by (town, seq): no second B-tree for the key
INSERT INTO ledger_v3 (town, seq, version, kind, redemption_id, card_id, card_number, card_town, merchant_id, offer_id,
        terminal, product_code, category, amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash)
    SELECT (SELECT code FROM towns), seq, version, kind, redemption_id, card_id, card_number,
        CASE kind WHEN 'close' THEN '' ELSE (SELECT code FROM towns) END, merchant_id, offer_id,
        terminal, product_code, category, amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash
    FROM ledger ORDER BY seq;
DROP TABLE ledger;
ALTER TABLE ledger_v3 RENAME TO ledger;
CREATE UNIQUE INDEX ledger_redemption ON ledger (redemption_id, kind = 'redemption');
CREATE INDEX ledger_month ON ledger (town, month, kind);

-- The rollups, with the town in every key and the card's issuing town in the month rollup
-- (the report's issuers section); the distinct cards gain the scope 'issuer'.
CREATE TABLE rollup_days_v2 (
    town               TEXT    NOT NULL,
    date               TEXT    NOT NULL,
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
    PRIMARY KEY (town, date, merchant_id, offer_id, product_code, category)
) WITHOUT ROWID;
INSERT INTO rollup_days_v2 SELECT (SELECT code FROM towns), * FROM rollup_days;
DROP TABLE rollup_days;
ALTER TABLE rollup_days_v2 RENAME TO rollup_days;

CREATE TABLE rollup_months_v2 (
    town               TEXT    NOT NULL,
    month              TEXT    NOT NULL,
    merchant_id        TEXT    NOT NULL,
    category           TEXT    NOT NULL,
    product_code       TEXT    NOT NULL,
    card_town          TEXT    NOT NULL,
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
    PRIMARY KEY (town, month, merchant_id, category, product_code, card_town)
) WITHOUT ROWID;
INSERT INTO rollup_months_v2 SELECT (SELECT code FROM towns), month, merchant_id, category, product_code,
        (SELECT code FROM towns), last_date, redemptions, voided, amount_cents, discount_cents, share_cents,
        adjustments, adj_amount_cents, adj_discount_cents, adj_share_cents
    FROM rollup_months;
DROP TABLE rollup_months;
ALTER TABLE rollup_months_v2 RENAME TO rollup_months;

CREATE TABLE rollup_card_uses_v2 (
    town    TEXT    NOT NULL,
    month   TEXT    NOT NULL,
    scope   TEXT    NOT NULL CHECK (scope IN ('all', 'merchant', 'category', 'product', 'day_category', 'issuer')),
    key     TEXT    NOT NULL,
    card_id TEXT    NOT NULL,
    uses    INTEGER NOT NULL CHECK (uses >= 0),
    PRIMARY KEY (town, month, scope, key, card_id)
) WITHOUT ROWID;
CREATE TABLE rollup_cards_v2 (
    town  TEXT    NOT NULL,
    month TEXT    NOT NULL,
    scope TEXT    NOT NULL,
    key   TEXT    NOT NULL,
    cards INTEGER NOT NULL CHECK (cards >= 0),
    PRIMARY KEY (town, month, scope, key)
) WITHOUT ROWID;
-- The card uses are copied before the triggers exist, with rollup_cards as it was; the
-- issuer scope is then added as the card uses say (every card of this town).
INSERT INTO rollup_card_uses_v2 SELECT (SELECT code FROM towns), * FROM rollup_card_uses;
INSERT INTO rollup_card_uses_v2 SELECT town, month, 'issuer', town, card_id, uses FROM rollup_card_uses_v2 WHERE scope = 'all';
INSERT INTO rollup_cards_v2 SELECT (SELECT code FROM towns), * FROM rollup_cards;
INSERT INTO rollup_cards_v2 SELECT town, month, 'issuer', town, cards FROM rollup_cards_v2 WHERE scope = 'all';
DROP TABLE rollup_card_uses;
DROP TABLE rollup_cards;
ALTER TABLE rollup_card_uses_v2 RENAME TO rollup_card_uses;
ALTER TABLE rollup_cards_v2 RENAME TO rollup_cards;
CREATE TRIGGER rollup_card_uses_insert AFTER INSERT ON rollup_card_uses BEGIN
    INSERT INTO rollup_cards (town, month, scope, key, cards) VALUES (NEW.town, NEW.month, NEW.scope, NEW.key, 1)
        ON CONFLICT (town, month, scope, key) DO UPDATE SET cards = cards + 1;
END;
CREATE TRIGGER rollup_card_uses_delete AFTER DELETE ON rollup_card_uses BEGIN
    UPDATE rollup_cards SET cards = cards - 1 WHERE town = OLD.town AND month = OLD.month AND scope = OLD.scope AND key = OLD.key;
END;

-- Closes per town and month; the frozen report bytes are copied unchanged.
CREATE TABLE month_closes_v2 (
    town           TEXT    NOT NULL REFERENCES towns (code),
    month          TEXT    NOT NULL CHECK (length(month) = 7),
    closed_at      INTEGER NOT NULL,
    report         BLOB    NOT NULL,
    sha256         BLOB    NOT NULL CHECK (length(sha256) = 32),
    ledger_head    BLOB    NOT NULL CHECK (length(ledger_head) = 32),
    ledger_entries INTEGER NOT NULL CHECK (ledger_entries >= 0),
    PRIMARY KEY (town, month)
);
INSERT INTO month_closes_v2 SELECT (SELECT code FROM towns), * FROM month_closes;
DROP TABLE month_closes;
ALTER TABLE month_closes_v2 RENAME TO month_closes;

-- Checkpoints of each town's chain. Version 2 signs the town code too; older ones keep 1.
ALTER TABLE ledger_checkpoints ADD COLUMN town TEXT NOT NULL DEFAULT '';
ALTER TABLE ledger_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1 CHECK (version IN (1, 2));
UPDATE ledger_checkpoints SET town = (SELECT code FROM towns);
CREATE INDEX ledger_checkpoints_town ON ledger_checkpoints (town, seq);
