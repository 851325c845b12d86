-- Where a token came from: a customer's own sign-in ('login') or a client's redemption of a
-- grant ('ciba', 'client_credentials'). Only 'login' tokens may decide a backchannel request.
ALTER TABLE tokens ADD COLUMN origin TEXT NOT NULL DEFAULT 'login'
    CHECK (origin IN ('login', 'ciba', 'client_credentials'));
