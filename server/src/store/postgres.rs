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

/// The PostgreSQL store; cheap to clone.
#[derive(Clone, Debug)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects with `options` and applies migrations.
    pub async fn open(options: PgConnectOptions) -> Result<Self, StoreError> {
        let pool = infra::postgres::open(options, &sqlx::migrate!("./migrations/postgres"))
            .await
            .map_err(|error| StoreError::Open(Box::new(error)))?;
        Ok(Self { pool })
    }
}

super::sql::sql_store!(
    PgStore,
    Postgres,
    "FOR UPDATE SKIP LOCKED",
    APPEND_EVENT,
    Some(WAKE)
);

/// The channel on which every instance hears of committed events.
pub const CHANNEL: &str = "countersign_flow_events";

/// How an event is appended (inside the caller's transaction, or in one of its own): its id
/// comes from the one-row counter, whose row lock the append holds until commit, so ids become
/// visible in increasing order. The same statement queues a notification on [`CHANNEL`], which
/// PostgreSQL delivers when (and only if) the transaction commits: "look again" with the event
/// id, the flow and the agent, never the event's data.
const APPEND_EVENT: &str =
    "WITH next AS (UPDATE flow_event_ids SET last_id = last_id + 1 RETURNING last_id),
          added AS (
              INSERT INTO flow_events (id, flow_id, agent_sub, kind, data, at)
              SELECT last_id, $1, $2, $3, $4, $5 FROM next
              RETURNING id, flow_id, agent_sub
          )
     SELECT added.id FROM added
     CROSS JOIN LATERAL (
         SELECT pg_notify('countersign_flow_events', json_build_object(
             'id', added.id, 'flow', added.flow_id, 'agent', added.agent_sub)::text)
     ) AS sent";

/// How an instance asks the one polling a flow to poll now: `{"wake": flow id}` on
/// [`CHANNEL`], for a change that has no event of its own.
const WAKE: &str =
    "SELECT pg_notify('countersign_flow_events', json_build_object('wake', $1::text)::text)";

/// What an instance hears on [`CHANNEL`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    /// Event `id` of flow `flow_id` (agent `agent_sub`) was committed, here or elsewhere.
    Event {
        /// The event id.
        id: i64,
        /// Its flow.
        flow_id: String,
        /// The flow's agent.
        agent_sub: String,
    },
    /// The poller of `flow_id`, wherever it runs, should poll now ([`super::FlowStore::wake_pollers`]).
    Wake {
        /// The flow.
        flow_id: String,
    },
    /// Listening began, at start or again after a lost connection: notifications sent while
    /// nobody listened are gone, so whatever waits on them must read the store again.
    Reconnected,
}

/// A notification's payload.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Payload {
    Event {
        id: i64,
        flow: String,
        agent: String,
    },
    Wake {
        wake: String,
    },
}

impl PgStore {
    /// Listens on [`CHANNEL`] until `stop`, handing every notification to `heard`. The first
    /// LISTEN, and every one after a lost connection (retried, backing off up to 5 s), is
    /// followed by [`Heard::Reconnected`]: what was committed while nobody listened is read
    /// from the store.
    pub async fn listen(
        &self,
        mut heard: impl FnMut(Heard) + Send,
        stop: tokio_util::sync::CancellationToken,
    ) {
        const FIRST_WAIT: std::time::Duration = std::time::Duration::from_millis(100);
        let mut wait = FIRST_WAIT;
        while !stop.is_cancelled() {
            let listening = match sqlx::postgres::PgListener::connect_with(&self.pool).await {
                Ok(mut listener) => listener.listen(CHANNEL).await.map(|()| listener),
                Err(error) => Err(error),
            };
            let mut listener = match listening {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot listen for other instances' events; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.cancelled() => return,
                    }
                    wait = (wait * 2).min(std::time::Duration::from_secs(5));
                    continue;
                }
            };
            wait = FIRST_WAIT;
            // Until now nobody listened (at start, or since the connection was lost): events
            // committed meanwhile went unheard, so everyone reads the store again.
            heard(Heard::Reconnected);
            loop {
                let next = tokio::select! {
                    next = listener.try_recv() => next,
                    () = stop.cancelled() => return,
                };
                match next {
                    Ok(Some(notification)) => {
                        match serde_json::from_str::<Payload>(notification.payload()) {
                            Ok(Payload::Event { id, flow, agent }) => heard(Heard::Event {
                                id,
                                flow_id: flow,
                                agent_sub: agent,
                            }),
                            Ok(Payload::Wake { wake }) => heard(Heard::Wake { flow_id: wake }),
                            Err(_) => tracing::warn!("an event notification did not parse"),
                        }
                    }
                    // The connection dropped: listen afresh (then say so: whatever was sent
                    // meanwhile is lost).
                    Ok(None) => {
                        tracing::warn!("the event listener lost its connection; reconnecting");
                        break;
                    }
                    // An error of the connection itself (reset, refused): the same, after a pause.
                    Err(error) => {
                        tracing::warn!(%error, "the event listener lost its connection; reconnecting");
                        tokio::select! {
                            () = tokio::time::sleep(wait) => {}
                            () = stop.cancelled() => return,
                        }
                        break;
                    }
                }
            }
        }
    }
}
