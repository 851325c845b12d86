//! The statements more than one write shares: the backchannel compare-and-set and the token
//! rows.

use crate::store::{Backchannel, StoreError, TokenRecord};

/// The compare-and-set behind [`Store::update_backchannel`].
pub(super) async fn write_backchannel<'e>(
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

pub(super) async fn insert_token(
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

/// Whether any of `tokens` belongs to a revoked grant.
pub(super) async fn any_grant_revoked(
    tx: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    tokens: &[TokenRecord],
) -> Result<bool, StoreError> {
    for token in tokens {
        let revoked: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM revoked_grants WHERE grant_id = ?")
                .bind(&token.grant_id)
                .fetch_optional(&mut **tx)
                .await?;
        if revoked.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}
