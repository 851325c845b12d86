-- CIBA ping mode, as migrations/sqlite/0008_ping.sql: the keyed hash of a flow's
-- client_notification_token, spent by the first ping that presents it.
ALTER TABLE flows ADD COLUMN notification_token_hash BYTEA;
