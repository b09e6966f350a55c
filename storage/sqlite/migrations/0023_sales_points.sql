-- Sales points (issue 21): hotels and tourist offices that issue a town's cards with their
-- own secret, and the town bills them. A sales point's products are a JSON array of product
-- codes; its commission is in basis points (12.5 % = 1250), rounded per card at issue.
CREATE TABLE sales_points (
    seq           INTEGER PRIMARY KEY,
    id            TEXT    NOT NULL UNIQUE,
    town          TEXT    NOT NULL REFERENCES towns (code),
    name          TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    products      TEXT    NOT NULL DEFAULT '[]',
    commission_bp INTEGER NOT NULL CHECK (commission_bp BETWEEN 0 AND 10000),
    active        INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    token_hash    BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX sales_points_town ON sales_points (town, seq);

-- One row per card a sales point issued: what it is billed (price and commission as at the
-- issue, in cents), the month its issue entry counts in, and its cancel. The guest's name is
-- the card's holder, never here. The ledger's 'sale' and 'sale_cancel' entries book these rows.
CREATE TABLE sales (
    card_id          TEXT    NOT NULL PRIMARY KEY REFERENCES cards (id),
    town             TEXT    NOT NULL REFERENCES towns (code),
    sales_point_id   TEXT    NOT NULL REFERENCES sales_points (id),
    product_code     TEXT    NOT NULL,
    price_cents      INTEGER NOT NULL CHECK (price_cents >= 0),
    commission_cents INTEGER NOT NULL CHECK (commission_cents >= 0),
    issued_at        INTEGER NOT NULL,
    month            TEXT    NOT NULL CHECK (length(month) = 7),
    cancelled_at     INTEGER,
    cancel_reason    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sales_point_issued ON sales (sales_point_id, issued_at);

-- The ledger gains the kinds 'sale' (a card issued by a sales point) and 'sale_cancel' (its
-- cancel). SQLite cannot change a CHECK in place: the table is copied, entries unchanged (the
-- hashes cover the columns, which keep their values).
CREATE TABLE ledger_v4 (
    town           TEXT    NOT NULL,
    seq            INTEGER NOT NULL CHECK (seq >= 1),
    version        INTEGER NOT NULL DEFAULT 1 CHECK (version IN (1, 2, 3)),
    kind           TEXT    NOT NULL CHECK (kind IN ('redemption', 'void', 'adjustment', 'close', 'sale', 'sale_cancel')),
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
    CHECK (kind <> 'close' OR (version = 3 AND redemption_id = 'close:' || town || ':' || month)
        OR (version = 2 AND redemption_id = 'close:' || month))
) WITHOUT ROWID;
INSERT INTO ledger_v4 SELECT town, seq, version, kind, redemption_id, card_id, card_number, card_town, merchant_id, offer_id,
        terminal, product_code, category, amount_cents, discount_cents, share_cents, created_at, at, month, reason, hash
    FROM ledger ORDER BY town, seq;
DROP TABLE ledger;
ALTER TABLE ledger_v4 RENAME TO ledger;
CREATE UNIQUE INDEX ledger_redemption ON ledger (redemption_id, kind = 'redemption');
CREATE INDEX ledger_month ON ledger (town, month, kind);
