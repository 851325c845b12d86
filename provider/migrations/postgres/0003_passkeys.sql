-- Customers' passkeys and the ceremonies under way, as migrations/sqlite/0011_passkeys.sql.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users (id),
    passkey       TEXT NOT NULL,
    counter       BIGINT NOT NULL DEFAULT 0, -- the signature counter last seen (0: none kept)
    created_at    BIGINT NOT NULL,
    last_used_at  BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id);

CREATE TABLE passkey_ceremonies (
    handle_hash BYTEA PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    client_id   TEXT NOT NULL REFERENCES clients (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    state       TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
