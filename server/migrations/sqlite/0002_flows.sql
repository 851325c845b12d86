-- Customer verifications and their event log. Neither is ever deleted: together they are the
-- BFF's audit trail. Times are milliseconds since the Unix epoch.

CREATE TABLE flows (
    id              TEXT PRIMARY KEY NOT NULL,           -- random, chosen by the BFF
    agent_sub       TEXT NOT NULL,
    agent_name      TEXT NOT NULL,
    hint            TEXT NOT NULL,
    hint_type       TEXT NOT NULL CHECK (hint_type IN ('email', 'phone', 'user_id')),
    channel         TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'link')),
    binding_message TEXT NOT NULL,
    custom_message  TEXT,
    auth_req_id     TEXT UNIQUE,                         -- the provider's handle; never leaves the BFF
    link            TEXT,                                -- channel = link: the URL to show (holds auth_req_id)
    status          TEXT NOT NULL CHECK (status IN
                        ('starting', 'pending', 'approved', 'denied', 'expired', 'cancelled', 'failed')),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    interval_secs   INTEGER NOT NULL,
    next_poll_at    INTEGER NOT NULL,
    poll_failures   INTEGER NOT NULL DEFAULT 0,
    decided_at      INTEGER,
    ended_at        INTEGER,
    outcome_detail  TEXT,                                -- a plain sentence for the agent
    customer        TEXT CHECK (customer IS NULL OR json_valid(customer)),  -- verified profile (JSON)
    tokens          TEXT CHECK (tokens IS NULL OR json_valid(tokens)),      -- tokens (JSON); server-side only
    version         INTEGER NOT NULL DEFAULT 0           -- bumped by every update (compare-and-set)
) STRICT;

-- History pages (per agent and for everyone, newest first) and the per-agent rate limit.
CREATE INDEX flows_agent_created ON flows (agent_sub, created_at, id);
CREATE INDEX flows_created ON flows (created_at, id);
-- Pollers to resume after a restart.
CREATE INDEX flows_live ON flows (created_at, id) WHERE status IN ('starting', 'pending');

-- Append-only: the id is the SSE event id, so AUTOINCREMENT never reuses one.
CREATE TABLE flow_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    flow_id    TEXT NOT NULL REFERENCES flows (id),
    agent_sub  TEXT NOT NULL,                            -- the flow's agent, for per-agent streams
    kind       TEXT NOT NULL,
    data       TEXT NOT NULL CHECK (json_valid(data)),   -- JSON, as sent to the browser
    at         INTEGER NOT NULL
) STRICT;

CREATE INDEX flow_events_agent ON flow_events (agent_sub, id);
CREATE INDEX flow_events_flow ON flow_events (flow_id, id);
