-- Customers' passkeys (WebAuthn). Each row is one credential: its id (base64url), the user it
-- belongs to, and the relying party's record of it (public key, signature counter, flags) as
-- webauthn-rs keeps it, in JSON. No private key ever reaches the provider.
CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY NOT NULL,
    user_id       TEXT NOT NULL REFERENCES users (id),
    passkey       TEXT NOT NULL,
    counter       INTEGER NOT NULL DEFAULT 0, -- the signature counter last seen (0: none kept)
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A registration or sign-in under way: the challenge and what it allows, kept here (never in
-- the browser) under the keyed hash of the handle the client holds; used once, then deleted.
CREATE TABLE passkey_ceremonies (
    handle_hash BLOB PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('registration', 'authentication')),
    client_id   TEXT NOT NULL REFERENCES clients (id),
    user_id     TEXT NOT NULL REFERENCES users (id),
    state       TEXT NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
