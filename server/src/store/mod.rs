//! The BFF's store: four role traits ([`SessionStore`], [`FlowStore`], [`ApprovalStore`],
//! [`RateStore`]) that [`Store`] gathers for one database, and its SQLite implementation
//! ([`SqliteStore`]).
//!
//! What the BFF must not forget across a restart lives here: agent sessions, sign-ins in flight,
//! customer verifications ([`Flow`]) with their append-only event log ([`Event`], the source of
//! SSE replay), and rate-limit counters. The schema lives in `migrations/sqlite` and is applied
//! when the store opens.
//!
//! Conventions:
//! - Times are milliseconds since the Unix epoch, always passed in by the caller; the store never
//!   reads the clock.
//! - Browser-held handles never reach the store in the clear: sessions are keyed by a hash of the
//!   cookie value, sign-ins by a hash of `state`. Hashing is the caller's job.
//! - Flows and events are never deleted: they are the audit trail.
//! - Writes that must not race are compare-and-set on [`Flow::version`] or single statements;
//!   a flow change and its event are written in one transaction
//!   ([`FlowStore::update_flow_with_event`]).
//! - Records holding secrets (the provider's `auth_req_id`, links that carry it, tokens, the PKCE
//!   verifier) have a `Debug` that prints `[redacted]` in their place. The `auth_req_id`, the
//!   link and the tokens a flow keeps are sealed by the caller ([`crate::sealed`]); flows are
//!   found by a keyed hash of the `auth_req_id` ([`Flow::auth_req_id_hash`]).
//! - The approval page's [`CustomerSession`]s are keyed by a hash of their cookie too; they hold
//!   a customer's access token only between sign-in and decision.

mod postgres;
mod sql;
mod sqlite;

use std::{fmt, sync::Arc};

use app::{
    approve::{ApprovalNotice, ApprovalOutcome},
    flow::{Channel, EventKind, FlowStatus, HintType, TimelineEntry, VerifiedCustomer},
};
use async_trait::async_trait;
pub use sqlx::types::Json;

pub use postgres::{Heard, PgStore};
pub use sqlite::SqliteStore;

/// The contract suite every store runs, and the fake for paused-clock tests.
#[cfg(test)]
mod tests;
/// A `starting` flow for tests of other modules (the contract suite uses it too).
#[cfg(test)]
pub(crate) use tests::{fake, flow as test_flow};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error(transparent)]
    Open(Box<dyn std::error::Error + Send + Sync>),
    /// The database failed a query or could not be reached; the text says why, and never
    /// holds a bound value.
    #[error("store query failed: {0}")]
    Backend(Box<dyn std::error::Error + Send + Sync>),
    /// A write lost to concurrent writers every time it was tried.
    #[error("the store kept changing: {0}")]
    Conflict(&'static str),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        Self::Backend(Box::new(error))
    }
}

impl From<infra::sqlite::OpenError> for StoreError {
    fn from(error: infra::sqlite::OpenError) -> Self {
        Self::Open(Box::new(error))
    }
}

/// A store shared by the whole BFF.
pub type SharedStore = Arc<dyn Store>;

/// Everything the BFF reads and writes: the four role traits on one database.
#[async_trait]
pub trait Store: SessionStore + FlowStore + ApprovalStore + RateStore {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits for open connections to finish and closes them.
    async fn close(&self);
}

