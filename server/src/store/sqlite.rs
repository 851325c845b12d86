//! The SQLite store: the embedded default, one file under the data folder.
//!
//! The schema lives in `migrations/sqlite` and is applied when the store opens, so a new data
//! folder needs no set-up and an old one is brought up to date. The queries are shared with
//! PostgreSQL ([`super::sql`]).
//!
//! Event ids are SSE ids, so a reader that saw id `n` must never later find a new event below
//! `n`. SQLite has one writer at a time and `AUTOINCREMENT` hands out ids inside the writing
//! transaction, so ids become visible in increasing order.

use std::path::Path;

use infra::sqlite as counters;
use sqlx::{Sqlite, SqlitePool};

use super::{
    CustomerSession, Event, Flow, FlowCursor, NewEvent, PendingLogin, Session, Stage, StoreError,
};

/// The SQLite store; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if needed, and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = infra::sqlite::open(path, &sqlx::migrate!("./migrations/sqlite")).await?;
        Ok(Self { pool })
    }
}

// One instance alone: its pollers are woken in process, nothing to tell anyone.
super::sql::sql_store!(SqliteStore, Sqlite, "", APPEND_EVENT, None);

/// How an event is appended (inside the caller's transaction, or on its own): SQLite has one
/// writer at a time, so `AUTOINCREMENT` ids become visible in increasing order.
const APPEND_EVENT: &str =
    "INSERT INTO flow_events (flow_id, agent_sub, kind, data, at) VALUES ($1, $2, $3, $4, $5)
     RETURNING id";
