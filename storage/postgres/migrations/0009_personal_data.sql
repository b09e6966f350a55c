-- Personal data (issue 22, docs/privacy.md), the twin of SQLite's 0024_personal_data.sql: a
-- card's erasure (when, why), the retention job's indexes, the audit log's client address
-- (shortened after CITYCARD_AUDIT_ADDRESS_DAYS; the only column an UPDATE may set) and the
-- jobs' lease rows. Ledger entries, rollups and closed months are untouched.
ALTER TABLE cards ADD COLUMN erased_at BIGINT;
ALTER TABLE cards ADD COLUMN erase_reason TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX cards_retention_expired ON cards (town, expires_at)
    WHERE erased_at IS NULL AND (holder <> '' OR block_reason <> '');
CREATE INDEX cards_retention_unused ON cards (town, activate_by)
    WHERE erased_at IS NULL AND activated_at IS NULL AND (holder <> '' OR block_reason <> '');

ALTER TABLE audit ADD COLUMN client_addr TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX audit_client_addr ON audit (created_at) WHERE client_addr <> '' AND client_addr NOT LIKE '%/%';
DROP TRIGGER audit_no_update ON audit;
CREATE TRIGGER audit_no_update BEFORE UPDATE OF seq, actor, action, target, request_id, created_at, client_request_id, town ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TABLE leases (
    name       TEXT COLLATE "C" PRIMARY KEY,
    holder     TEXT COLLATE "C" NOT NULL DEFAULT '',
    expires_at BIGINT NOT NULL DEFAULT 0
);