/// Agent sessions and their sign-ins in flight.
#[async_trait]
pub trait SessionStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new session (a new id at every sign-in).
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError>;

    /// A session by the hash of its id, live or not: check [`Session::is_live`].
    async fn session(&self, id_hash: &[u8]) -> Result<Option<Session>, StoreError>;

    /// Records activity on a session (`last_seen_at` never moves back); returns whether the
    /// session exists.
    async fn touch_session(&self, id_hash: &[u8], now: i64) -> Result<bool, StoreError>;

    /// Deletes a session (sign-out); returns whether it existed.
    async fn delete_session(&self, id_hash: &[u8]) -> Result<bool, StoreError>;

    /// Deletes the sessions that are past their absolute expiry or idle for `idle_ms` or more
    /// (the complement of [`Session::is_live`]); returns how many.
    async fn delete_expired_sessions(&self, idle_ms: i64, now: i64) -> Result<u64, StoreError>;

    /// Stores an authorization request on its way to the identity provider.
    async fn insert_login(&self, login: &PendingLogin) -> Result<(), StoreError>;

    /// Deletes and returns the sign-in with this `state` hash, atomically: of two callbacks with
    /// the same `state`, only one gets it. The caller checks its age.
    async fn take_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>, StoreError>;

    /// Deletes sign-ins created before `created_before` (abandoned); returns how many.
    async fn delete_logins_before(&self, created_before: i64) -> Result<u64, StoreError>;
}

