//! The PostgreSQL store: one database shared by every BFF instance of a cluster.
//!
//! The schema lives in `migrations/postgres` and is applied when the store opens (under the
//! migrator's advisory lock, so instances may start together). The queries are shared with
//! SQLite ([`super::sql`]); only event ids are handed out differently: from a one-row counter
//! whose lock an append holds until it commits, so that ids become visible in increasing order
//! even when several instances append at once (see the migration).

use infra::postgres as counters;
use sqlx::{PgPool, Postgres, postgres::PgConnectOptions};

use super::{
    CustomerSession, Event, Flow, FlowCursor, NewEvent, PendingLogin, Session, Stage, StoreError,
};

/// Connections one instance keeps open at most.
const MAX_CONNECTIONS: u32 = 16;

/// The PostgreSQL store; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects with `options` and applies migrations.
    pub async fn open(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = infra::postgres::open(
            options,
            MAX_CONNECTIONS,
            &sqlx::migrate!("./migrations/postgres"),
        )
        .await
        .map_err(|error| StoreError::Open(Box::new(error)))?;
        Ok(Self { pool })
    }
}

super::sql::sql_store!(PgStore, Postgres);

/// Appends an event inside the caller's transaction (or in one of its own); returns its id.
async fn append_event<'e>(
    executor: impl sqlx::PgExecutor<'e>,
    event: &NewEvent,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "WITH next AS (UPDATE flow_event_ids SET last_id = last_id + 1 RETURNING last_id)
         INSERT INTO flow_events (id, flow_id, agent_sub, kind, data, at)
         SELECT last_id, $1, $2, $3, $4, $5 FROM next
         RETURNING id",
    )
    .bind(&event.flow_id)
    .bind(&event.agent_sub)
    .bind(event.kind)
    .bind(&event.data)
    .bind(event.at)
    .fetch_one(executor)
    .await?)
}
