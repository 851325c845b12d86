//! The SQLite [`Store`](super::Store): the default, one file under the data folder.
//!
//! The schema lives in `migrations/sqlite` and is applied when the store opens, so a new data
//! folder needs no set-up and an old one is brought up to date. The queries are shared with
//! PostgreSQL ([`super::sql`]).

use std::path::Path;

use infra::sqlite as counters;
use sqlx::{Sqlite, SqlitePool};

use super::{
    AuditRecord, AuthorizationCode, Backchannel, Ceremony, CibaChange, Client, CodeUse, Message,
    NewMessage, NewOtp, Otp, StoreError, StoredPasskey, TokenRecord, User,
};
use crate::{ciba::request::Hint, clock::Timestamp, crypto::HashKey, keys::StoredKey, seed::Seed};

/// The SQLite store; cheap to clone.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens the database file at `path`, creating it if needed, and applies migrations.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let pool = infra::sqlite::open(path, &sqlx::migrate!("./migrations/sqlite")).await?;
        note_created(&pool, super::now_secs()).await?;
        Ok(Self { pool })
    }
}

// One writer at a time already: the grant lock is not needed (and a read first would make the
// transaction's first write wait to upgrade).
super::sql::sql_store!(SqliteStore, Sqlite, "SELECT 1", None);
