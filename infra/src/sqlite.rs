//! SQLite as both services use it: one file per service, WAL, a busy timeout, a small pool,
//! migrations applied at open; and the fixed-window rate counters both schemas hold
//! ([`crate::counters`]).

use std::{path::Path, str::FromStr as _, time::Duration};

use sqlx::{
    SqlitePool,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
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
}

/// Opens the database file at `path`, creating it if needed, and applies `migrations`.
pub async fn open(path: &Path, migrations: &Migrator) -> Result<SqlitePool, OpenError> {
    let shown = path.display().to_string();
    let opening = |source| OpenError::Open {
        path: shown.clone(),
        source,
    };
    let options = SqliteConnectOptions::from_str("sqlite:")
        .map_err(opening)?
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
        .map_err(opening)?;
    migrations
        .run(&pool)
        .await
        .map_err(|source| OpenError::Migrate {
            path: shown.clone(),
            source,
        })?;
    Ok(pool)
}

crate::counters::rate_counters!(sqlx::Sqlite);
