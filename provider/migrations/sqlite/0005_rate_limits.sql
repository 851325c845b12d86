-- Rate-limit counters: one fixed window per key. The key is a keyed hash of the rule and its
-- subject (client, user, phone number or IP address), so no identifier is stored in the clear.
CREATE TABLE rate_counters (
    key          BLOB    PRIMARY KEY,
    window_start INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    count        INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);
