//! SQLite as both services use it: one file per service, WAL, a busy timeout, a small pool,
//! migrations applied at open; and the fixed-window rate counters both schemas hold
//! (`rate_counters (key BLOB PRIMARY KEY, window_start, expires_at, count)`).

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

/// Counts one event for `key` in the window starting at `window_start` (a new window restarts
/// the count) and returns the window's count. The first count of a window sweeps out the
/// counters whose windows ended.
pub async fn count_event(
    pool: &SqlitePool,
    key: &[u8],
    window_start: i64,
    window_end: i64,
) -> Result<i64, sqlx::Error> {
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
    .fetch_one(pool)
    .await?;
    if count == 1 {
        sqlx::query("DELETE FROM rate_counters WHERE expires_at <= ?")
            .bind(window_start)
            .execute(pool)
            .await?;
    }
    Ok(count)
}

/// The count of `key` in the window starting at `window_start` (0 for an older window).
pub async fn event_count(
    pool: &SqlitePool,
    key: &[u8],
    window_start: i64,
) -> Result<i64, sqlx::Error> {
    Ok(
        sqlx::query_scalar("SELECT count FROM rate_counters WHERE key = ? AND window_start = ?")
            .bind(key)
            .bind(window_start)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0),
    )
}

/// Takes back one event of `key` in the window starting at `window_start`, if it has any.
pub async fn uncount_event(
    pool: &SqlitePool,
    key: &[u8],
    window_start: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rate_counters SET count = count - 1 WHERE key = ? AND window_start = ? AND count > 0",
    )
    .bind(key)
    .bind(window_start)
    .execute(pool)
    .await?;
    Ok(())
}
