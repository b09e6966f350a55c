-- citycard schema, version 1. Money is INTEGER cents, percentages INTEGER basis points,
-- times INTEGER unix milliseconds UTC, local dates TEXT YYYY-MM-DD. Every table has an
-- INTEGER seq for stable ordering and cursors, and a public text id where clients see one.

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid         INTEGER PRIMARY KEY CHECK (kid BETWEEN 1 AND 65535),
    private_key BLOB    NOT NULL CHECK (length(private_key) = 64),
    public_key  BLOB    NOT NULL CHECK (length(public_key) = 32),
    created_at  INTEGER NOT NULL
);

CREATE TABLE products (
    seq                      INTEGER PRIMARY KEY,
    code                     TEXT    NOT NULL UNIQUE,
    name_json                TEXT    NOT NULL,
    validity_hours           INTEGER CHECK (validity_hours BETWEEN 1 AND 8760),
    validity_days            INTEGER CHECK (validity_days BETWEEN 1 AND 3660),
    price_cents              INTEGER NOT NULL CHECK (price_cents >= 0),
    audience                 TEXT    NOT NULL CHECK (audience IN ('tourist', 'resident')),
    activation_deadline_days INTEGER NOT NULL CHECK (activation_deadline_days BETWEEN 1 AND 3660),
    created_at               INTEGER NOT NULL,
    CHECK ((validity_hours IS NULL) <> (validity_days IS NULL))
);

CREATE TABLE cards (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    number       TEXT    NOT NULL UNIQUE CHECK (length(number) = 12),
    token        TEXT    NOT NULL UNIQUE,
    product_code TEXT    NOT NULL REFERENCES products (code),
    holder       TEXT    NOT NULL DEFAULT '',
    lang         TEXT    NOT NULL DEFAULT '' CHECK (lang IN ('', 'sl', 'it', 'en', 'de')),
    issued_at    INTEGER NOT NULL,
    activate_by  INTEGER NOT NULL,
    activated_at INTEGER,
    expires_at   INTEGER,
    blocked_at   INTEGER,
    block_reason TEXT    NOT NULL DEFAULT '',
    CHECK ((activated_at IS NULL) = (expires_at IS NULL))
);
CREATE INDEX cards_issued ON cards (issued_at);
CREATE INDEX cards_activated ON cards (activated_at);

CREATE TABLE merchants (
    seq        INTEGER PRIMARY KEY,
    id         TEXT    NOT NULL UNIQUE,
    name       TEXT    NOT NULL,
    category   TEXT    NOT NULL CHECK (category IN ('shop', 'restaurant', 'bar', 'museum', 'attraction', 'tour', 'transport', 'accommodation', 'service')),
    address    TEXT    NOT NULL DEFAULT '',
    lat        REAL,
    lon        REAL,
    status     TEXT    NOT NULL CHECK (status IN ('active', 'suspended')),
    key_hash   BLOB    NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    CHECK ((lat IS NULL) = (lon IS NULL))
);

CREATE TABLE offers (
    seq                  INTEGER PRIMARY KEY,
    id                   TEXT    NOT NULL UNIQUE,
    merchant_id          TEXT    NOT NULL REFERENCES merchants (id),
    title_json           TEXT    NOT NULL,
    kind                 TEXT    NOT NULL CHECK (kind IN ('percent', 'amount', 'free', 'price')),
    value                INTEGER NOT NULL CHECK (value >= 0),
    max_discount_cents   INTEGER CHECK (max_discount_cents >= 0),
    min_amount_cents     INTEGER CHECK (min_amount_cents >= 0),
    limit_kind           TEXT    NOT NULL CHECK (limit_kind IN ('once', 'daily', 'unlimited')),
    products_json        TEXT,
    valid_from           TEXT,
    valid_until          TEXT,
    municipal_share_bp   INTEGER NOT NULL CHECK (municipal_share_bp BETWEEN 0 AND 10000),
    active               INTEGER NOT NULL CHECK (active IN (0, 1)),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL
);
CREATE INDEX offers_merchant ON offers (merchant_id);

CREATE TABLE redemptions (
    seq                INTEGER PRIMARY KEY,
    id                 TEXT    NOT NULL UNIQUE,
    card_id            TEXT    NOT NULL REFERENCES cards (id),
    card_number        TEXT    NOT NULL,
    merchant_id        TEXT    NOT NULL REFERENCES merchants (id),
    offer_id           TEXT    NOT NULL REFERENCES offers (id),
    product_code       TEXT    NOT NULL,
    category           TEXT    NOT NULL,
    terminal           TEXT    NOT NULL DEFAULT '',
    amount_cents       INTEGER NOT NULL CHECK (amount_cents BETWEEN 0 AND 100000000),
    discount_cents     INTEGER NOT NULL CHECK (discount_cents BETWEEN 0 AND amount_cents),
    share_cents        INTEGER NOT NULL CHECK (share_cents BETWEEN 0 AND discount_cents),
    -- once/daily limit, see merchant.LimitKey; NULL for unlimited offers
    limit_key          TEXT,
    created_at         INTEGER NOT NULL,
    voided_at          INTEGER,
    void_reason        TEXT    NOT NULL DEFAULT '',
    CHECK ((voided_at IS NULL) = (void_reason = ''))
);
-- The invariant behind "never double-count": at most one live redemption per limit key.
CREATE UNIQUE INDEX redemptions_limit ON redemptions (limit_key) WHERE limit_key IS NOT NULL AND voided_at IS NULL;
CREATE INDEX redemptions_card_offer ON redemptions (card_id, offer_id);
CREATE INDEX redemptions_merchant_created ON redemptions (merchant_id, created_at);
CREATE INDEX redemptions_created ON redemptions (created_at);

-- A till's Idempotency-Key, bound to the redemption it created, in the same transaction.
CREATE TABLE idempotency_keys (
    merchant_id   TEXT    NOT NULL REFERENCES merchants (id),
    key           TEXT    NOT NULL,
    fingerprint   BLOB    NOT NULL,
    redemption_id TEXT    NOT NULL REFERENCES redemptions (id),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (merchant_id, key)
);
