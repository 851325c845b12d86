-- Authorization codes (OIDC authorization code flow with PKCE, for workforce sign-in). Stored as
-- keyed hashes, used once; a replayed code revokes the tokens of its grant (RFC 6749 §4.1.2).
CREATE TABLE authorization_codes (
    code_hash       BLOB PRIMARY KEY NOT NULL,
    client_id       TEXT NOT NULL REFERENCES clients (id),
    user_id         TEXT NOT NULL REFERENCES users (id),
    redirect_uri    TEXT NOT NULL,
    scope           TEXT NOT NULL,
    nonce           TEXT,
    code_challenge  TEXT NOT NULL,                     -- PKCE S256
    auth_time       INTEGER NOT NULL,                  -- seconds
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    grant_id        TEXT NOT NULL
) STRICT;
