-- The provider's schema on PostgreSQL, shared by every provider instance of a cluster: the same
-- tables as the SQLite store (migrations/sqlite, applied up to 0009), with the same checks.
-- Times are as there: milliseconds, except `auth_time` (seconds). Secrets are stored as keyed
-- hashes, never in the clear.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE applications (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE clients (
    id             TEXT PRIMARY KEY,
    app_id         TEXT NOT NULL REFERENCES applications (id),
    name           TEXT NOT NULL,
    secret_hash    BYTEA NOT NULL,
    ciba_enabled   BOOLEAN NOT NULL DEFAULT FALSE,
    login_uri      TEXT,
    redirect_uris  TEXT NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL REFERENCES applications (id),
    kind            TEXT NOT NULL CHECK (kind IN ('customer', 'workforce')),
    name            TEXT NOT NULL,
    email           TEXT,
    email_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    phone           TEXT,
    phone_verified  BOOLEAN NOT NULL DEFAULT FALSE,
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    role            TEXT,
    password_hash   TEXT,
    created_at      BIGINT NOT NULL,
    UNIQUE (app_id, email),
    UNIQUE (app_id, phone)
);

CREATE TABLE backchannel_requests (
    id_hash          BYTEA PRIMARY KEY,
    client_id        TEXT NOT NULL REFERENCES clients (id),
    user_id          TEXT NOT NULL REFERENCES users (id),
    scope            TEXT NOT NULL,
    binding_message  TEXT,
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'link')),
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'denied', 'redeemed')),
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    last_poll_at     BIGINT,
    decided_at       BIGINT,
    auth_time        BIGINT,
    amr              TEXT,
    version          BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX backchannel_requests_user ON backchannel_requests (user_id, created_at);

CREATE TABLE tokens (
    hash         BYTEA PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    client_id    TEXT NOT NULL REFERENCES clients (id),
    user_id      TEXT REFERENCES users (id),
    scope        TEXT NOT NULL,
    auth_time    BIGINT,
    amr          TEXT,
    issued_at    BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    grant_id     TEXT NOT NULL,
    origin       TEXT NOT NULL DEFAULT 'login' CHECK (origin IN ('login', 'ciba', 'client_credentials'))
);
CREATE INDEX tokens_grant ON tokens (grant_id);

CREATE TABLE revoked_grants (
    grant_id    TEXT PRIMARY KEY,
    revoked_at  BIGINT NOT NULL
);

CREATE TABLE otp_codes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    TEXT NOT NULL REFERENCES clients (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    code_hash    BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    consumed_at  BIGINT,
    binding_hash BYTEA
);
CREATE INDEX otp_codes_user ON otp_codes (user_id, created_at);
CREATE INDEX otp_codes_current ON otp_codes (user_id, client_id, consumed_at);

CREATE TABLE outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel     TEXT NOT NULL CHECK (channel IN ('sms', 'email')),
    recipient   TEXT NOT NULL,
    subject     TEXT,
    body        TEXT NOT NULL,
    link        TEXT,
    created_at  BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid          TEXT PRIMARY KEY,
    alg          TEXT NOT NULL CHECK (alg IN ('ES256', 'RS256')),
    private_der  BYTEA NOT NULL,
    public_jwk   TEXT NOT NULL,
    created_at   BIGINT NOT NULL
);

CREATE TABLE rate_counters (
    key          BYTEA PRIMARY KEY,
    window_start BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);

CREATE TABLE authorization_codes (
    code_hash       BYTEA PRIMARY KEY,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT NOT NULL,
    auth_time       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    used_at         BIGINT,
    grant_id        TEXT NOT NULL
);

CREATE TABLE audit_events (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at         BIGINT NOT NULL,
    event      TEXT NOT NULL,
    app_id     TEXT,
    client_id  TEXT,
    user_id    TEXT,
    detail     TEXT
);
CREATE INDEX audit_events_app ON audit_events (app_id, id);
