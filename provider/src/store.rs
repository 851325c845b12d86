//! The provider's SQLite store.
//!
//! The schema lives in `migrations/sqlite` and is applied when the store opens, so a new data
//! folder needs no set-up and an old one is brought up to date.

use std::{path::Path, str::FromStr, time::Duration};

use argon2::password_hash::PasswordHasher;
use sqlx::{
    SqlitePool,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    ciba::request::Hint,
    clock::Timestamp,
    crypto::{HashKey, Purpose},
    keys::StoredKey,
    seed::Seed,
};

/// The user columns, as static SQL.
macro_rules! select_users {
    ($where:literal) => {
        concat!(
            "SELECT id, app_id, kind, name, email, email_verified, phone, phone_verified, status, role, password_hash FROM users WHERE ",
            $where
        )
    };
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused to open or create the database file.
    #[error("cannot open the store {path}: {source}")]
    Open {
        /// The database file.
        path: String,
        /// What SQLite said.
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("cannot migrate the store {path}: {source}")]
    Migrate {
        /// The database file.
        path: String,
        /// What the migrator said.
        source: sqlx::migrate::MigrateError,
    },
    /// A query failed.
    #[error("store query failed: {0}")]
    Query(#[from] sqlx::Error),
    /// The seed could not be loaded.
    #[error("seed: {0}")]
    Seed(String),
}

/// A handle on the provider's database; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
}

