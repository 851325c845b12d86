-- CIBA ping mode, as migrations/sqlite/0010_ping.sql: the client's delivery mode and
-- notification endpoint, and each request's sealed `client_notification_token`.
ALTER TABLE clients ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'poll'
    CHECK (delivery_mode IN ('poll', 'ping'));
ALTER TABLE clients ADD COLUMN notification_endpoint TEXT;
ALTER TABLE backchannel_requests ADD COLUMN notification_token TEXT;
