-- A one-time code may be bound to what it was sent for (a client-chosen opaque value, such as
-- one approval session's code for one backchannel request): its keyed hash is stored with the
-- code, and the code is checked only when the same value comes back. NULL: unbound (Mosaic's
-- plain API). Codes of different bindings do not retire each other.
ALTER TABLE otp_codes ADD COLUMN binding_hash BLOB;

CREATE INDEX otp_codes_current ON otp_codes (user_id, client_id, consumed_at);
