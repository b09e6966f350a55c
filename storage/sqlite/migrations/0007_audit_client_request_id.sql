-- The request id a client sent (X-Request-ID), kept apart from the server's own request_id:
-- the server always makes its own, so a client cannot choose or collide with the id under
-- which its writes are audited and logged. Adding a column leaves the append-only triggers
-- as they are.

ALTER TABLE audit ADD COLUMN client_request_id TEXT NOT NULL DEFAULT '';
