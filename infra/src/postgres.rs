//! PostgreSQL as both services use it in a cluster: one database (or schema) per service,
//! shared by every instance, migrations applied at open, and the rate counters
//! ([`crate::counters`]).

use std::time::Duration;

use sqlx::{
    PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgPoolOptions, PgSslMode},
};

/// The connection options of `url`, checked without connecting: the scheme, the syntax, and
/// TLS for a server off this machine (`sslmode=require`, `verify-ca` or `verify-full`: with
/// sqlx's default, `prefer`, a connection silently falls back to plain text, and flows,
/// sessions and the password would cross the network in the clear). The error says what is
/// wrong and never repeats the URL (it may hold a password).
pub fn options(url: &str) -> Result<PgConnectOptions, String> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("it must start with postgres:// or postgresql://".to_owned());
    }
    let options = url
        .parse::<PgConnectOptions>()
        .map_err(|_| "it is not a valid PostgreSQL URL".to_owned())?;
    let local = options.get_socket().is_some()
        || matches!(
            options.get_host(),
            "localhost" | "127.0.0.1" | "::1" | "[::1]"
        )
        || options.get_host().starts_with('/');
    let encrypted = matches!(
        options.get_ssl_mode(),
        PgSslMode::Require | PgSslMode::VerifyCa | PgSslMode::VerifyFull
    );
    if !local && !encrypted {
        return Err(
            "names a server off this machine without TLS: add ?sslmode=verify-full (or require)"
                .to_owned(),
        );
    }
    Ok(options)
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

/// Connections one instance of a service keeps open at most.
const MAX_CONNECTIONS: u32 = 16;

/// Connects with `options` (from a `postgres://…` URL) and a pool of at most
/// [`MAX_CONNECTIONS`], and applies `migrations`. Several instances may start at once: the
/// migrator takes an advisory lock.
pub async fn open(options: PgConnectOptions, migrations: &Migrator) -> Result<PgPool, OpenError> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(OpenError::Connect)?;
    migrations.run(&pool).await.map_err(OpenError::Migrate)?;
    Ok(pool)
}

crate::counters::rate_counters!(sqlx::Postgres);

#[cfg(test)]
mod tests {
    use super::options;

    #[test]
    fn urls_are_checked_and_never_repeated() {
        for ok in [
            "postgres://u:p@127.0.0.1:5432/db",
            "postgresql://u@localhost/db",
            "postgres://u:p@db.internal/db?sslmode=require",
            "postgres://u:p@db.internal/db?sslmode=verify-full",
        ] {
            assert!(options(ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            ("mysql://u:secret@db/x", "postgres://"),
            ("postgres://u:secret@db.internal/db", "without TLS"),
            (
                "postgres://u:secret@db.internal/db?sslmode=prefer",
                "without TLS",
            ),
            (
                "postgres://u:secret@db.internal/db?sslmode=disable",
                "without TLS",
            ),
            ("postgres://u:secret@[::1/db", "not a valid"),
        ] {
            let problem = options(bad).unwrap_err();
            assert!(problem.contains(says), "{bad}: {problem}");
            assert!(!problem.contains("secret"), "{problem}");
        }
    }
}
