-- A customer's passkey on the approval page. `passkey_step` is where the session stands with
-- passkeys (a sign-in or a registration begun, signed in with one, one added); the provider's
-- ceremony id, needed to finish, is kept here sealed (never in the browser), and
-- `passkey_starts` counts the ceremonies the session began.
ALTER TABLE customer_sessions ADD COLUMN passkey_step TEXT
    CHECK (passkey_step IS NULL OR passkey_step IN
        ('authenticating', 'signed_in', 'registering', 'added'));
ALTER TABLE customer_sessions ADD COLUMN passkey_ceremony TEXT;
ALTER TABLE customer_sessions ADD COLUMN passkey_starts INTEGER NOT NULL DEFAULT 0;
