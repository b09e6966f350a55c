-- Wallet passes (issue 20, docs/wallet.md). Nothing else changes: ledger entries, rollups and
-- closed months are untouched.
--
-- wallet_passes: one row per card whose pass was handed out (Apple or Google). auth_hash is the
-- hex SHA-256 of the pass's authentication token (the token itself is never stored); state is
-- the card's state the pass last showed, so a change (an activation by a redemption, an expiry)
-- is found by comparing, without the redemption writing anything; tag is the time of the last
-- change (Apple's passesUpdatedSince and Last-Modified); google 1 once a Google Wallet link
-- was made (its object is then PATCHed on a change); due_at the time the card's state changes
-- by itself next (the activation deadline of an issued card, the end of an active one's
-- validity; NULL for blocked and expired), so the sweep finds expiries by an index.
CREATE TABLE wallet_passes (
    card_id    TEXT    PRIMARY KEY REFERENCES cards (id),
    auth_hash  TEXT    NOT NULL CHECK (length(auth_hash) = 64),
    state      TEXT    NOT NULL CHECK (state IN ('issued', 'active', 'blocked', 'expired')),
    google     INTEGER NOT NULL DEFAULT 0 CHECK (google IN (0, 1)),
    tag        INTEGER NOT NULL,
    due_at     INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX wallet_passes_due ON wallet_passes (due_at);

-- A device that registered a pass for updates (Apple's PassKit web service).
CREATE TABLE wallet_registrations (
    device_id  TEXT    NOT NULL CHECK (length(device_id) BETWEEN 1 AND 200),
    card_id    TEXT    NOT NULL REFERENCES wallet_passes (card_id),
    push_token TEXT    NOT NULL CHECK (length(push_token) BETWEEN 1 AND 200),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, card_id)
);
CREATE INDEX wallet_registrations_card ON wallet_registrations (card_id);

-- The outbox: pushes and object updates to deliver, retried with backoff by any instance's
-- worker. A worker claims a row with a conditional UPDATE (claimed_until in the past) whose
-- affected rows it checks; delivered rows keep delivered_at, their push token cleared.
CREATE TABLE wallet_outbox (
    seq           INTEGER PRIMARY KEY,
    card_id       TEXT    NOT NULL REFERENCES cards (id),
    kind          TEXT    NOT NULL CHECK (kind IN ('apns', 'google')),
    target        TEXT    NOT NULL DEFAULT '', -- the APNs push token; '' for Google
    reason        TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    next_at       INTEGER NOT NULL,
    claimed_by    TEXT    NOT NULL DEFAULT '',
    claimed_until INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    delivered_at  INTEGER
);
CREATE INDEX wallet_outbox_due ON wallet_outbox (delivered_at, next_at);
