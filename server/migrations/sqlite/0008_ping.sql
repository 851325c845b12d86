-- CIBA ping mode: a flow started in ping mode keeps a keyed hash of the fresh
-- client_notification_token it sent the provider (src/sealed.rs, `Sealer::notification_hash`).
-- The provider's ping must present that token; the first one that does spends it (NULL after).
ALTER TABLE flows ADD COLUMN notification_token_hash BLOB;