/// Customer verifications and their append-only event log.
#[async_trait]
pub trait FlowStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new flow (its `version` as given, normally 0).
    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError>;

    /// Stores a new flow and appends its first event in one transaction; returns the event id.
    async fn insert_flow_with_event(
        &self,
        flow: &Flow,
        event: &NewEvent,
    ) -> Result<i64, StoreError>;

    /// A flow by id.
    async fn flow(&self, id: &str) -> Result<Option<Flow>, StoreError>;

    /// A flow by the keyed hash of the provider's `auth_req_id` ([`Flow::auth_req_id_hash`]).
    async fn flow_by_request_hash(&self, hash: &[u8]) -> Result<Option<Flow>, StoreError>;

    /// Flows with an `auth_req_id` but no hash: rows kept before handles were sealed, which
    /// start-up seals ([`crate::sealed::seal_kept_requests`]).
    async fn unsealed_flows(&self) -> Result<Vec<Flow>, StoreError>;

    /// Writes `next` over the flow if it is still at `expected_version`, and bumps the stored
    /// version to `expected_version + 1`; returns whether it did. `next.version` is ignored.
    ///
    /// Written: `auth_req_id`, `link`, `auth_req_id_hash`, `status`, `expires_at`,
    /// `interval_secs`, `next_poll_at`, `poll_failures`, `decided_at`, `ended_at`,
    /// `outcome_detail`, `customer`, `tokens`, `lease_until`. The rest (who, whom, how, when
    /// created, the lease's owner and epoch) changes only by a claim.
    async fn update_flow(&self, next: &Flow, expected_version: i64) -> Result<bool, StoreError>;

    /// [`FlowStore::update_flow`] and [`FlowStore::append_event`] in one transaction: returns
    /// the event id, or `None` (and nothing appended) if the compare-and-set lost.
    async fn update_flow_with_event(
        &self,
        next: &Flow,
        expected_version: i64,
        event: &NewEvent,
    ) -> Result<Option<i64>, StoreError>;

    /// Flows still `starting` or `pending`, oldest first.
    async fn pending_flows(&self) -> Result<Vec<Flow>, StoreError>;

    /// Claims for `owner` up to `limit` live flows, oldest first, whose lease ended at or
    /// before `now` (never claimed, or their owner stopped renewing): each gets `owner`, a
    /// lease until `grace` ms after the later of `now` and its next poll, its epoch and version
    /// bumped. Returns the claimed flows as written. Instances claiming at once never get the
    /// same flow (PostgreSQL: `FOR UPDATE SKIP LOCKED`).
    async fn claim_flows(
        &self,
        owner: &str,
        now: i64,
        grace: i64,
        limit: i64,
    ) -> Result<Vec<Flow>, StoreError>;

    /// Ends `owner`'s leases of live flows at once (a graceful stop), so that another instance
    /// claims them without waiting, and bumps their versions (a writer holding an older copy
    /// cannot put the lease back); `None` ends everyone's (a sole instance starting after a
    /// crash: the leases left are its own). Returns how many.
    async fn release_leases(&self, owner: Option<&str>) -> Result<u64, StoreError>;

    /// Asks whichever instance polls `flow_id` to poll now, for a change written without an
    /// event (a provider's ping reaching another instance). PostgreSQL sends a notification
    /// on the events channel; a sole instance (SQLite) has its own pollers woken directly.
    async fn wake_pollers(&self, _flow_id: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// One page of history, newest first (by `created_at`, then `id`): flows of `agent_sub`, or
    /// of everyone with `None` (supervisors). `before` is the last flow of the previous page
    /// ([`Flow::cursor`]), `None` for the first page.
    async fn flows_for(
        &self,
        agent_sub: Option<&str>,
        before: Option<&FlowCursor>,
        limit: i64,
    ) -> Result<Vec<Flow>, StoreError>;

    /// How many flows `agent_sub` started at or after `since`.
    async fn count_flows_since(&self, agent_sub: &str, since: i64) -> Result<i64, StoreError>;

    /// Appends an event; returns its id (increasing, never reused: the SSE event id). The flow
    /// must exist.
    async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError>;

    /// Events with an id above `after_id`, oldest first, at most `limit`: of `agent_sub`'s flows,
    /// or of everyone's with `None`. Replay for `Last-Event-ID`.
    async fn events_after(
        &self,
        after_id: i64,
        agent_sub: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError>;

    /// Events of one flow with an id above `after_id`, oldest first, at most `limit`.
    async fn events_for_flow(
        &self,
        flow_id: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError>;

    /// The newest event id, 0 when there is none.
    async fn last_event_id(&self) -> Result<i64, StoreError>;
}

/// The approval page's customer sessions.
#[async_trait]
pub trait ApprovalStore: Send + Sync + fmt::Debug + 'static {
    /// Stores a new customer session. Its `flow_id`, when set, must name a stored flow.
    async fn insert_customer_session(&self, session: &CustomerSession) -> Result<(), StoreError>;

    /// A customer session by the hash of its cookie, live or not: check
    /// [`CustomerSession::is_live`].
    async fn customer_session(&self, id_hash: &[u8])
    -> Result<Option<CustomerSession>, StoreError>;

    /// Writes `next` over the session with its `id_hash` if that is still at `expected_stage`;
    /// returns whether it did. Written: `flow_id`, `identifier`, `hint_type`, `access_token`,
    /// `stage`, `outcome`, `notice`, `expires_at` and the code counts; `auth_req_id` and
    /// `created_at` never change.
    async fn update_customer_session(
        &self,
        next: &CustomerSession,
        expected_stage: Stage,
    ) -> Result<bool, StoreError>;

    /// Replaces the session `old_hash`, if it is still at `expected_stage`, with `next` (a new
    /// id) in one transaction: a new cookie value at sign-in. Returns whether it did; when not,
    /// nothing changed.
    async fn rotate_customer_session(
        &self,
        old_hash: &[u8],
        expected_stage: Stage,
        next: &CustomerSession,
    ) -> Result<bool, StoreError>;

    /// Deletes the customer sessions whose `expires_at` is at or before `now`; returns how many.
    async fn delete_expired_customer_sessions(&self, now: i64) -> Result<u64, StoreError>;

    /// Spends the session's open passkey ceremony: clears it if it is still `sealed`; whether
    /// this call did (of two posts of one ceremony, one spends it).
    async fn take_passkey_ceremony(&self, id_hash: &[u8], sealed: &str)
    -> Result<bool, StoreError>;

    /// The id hash of the live session (at `now`) that sent the newest code to `identifier`,
    /// if any: a provider without code bindings keeps only that code. Only sessions that
    /// really sent one count (their `code_binding` is set), never one whose page only said so.
    async fn newest_code_session(
        &self,
        identifier: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError>;
}

/// Fixed-window rate counters, keyed by opaque bytes (a hash of the rule and its subject).
#[async_trait]
pub trait RateStore: Send + Sync + fmt::Debug + 'static {
    /// Counts one event for `key` in the window starting at `window_start` (a new window
    /// restarts the count) and returns the window's count. Windows that ended are swept out
    /// when a new one opens.
    async fn count_event(
        &self,
        key: &[u8],
        window_start: i64,
        window_end: i64,
    ) -> Result<i64, StoreError>;

    /// The count of `key` in the window starting at `window_start` (0 for an older window).
    async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError>;
}

/// What a signed-in agent may see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Role {
    /// Their own flows.
    Agent,
    /// Every agent's flows.
    Supervisor,
}

