-- Papers: named batches of cards (a hotel's 200 cards can be found and reprinted), and the
-- merchant fields a settlement statement prints (tax number, IBAN).

CREATE TABLE batches (
    seq          INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    name         TEXT    NOT NULL DEFAULT '' CHECK (length(name) <= 400),
    -- lower-cased name, for the case-insensitive search (SQLite's LIKE folds ASCII only)
    name_key     TEXT    NOT NULL DEFAULT '',
    product_code TEXT    NOT NULL REFERENCES products (code),
    count        INTEGER NOT NULL CHECK (count BETWEEN 1 AND 1000),
    lang         TEXT    NOT NULL DEFAULT '' CHECK (lang IN ('', 'sl', 'it', 'en', 'de')),
    created_at   INTEGER NOT NULL
);

ALTER TABLE cards ADD COLUMN batch_id TEXT REFERENCES batches (id);
CREATE INDEX cards_batch ON cards (batch_id, seq);

ALTER TABLE merchants ADD COLUMN tax_number TEXT NOT NULL DEFAULT '';
ALTER TABLE merchants ADD COLUMN iban TEXT NOT NULL DEFAULT '';
