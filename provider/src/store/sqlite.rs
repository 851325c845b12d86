//! The SQLite [`Store`].
//!
//! The schema lives in `migrations/sqlite` and is applied when the store opens, so a new data
//! folder needs no set-up and an old one is brought up to date.

use std::path::Path;

use sqlx::SqlitePool;

use async_trait::async_trait;

mod seed;
mod writes;

use writes::{any_grant_revoked, insert_token, write_backchannel};

use super::{
    AuditRecord, AuthorizationCode, Backchannel, Client, CodeUse, Message, NewMessage, NewOtp, Otp,
    Store, StoreError, TokenRecord, User,
};
use crate::{ciba::request::Hint, clock::Timestamp, crypto::HashKey, keys::StoredKey, seed::Seed};

/// The user columns, as static SQL.
macro_rules! select_users {
    ($where:literal) => {
        concat!(
            "SELECT id, app_id, kind, name, email, email_verified, phone, phone_verified, status, role, password_hash FROM users WHERE ",
            $where
        )
    };
}

/// The SQLite store; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if needed, and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = infra::sqlite::open(path, &sqlx::migrate!("./migrations/sqlite")).await?;
        sqlx::query(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('created_at', CAST(unixepoch() AS TEXT))",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn created_at(&self) -> Result<i64, StoreError> {
        let value: String = sqlx::query_scalar("SELECT value FROM meta WHERE key = 'created_at'")
            .fetch_one(&self.pool)
            .await?;
        value.parse().map_err(|_| {
            StoreError::Query(sqlx::Error::Protocol(format!("bad created_at {value:?}")))
        })
    }

    async fn close(&self) {
        self.pool.close().await;
    }

    async fn seed_if_empty(
        &self,
        seed: &Seed,
        key: &HashKey,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        seed::seed_if_empty(&self.pool, seed, key, now).await
    }

    async fn signing_keys(&self) -> Result<Vec<StoredKey>, StoreError> {
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

    async fn insert_signing_key(&self, key: &StoredKey, now: Timestamp) -> Result<(), StoreError> {
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

    async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT c.id, c.app_id, a.name AS app_name, c.name, c.secret_hash, c.ciba_enabled, c.login_uri, c.redirect_uris
             FROM clients c JOIN applications a ON a.id = c.app_id WHERE c.id = ?",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn set_ciba(
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

    async fn set_user_active(&self, id: &str, active: bool) -> Result<bool, StoreError> {
        let changed = sqlx::query("UPDATE users SET status = ? WHERE id = ?")
            .bind(if active { "active" } else { "disabled" })
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(changed == 1)
    }

    async fn backchannel_count(&self) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM backchannel_requests")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        Ok(sqlx::query_as(select_users!("id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn customer_by_hint(
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

    async fn insert_backchannel(&self, request: &Backchannel) -> Result<(), StoreError> {
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

    async fn delete_backchannel(&self, id_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM backchannel_requests WHERE id_hash = ?")
            .bind(id_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn backchannel(&self, id_hash: &[u8]) -> Result<Option<Backchannel>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM backchannel_requests WHERE id_hash = ?")
                .bind(id_hash)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn update_backchannel(
        &self,
        next: &Backchannel,
        expected_version: i64,
    ) -> Result<bool, StoreError> {
        write_backchannel(&self.pool, next, expected_version).await
    }

    async fn insert_tokens(&self, tokens: &[TokenRecord]) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Writes first, so the transaction holds the write lock before it reads.
        for token in tokens {
            insert_token(&mut tx, token).await?;
        }
        if any_grant_revoked(&mut tx, tokens).await? {
            return Ok(false); // dropping the transaction rolls it back
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn rotate_refresh(
        &self,
        old_hash: &[u8],
        now: Timestamp,
        tokens: &[TokenRecord],
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let spent = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE hash = ? AND kind = 'refresh' AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if spent != 1 {
            return Ok(false);
        }
        for token in tokens {
            insert_token(&mut tx, token).await?;
        }
        if any_grant_revoked(&mut tx, tokens).await? {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn redeem_backchannel(
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

    async fn token(&self, hash: &[u8]) -> Result<Option<TokenRecord>, StoreError> {
        Ok(sqlx::query_as("SELECT * FROM tokens WHERE hash = ?")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("INSERT OR IGNORE INTO revoked_grants (grant_id, revoked_at) VALUES (?, ?)")
            .bind(grant_id)
            .bind(now.0)
            .execute(&mut *tx)
            .await?;
        let revoked = sqlx::query(
            "UPDATE tokens SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(grant_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        tx.commit().await?;
        Ok(revoked)
    }

    async fn count_event(
        &self,
        key: &[u8],
        window_start: i64,
        window_end: i64,
    ) -> Result<i64, StoreError> {
        Ok(infra::sqlite::count_event(&self.pool, key, window_start, window_end).await?)
    }

    async fn uncount_event(&self, key: &[u8], window_start: i64) -> Result<(), StoreError> {
        Ok(infra::sqlite::uncount_event(&self.pool, key, window_start).await?)
    }

    async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError> {
        Ok(infra::sqlite::event_count(&self.pool, key, window_start).await?)
    }

    async fn workforce_by_email(
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

    async fn insert_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
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

    async fn use_code(
        &self,
        code_hash: &[u8],
        client_id: &str,
        now: Timestamp,
    ) -> Result<CodeUse, StoreError> {
        let fresh: Option<AuthorizationCode> = sqlx::query_as(
            "UPDATE authorization_codes SET used_at = ?
             WHERE code_hash = ? AND client_id = ? AND used_at IS NULL RETURNING *",
        )
        .bind(now.0)
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(code) = fresh {
            return Ok(CodeUse::Fresh(code));
        }
        let used: Option<AuthorizationCode> = sqlx::query_as(
            "SELECT * FROM authorization_codes WHERE code_hash = ? AND client_id = ? AND used_at IS NOT NULL",
        )
        .bind(code_hash)
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(used.map_or(CodeUse::Unknown, CodeUse::Replayed))
    }

    async fn insert_message(
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

    async fn messages(&self, limit: i64) -> Result<Vec<Message>, StoreError> {
        Ok(
            sqlx::query_as("SELECT * FROM outbox ORDER BY id DESC LIMIT ?")
                .bind(limit)
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn insert_otp(&self, otp: &NewOtp<'_>) -> Result<i64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE otp_codes SET consumed_at = ?
             WHERE user_id = ? AND client_id = ? AND binding_hash IS ? AND consumed_at IS NULL",
        )
        .bind(otp.created_at)
        .bind(otp.user_id)
        .bind(otp.client_id)
        .bind(otp.binding_hash)
        .execute(&mut *tx)
        .await?;
        let id = sqlx::query_scalar(
            "INSERT INTO otp_codes
                 (client_id, user_id, channel, code_hash, binding_hash, created_at, expires_at)
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(otp.client_id)
        .bind(otp.user_id)
        .bind(otp.channel)
        .bind(otp.code_hash)
        .bind(otp.binding_hash)
        .bind(otp.created_at)
        .bind(otp.expires_at)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn delete_otp(&self, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM otp_codes WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn current_otp(
        &self,
        user_id: &str,
        client_id: &str,
        binding_hash: Option<&[u8]>,
    ) -> Result<Option<Otp>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM otp_codes
             WHERE user_id = ? AND client_id = ? AND binding_hash IS ? AND consumed_at IS NULL
             ORDER BY id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(binding_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn count_otp_attempt(&self, id: i64, max: i64) -> Result<bool, StoreError> {
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

    async fn consume_otp(&self, id: i64, max: i64, now: Timestamp) -> Result<bool, StoreError> {
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

    async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_events (at, event, app_id, client_id, user_id, detail) VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(event.at)
        .bind(&event.event)
        .bind(&event.app_id)
        .bind(&event.client_id)
        .bind(&event.user_id)
        .bind(&event.detail)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_events(
        &self,
        app_id: &str,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT * FROM audit_events WHERE app_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(app_id)
        .bind(before.unwrap_or(i64::MAX))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