impl Role {
    /// The role named by the identity provider's `role` claim, if it is a console role.
    pub fn parse(claim: &str) -> Option<Self> {
        match claim {
            "agent" => Some(Self::Agent),
            "supervisor" => Some(Self::Supervisor),
            _ => None,
        }
    }

    /// The claim's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Supervisor => "supervisor",
        }
    }
}

/// How far a customer got on the approval page ([`CustomerSession::stage`]); it only moves
/// forward, except that a decision the provider did not take goes back to [`Stage::SignedIn`]
/// (or to [`Stage::Started`] when the customer must sign in again).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Stage {
    /// A step was taken, no code went out yet.
    Started,
    /// A code went out; waiting for it.
    CodeSent,
    /// Signed in; waiting for the decision.
    SignedIn,
    /// The decision is being sent, or the page has a final answer.
    Decided,
}

/// Where an approval session stands with passkeys ([`CustomerSession::passkey_step`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum PasskeyStep {
    /// A passkey sign-in was begun (before any sign-in).
    Authenticating,
    /// The customer signed in with a passkey.
    SignedIn,
    /// After a code sign-in, adding a passkey was begun.
    Registering,
    /// A passkey was added in this session.
    Added,
}

/// An agent's browser session.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Session {
    /// Hash of the session cookie's value.
    pub id_hash: Vec<u8>,
    /// The agent's `sub` at the identity provider.
    pub agent_sub: String,
    /// The agent's display name.
    pub agent_name: String,
    pub agent_email: String,
    /// What the agent may see.
    pub role: Role,
    /// Signed in, ms.
    pub created_at: i64,
    /// Last request, ms.
    pub last_seen_at: i64,
    /// Absolute expiry, ms.
    pub expires_at: i64,
}

impl Session {
    /// Whether the session may still be used at `now`: before its absolute expiry and seen less
    /// than `idle_ms` ago.
    pub fn is_live(&self, idle_ms: i64, now: i64) -> bool {
        now < self.expires_at && now.saturating_sub(self.last_seen_at) < idle_ms
    }