impl Store {
    /// Opens the database file at `path`, creating it if needed, and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: shown.clone(),
                source,
            })?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: shown,
                source,
            })?;
        sqlx::query(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', CAST(unixepoch() AS TEXT))",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// When the store was first created, in seconds since the Unix epoch.
    pub async fn created_at(&self) -> Result<i64, StoreError> {
        let value: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'created_at'")
            .fetch_one(&self.pool)
            .await?;
        value.parse().map_err(|_| {
            StoreError::Query(sqlx::Error::Protocol(format!("bad created_at {value:?}")))
        })
    }

    /// Waits for open connections to finish and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Loads `seed` if the store has no application yet; returns whether it did.
    pub async fn seed_if_empty(
        &self,
        seed: &Seed,
        key: &HashKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications")
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            return Ok(false);
        }
        for app in &seed.applications {
            sqlx::query("INSERT INTO applications (id, name, created_at) VALUES (?, ?, ?)")
                .bind(&app.id)
                .bind(&app.name)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            for client in &app.clients {
                sqlx::query(
                    "INSERT INTO clients (id, app_id, name, secret_hash, ciba_enabled, login_uri, redirect_uris, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&client.id)
                .bind(&app.id)
                .bind(&client.name)
                .bind(key.hash(Purpose::ClientSecret, &client.secret).to_vec())
                .bind(client.ciba.enabled)
                .bind(&client.ciba.login_uri)
                .bind(serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into()))
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            }
            for customer in &app.customers {
                sqlx::query(
                    "INSERT INTO users (id, app_id, kind, name, email, email_verified, phone, phone_verified, status, created_at)
                     VALUES (?, ?, 'customer', ?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&customer.id)
                .bind(&app.id)
                .bind(&customer.name)
                .bind(customer.email.as_deref().map(str::to_ascii_lowercase))
                .bind(customer.email_verified)
                .bind(&customer.phone)
                .bind(customer.phone_verified)
                .bind(if customer.disabled { "disabled" } else { "active" })
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            }
            for agent in &app.agents {
                let hash = argon2::Argon2::default()
                    .hash_password(agent.password.as_bytes())
                    .map_err(|error| StoreError::Seed(format!("cannot hash a password: {error}")))?
                    .to_string();
                sqlx::query(
                    "INSERT INTO users (id, app_id, kind, name, email, email_verified, role, password_hash, created_at)
                     VALUES (?, ?, 'workforce', ?, ?, 1, ?, ?, ?)",
                )
                .bind(&agent.id)
                .bind(&app.id)
                .bind(&agent.name)
                .bind(agent.email.to_ascii_lowercase())
                .bind(&agent.role)
                .bind(hash)
                .bind(now.0)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }

    /// The signing keys, oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
        let rows: Vec<(String, String, Vec<u8>, String)> = sqlx::query_as(
            "SELECT kid, alg, private_der, public_jwk FROM signing_keys ORDER BY created_at, kid",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(kid, alg, private_der, jwk)| {
                let public_jwk = serde_json::from_str(&jwk)
                    .map_err(|_| StoreError::Seed(format!("key {kid} has a bad JWK")))?;
                Ok(StoredKey {
                    kid,
                    alg,
                    private_der,
                    public_jwk,
                })
            })
            .collect()
    }

    /// Stores a new signing key.
    pub async fn insert_signing_key(
        &self,
        key: &StoredKey,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(&key.private_der)
        .bind(key.public_jwk.to_string())
        .bind(now.0)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A client with its application's name.
    pub async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.app_id, a.name AS app_name, c.name, c.secret_hash, c.ciba_enabled, c.login_uri, c.redirect_uris
             FROM clients c JOIN applications a ON a.id = c.app_id WHERE c.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Turns CIBA on or off for a client of `app_id`; returns the client, or `None` if the
    /// application has no such client.
    pub async fn set_ciba(
        &self,
        app_id: &str,
        client_id: &str,
        enabled: bool,
        login_uri: Option<&str>,
    ) -> Result<Option<Client>, StoreError> {
        let changed = sqlx::query(
            "UPDATE clients SET ciba_enabled = ?, login_uri = COALESCE(?, login_uri) WHERE id = ? AND app_id = ?",
        )
        .bind(enabled)
        .bind(login_uri)
        .bind(client_id)
        .bind(app_id)
        .execute(&self.pool)
        .await?
        .rows_affected();
        if changed == 0 {
            return Ok(None);
        }
        self.client(client_id).await
    }

    /// Enables or disables a user's account; returns whether the user exists.
    pub async fn set_user_active(&self, id: &str, active: bool) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE users SET status = ? WHERE id = ?")
            .bind(if active { "active" } else { "disabled" })
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    /// How many backchannel requests are stored.
    pub async fn backchannel_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM backchannel_requests")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// A user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(select_users!("id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The customer of `app_id` that `hint` names.
    pub async fn customer_by_hint(
        &self,
        app_id: &str,
        hint: &Hint,
    ) -> Result<Option<User>, StoreError> {
        let (sql, value) = match hint {
            Hint::Phone(phone) => (
                select_users!("app_id = ? AND kind = 'customer' AND phone = ?"),
                phone,
            ),
            Hint::Email(email) => (
                select_users!("app_id = ? AND kind = 'customer' AND email = ?"),
                email,
            ),
            Hint::UserId(id) => (
                select_users!("app_id = ? AND kind = 'customer' AND id = ?"),
                id,
            ),
        };
        Ok(sqlx::query_as(sql)
            .bind(app_id)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Stores a new backchannel request.
    pub async fn insert_backchannel(&self, request: &Backchannel) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO backchannel_requests (id_hash, client_id, user_id, scope, binding_message, channel, status,
                 created_at, expires_at, interval_secs, last_poll_at, decided_at, auth_time, amr, version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&request.id_hash)
        .bind(&request.client_id)
        .bind(&request.user_id)
        .bind(&request.scope)
        .bind(&request.binding_message)
        .bind(&request.channel)
        .bind(&request.status)
        .bind(request.created_at)
        .bind(request.expires_at)
        .bind(request.interval_secs)
        .bind(request.last_poll_at)
        .bind(request.decided_at)
        .bind(request.auth_time)
        .bind(&request.amr)
        .bind(request.version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes a backchannel request (when its message could not be sent).
    pub async fn delete_backchannel(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM backchannel_requests WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A backchannel request by the hash of its id.
    pub async fn backchannel(&self, id_hash: &[u8]) -> Result<Option<Backchannel>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM backchannel_requests WHERE id_hash = ?")
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Writes `next` over the request if it is still at `expected_version`; returns whether it
    /// did. Concurrent writers each read, decide and try: exactly one succeeds per version.
    pub async fn update_backchannel(
        &self,
        next: &Backchannel,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        write_backchannel(&self.pool, next, expected_version).await
    }

    /// Stores issued tokens, all or none.
    pub async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for token in tokens {
            insert_token(&mut tx, token).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Marks an approved request redeemed (`next`, if it is still at `expected_version`) and
    /// stores its tokens in the same transaction: either the client gets working tokens and the
    /// request is spent, or nothing changed. Returns whether it was written.
    pub async fn redeem_backchannel(
        &self,
        next: &Backchannel,
        expected_version: i64,
        tokens: &[TokenRecord],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !write_backchannel(&mut *tx, next, expected_version).await? {
            return Ok(false);
        }
        for token in tokens {
            insert_token(&mut tx, token).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// A token by its hash.
    pub async fn token(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Revokes every token of a grant that is not yet revoked; returns how many.
    pub async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(grant_id)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// Counts one event for `key` in the window starting at `window_start` (a new window
    /// restarts the count) and returns the window's count. Windows that ended are swept out
    /// when a new one opens.
    pub async fn count_event(
        &self,
        key: &[u8],
        window_start: i64,
        window_end: i64,
    ) -> Result<i64, StoreError> {
        let count: i64 = sqlx::query_scalar(
            "INSERT INTO rate_counters (key, window_start, expires_at, count) VALUES (?, ?, ?, 1)
             ON CONFLICT (key) DO UPDATE SET
                 count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
                 window_start = excluded.window_start,
                 expires_at = excluded.expires_at
             RETURNING count",
        )
        .bind(key)
        .bind(window_start)
        .bind(window_end)
        .fetch_one(&self.pool)
        .await?;
        if count == 1 {
            sqlx::query("DELETE FROM rate_counters WHERE expires_at <= ?")
                .bind(window_start)
                .execute(&self.pool)
                .await?;
        }
        Ok(count)
    }

    /// The count of `key` in the window starting at `window_start` (0 for an older window).
    pub async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar(
                "SELECT count FROM rate_counters WHERE key = ? AND window_start = ?",
            )
            .bind(key)
            .bind(window_start)
            .fetch_optional(&self.pool)
            .await?
            .unwrap_or(0),
        )
    }

    /// A workforce user of `app_id` by email (any case).
    pub async fn workforce_by_email(
        &self,
        app_id: &str,
        email: &str,
    ) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(select_users!(
            "app_id = ? AND kind = 'workforce' AND email = ?"
        ))
        .bind(app_id)
        .bind(email.trim().to_lowercase())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Stores a new authorization code.
    pub async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO authorization_codes (code_hash, client_id, user_id, redirect_uri, scope, nonce,
                 code_challenge, auth_time, created_at, expires_at, used_at, grant_id)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
        )
        .bind(&code.code_hash)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.redirect_uri)
        .bind(&code.scope)
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(code.auth_time)
        .bind(code.created_at)
        .bind(code.expires_at)
        .bind(&code.grant_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a code used and returns it; a code already used comes back as
    /// [`CodeUse::Replayed`], so its grant can be revoked.
    pub async fn use_code(&self, code_hash: &[u8], now: Timestamp) -> Result<CodeUse, StoreError> {
        let fresh: Option<AuthorizationCode> = sqlx::query_as(
            "UPDATE authorization_codes SET used_at = ? WHERE code_hash = ? AND used_at IS NULL RETURNING *",
        )
        .bind(now.0)
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(code) = fresh {
            return Ok(CodeUse::Fresh(code));
        }
        let used: Option<AuthorizationCode> =
            sqlx::query_as("SELECT * FROM authorization_codes WHERE code_hash = ?")
                .bind(code_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(used.map_or(CodeUse::Unknown, CodeUse::Replayed))
    }

    /// Spends a refresh token (rotation): revokes it if it is still live and returns whether
    /// this call did. Of concurrent refreshes with one token, exactly one wins.
    pub async fn spend_refresh_token(
        &self,
        hash: &[u8],
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE hash = ? AND kind = 'refresh' AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(hash)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Stores a message in the development outbox and returns its id.
    pub async fn insert_message(
        &self,
        message: &NewMessage<'_>,
        now: Timestamp,
    ) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "INSERT INTO outbox (channel, recipient, subject, body, link, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(message.channel)
        .bind(message.recipient)
        .bind(message.subject)
        .bind(message.body)
        .bind(message.link)
        .bind(now.0)
        .fetch_one(&self.pool)
        .await?)
    }

    /// The newest `limit` messages of the outbox, newest first.
    pub async fn messages(&self, limit: i64) -> Result<Vec<Message>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM outbox ORDER BY id DESC LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Stores a new one-time code for a user and retires the user's earlier unused codes from
    /// the same client, so only the newest code works.
    pub async fn insert_otp(&self, otp: &NewOtp<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE otp_codes SET consumed_at = ? WHERE user_id = ? AND client_id = ? AND consumed_at IS NULL",
        )
        .bind(otp.created_at)
        .bind(otp.user_id)
        .bind(otp.client_id)
        .execute(&mut *tx)
        .await?;
        let id = sqlx::query_scalar(
            "INSERT INTO otp_codes (client_id, user_id, channel, code_hash, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(otp.client_id)
        .bind(otp.user_id)
        .bind(otp.channel)
        .bind(otp.code_hash)
        .bind(otp.created_at)
        .bind(otp.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Deletes a one-time code (when it could not be sent).
    pub async fn delete_otp(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM otp_codes WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The user's newest unused code from `client_id`.
    pub async fn current_otp(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<Otp>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM otp_codes WHERE user_id = ? AND client_id = ? AND consumed_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Counts a wrong attempt on code `id` if fewer than `max` were counted; returns whether
    /// it counted (false: the code is locked or gone).
    pub async fn count_otp_attempt(&self, id: i64, max: i64) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE otp_codes SET attempts = attempts + 1 WHERE id = ? AND attempts < ? AND consumed_at IS NULL",
        )
        .bind(id)
        .bind(max)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }

    /// Marks code `id` used; returns false if it was used (or locked) in the meantime.
    pub async fn consume_otp(&self, id: i64, max: i64, now: Timestamp) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE otp_codes SET consumed_at = ? WHERE id = ? AND consumed_at IS NULL AND attempts < ?",
        )
        .bind(now.0)
        .bind(id)
        .bind(max)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed == 1)
    }
}

/// An OAuth client as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// Its application.
    pub app_id: String,
    /// Its application's name.
    pub app_name: String,
    /// A name for people.
    pub name: String,
    /// Keyed hash of the secret.
    pub secret_hash: Vec<u8>,
    /// Whether CIBA is enabled.
    pub ciba_enabled: bool,
    /// Where CIBA links point.
    pub login_uri: Option<String>,
    /// JSON array of redirect URIs.
    pub redirect_uris: String,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .field("app_id", &self.app_id)
            .finish_non_exhaustive()
    }
}

/// A user as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct User {
    /// `user_id`, the `sub` claim.
    pub id: String,
    /// Its application.
    pub app_id: String,
    /// `customer` or `workforce`.
    pub kind: String,
    /// Display name.
    pub name: String,
    /// Lower-case email.
    pub email: Option<String>,
    /// Whether the email was verified.
    pub email_verified: bool,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// Whether the phone was verified.
    pub phone_verified: bool,
    /// `active` or `disabled`.
    pub status: String,
    /// Workforce role.
    pub role: Option<String>,
    /// Workforce password hash (PHC string).
    pub password_hash: Option<String>,
}

impl User {
    /// Whether the account may authenticate and be asked to.
    pub fn is_active(&self) -> bool {
        self.status == "active"
    }
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// A backchannel request as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Backchannel {
    /// Keyed hash of `auth_req_id`.
    pub id_hash: Vec<u8>,
    /// The client that made it.
    pub client_id: String,
    /// The user it is for.
    pub user_id: String,
    /// Space-separated scopes.
    pub scope: String,
    /// What the user is shown.
    pub binding_message: Option<String>,
    /// `sms`, `email` or `link`.
    pub channel: String,
    /// `pending`, `approved`, `denied` or `redeemed`.
    pub status: String,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Poll interval, seconds.
    pub interval_secs: i64,
    /// Last poll, ms.
    pub last_poll_at: Option<i64>,
    /// Decided, ms.
    pub decided_at: Option<i64>,
    /// When the user authenticated, seconds.
    pub auth_time: Option<i64>,
    /// JSON array of authentication methods.
    pub amr: Option<String>,
    /// Bumped by every change.
    pub version: i64,
}

/// An issued token as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenRecord {
    /// Keyed hash of the token.
    pub hash: Vec<u8>,
    /// `access` or `refresh`.
    pub kind: String,
    /// The client it was issued to.
    pub client_id: String,
    /// The user it speaks for; `None` for client credentials.
    pub user_id: Option<String>,
    /// Space-separated scopes.
    pub scope: String,
    /// When the user authenticated, seconds.
    pub auth_time: Option<i64>,
    /// JSON array of authentication methods.
    pub amr: Option<String>,
    /// Issued, ms.
    pub issued_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Revoked, ms.
    pub revoked_at: Option<i64>,
    /// Tokens of one grant share this id.
    pub grant_id: String,
    /// `login` (the user's own sign-in), `ciba` or `client_credentials`.
    pub origin: String,
}

/// A message to store in the outbox.
#[derive(Clone, Copy)]
pub struct NewMessage<'a> {
    /// `sms` or `email`.
    pub channel: &'a str,
    /// Phone number or email address.
    pub recipient: &'a str,
    /// Email subject.
    pub subject: Option<&'a str>,
    /// The text.
    pub body: &'a str,
    /// The link in the text, if any.
    pub link: Option<&'a str>,
}

/// A message in the outbox.
#[derive(Clone, sqlx::FromRow, serde::Serialize)]
pub struct Message {
    /// Its number.
    pub id: i64,
    /// `sms` or `email`.
    pub channel: String,
    /// Phone number or email address.
    #[serde(rename = "to")]
    pub recipient: String,
    /// Email subject.
    pub subject: Option<String>,
    /// The text.
    pub body: String,
    /// The link in the text, if any.
    pub link: Option<String>,
    /// When it was stored, ms.
    pub created_at: i64,
}

/// A one-time code to store.
#[derive(Clone, Copy, Debug)]
pub struct NewOtp<'a> {
    /// The client that asked for it.
    pub client_id: &'a str,
    /// The user it was sent to.
    pub user_id: &'a str,
    /// `sms` or `email`.
    pub channel: &'a str,
    /// Keyed hash of the code.
    pub code_hash: &'a [u8],
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
}

