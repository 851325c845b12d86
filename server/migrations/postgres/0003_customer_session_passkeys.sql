-- A customer's passkey on the approval page, as migrations/sqlite/0009_customer_session_passkeys.sql.
ALTER TABLE customer_sessions ADD COLUMN passkey_step TEXT
    CHECK (passkey_step IS NULL OR passkey_step IN
        ('authenticating', 'signed_in', 'registering', 'added'));
ALTER TABLE customer_sessions ADD COLUMN passkey_ceremony TEXT;
ALTER TABLE customer_sessions ADD COLUMN passkey_starts BIGINT NOT NULL DEFAULT 0;