    /// Whether the agent may see every agent's flows.
    pub fn is_supervisor(&self) -> bool {
        self.role == Role::Supervisor
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id_hash", &Redacted)
            .field("agent_sub", &self.agent_sub)
            .field("role", &self.role)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// An OIDC authorization request (code + PKCE) between the redirect and the callback.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingLogin {
    pub state_hash: Vec<u8>,
    /// The `nonce` the ID token must carry.
    pub nonce: String,
    /// The PKCE verifier (secret).
    pub code_verifier: String,
    /// Local path to return to after sign-in.
    pub return_to: String,
    /// Created, ms.
    pub created_at: i64,
}

impl fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingLogin")
            .field("state_hash", &Redacted)
            .field("nonce", &Redacted)
            .field("code_verifier", &Redacted)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// One customer verification.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Flow {
    /// Random id chosen by the BFF; the browser knows it.
    pub id: String,
    /// The agent who started it.
    pub agent_sub: String,
    /// The agent's display name, as shown to the customer.
    pub agent_name: String,
    /// The customer's email, phone number or user id.
    pub hint: String,
    /// How the customer is named.
    pub hint_type: HintType,
    /// How the link reaches them.
    pub channel: Channel,
    /// The code the agent reads out.
    pub binding_message: String,
    /// The agent's note to the customer.
    pub custom_message: Option<String>,
    /// The help desk's ticket or call id the agent gave, if any; set at the start, never changed.
    pub ticket: Option<String>,
    /// The provider's handle, once it answered, sealed ([`crate::sealed::Purpose::AuthReqId`],
    /// row: the flow id); only the BFF may use it.
    pub auth_req_id: Option<String>,
    /// For channel `link`: the URL to show the customer (it carries `auth_req_id`), sealed
    /// ([`crate::sealed::Purpose::Link`], row: the flow id).
    pub link: Option<String>,
    /// The keyed hash of the `auth_req_id` ([`crate::sealed::Sealer::lookup`]): how the
    /// approval page finds the flow. `None` before the provider answered.
    pub auth_req_id_hash: Option<Vec<u8>>,
    /// Where it stands.
    pub status: FlowStatus,
    /// Created, ms.
    pub created_at: i64,
    /// Expires, ms.
    pub expires_at: i64,
    /// Poll interval, seconds.
    pub interval_secs: i64,
    /// Next poll due, ms.
    pub next_poll_at: i64,
    /// Polls in a row that failed (provider down, timeouts).
    pub poll_failures: i64,
    /// The customer's decision, ms.
    pub decided_at: Option<i64>,
    /// Reached a final status, ms.
    pub ended_at: Option<i64>,
    /// A plain sentence about the outcome, for the agent.
    pub outcome_detail: Option<String>,
    /// The verified customer's profile (masked contact details), stored as JSON.
    pub customer: Option<Json<VerifiedCustomer>>,
    /// The customer's tokens: a JSON envelope of the sealed token set
    /// ([`crate::sealed::Purpose::FlowTokens`]); never leaves the server.
    pub tokens: Option<String>,
    /// Bumped by every update (compare-and-set).
    pub version: i64,
    /// The instance whose poller polls this flow ([`FlowStore::claim_flows`]), if any.
    pub lease_owner: Option<String>,
    /// Until when, ms; another instance may claim the flow from then on (0: now).
    pub lease_until: i64,
    /// Grows with every claim.
    pub lease_epoch: i64,
    /// In ping mode: the keyed hash of the `client_notification_token` sent with the request
    /// ([`crate::sealed::Sealer::notification_hash`]), until a ping spends it. `None` in poll
    /// mode.
    pub notification_token_hash: Option<Vec<u8>>,
}

impl Flow {
    /// Whether the flow still waits for the customer (a poller should run).
    pub fn is_live(&self) -> bool {
        !self.status.is_terminal()
    }

    /// Where the next page of [`FlowStore::flows_for`] starts if this is the last flow shown.
    pub fn cursor(&self) -> FlowCursor {
        FlowCursor {
            created_at: self.created_at,
            id: self.id.clone(),
        }
    }
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("id", &self.id)
            .field("agent_sub", &self.agent_sub)
            .field("hint_type", &self.hint_type)
            .field("channel", &self.channel)
            .field("auth_req_id", &self.auth_req_id.as_ref().map(|_| Redacted))
            .field("link", &self.link.as_ref().map(|_| Redacted))
            .field(
                "auth_req_id_hash",
                &self.auth_req_id_hash.as_ref().map(|_| Redacted),
            )
            .field("status", &self.status)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("interval_secs", &self.interval_secs)
            .field("next_poll_at", &self.next_poll_at)
            .field("poll_failures", &self.poll_failures)
            .field("decided_at", &self.decided_at)
            .field("ended_at", &self.ended_at)
            .field("outcome_detail", &self.outcome_detail)
            .field("customer", &self.customer.as_ref().map(|_| Redacted))
            .field("tokens", &self.tokens.as_ref().map(|_| Redacted))
            .field("version", &self.version)
            .field("lease_owner", &self.lease_owner)
            .field("lease_until", &self.lease_until)
            .field("lease_epoch", &self.lease_epoch)
            .field(
                "notification_token_hash",
                &self.notification_token_hash.as_ref().map(|_| Redacted),
            )
            .finish_non_exhaustive()
    }
}

/// A position in the history, newest first: the `created_at` and `id` of the last flow shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowCursor {
    /// The flow's `created_at`, ms.
    pub created_at: i64,
    /// The flow's id (breaks ties between flows created in the same millisecond).
    pub id: String,
}