/// A one-time code as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Otp {
    /// Its number.
    pub id: i64,
    /// The client that asked for it.
    pub client_id: String,
    /// The user it was sent to.
    pub user_id: String,
    /// `sms` or `email`.
    pub channel: String,
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Wrong attempts so far.
    pub attempts: i64,
    /// Used or retired, ms.
    pub consumed_at: Option<i64>,
}

// Message texts hold links (with `auth_req_id`) and one-time codes: never in Debug output.
impl std::fmt::Debug for NewMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Message")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .finish_non_exhaustive()
    }
}

/// A stored authorization code.
#[derive(Clone, sqlx::FromRow)]
pub struct AuthorizationCode {
    /// Keyed hash of the code.
    pub code_hash: Vec<u8>,
    /// The client it was issued to.
    pub client_id: String,
    /// The user who signed in.
    pub user_id: String,
    /// The redirect URI it was sent to; the token request must name the same.
    pub redirect_uri: String,
    /// Granted scopes.
    pub scope: String,
    /// The client's nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: String,
    /// When the user signed in, seconds.
    pub auth_time: i64,
    /// When it was issued, ms.
    pub created_at: i64,
    /// When it expires, ms.
    pub expires_at: i64,
    /// When it was redeemed, ms.
    pub used_at: Option<i64>,
    /// The grant its tokens belong to.
    pub grant_id: String,
}

