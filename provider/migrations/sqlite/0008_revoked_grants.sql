-- Grants that were revoked (on request, or because a code or refresh token was replayed). Tokens
-- of a grant listed here are never stored again, so a redemption racing its own revocation
-- cannot leave live tokens behind.
CREATE TABLE revoked_grants (
    grant_id    TEXT PRIMARY KEY NOT NULL,
    revoked_at  INTEGER NOT NULL
) STRICT;
