-- The audit log: who changed what, when, under which request. Append-only: rows are never
-- updated or deleted, and the triggers below make the database refuse it too. Secrets (tokens,
-- API keys) are never written here: target is always a public id.

CREATE TABLE audit (
    seq        INTEGER PRIMARY KEY,
    actor      TEXT    NOT NULL CHECK (actor <> ''),   -- "admin", a merchant id, or "cli"
    action     TEXT    NOT NULL CHECK (action <> ''),  -- e.g. "card.block"
    target     TEXT    NOT NULL DEFAULT '',            -- the id of what changed
    request_id TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX audit_actor ON audit (actor, seq);
CREATE INDEX audit_action ON audit (action, seq);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;

CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'audit is append-only');
END;
