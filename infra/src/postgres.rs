//! PostgreSQL as both services use it in a cluster: one database (or schema) per service,
//! shared by every instance, migrations applied at open, and the rate counters
//! ([`crate::counters`]).

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions},
};

/// The connection options of `url`, checked (scheme, host, port) without connecting. The
/// error says what is wrong and never repeats the URL (it may hold a password).
pub fn options(url: &str) -> Result<PgConnectOptions, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("it must start with postgres:// or postgresql://".to_owned());
    }
    url.parse::<PgConnectOptions>()
        .map_err(|_| "it is not a valid PostgreSQL URL".to_owned())
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// PostgreSQL could not be reached or refused the connection.
    #[error("cannot connect to the PostgreSQL store: {0}")]
    Connect(#[source] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("cannot migrate the PostgreSQL store: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
}

/// Connects with `options` (from a `postgres://…` URL) and a pool of at most
/// `max_connections`, and applies `migrations`. Several instances may start at once: the
/// migrator takes an advisory lock.
pub async fn open(
    options: PgConnectOptions,
    max_connections: u32,
    migrations: &Migrator,
) -> Result<PgPool, OpenError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(OpenError::Connect)?;
    migrations.run(&pool).await.map_err(OpenError::Migrate)?;
    Ok(pool)
}

crate::counters::rate_counters!(sqlx::Postgres);