impl std::fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCode")
            .field("client_id", &self.client_id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum CodeUse {
    /// First use: redeem it.
    Fresh(AuthorizationCode),
    /// Used before: refuse, and revoke what it gave.
    Replayed(AuthorizationCode),
    /// No such code.
    Unknown,
}

/// The compare-and-set behind [`Store::update_backchannel`].
async fn write_backchannel<'e>(
    executor: impl sqlx::SqliteExecutor<'e>,
    next: &Backchannel,
    expected_version: i64,
) -> Result<bool, StoreError> {
    let changed = sqlx::query(
        "UPDATE backchannel_requests SET status = ?, interval_secs = ?, last_poll_at = ?, decided_at = ?,
             auth_time = ?, amr = ?, version = version + 1
         WHERE id_hash = ? AND version = ?",
    )
    .bind(&next.status)
    .bind(next.interval_secs)
    .bind(next.last_poll_at)
    .bind(next.decided_at)
    .bind(next.auth_time)
    .bind(&next.amr)
    .bind(&next.id_hash)
    .bind(expected_version)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    token: &TokenRecord,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO tokens (hash, kind, client_id, user_id, scope, auth_time, amr, issued_at, expires_at, revoked_at, grant_id, origin)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.hash)
    .bind(&token.kind)
    .bind(&token.client_id)
    .bind(&token.user_id)
    .bind(&token.scope)
    .bind(token.auth_time)
    .bind(&token.amr)
    .bind(token.issued_at)
    .bind(token.expires_at)
    .bind(token.revoked_at)
    .bind(&token.grant_id)
    .bind(&token.origin)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
