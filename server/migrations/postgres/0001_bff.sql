-- The BFF's schema on PostgreSQL, shared by every instance of a cluster. The same tables as the
-- SQLite store (migrations/sqlite, applied up to 0007), with the same checks; times are
-- milliseconds since the Unix epoch. Ids and keys compare bytewise (COLLATE "C"), as in SQLite.

-- Agent browser sessions, keyed by a hash of the cookie's value, and sign-ins in flight, keyed
-- by a hash of their OIDC `state`.
CREATE TABLE sessions (
    id_hash      BYTEA PRIMARY KEY,
    agent_sub    TEXT NOT NULL,
    agent_name   TEXT NOT NULL,
    agent_email  TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('agent', 'supervisor')),
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);

CREATE TABLE pending_logins (
    state_hash    BYTEA PRIMARY KEY,
    nonce         TEXT NOT NULL,
    code_verifier TEXT NOT NULL,
    return_to     TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX pending_logins_created ON pending_logins (created_at);

-- Customer verifications and their event log: never deleted, the BFF's audit trail. The
-- provider's handle and the link are sealed by the BFF; a flow is found by a keyed hash of the
-- handle.
CREATE TABLE flows (
    id               TEXT COLLATE "C" PRIMARY KEY,
    agent_sub        TEXT NOT NULL,
    agent_name       TEXT NOT NULL,
    hint             TEXT NOT NULL,
    hint_type        TEXT NOT NULL CHECK (hint_type IN ('email', 'phone', 'user_id')),
    channel          TEXT NOT NULL CHECK (channel IN ('sms', 'email', 'link')),
    binding_message  TEXT NOT NULL,
    custom_message   TEXT,
    auth_req_id      TEXT UNIQUE,
    link             TEXT,
    auth_req_id_hash BYTEA UNIQUE,
    status           TEXT NOT NULL CHECK (status IN
                         ('starting', 'pending', 'approved', 'denied', 'expired', 'cancelled', 'failed')),
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    interval_secs    BIGINT NOT NULL,
    next_poll_at     BIGINT NOT NULL,
    poll_failures    BIGINT NOT NULL DEFAULT 0,
    decided_at       BIGINT,
    ended_at         BIGINT,
    outcome_detail   TEXT,
    customer         JSONB,
    -- The sealed token set's JSON envelope, kept as written; the cast refuses text that is not
    -- JSON.
    tokens           TEXT CHECK (tokens IS NULL OR tokens::jsonb IS NOT NULL),
    version          BIGINT NOT NULL DEFAULT 0,
    -- The poller's lease (see migrations/sqlite/0007_poller_leases.sql).
    lease_owner      TEXT,
    lease_until      BIGINT NOT NULL DEFAULT 0,
    lease_epoch      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX flows_unleased ON flows (lease_until) WHERE status IN ('starting', 'pending');
CREATE INDEX flows_agent_created ON flows (agent_sub, created_at, id);
CREATE INDEX flows_created ON flows (created_at, id);
CREATE INDEX flows_live ON flows (created_at, id) WHERE status IN ('starting', 'pending');

-- Event ids are the SSE cursor: a reader that saw id n must never later find a new event below
-- n. A sequence does not promise that (ids are taken at insert, transactions commit in any
-- order), so ids come from this one-row counter instead: an append holds the row's lock until
-- its transaction ends, so appends commit one at a time, in id order, and an append that rolls
-- back hands its id to the next.
CREATE TABLE flow_event_ids (
    only_row BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_row),
    last_id  BIGINT NOT NULL
);
INSERT INTO flow_event_ids (only_row, last_id) VALUES (TRUE, 0);

CREATE TABLE flow_events (
    id         BIGINT PRIMARY KEY,
    flow_id    TEXT COLLATE "C" NOT NULL REFERENCES flows (id),
    agent_sub  TEXT NOT NULL,
    kind       TEXT NOT NULL,
    data       JSONB NOT NULL,
    at         BIGINT NOT NULL
);
CREATE INDEX flow_events_agent ON flow_events (agent_sub, id);
CREATE INDEX flow_events_flow ON flow_events (flow_id, id);

-- Rate-limit counters (infra::counters): one fixed window per opaque key.
CREATE TABLE rate_counters (
    key          BYTEA PRIMARY KEY,
    window_start BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    count        BIGINT NOT NULL
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);

-- The customer's progress on the approval page, keyed by a hash of the approval cookie.
-- `auth_req_id` holds the hex of the request's keyed hash.
CREATE TABLE customer_sessions (
    id_hash      BYTEA PRIMARY KEY,
    auth_req_id  TEXT NOT NULL,
    flow_id      TEXT COLLATE "C" REFERENCES flows (id),
    identifier   TEXT,
    hint_type    TEXT CHECK (hint_type IS NULL OR hint_type IN ('email', 'phone')),
    access_token TEXT,
    stage        TEXT NOT NULL CHECK (stage IN ('started', 'code_sent', 'signed_in', 'decided')),
    outcome      TEXT CHECK (outcome IS NULL OR outcome IN
                     ('approved', 'denied', 'reported', 'expired', 'already_decided',
                      'wrong_person', 'ended', 'invalid_link')),
    notice       JSONB,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    code_binding TEXT,
    code_sent_at BIGINT,
    codes_sent   BIGINT NOT NULL DEFAULT 0,
    wrong_codes  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX customer_sessions_expiry ON customer_sessions (expires_at);
CREATE INDEX customer_sessions_identifier ON customer_sessions (identifier, code_sent_at);
