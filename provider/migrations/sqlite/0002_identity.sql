-- Applications, their OAuth clients, and the people who sign in: customers (who approve CIBA
-- requests) and workforce users (agents, who sign in to the console).
-- Times are milliseconds since the Unix epoch. Secrets are never stored: only keyed hashes.

CREATE TABLE applications (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE clients (
    id             TEXT PRIMARY KEY NOT NULL,           -- client_id
    app_id         TEXT NOT NULL REFERENCES applications (id),
    name           TEXT NOT NULL,
    secret_hash    BLOB NOT NULL,                       -- keyed hash of client_secret
    ciba_enabled   INTEGER NOT NULL DEFAULT 0 CHECK (ciba_enabled IN (0, 1)),
    login_uri      TEXT,                                -- where CIBA links point
    redirect_uris  TEXT NOT NULL DEFAULT '[]',          -- JSON array, authorization code flow
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id              TEXT PRIMARY KEY NOT NULL,          -- user_id (the `sub` claim)
    app_id          TEXT NOT NULL REFERENCES applications (id),
    kind            TEXT NOT NULL CHECK (kind IN ('customer', 'workforce')),
    name            TEXT NOT NULL,
    email           TEXT,                               -- lower case
    email_verified  INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    phone           TEXT,                               -- E.164
    phone_verified  INTEGER NOT NULL DEFAULT 0 CHECK (phone_verified IN (0, 1)),
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    role            TEXT,                               -- workforce: agent | supervisor
    password_hash   TEXT,                               -- workforce: argon2id PHC string
    created_at      INTEGER NOT NULL,
    UNIQUE (app_id, email),
    UNIQUE (app_id, phone)
) STRICT;
