//! The queries of the SQL stores, written once for SQLite and PostgreSQL.
//!
//! Both databases take `$1`-style parameters, row values, `RETURNING` and `ON CONFLICT`, so the
//! text of every query is the same; only the types differ. [`sql_store!`] writes the role
//! traits for a store type holding a `pool: sqlx::Pool<DB>`. What does differ is given to the
//! macro, or lives in the backend's own module, which the macro names:
//! - the statement that appends an event: how event ids are handed out so that they become
//!   visible in increasing order (the SSE cursor);
//! - `counters`: the rate-counter module of `infra` for that database.

/// Implements [`super::Store`] and its role traits for `$store` on database `$db`.
///
/// `$skip_locked` ends the row selection of a claim: `FOR UPDATE SKIP LOCKED` where several
/// instances claim at once, nothing on SQLite (one writer at a time). `$append_event` inserts
/// an event (parameters: flow id, agent, kind, data, time) and returns its id.
macro_rules! sql_store {
    ($store:ty, $db:ty, $skip_locked:literal, $append_event:expr, $wake:expr) => {
        /// Appends an event inside the caller's transaction (or on its own); returns its id.
        async fn append_event<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            event: &NewEvent,
        ) -> Result<i64, StoreError> {
            Ok(sqlx::query_scalar($append_event)
                .bind(&event.flow_id)
                .bind(&event.agent_sub)
                .bind(event.kind)
                .bind(&event.data)
                .bind(event.at)
                .fetch_one(executor)
                .await?)
        }

        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn ping(&self) -> Result<(), StoreError> {
                sqlx::query("SELECT 1").execute(&self.pool).await?;
                Ok(())
            }

            async fn close(&self) {
                self.pool.close().await;
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::SessionStore for $store {
            async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO sessions (id_hash, agent_sub, agent_name, agent_email, role,
                         created_at, last_seen_at, expires_at)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&session.id_hash)
                .bind(&session.agent_sub)
                .bind(&session.agent_name)
                .bind(&session.agent_email)
                .bind(session.role)
                .bind(session.created_at)
                .bind(session.last_seen_at)
                .bind(session.expires_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn session(&self, id_hash: &[u8]) -> Result<Option<Session>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn touch_session(&self, id_hash: &[u8], now: i64) -> Result<bool, StoreError> {
                let changed = sqlx::query(
                    "UPDATE sessions
                     SET last_seen_at = CASE WHEN last_seen_at < $1 THEN $1 ELSE last_seen_at END
                     WHERE id_hash = $2",
                )
                .bind(now)
                .bind(id_hash)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn delete_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
                let changed = sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                Ok(changed == 1)
            }

            async fn delete_expired_sessions(
                &self,
                idle_ms: i64,
                now: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2",
                )
                .bind(now)
                .bind(now.saturating_sub(idle_ms))
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn insert_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO pending_logins (state_hash, nonce, code_verifier, return_to,
                         created_at)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&login.state_hash)
                .bind(&login.nonce)
                .bind(&login.code_verifier)
                .bind(&login.return_to)
                .bind(login.created_at)
                .execute(&self.pool)
                .await?;
                Ok(())
            }

            async fn take_login(
                &self,
                state_hash: &[u8],
            ) -> Result<Option<PendingLogin>, StoreError> {
                Ok(sqlx::query_as(
                    "DELETE FROM pending_logins WHERE state_hash = $1
                     RETURNING state_hash, nonce, code_verifier, return_to, created_at",
                )
                .bind(state_hash)
                .fetch_optional(&self.pool)
                .await?)
            }

            async fn delete_logins_before(&self, created_before: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM pending_logins WHERE created_at < $1")
                    .bind(created_before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::FlowStore for $store {
            async fn wake_pollers(&self, flow_id: &str) -> Result<(), StoreError> {
                let wake: Option<&str> = $wake;
                if let Some(statement) = wake {
                    sqlx::query(statement)
                        .bind(flow_id)
                        .execute(&self.pool)
                        .await?;
                }
                Ok(())
            }

            async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
                insert_flow(&self.pool, flow).await
            }

            async fn insert_flow_with_event(
                &self,
                flow: &Flow,
                event: &NewEvent,
            ) -> Result<i64, StoreError> {
                let mut tx = self.pool.begin().await?;
                insert_flow(&mut *tx, flow).await?;
                let id = append_event(&mut *tx, event).await?;
                tx.commit().await?;
                Ok(id)
            }

            async fn flow(&self, id: &str) -> Result<Option<Flow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM flows WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn flow_by_request_hash(&self, hash: &[u8]) -> Result<Option<Flow>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM flows WHERE auth_req_id_hash = $1")
                    .bind(hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn unsealed_flows(&self) -> Result<Vec<Flow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM flows WHERE auth_req_id IS NOT NULL AND auth_req_id_hash IS NULL
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn update_flow(
                &self,
                next: &Flow,
                expected_version: i64,
            ) -> Result<bool, StoreError> {
                write_flow(&self.pool, next, expected_version).await
            }

            async fn update_flow_with_event(
                &self,
                next: &Flow,
                expected_version: i64,
                event: &NewEvent,
            ) -> Result<Option<i64>, StoreError> {
                // The transaction's first statement writes, so it holds the row (SQLite: the
                // database) from the start and cannot fail to upgrade a read snapshot.
                let mut tx = self.pool.begin().await?;
                if !write_flow(&mut *tx, next, expected_version).await? {
                    // Dropping `tx` rolls back; nothing was written anyway.
                    return Ok(None);
                }
                let id = append_event(&mut *tx, event).await?;
                tx.commit().await?;
                Ok(Some(id))
            }

            async fn pending_flows(&self) -> Result<Vec<Flow>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM flows WHERE status IN ('starting', 'pending')
                     ORDER BY created_at, id",
                )
                .fetch_all(&self.pool)
                .await?)
            }

            async fn claim_flows(
                &self,
                owner: &str,
                now: i64,
                grace: i64,
                limit: i64,
            ) -> Result<Vec<Flow>, StoreError> {
                Ok(sqlx::query_as(concat!(
                    "UPDATE flows SET lease_owner = $1,
                         lease_until = CASE WHEN next_poll_at > $2 THEN next_poll_at ELSE $2 END + $3,
                         lease_epoch = lease_epoch + 1, version = version + 1
                     WHERE status IN ('starting', 'pending') AND lease_until <= $2
                       AND id IN (SELECT id FROM flows
                                  WHERE status IN ('starting', 'pending') AND lease_until <= $2
                                  ORDER BY created_at, id LIMIT $4 ",
                    $skip_locked,
                    ")
                     RETURNING *"
                ))
                .bind(owner)
                .bind(now)
                .bind(grace)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn release_leases(&self, owner: Option<&str>) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "UPDATE flows SET lease_until = 0, version = version + 1
                     WHERE ($1 IS NULL OR lease_owner = $1) AND lease_until > 0
                       AND status IN ('starting', 'pending')",
                )
                .bind(owner)
                .execute(&self.pool)
                .await?
                .rows_affected())
            }

            async fn flows_for(
                &self,
                agent_sub: Option<&str>,
                before: Option<&FlowCursor>,
                limit: i64,
            ) -> Result<Vec<Flow>, StoreError> {
                // No cursor: start above every real row (`created_at` below i64::MAX).
                let (created_at, id) =
                    before.map_or((i64::MAX, ""), |c| (c.created_at, c.id.as_str()));
                // One text per case, so each uses its index.
                let query = match agent_sub {
                    Some(agent_sub) => sqlx::query_as(
                        "SELECT * FROM flows WHERE agent_sub = $1 AND (created_at, id) < ($2, $3)
                         ORDER BY created_at DESC, id DESC LIMIT $4",
                    )
                    .bind(agent_sub),
                    None => sqlx::query_as(
                        "SELECT * FROM flows WHERE (created_at, id) < ($1, $2)
                         ORDER BY created_at DESC, id DESC LIMIT $3",
                    ),
                };
                Ok(query
                    .bind(created_at)
                    .bind(id)
                    .bind(limit.max(0))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn count_flows_since(
                &self,
                agent_sub: &str,
                since: i64,
            ) -> Result<i64, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT COUNT(*) FROM flows WHERE agent_sub = $1 AND created_at >= $2",
                )
                .bind(agent_sub)
                .bind(since)
                .fetch_one(&self.pool)
                .await?)
            }

            async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
                append_event(&self.pool, event).await
            }

            async fn events_after(
                &self,
                after_id: i64,
                agent_sub: Option<&str>,
                limit: i64,
            ) -> Result<Vec<Event>, StoreError> {
                let query = match agent_sub {
                    Some(agent_sub) => sqlx::query_as(
                        "SELECT * FROM flow_events WHERE agent_sub = $1 AND id > $2
                         ORDER BY id LIMIT $3",
                    )
                    .bind(agent_sub),
                    None => sqlx::query_as(
                        "SELECT * FROM flow_events WHERE id > $1 ORDER BY id LIMIT $2",
                    ),
                };
                Ok(query
                    .bind(after_id)
                    .bind(limit.max(0))
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn events_for_flow(
                &self,
                flow_id: &str,
                after_id: i64,
                limit: i64,
            ) -> Result<Vec<Event>, StoreError> {
                Ok(sqlx::query_as(
                    "SELECT * FROM flow_events WHERE flow_id = $1 AND id > $2 ORDER BY id LIMIT $3",
                )
                .bind(flow_id)
                .bind(after_id)
                .bind(limit.max(0))
                .fetch_all(&self.pool)
                .await?)
            }

            async fn last_event_id(&self) -> Result<i64, StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM flow_events")
                        .fetch_one(&self.pool)
                        .await?,
                )
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::RateStore for $store {
            async fn count_event(
                &self,
                key: &[u8],
                window_start: i64,
                window_end: i64,
            ) -> Result<i64, StoreError> {
                Ok(counters::count_event(&self.pool, key, window_start, window_end).await?)
            }

            async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError> {
                Ok(counters::event_count(&self.pool, key, window_start).await?)
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::ApprovalStore for $store {
            async fn insert_customer_session(
                &self,
                session: &CustomerSession,
            ) -> Result<(), StoreError> {
                insert_customer_session(&self.pool, session).await
            }

            async fn customer_session(
                &self,
                id_hash: &[u8],
            ) -> Result<Option<CustomerSession>, StoreError> {
                Ok(sqlx::query_as("SELECT * FROM customer_sessions WHERE id_hash = $1")
                    .bind(id_hash)
                    .fetch_optional(&self.pool)
                    .await?)
            }

            async fn update_customer_session(
                &self,
                next: &CustomerSession,
                expected_stage: Stage,
            ) -> Result<bool, StoreError> {
                let changed = sqlx::query(
                    "UPDATE customer_sessions SET flow_id = $1, identifier = $2, hint_type = $3,
                         access_token = $4, stage = $5, outcome = $6, notice = $7,
                         expires_at = $8, code_binding = $9, code_sent_at = $10,
                         codes_sent = $11, wrong_codes = $12, passkey_step = $13,
                         passkey_ceremony = $14, passkey_starts = $15
                     WHERE id_hash = $16 AND stage = $17",
                )
                .bind(&next.flow_id)
                .bind(&next.identifier)
                .bind(next.hint_type)
                .bind(&next.access_token)
                .bind(next.stage)
                .bind(next.outcome)
                .bind(&next.notice)
                .bind(next.expires_at)
                .bind(&next.code_binding)
                .bind(next.code_sent_at)
                .bind(next.codes_sent)
                .bind(next.wrong_codes)
                .bind(next.passkey_step)
                .bind(&next.passkey_ceremony)
                .bind(next.passkey_starts)
                .bind(&next.id_hash)
                .bind(expected_stage)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn rotate_customer_session(
                &self,
                old_hash: &[u8],
                expected_stage: Stage,
                next: &CustomerSession,
            ) -> Result<bool, StoreError> {
                // Writes first, so the transaction holds the row from its first statement.
                let mut tx = self.pool.begin().await?;
                let deleted = sqlx::query(
                    "DELETE FROM customer_sessions WHERE id_hash = $1 AND stage = $2",
                )
                .bind(old_hash)
                .bind(expected_stage)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if deleted != 1 {
                    // Dropping `tx` rolls back; nothing was written anyway.
                    return Ok(false);
                }
                insert_customer_session(&mut *tx, next).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn delete_expired_customer_sessions(&self, now: i64) -> Result<u64, StoreError> {
                Ok(sqlx::query("DELETE FROM customer_sessions WHERE expires_at <= $1")
                    .bind(now)
                    .execute(&self.pool)
                    .await?
                    .rows_affected())
            }

            async fn take_passkey_ceremony(
                &self,
                id_hash: &[u8],
                sealed: &str,
            ) -> Result<bool, StoreError> {
                let changed = sqlx::query(
                    "UPDATE customer_sessions SET passkey_ceremony = NULL
                     WHERE id_hash = $1 AND passkey_ceremony = $2",
                )
                .bind(id_hash)
                .bind(sealed)
                .execute(&self.pool)
                .await?
                .rows_affected();
                Ok(changed == 1)
            }

            async fn newest_code_session(
                &self,
                identifier: &str,
                now: i64,
            ) -> Result<Option<Vec<u8>>, StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT id_hash FROM customer_sessions
                     WHERE identifier = $1 AND code_sent_at IS NOT NULL
                       AND code_binding IS NOT NULL AND expires_at > $2
                     ORDER BY code_sent_at DESC LIMIT 1",
                )
                .bind(identifier)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?)
            }
        }

        async fn insert_customer_session<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            session: &CustomerSession,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO customer_sessions (id_hash, auth_req_id, flow_id, identifier,
                     hint_type, access_token, stage, outcome, notice, created_at, expires_at,
                     code_binding, code_sent_at, codes_sent, wrong_codes, passkey_step,
                     passkey_ceremony, passkey_starts)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18)",
            )
            .bind(&session.id_hash)
            .bind(&session.auth_req_id)
            .bind(&session.flow_id)
            .bind(&session.identifier)
            .bind(session.hint_type)
            .bind(&session.access_token)
            .bind(session.stage)
            .bind(session.outcome)
            .bind(&session.notice)
            .bind(session.created_at)
            .bind(session.expires_at)
            .bind(&session.code_binding)
            .bind(session.code_sent_at)
            .bind(session.codes_sent)
            .bind(session.wrong_codes)
            .bind(session.passkey_step)
            .bind(&session.passkey_ceremony)
            .bind(session.passkey_starts)
            .execute(executor)
            .await?;
            Ok(())
        }

        async fn insert_flow<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            flow: &Flow,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO flows (id, agent_sub, agent_name, hint, hint_type, channel,
                     binding_message, custom_message, auth_req_id, link, auth_req_id_hash, status,
                     created_at, expires_at, interval_secs, next_poll_at, poll_failures,
                     decided_at, ended_at, outcome_detail, customer, tokens, version,
                     lease_owner, lease_until, lease_epoch, notification_token_hash, ticket)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28)",
            )
            .bind(&flow.id)
            .bind(&flow.agent_sub)
            .bind(&flow.agent_name)
            .bind(&flow.hint)
            .bind(flow.hint_type)
            .bind(flow.channel)
            .bind(&flow.binding_message)
            .bind(&flow.custom_message)
            .bind(&flow.auth_req_id)
            .bind(&flow.link)
            .bind(&flow.auth_req_id_hash)
            .bind(flow.status)
            .bind(flow.created_at)
            .bind(flow.expires_at)
            .bind(flow.interval_secs)
            .bind(flow.next_poll_at)
            .bind(flow.poll_failures)
            .bind(flow.decided_at)
            .bind(flow.ended_at)
            .bind(&flow.outcome_detail)
            .bind(&flow.customer)
            .bind(&flow.tokens)
            .bind(flow.version)
            .bind(&flow.lease_owner)
            .bind(flow.lease_until)
            .bind(flow.lease_epoch)
            .bind(&flow.notification_token_hash)
            .bind(&flow.ticket)
            .execute(executor)
            .await?;
            Ok(())
        }

        /// The compare-and-set behind [`super::FlowStore::update_flow`].
        async fn write_flow<'e>(
            executor: impl sqlx::Executor<'e, Database = $db>,
            next: &Flow,
            expected_version: i64,
        ) -> Result<bool, StoreError> {
            let changed = sqlx::query(
                "UPDATE flows SET auth_req_id = $1, link = $2, auth_req_id_hash = $3, status = $4,
                     expires_at = $5, interval_secs = $6, next_poll_at = $7, poll_failures = $8,
                     decided_at = $9, ended_at = $10, outcome_detail = $11, customer = $12,
                     tokens = $13, lease_until = $16, notification_token_hash = $17,
                     version = version + 1
                 WHERE id = $14 AND version = $15",
            )
            .bind(&next.auth_req_id)
            .bind(&next.link)
            .bind(&next.auth_req_id_hash)
            .bind(next.status)
            .bind(next.expires_at)
            .bind(next.interval_secs)
            .bind(next.next_poll_at)
            .bind(next.poll_failures)
            .bind(next.decided_at)
            .bind(next.ended_at)
            .bind(&next.outcome_detail)
            .bind(&next.customer)
            .bind(&next.tokens)
            .bind(&next.id)
            .bind(expected_version)
            .bind(next.lease_until)
            .bind(&next.notification_token_hash)
            .execute(executor)
            .await?
            .rows_affected();
            Ok(changed == 1)
        }
    };
}

pub(super) use sql_store;
