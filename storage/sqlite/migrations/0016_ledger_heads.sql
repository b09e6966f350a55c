-- Each town's chain head: the seq and hash of its last ledger entry, one row per town. An
-- entry is appended under this row (on PostgreSQL locked with SELECT … FOR UPDATE, so
-- instances writing at once extend the chain one after the other), and the ledger's primary
-- key (town, seq) is the backstop. Verify checks the row against the chain.
CREATE TABLE ledger_heads (
    town TEXT    PRIMARY KEY REFERENCES towns (code),
    seq  INTEGER NOT NULL,
    hash BLOB    NOT NULL
);
INSERT INTO ledger_heads (town, seq, hash)
    SELECT l.town, l.seq, l.hash FROM ledger l
    WHERE l.seq = (SELECT max(seq) FROM ledger WHERE town = l.town);
