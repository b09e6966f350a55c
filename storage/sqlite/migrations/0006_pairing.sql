-- Tills paired from the console's merchant page. Each paired device has a key of its own, so
-- pairing one till never signs another out; merchants.key_hash stays the key issued at
-- sign-up and at rotation, and a rotation deletes every row here (all old keys stop working).
CREATE TABLE merchant_keys (
    key_hash    BLOB    PRIMARY KEY CHECK (length(key_hash) = 32),
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    created_at  INTEGER NOT NULL
);
CREATE INDEX merchant_keys_merchant ON merchant_keys (merchant_id);

-- One-time pairing codes, stored as the SHA-256 of the code: usable once, until expires_at.
CREATE TABLE pairings (
    code_hash   BLOB    PRIMARY KEY CHECK (length(code_hash) = 32),
    merchant_id TEXT    NOT NULL REFERENCES merchants (id),
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL CHECK (expires_at > created_at),
    used_at     INTEGER
);
CREATE INDEX pairings_expires ON pairings (expires_at);
