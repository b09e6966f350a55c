-- Product codes are unique per town (issue 17), the twin of SQLite's 0020_product_codes.sql:
-- two towns may each have a product `72h`. A product is still stored by its code everywhere,
-- read in the namespace of the town that holds the row: product_codes lists, for every
-- product, the towns that see it (the town that made it and every town that accepts it), and
-- its primary key makes a code unique among them. products.code is no longer unique;
-- product_towns names its product by seq; a card's and a batch's product is the one its town
-- sees by that code. Ledger entries, rollups and closed months are untouched.

CREATE TABLE product_codes (
    town        TEXT COLLATE "C" NOT NULL REFERENCES towns (code),
    code        TEXT COLLATE "C" NOT NULL,
    product_seq BIGINT NOT NULL REFERENCES products (seq),
    PRIMARY KEY (town, code)
);
CREATE INDEX product_codes_product ON product_codes (product_seq);
INSERT INTO product_codes (town, code, product_seq)
    SELECT town, code, seq FROM products WHERE town IS NOT NULL
    UNION
    SELECT pt.town, p.code, p.seq FROM product_towns pt JOIN products p ON p.code = pt.product_code;

CREATE TEMPORARY TABLE product_towns_old ON COMMIT DROP AS
    SELECT p.seq AS product_seq, pt.town FROM product_towns pt JOIN products p ON p.code = pt.product_code;
DROP TABLE product_towns;
CREATE TABLE product_towns (
    product_seq BIGINT NOT NULL REFERENCES products (seq),
    town        TEXT COLLATE "C" NOT NULL REFERENCES towns (code),
    PRIMARY KEY (product_seq, town)
);
INSERT INTO product_towns (product_seq, town) SELECT product_seq, town FROM product_towns_old;

ALTER TABLE batches DROP CONSTRAINT batches_product_code_fkey;
ALTER TABLE batches ADD FOREIGN KEY (town, product_code) REFERENCES product_codes (town, code);
ALTER TABLE cards DROP CONSTRAINT cards_product_code_fkey;
ALTER TABLE cards ADD FOREIGN KEY (town, product_code) REFERENCES product_codes (town, code);
ALTER TABLE products DROP CONSTRAINT products_code_key;
