//! The fixed-window rate counters both services keep in their database, one SQL text for SQLite
//! and PostgreSQL: a table `rate_counters (key, window_start, expires_at, count)` keyed by
//! opaque bytes (a hash of the rule and its subject), so no identifier is stored in the clear.

/// Writes `count_event`, `event_count` and `uncount_event` for the pool of database `$db`.
macro_rules! rate_counters {
    ($db:ty) => {
        /// Counts one event for `key` in the window starting at `window_start` (a new window
        /// restarts the count) and returns the window's count. The first count of a window
        /// sweeps out the counters whose windows ended.
        pub async fn count_event(
            pool: &sqlx::Pool<$db>,
            key: &[u8],
            window_start: i64,
            window_end: i64,
        ) -> Result<i64, sqlx::Error> {
            let count: i64 = sqlx::query_scalar(
                "INSERT INTO rate_counters (key, window_start, expires_at, count)
                 VALUES ($1, $2, $3, 1)
                 ON CONFLICT (key) DO UPDATE SET
                     count = CASE WHEN rate_counters.window_start = excluded.window_start
                                  THEN rate_counters.count + 1 ELSE 1 END,
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
                sqlx::query("DELETE FROM rate_counters WHERE expires_at <= $1")
                    .bind(window_start)
                    .execute(pool)
                    .await?;
            }
            Ok(count)
        }

        /// The count of `key` in the window starting at `window_start` (0 for an older window).
        pub async fn event_count(
            pool: &sqlx::Pool<$db>,
            key: &[u8],
            window_start: i64,
        ) -> Result<i64, sqlx::Error> {
            Ok(sqlx::query_scalar(
                "SELECT count FROM rate_counters WHERE key = $1 AND window_start = $2",
            )
            .bind(key)
            .bind(window_start)
            .fetch_optional(pool)
            .await?
            .unwrap_or(0))
        }

        /// Takes back one event of `key` in the window starting at `window_start`, if it has
        /// any.
        pub async fn uncount_event(
            pool: &sqlx::Pool<$db>,
            key: &[u8],
            window_start: i64,
        ) -> Result<(), sqlx::Error> {
            sqlx::query(
                "UPDATE rate_counters SET count = count - 1
                 WHERE key = $1 AND window_start = $2 AND count > 0",
            )
            .bind(key)
            .bind(window_start)
            .execute(pool)
            .await?;
            Ok(())
        }
    };
}

pub(crate) use rate_counters;
