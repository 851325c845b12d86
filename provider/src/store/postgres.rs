//! The PostgreSQL [`Store`](super::Store): one database shared by every provider instance of a
//! cluster, so any instance can answer any request (a poll, a decision, a token).
//!
//! The schema lives in `migrations/postgres` and is applied when the store opens, under the
//! migrator's advisory lock. The queries are shared with SQLite ([`super::sql`]).

use infra::postgres as counters;
use sqlx::{PgPool, Postgres, postgres::PgConnectOptions};

use super::{
    AuditRecord, AuthorizationCode, Backchannel, Ceremony, CibaChange, Client, CodeUse, Message,
    NewMessage, NewOtp, Otp, StoreError, StoredPasskey, TokenRecord, User,
};
use crate::{ciba::request::Hint, clock::Timestamp, crypto::HashKey, keys::StoredKey, seed::Seed};

/// The PostgreSQL store; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects with `options` and applies migrations.
    pub async fn open(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = infra::postgres::open(options, &sqlx::migrate!("./migrations/postgres")).await?;
        note_created(&pool, super::now_secs()).await?;
        Ok(Self { pool })
    }
}

super::sql::sql_store!(
    PgStore,
    Postgres,
    // One lock for every first-start write (the seed, the signing keys).
    "SELECT pg_advisory_xact_lock(7243001)",
    Some("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
);
