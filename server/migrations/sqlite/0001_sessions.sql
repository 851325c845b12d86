-- Agent browser sessions and sign-ins in flight. Times are milliseconds since the Unix epoch.
-- The cookie value never reaches the store: sessions are keyed by a hash of it, and sign-ins by
-- a hash of their OIDC `state`.

CREATE TABLE sessions (
    id_hash      BLOB PRIMARY KEY NOT NULL,              -- hash of the session cookie's value
    agent_sub    TEXT NOT NULL,                          -- the agent's `sub` at the identity provider
    agent_name   TEXT NOT NULL,
    agent_email  TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('agent', 'supervisor')),
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,                       -- for the idle timeout
    expires_at   INTEGER NOT NULL                        -- the absolute timeout
) STRICT, WITHOUT ROWID;

CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

-- OIDC authorization requests (code + PKCE) between the redirect out and the callback.
CREATE TABLE pending_logins (
    state_hash    BLOB PRIMARY KEY NOT NULL,             -- hash of `state`
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,                         -- PKCE secret
    return_to     TEXT NOT NULL,                         -- local path to go back to
    created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX pending_logins_created ON pending_logins (created_at);
