-- What the approval session's one-time code was sent for, and its counts. `code_binding` is the
-- random value the BFF sent with the newest code (a provider that supports it checks the code
-- only under the same value): NULL when no code went anywhere (an address or a request that
-- names nobody), so a code typed then is wrong without asking the provider. `codes_sent` and
-- `wrong_codes` count across re-sends: asking for a new code buys no more guesses.

ALTER TABLE customer_sessions ADD COLUMN code_binding TEXT;
ALTER TABLE customer_sessions ADD COLUMN code_sent_at INTEGER;
ALTER TABLE customer_sessions ADD COLUMN codes_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE customer_sessions ADD COLUMN wrong_codes INTEGER NOT NULL DEFAULT 0;

CREATE INDEX customer_sessions_identifier ON customer_sessions (identifier, code_sent_at);
