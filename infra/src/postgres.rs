//! PostgreSQL as both services use it in a cluster: one database (or schema) per service,
//! shared by every instance, migrations applied at open, and the rate counters
//! ([`crate::counters`]).

use std::time::Duration;

use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};

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

/// Connects to `url` (`postgres://…`) with a pool of at most `max_connections`, and applies
/// `migrations`. Several instances may start at once: the migrator takes an advisory lock.
pub async fn open(
    url: &str,
    max_connections: u32,
    migrations: &Migrator,
) -> Result<PgPool, OpenError> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .map_err(OpenError::Connect)?;
    migrations.run(&pool).await.map_err(OpenError::Migrate)?;
    Ok(pool)
}

crate::counters::rate_counters!(sqlx::Postgres);