/// An event to append to the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// The flow it is about.
    pub flow_id: String,
    /// The flow's agent.
    pub agent_sub: String,
    /// What happened (the SSE `event:` name).
    pub kind: EventKind,
    /// The timeline entry, stored as JSON: never a token or `auth_req_id`.
    pub data: Json<TimelineEntry>,
    /// When, ms.
    pub at: i64,
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Event {
    /// Increasing, never reused: the SSE event id.
    pub id: i64,
    /// The flow it is about.
    pub flow_id: String,
    /// The flow's agent.
    pub agent_sub: String,
    /// What happened.
    pub kind: EventKind,
    /// The timeline entry.
    pub data: Json<TimelineEntry>,
    /// When, ms.
    pub at: i64,
}

/// A customer's progress on the approval page, for one request (`customer_sessions`).
///
/// `stage` moves `started` → `code_sent` → `signed_in` → `decided`; `outcome` is set once the
/// page has a final answer for the customer, and the access token is dropped then.
#[derive(Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CustomerSession {
    /// Hash of the approval cookie's value.
    pub id_hash: Vec<u8>,
    /// The provider's request this session was made for, as the hex of its keyed hash
    /// ([`crate::sealed::Sealer::lookup`]); it may act on no other.
    pub auth_req_id: String,
    /// The flow of that request, when this BFF started it.
    pub flow_id: Option<String>,
    /// The email address or phone number the code went to.
    pub identifier: Option<String>,
    /// [`HintType::Email`] or [`HintType::Phone`].
    pub hint_type: Option<HintType>,
    /// The customer's access token, between their sign-in and their decision.
    pub access_token: Option<String>,
    /// How far the customer got.
    pub stage: Stage,
    /// The final answer shown, once there is one.
    pub outcome: Option<ApprovalOutcome>,
    /// The last message for the customer, if any (stored as JSON).
    pub notice: Option<Json<ApprovalNotice>>,
    /// Created, ms.
    pub created_at: i64,
    /// Ends, ms.
    pub expires_at: i64,
    /// The random value sent with the newest code (what it was sent for); `None` while no
    /// code went anywhere.
    pub code_binding: Option<String>,
    /// When the newest code was sent, ms.
    pub code_sent_at: Option<i64>,
    /// Codes sent for this session.
    pub codes_sent: i64,
    /// Wrong codes typed in this session, across its codes.
    pub wrong_codes: i64,
    /// Where the session stands with passkeys; `None`: no passkey step yet.
    pub passkey_step: Option<PasskeyStep>,
    /// The provider's id of the open passkey ceremony, sealed
    /// ([`crate::sealed::Purpose::PasskeyCeremony`]); `None` when none is open, or when the
    /// sign-in begun could not be for any passkey (the customer has none).
    pub passkey_ceremony: Option<String>,
    /// Passkey ceremonies this session began.
    pub passkey_starts: i64,
}

impl CustomerSession {
    /// Whether the session may still be used at `now`.
    pub fn is_live(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

impl fmt::Debug for CustomerSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerSession")
            .field("id_hash", &Redacted)
            .field("auth_req_id", &Redacted)
            .field("flow_id", &self.flow_id)
            .field("identifier", &self.identifier.as_ref().map(|_| Redacted))
            .field("hint_type", &self.hint_type)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| Redacted),
            )
            .field("stage", &self.stage)
            .field("outcome", &self.outcome)
            .field("notice", &self.notice)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field(
                "code_binding",
                &self.code_binding.as_ref().map(|_| Redacted),
            )
            .field("code_sent_at", &self.code_sent_at)
            .field("codes_sent", &self.codes_sent)
            .field("wrong_codes", &self.wrong_codes)
            .field("passkey_step", &self.passkey_step)
            .field(
                "passkey_ceremony",
                &self.passkey_ceremony.as_ref().map(|_| Redacted),
            )
            .field("passkey_starts", &self.passkey_starts)
            .finish()
    }
}

/// Prints `[redacted]` in place of a secret.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
