-- Personal data (issue 22, docs/privacy.md). A card's holder data can be erased (by the
-- office, or by the retention job once the card is long expired): erased_at says when, and
-- erase_reason why (the office's words, never the erased data). The card itself stays: it
-- keeps working, and the ledger, rollups and closed months never held the holder.
ALTER TABLE cards ADD COLUMN erased_at INTEGER;
ALTER TABLE cards ADD COLUMN erase_reason TEXT NOT NULL DEFAULT '';
-- The retention job's two ways to find what is due, per town: cards expired, and cards never
-- activated whose activation deadline passed; only those still holding personal data.
CREATE INDEX cards_retention_expired ON cards (town, expires_at)
    WHERE erased_at IS NULL AND (holder <> '' OR block_reason <> '');
CREATE INDEX cards_retention_unused ON cards (town, activate_by)
    WHERE erased_at IS NULL AND activated_at IS NULL AND (holder <> '' OR block_reason <> '');

-- The client's address of an audited request; shortened (IPv4 /24, IPv6 /48: it then holds
-- a '/') by the retention job after CITYCARD_AUDIT_ADDRESS_DAYS. The audit log stays
-- append-only for every other column: the trigger now names them, so an UPDATE may set
-- client_addr alone.
ALTER TABLE audit ADD COLUMN client_addr TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_client_addr ON audit (created_at) WHERE client_addr <> '' AND client_addr NOT LIKE '%/%';
DROP TRIGGER audit_no_update;
CREATE TRIGGER audit_no_update BEFORE UPDATE OF seq, actor, action, target, request_id, created_at, client_request_id, town ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

-- Leases of the jobs one instance runs at a time (the retention job): a row per job, claimed
-- with a conditional UPDATE (expired, or already ours) whose affected rows are checked.
CREATE TABLE leases (
    name       TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL DEFAULT '',
    expires_at INTEGER NOT NULL DEFAULT 0
);
