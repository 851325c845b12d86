-- Backchannel authentication requests, issued tokens, one-time codes, the development outbox
-- and the signing keys. Handles given to clients (auth_req_id, tokens) are stored only as keyed
-- hashes; times are milliseconds since the Unix epoch.

CREATE TABLE backchannel_requests (
    id_hash          BLOB PRIMARY KEY NOT NULL,          -- keyed hash of auth_req_id
    client_id        TEXT NOT NULL REFERENCES clients (id),
    user_id          TEXT NOT NULL REFERENCES users (id),
    scope            TEXT NOT NULL,
    binding_message  TEXT,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'link')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    created_at       INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    interval_secs    INTEGER NOT NULL,
    last_poll_at     INTEGER,
    decided_at       INTEGER,
    auth_time        INTEGER,                            -- when the user authenticated (seconds)
    amr              TEXT,                               -- JSON array of methods
    version          INTEGER NOT NULL DEFAULT 0          -- bumped by every change (compare-and-set)
) STRICT;

CREATE INDEX backchannel_requests_user ON backchannel_requests (user_id, created_at);

CREATE TABLE tokens (
    hash         BLOB PRIMARY KEY NOT NULL,              -- keyed hash of the token
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id    TEXT NOT NULL REFERENCES clients (id),
    user_id      TEXT REFERENCES users (id),             -- NULL for client credentials
    scope        TEXT NOT NULL,
    auth_time    INTEGER,
    amr          TEXT,
    issued_at    INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    grant_id     TEXT NOT NULL                           -- tokens of one grant are revoked together
) STRICT;

CREATE INDEX tokens_grant ON tokens (grant_id);

CREATE TABLE otp_codes (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id    TEXT NOT NULL REFERENCES clients (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    code_hash    BLOB NOT NULL,                          -- keyed hash of the code
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    consumed_at  INTEGER
) STRICT;

CREATE INDEX otp_codes_user ON otp_codes (user_id, created_at);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient   TEXT NOT NULL,
    subject     TEXT,
    body        TEXT NOT NULL,
    link        TEXT,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY NOT NULL,
    alg          TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    private_der  BLOB NOT NULL,                          -- PKCS#8
    public_jwk   TEXT NOT NULL,                          -- JSON
    created_at   INTEGER NOT NULL
) STRICT;
