-- CIBA ping mode (CIBA Core §5, §10.2). A client registers its token delivery mode and, for
-- ping, the one endpoint its notifications go to. A ping client's backchannel request carries
-- its `client_notification_token`, kept sealed under a key derived from the request's
-- `auth_req_id`, which the store holds only as a hash: a copy of the database cannot read it.
ALTER TABLE clients ADD COLUMN delivery_mode TEXT NOT NULL DEFAULT 'poll'
    CHECK (delivery_mode IN ('poll', 'ping'));
ALTER TABLE clients ADD COLUMN notification_endpoint TEXT;
ALTER TABLE backchannel_requests ADD COLUMN notification_token TEXT;
