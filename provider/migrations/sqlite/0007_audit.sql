-- The audit trail: who did what, when, and how it ended. Never secrets, codes, tokens or
-- auth_req_ids: only ids of clients and users and a short outcome.
CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    at         INTEGER NOT NULL,                 -- ms since the epoch
    event      TEXT NOT NULL,
    app_id     TEXT,
    client_id  TEXT,
    user_id    TEXT,
    detail     TEXT
) STRICT;
CREATE INDEX audit_events_app ON audit_events (app_id, id);
