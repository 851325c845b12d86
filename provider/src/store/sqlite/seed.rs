//! The first start's data: the seed's applications, clients, customers and agents.

use argon2::password_hash::PasswordHasher;
use sqlx::SqlitePool;

use crate::{
    clock::Timestamp,
    crypto::{HashKey, Purpose},
    seed::Seed,
    store::StoreError,
};

/// Writes `seed` into an empty store, in one transaction; `false` (and nothing written) when the
/// store already holds applications.
pub(super) async fn seed_if_empty(
    pool: &SqlitePool,
    seed: &Seed,
    key: &HashKey,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let mut tx = pool.begin().await?;
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
