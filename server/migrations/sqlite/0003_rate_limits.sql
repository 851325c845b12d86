-- Rate-limit counters: one fixed window per key. Keys are opaque bytes chosen by the caller
-- (a hash of the rule and its subject), so no identifier needs to be stored in the clear.
CREATE TABLE rate_counters (
    key          BLOB    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    count        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
