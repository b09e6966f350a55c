-- foreign_keys: off
-- Product codes are unique per town (issue 17): two towns may each have a product `72h`. A
-- product is still stored by its code everywhere (cards, batches, redemptions, ledger entries,
-- rollups, offers), read in the namespace of the town that holds the row: product_codes lists,
-- for every product, the towns that see it (the town that made it and every town that accepts
-- it), and its primary key makes a code unique among them. products.code is no longer unique;
-- product_towns names its product by seq; a card's and a batch's product is the one its town
-- sees by that code. Ledger entries, rollups and closed months are untouched.
--
-- SQLite cannot change a foreign key in place: products, product_towns, batches and cards are
-- rebuilt with foreign keys off (the runner turns them off for a file starting with the line
-- above and runs PRAGMA foreign_key_check before it commits).

CREATE TABLE products_new (
    seq                      INTEGER PRIMARY KEY,
    code                     TEXT    NOT NULL,
    name_json                TEXT    NOT NULL,
    validity_hours           INTEGER CHECK (validity_hours BETWEEN 1 AND 8760),
    validity_days            INTEGER CHECK (validity_days BETWEEN 1 AND 3660),
    price_cents              INTEGER NOT NULL CHECK (price_cents >= 0),
    audience                 TEXT    NOT NULL CHECK (audience IN ('tourist', 'resident')),
    activation_deadline_days INTEGER NOT NULL CHECK (activation_deadline_days BETWEEN 1 AND 3660),
    created_at               INTEGER NOT NULL,
    town                     TEXT    REFERENCES towns (code),
    CHECK ((validity_hours IS NULL) <> (validity_days IS NULL))
);
INSERT INTO products_new (seq, code, name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at, town)
    SELECT seq, code, name_json, validity_hours, validity_days, price_cents, audience, activation_deadline_days, created_at, town FROM products;

-- The codes a town sees: its own products' and those of the products accepting it.
CREATE TABLE product_codes (
    town        TEXT    NOT NULL REFERENCES towns (code),
    code        TEXT    NOT NULL,
    product_seq INTEGER NOT NULL REFERENCES products (seq),
    PRIMARY KEY (town, code)
) WITHOUT ROWID;
CREATE INDEX product_codes_product ON product_codes (product_seq);
INSERT INTO product_codes (town, code, product_seq)
    SELECT town, code, seq FROM products WHERE town IS NOT NULL
    UNION
    SELECT pt.town, p.code, p.seq FROM product_towns pt JOIN products p ON p.code = pt.product_code;

CREATE TABLE product_towns_new (
    product_seq INTEGER NOT NULL REFERENCES products (seq),
    town        TEXT    NOT NULL REFERENCES towns (code),
    PRIMARY KEY (product_seq, town)
) WITHOUT ROWID;
INSERT INTO product_towns_new (product_seq, town)
    SELECT p.seq, pt.town FROM product_towns pt JOIN products p ON p.code = pt.product_code;

CREATE TABLE batches_new (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL DEFAULT '' CHECK (length(name) <= 400),
    -- lower-cased name, for the case-insensitive search (SQLite's LIKE folds ASCII only)
    name_key     TEXT    NOT NULL DEFAULT '',
    product_code TEXT    NOT NULL,
    count        INTEGER NOT NULL CHECK (count BETWEEN 1 AND 1000),
    lang         TEXT    NOT NULL DEFAULT '' CHECK (lang IN ('', 'sl', 'it', 'en', 'de')),
    created_at   INTEGER NOT NULL,
    town         TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (town, product_code) REFERENCES product_codes (town, code)
);
INSERT INTO batches_new (seq, id, name, name_key, product_code, count, lang, created_at, town)
    SELECT seq, id, name, name_key, product_code, count, lang, created_at, town FROM batches;

CREATE TABLE cards_new (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    number       TEXT    NOT NULL UNIQUE CHECK (length(number) = 12),
    token        TEXT    NOT NULL UNIQUE,
    product_code TEXT    NOT NULL,
    holder       TEXT    NOT NULL DEFAULT '',
    lang         TEXT    NOT NULL DEFAULT '' CHECK (lang IN ('', 'sl', 'it', 'en', 'de')),
    issued_at    INTEGER NOT NULL,
    activate_by  INTEGER NOT NULL,
    activated_at INTEGER,
    expires_at   INTEGER,
    blocked_at   INTEGER,
    block_reason TEXT    NOT NULL DEFAULT '',
    batch_id     TEXT    REFERENCES batches (id),
    town         TEXT    NOT NULL DEFAULT '',
    CHECK ((activated_at IS NULL) = (expires_at IS NULL)),
    FOREIGN KEY (town, product_code) REFERENCES product_codes (town, code)
);
INSERT INTO cards_new (seq, id, number, token, product_code, holder, lang, issued_at, activate_by, activated_at, expires_at, blocked_at, block_reason, batch_id, town)
    SELECT seq, id, number, token, product_code, holder, lang, issued_at, activate_by, activated_at, expires_at, blocked_at, block_reason, batch_id, town FROM cards;

DROP TABLE cards;
DROP TABLE batches;
DROP TABLE product_towns;
DROP TABLE products;
ALTER TABLE products_new RENAME TO products;
ALTER TABLE product_towns_new RENAME TO product_towns;
ALTER TABLE batches_new RENAME TO batches;
ALTER TABLE cards_new RENAME TO cards;

CREATE INDEX batches_town ON batches (town, seq);
CREATE INDEX cards_batch ON cards (batch_id, seq);
CREATE INDEX cards_town ON cards (town, seq);
CREATE INDEX cards_town_issued ON cards (town, issued_at);
CREATE INDEX cards_town_activated ON cards (town, activated_at);
CREATE INDEX cards_blocked ON cards (blocked_at) WHERE blocked_at IS NOT NULL;
