//! The queries of the provider's SQL stores, written once for SQLite and PostgreSQL (both take
//! `$1`-style parameters, `RETURNING`, `ON CONFLICT` and `IS NOT DISTINCT FROM`). [`sql_store!`]
//! writes [`crate::store::Store`] for a store type holding a `pool: sqlx::Pool<DB>`; the
//! backend's module brings `counters` (the rate-counter module of `infra` for that database)
//! and the store's types into scope.

/// The user columns, as static SQL.
macro_rules! select_users {
    ($where:literal) => {
        concat!(
            "SELECT id, app_id, kind, name, email, email_verified, phone, phone_verified, status, role, password_hash FROM users WHERE ",
            $where
        )
    };
}

pub(super) use select_users;

/// Implements [`crate::store::Store`] for `$store` on database `$db`.
///
/// `$lock_seed` is the statement that makes two first starts against one empty database seed it
/// once: the second waits for the first, then finds the applications there. `$lock_grant`
/// (`Some` statement with one parameter, a grant id) serialises the transactions that revoke a grant or add tokens
/// to it, so that tokens are never stored for a grant being revoked at the same moment by
/// another instance.
macro_rules! sql_store {
    ($store:ty, $db:ty, $lock_seed:literal, $lock_grant:expr) => {
        /// Takes the grant locks of `tokens` (each grant once, in order, so two transactions
        /// never wait on each other in a cycle).
        async fn lock_grants(
            tx: &mut sqlx::Transaction<'_, $db>,
            grants: impl Iterator<Item = &str>,
        ) -> Result<(), StoreError> {
            let lock: Option<&'static str> = $lock_grant;
            let Some(lock) = lock else {
                return Ok(());
            };
            let grants: std::collections::BTreeSet<&str> = grants.collect();
            for grant in grants {
                sqlx::query(lock).bind(grant).execute(&mut **tx).await?;
            }
            Ok(())
        }

        /// Notes when the store was made, once.
        async fn note_created(pool: &sqlx::Pool<$db>, now_secs: i64) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ('created_at', $1) ON CONFLICT (key) DO NOTHING",
            )
            .bind(now_secs.to_string())
            .execute(pool)
            .await?;
            Ok(())
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
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
                seed_if_empty(&self.pool, seed, key, now).await
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

            async fn insert_first_signing_keys(
                &self,
                keys: &[StoredKey],
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query($lock_seed).execute(&mut *tx).await?;
                let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM signing_keys")
                    .fetch_one(&mut *tx)
                    .await?;
                if count > 0 {
                    return Ok(false);
                }
                for key in keys {
                    sqlx::query(
                        "INSERT INTO signing_keys (kid, alg, private_der, public_jwk, created_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&key.kid)
                    .bind(&key.alg)
                    .bind(&key.private_der)
                    .bind(key.public_jwk.to_string())
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            async fn client(&self, id: &str) -> Result<Option<Client>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT c.id, c.app_id, a.name AS app_name, c.name, c.secret_hash, c.ciba_enabled, c.login_uri, c.redirect_uris,
                            c.delivery_mode, c.notification_endpoint
                     FROM clients c JOIN applications a ON a.id = c.app_id WHERE c.id = $1",
                )
                .bind(id)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn set_ciba(
                &self,
                app_id: &str,
                client_id: &str,
                change: &CibaChange<'_>,
            ) -> Result<Option<Client>, StoreError> {
                let (mode, endpoint) = match change.delivery {
                    Some((mode, endpoint)) => (Some(mode.as_str()), endpoint),
                    None => (None, None),
                };
                let changed = sqlx::query(
                    "UPDATE clients SET ciba_enabled = $1, login_uri = COALESCE($2, login_uri),
                         delivery_mode = COALESCE($5, delivery_mode),
                         notification_endpoint = CASE WHEN $5 IS NULL THEN notification_endpoint ELSE $6 END
                     WHERE id = $3 AND app_id = $4",
                )
                .bind(change.enabled)
                .bind(change.login_uri)
                .bind(client_id)
                .bind(app_id)
                .bind(mode)
                .bind(endpoint)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if changed == 0 {
                    return Ok(None);
                }
                self.client(client_id).await
            }

            async fn set_user_active(&self, id: &str, active: bool) -> Result<bool, StoreError> {
                let changed = sqlx::query("UPDATE users SET status = $1 WHERE id = $2")
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
                Ok(sqlx::query_as($crate::store::sql::select_users!("id = $1"))
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
                        $crate::store::sql::select_users!("app_id = $1 AND kind = 'customer' AND phone = $2"),
                        phone,
                    ),
                    Hint::Email(email) => (
                        $crate::store::sql::select_users!("app_id = $1 AND kind = 'customer' AND email = $2"),
                        email,
                    ),
                    Hint::UserId(id) => (
                        $crate::store::sql::select_users!("app_id = $1 AND kind = 'customer' AND id = $2"),
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
                         created_at, expires_at, interval_secs, last_poll_at, decided_at, auth_time, amr, version,
                         notification_token)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
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
                .bind(&request.notification_token)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn delete_backchannel(&self, id_hash: &[u8]) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM backchannel_requests WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn backchannel(&self, id_hash: &[u8]) -> Result<Option<Backchannel>, StoreError> {
                Ok(
                    sqlx::query_as("SELECT * FROM backchannel_requests WHERE id_hash = $1")
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
                lock_grants(&mut tx, tokens.iter().map(|t| t.grant_id.as_str())).await?;
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
                lock_grants(&mut tx, tokens.iter().map(|t| t.grant_id.as_str())).await?;
                let spent = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1 WHERE hash = $2 AND kind = 'refresh' AND revoked_at IS NULL",
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
                Ok(sqlx::query_as("SELECT * FROM tokens WHERE hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn revoke_grant(&self, grant_id: &str, now: Timestamp) -> Result<u64, StoreError> {
                let mut tx = self.pool.begin().await?;
                lock_grants(&mut tx, std::iter::once(grant_id)).await?;
                sqlx::query("INSERT INTO revoked_grants (grant_id, revoked_at) VALUES ($1, $2) ON CONFLICT (grant_id) DO NOTHING")
                    .bind(grant_id)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                let revoked = sqlx::query(
                    "UPDATE tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
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
                Ok(counters::count_event(&self.pool, key, window_start, window_end).await?)
            }

            async fn uncount_event(&self, key: &[u8], window_start: i64) -> Result<(), StoreError> {
                Ok(counters::uncount_event(&self.pool, key, window_start).await?)
            }

            async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError> {
                Ok(counters::event_count(&self.pool, key, window_start).await?)
            }

            async fn workforce_by_email(
                &self,
                app_id: &str,
                email: &str,
            ) -> Result<Option<User>, StoreError> {
                Ok(sqlx::query_as($crate::store::sql::select_users!(
                    "app_id = $1 AND kind = 'workforce' AND email = $2"
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
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, $11)",
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
                    "UPDATE authorization_codes SET used_at = $1
                     WHERE code_hash = $2 AND client_id = $3 AND used_at IS NULL RETURNING *",
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
                    "SELECT * FROM authorization_codes WHERE code_hash = $1 AND client_id = $2 AND used_at IS NOT NULL",
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
                    "INSERT INTO outbox (channel, recipient, subject, body, link, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
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
                    sqlx::query_as("SELECT * FROM outbox ORDER BY id DESC LIMIT $1")
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?,
                )
            }

            async fn insert_otp(&self, otp: &NewOtp<'_>) -> Result<i64, StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "UPDATE otp_codes SET consumed_at = $1
                     WHERE user_id = $2 AND client_id = $3 AND binding_hash IS NOT DISTINCT FROM $4 AND consumed_at IS NULL",
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
                     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
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
                sqlx::query("DELETE FROM otp_codes WHERE id = $1")
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
                     WHERE user_id = $1 AND client_id = $2 AND binding_hash IS NOT DISTINCT FROM $3 AND consumed_at IS NULL
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
                    "UPDATE otp_codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND consumed_at IS NULL",
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
                    "UPDATE otp_codes SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND attempts < $3",
                )
                .bind(now.0)
                .bind(id)
                .bind(max)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn passkeys(&self, user_id: &str) -> Result<Vec<StoredPasskey>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM passkeys WHERE user_id = $1 ORDER BY created_at, credential_id",
                )
                .bind(user_id)
                .fetch_all(&self.pool)
                .await?)
            }

            async fn insert_passkey(&self, passkey: &StoredPasskey) -> Result<bool, StoreError> {
                let added = sqlx::query(
                    "INSERT INTO passkeys (credential_id, user_id, passkey, counter, created_at, last_used_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (credential_id) DO NOTHING",
                )
                .bind(&passkey.credential_id)
                .bind(&passkey.user_id)
                .bind(&passkey.passkey)
                .bind(passkey.counter)
                .bind(passkey.created_at)
                .bind(passkey.last_used_at)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(added == 1)
            }

            async fn update_passkey(
                &self,
                credential_id: &str,
                passkey: &str,
                (seen, counter): (i64, i64),
                now: Timestamp,
            ) -> Result<bool, StoreError> {
                let changed = sqlx::query(
                    "UPDATE passkeys SET passkey = $1, counter = $2, last_used_at = $3
                     WHERE credential_id = $4 AND counter = $5",
                )
                .bind(passkey)
                .bind(counter)
                .bind(now.0)
                .bind(credential_id)
                .bind(seen)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn insert_ceremony(&self, ceremony: &Ceremony, now: Timestamp) -> Result<(), StoreError> {
                let mut tx = self.pool.begin().await?;
                sqlx::query(
                    "DELETE FROM passkey_ceremonies
                     WHERE expires_at <= $1
                        OR (user_id = $2 AND client_id = $3 AND kind = $4 AND kind = 'registration')",
                )
                .bind(now.0)
                .bind(&ceremony.user_id)
                .bind(&ceremony.client_id)
                .bind(&ceremony.kind)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO passkey_ceremonies (handle_hash, kind, client_id, user_id, state, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&ceremony.handle_hash)
                .bind(&ceremony.kind)
                .bind(&ceremony.client_id)
                .bind(&ceremony.user_id)
                .bind(&ceremony.state)
                .bind(ceremony.expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn take_ceremony(
                &self,
                handle_hash: &[u8],
                kind: &str,
                client_id: &str,
                now: Timestamp,
            ) -> Result<Option<Ceremony>, StoreError> {
                let taken: Option<Ceremony> = sqlx::query_as(
                    "DELETE FROM passkey_ceremonies WHERE handle_hash = $1 AND kind = $2 AND client_id = $3
                     RETURNING *",
                )
                .bind(handle_hash)
                .bind(kind)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
                Ok(taken.filter(|ceremony| ceremony.expires_at > now.0))
            }

            async fn insert_audit(&self, event: &AuditRecord) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO audit_events (at, event, app_id, client_id, user_id, detail) VALUES ($1, $2, $3, $4, $5, $6)",
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
                    "SELECT * FROM audit_events WHERE app_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                )
                .bind(app_id)
                .bind(before.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?)
            }
        }

        /// The compare-and-set behind [`crate::store::Store::update_backchannel`].
        async fn write_backchannel<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            next: &Backchannel,
            expected_version: i64,
        ) -> Result<bool, StoreError> {
            let changed = sqlx::query(
                "UPDATE backchannel_requests SET status = $1, interval_secs = $2, last_poll_at = $3, decided_at = $4,
                     auth_time = $5, amr = $6, version = version + 1
                 WHERE id_hash = $7 AND version = $8",
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
            tx: &mut sqlx::Transaction<'_, $db>,
            token: &TokenRecord,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO tokens (hash, kind, client_id, user_id, scope, auth_time, amr, issued_at, expires_at, revoked_at, grant_id, origin)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
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

        /// Whether any of `tokens` belongs to a revoked grant.
        async fn any_grant_revoked(
            tx: &mut sqlx::Transaction<'_, $db>,
            tokens: &[TokenRecord],
        ) -> Result<bool, StoreError> {
            for token in tokens {
                let revoked: i64 =
                    sqlx::query_scalar("SELECT COUNT(*) FROM revoked_grants WHERE grant_id = $1")
                        .bind(&token.grant_id)
                        .fetch_one(&mut **tx)
                        .await?;
                if revoked > 0 {
                    return Ok(true);
                }
            }
            Ok(false)
        }

        /// Writes `seed` into an empty store, in one transaction; `false` (and nothing written) when the
        /// store already holds applications.
        async fn seed_if_empty(
            pool: &sqlx::Pool<$db>,
            seed: &Seed,
            key: &HashKey,
            now: Timestamp,
        ) -> Result<bool, StoreError> {
            let mut tx = pool.begin().await?;
            sqlx::query($lock_seed).execute(&mut *tx).await?;
            let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications")
                .fetch_one(&mut *tx)
                .await?;
            if count > 0 {
                return Ok(false);
            }
            for app in &seed.applications {
                sqlx::query("INSERT INTO applications (id, name, created_at) VALUES ($1, $2, $3)")
                    .bind(&app.id)
                    .bind(&app.name)
                    .bind(now.0)
                    .execute(&mut *tx)
                    .await?;
                for client in &app.clients {
                    sqlx::query(
                        "INSERT INTO clients (id, app_id, name, secret_hash, ciba_enabled, login_uri, redirect_uris, created_at,
                             delivery_mode, notification_endpoint)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&client.id)
                    .bind(&app.id)
                    .bind(&client.name)
                    .bind(key.hash($crate::crypto::Purpose::ClientSecret, &client.secret).to_vec())
                    .bind(client.ciba.enabled)
                    .bind(&client.ciba.login_uri)
                    .bind(serde_json::to_string(&client.redirect_uris).unwrap_or_else(|_| "[]".into()))
                    .bind(now.0)
                    .bind(client.ciba.delivery_mode())
                    .bind(&client.ciba.backchannel_client_notification_endpoint)
                    .execute(&mut *tx)
                    .await?;
                }
                for customer in &app.customers {
                    sqlx::query(
                        "INSERT INTO users (id, app_id, kind, name, email, email_verified, phone, phone_verified, status, created_at)
                         VALUES ($1, $2, 'customer', $3, $4, $5, $6, $7, $8, $9)",
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
                    let hash = argon2::password_hash::PasswordHasher::hash_password(
                        &argon2::Argon2::default(),
                        agent.password.as_bytes(),
                    )
                        .map_err(|error| StoreError::Seed(format!("cannot hash a password: {error}")))?
                        .to_string();
                    sqlx::query(
                        "INSERT INTO users (id, app_id, kind, name, email, email_verified, role, password_hash, created_at)
                         VALUES ($1, $2, 'workforce', $3, $4, TRUE, $5, $6, $7)",
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
    };
}

pub(super) use sql_store;
