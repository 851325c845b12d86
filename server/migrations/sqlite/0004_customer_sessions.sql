-- The customer's progress on the approval page: one row per approval cookie, for one request.
-- Like agent sessions, rows are keyed by a hash of the cookie's value, never the value itself.
-- The customer's access token is kept only between their sign-in and their decision, and never
-- leaves the server. Times are milliseconds since the Unix epoch.

CREATE TABLE customer_sessions (
    id_hash      BLOB PRIMARY KEY NOT NULL,              -- hash of the approval cookie's value
    auth_req_id  TEXT NOT NULL,                          -- the one request this session may act on
    flow_id      TEXT REFERENCES flows (id),             -- NULL when this BFF did not start it
    identifier   TEXT,                                   -- where the code went; NULL before that
    hint_type    TEXT CHECK (hint_type IS NULL OR hint_type IN ('email', 'phone')),
    access_token TEXT,                                   -- the customer's, between sign-in and decision
    stage        TEXT NOT NULL CHECK (stage IN ('started', 'code_sent', 'signed_in', 'decided')),
    outcome      TEXT CHECK (outcome IS NULL OR outcome IN
                     ('approved', 'denied', 'reported', 'expired', 'already_decided',
                      'wrong_person', 'ended', 'invalid_link')),
    notice       TEXT CHECK (notice IS NULL OR json_valid(notice)),  -- the last message (JSON)
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX customer_sessions_expiry ON customer_sessions (expires_at);
