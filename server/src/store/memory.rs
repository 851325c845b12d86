//! An in-memory [`Store`] with the semantics of the SQLite one.
//!
//! It exists for tests that run on tokio's paused clock: SQLite answers from a worker thread,
//! and while a task waits for it the runtime looks idle, so tokio auto-advances the paused clock
//! in the middle of a query. This store answers without I/O, without timers and without ever
//! yielding, so time only moves when the test moves it.
//!
//! Everything the SQLite schema enforces is enforced here too, with the same outcome: unique
//! keys (session id, sign-in `state`, flow id, `auth_req_id`, customer session id), the `CHECK`
//! constraints (role, hint type, channel, status, a customer session's stage and outcome, JSON
//! columns judged like SQLite's `json_valid`), events and customer sessions needing their flow,
//! compare-and-set on [`Flow::version`], and all-or-nothing for the two-step writes.
//! Refusals are [`StoreError::Query`] with [`sqlx::Error::Protocol`]; after [`Store::close`]
//! every call fails with [`sqlx::Error::PoolClosed`], as a closed pool does. Event ids start at 1,
//! increase and are never reused (a refused write spends none, like a rolled-back
//! `AUTOINCREMENT`).
//!
//! One mutex guards the whole state and is never held across an `.await`; every method does its
//! work in one critical section, so each is atomic and event ids become visible in order.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use async_trait::async_trait;

use super::{
    CustomerSession, Event, Flow, FlowCursor, NewEvent, PendingLogin, Session, Store, StoreError,
};

/// The in-memory store; clones share the same data.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

/// The tables.
#[derive(Default)]
struct State {
    /// Set by [`Store::close`]: every later call fails.
    closed: bool,
    sessions: HashMap<Vec<u8>, Session>,
    logins: HashMap<Vec<u8>, PendingLogin>,
    flows: HashMap<String, Flow>,
    /// `(created_at, id)` of every flow (both immutable): the history's order.
    flow_order: BTreeSet<(i64, String)>,
    /// `auth_req_id` → flow id (the `UNIQUE` index).
    auth_req_ids: HashMap<String, String>,
    /// By increasing id.
    events: Vec<Event>,
    rate_counters: HashMap<Vec<u8>, RateCounter>,
    customer_sessions: HashMap<Vec<u8>, CustomerSession>,
}

/// A row of `rate_counters`.
struct RateCounter {
    window_start: i64,
    expires_at: i64,
    count: i64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `f` on the state in one critical section, unless the store was closed.
    fn with<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut state = self.lock();
        if state.closed {
            return Err(StoreError::Query(sqlx::Error::PoolClosed));
        }
        f(&mut state)
    }

    /// The state. Every write validates before it changes anything, so a panic elsewhere
    /// cannot leave it half-written and poisoning can be ignored.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: keys are session and `state` hashes, rows hold secrets.
        let mut out = f.debug_struct("MemoryStore");
        match self.state.try_lock() {
            Ok(state) => out
                .field("closed", &state.closed)
                .field("sessions", &state.sessions.len())
                .field("logins", &state.logins.len())
                .field("flows", &state.flows.len())
                .field("events", &state.events.len())
                .field("rate_counters", &state.rate_counters.len())
                .field("customer_sessions", &state.customer_sessions.len()),
            Err(_) => out.field("state", &"<locked>"),
        };
        out.finish()
    }
}

/// What SQLite would have refused (a constraint, an overflow).
fn refused(message: impl Into<String>) -> StoreError {
    StoreError::Query(sqlx::Error::Protocol(message.into()))
}

/// `LIMIT max(limit, 0)`.
fn limit(limit: i64) -> usize {
    usize::try_from(limit.max(0)).unwrap_or(usize::MAX)
}

/// The `CHECK` constraints of `flows`.
fn check_flow_values(flow: &Flow) -> Result<(), StoreError> {
    if !matches!(flow.hint_type.as_str(), "email" | "phone" | "user_id") {
        return Err(refused(
            "CHECK constraint failed: hint_type IN ('email', 'phone', 'user_id')",
        ));
    }
    if !matches!(flow.channel.as_str(), "sms" | "email" | "link") {
        return Err(refused(
            "CHECK constraint failed: channel IN ('sms', 'email', 'link')",
        ));
    }
    if !matches!(
        flow.status.as_str(),
        "starting" | "pending" | "approved" | "denied" | "expired" | "cancelled" | "failed"
    ) {
        return Err(refused("CHECK constraint failed: status IN (...)"));
    }
    if flow.customer.as_deref().is_some_and(|c| !json_valid(c)) {
        return Err(refused(
            "CHECK constraint failed: customer IS NULL OR json_valid(customer)",
        ));
    }
    if flow.tokens.as_deref().is_some_and(|t| !json_valid(t)) {
        return Err(refused(
            "CHECK constraint failed: tokens IS NULL OR json_valid(tokens)",
        ));
    }
    Ok(())
}

/// The `CHECK` constraints of `customer_sessions`.
fn check_customer_session_values(session: &CustomerSession) -> Result<(), StoreError> {
    if session
        .hint_type
        .as_deref()
        .is_some_and(|t| !matches!(t, "email" | "phone"))
    {
        return Err(refused(
            "CHECK constraint failed: hint_type IS NULL OR hint_type IN ('email', 'phone')",
        ));
    }
    if !matches!(
        session.stage.as_str(),
        "started" | "code_sent" | "signed_in" | "decided"
    ) {
        return Err(refused("CHECK constraint failed: stage IN (...)"));
    }
    if session.outcome.as_deref().is_some_and(|o| {
        !matches!(
            o,
            "approved"
                | "denied"
                | "reported"
                | "expired"
                | "already_decided"
                | "wrong_person"
                | "ended"
                | "invalid_link"
        )
    }) {
        return Err(refused(
            "CHECK constraint failed: outcome IS NULL OR outcome IN (...)",
        ));
    }
    if session.notice.as_deref().is_some_and(|n| !json_valid(n)) {
        return Err(refused(
            "CHECK constraint failed: notice IS NULL OR json_valid(notice)",
        ));
    }
    Ok(())
}

impl State {
    /// Refuses what `INSERT INTO customer_sessions` would refuse (`ignoring` a row deleted in
    /// the same transaction).
    fn check_new_customer_session(
        &self,
        session: &CustomerSession,
        ignoring: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        check_customer_session_values(session)?;
        self.check_customer_session_flow(session)?;
        if ignoring != Some(session.id_hash.as_slice())
            && self.customer_sessions.contains_key(&session.id_hash)
        {
            return Err(refused(
                "UNIQUE constraint failed: customer_sessions.id_hash",
            ));
        }
        Ok(())
    }

    /// The foreign key of `customer_sessions.flow_id`.
    fn check_customer_session_flow(&self, session: &CustomerSession) -> Result<(), StoreError> {
        if session
            .flow_id
            .as_ref()
            .is_some_and(|id| !self.flows.contains_key(id))
        {
            return Err(refused("FOREIGN KEY constraint failed"));
        }
        Ok(())
    }

    /// Refuses what `INSERT INTO flows` would refuse.
    fn check_new_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        check_flow_values(flow)?;
        if self.flows.contains_key(&flow.id) {
            return Err(refused("UNIQUE constraint failed: flows.id"));
        }
        if let Some(auth_req_id) = &flow.auth_req_id
            && self.auth_req_ids.contains_key(auth_req_id)
        {
            return Err(refused("UNIQUE constraint failed: flows.auth_req_id"));
        }
        Ok(())
    }

    /// Stores a flow that passed [`State::check_new_flow`].
    fn put_new_flow(&mut self, flow: &Flow) {
        if let Some(auth_req_id) = &flow.auth_req_id {
            self.auth_req_ids
                .insert(auth_req_id.clone(), flow.id.clone());
        }
        self.flow_order.insert((flow.created_at, flow.id.clone()));
        self.flows.insert(flow.id.clone(), flow.clone());
    }

    /// The flow as the compare-and-set would leave it, `None` if it loses (no such flow, or
    /// another version), or what SQLite would refuse. Changes nothing.
    fn updated_flow(&self, next: &Flow, expected_version: i64) -> Result<Option<Flow>, StoreError> {
        let Some(current) = self
            .flows
            .get(&next.id)
            .filter(|f| f.version == expected_version)
        else {
            return Ok(None);
        };
        let version = expected_version
            .checked_add(1)
            .ok_or_else(|| refused("cannot store REAL value in INTEGER column flows.version"))?;
        // The columns `write_flow` sets; the rest stay as stored.
        let updated = Flow {
            auth_req_id: next.auth_req_id.clone(),
            link: next.link.clone(),
            status: next.status.clone(),
            expires_at: next.expires_at,
            interval_secs: next.interval_secs,
            next_poll_at: next.next_poll_at,
            poll_failures: next.poll_failures,
            decided_at: next.decided_at,
            ended_at: next.ended_at,
            outcome_detail: next.outcome_detail.clone(),
            customer: next.customer.clone(),
            tokens: next.tokens.clone(),
            version,
            ..current.clone()
        };
        check_flow_values(&updated)?;
        if let Some(auth_req_id) = &updated.auth_req_id
            && self
                .auth_req_ids
                .get(auth_req_id)
                .is_some_and(|owner| *owner != updated.id)
        {
            return Err(refused("UNIQUE constraint failed: flows.auth_req_id"));
        }
        Ok(Some(updated))
    }

    /// Stores a flow from [`State::updated_flow`].
    fn put_updated_flow(&mut self, updated: Flow) {
        let old = self
            .flows
            .get(&updated.id)
            .and_then(|f| f.auth_req_id.clone());
        if old != updated.auth_req_id {
            if let Some(old) = old {
                self.auth_req_ids.remove(&old);
            }
            if let Some(new) = &updated.auth_req_id {
                self.auth_req_ids.insert(new.clone(), updated.id.clone());
            }
        }
        self.flows.insert(updated.id.clone(), updated);
    }

    /// The event as `INSERT INTO flow_events` would store it, or what SQLite would refuse.
    /// `new_flow` is a flow written in the same transaction. Changes nothing.
    fn new_event(&self, event: &NewEvent, new_flow: Option<&Flow>) -> Result<Event, StoreError> {
        if !json_valid(&event.data) {
            return Err(refused("CHECK constraint failed: json_valid(data)"));
        }
        if !self.flows.contains_key(&event.flow_id)
            && new_flow.is_none_or(|f| f.id != event.flow_id)
        {
            return Err(refused("FOREIGN KEY constraint failed"));
        }
        // AUTOINCREMENT: one above the largest id ever used; events are never deleted, so that
        // is the last one.
        let id = self
            .events
            .last()
            .map_or(Some(1), |e| e.id.checked_add(1))
            .ok_or_else(|| refused("database or disk is full"))?;
        Ok(Event {
            id,
            flow_id: event.flow_id.clone(),
            agent_sub: event.agent_sub.clone(),
            kind: event.kind.clone(),
            data: event.data.clone(),
            at: event.at,
        })
    }

    /// Appends an event from [`State::new_event`]; returns its id.
    fn put_event(&mut self, event: Event) -> i64 {
        let id = event.id;
        self.events.push(event);
        id
    }

    /// Events with an id above `after_id`, oldest first.
    fn events_from(&self, after_id: i64) -> impl Iterator<Item = &Event> {
        let start = self.events.partition_point(|e| e.id <= after_id);
        self.events.iter().skip(start)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|_| Ok(()))
    }

    async fn close(&self) {
        self.lock().closed = true;
    }

    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.with(|state| {
            if !matches!(session.role.as_str(), "agent" | "supervisor") {
                return Err(refused(
                    "CHECK constraint failed: role IN ('agent', 'supervisor')",
                ));
            }
            if state.sessions.contains_key(&session.id_hash) {
                return Err(refused("UNIQUE constraint failed: sessions.id_hash"));
            }
            state
                .sessions
                .insert(session.id_hash.clone(), session.clone());
            Ok(())
        })
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<Session>, StoreError> {
        self.with(|state| Ok(state.sessions.get(id_hash).cloned()))
    }

    async fn touch_session(&self, id_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        self.with(|state| {
            let Some(session) = state.sessions.get_mut(id_hash) else {
                return Ok(false);
            };
            session.last_seen_at = session.last_seen_at.max(now);
            Ok(true)
        })
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
        self.with(|state| Ok(state.sessions.remove(id_hash).is_some()))
    }

    async fn delete_expired_sessions(&self, idle_ms: i64, now: i64) -> Result<u64, StoreError> {
        self.with(|state| {
            let idle_since = now.saturating_sub(idle_ms);
            let before = state.sessions.len();
            state
                .sessions
                .retain(|_, s| !(s.expires_at <= now || s.last_seen_at <= idle_since));
            Ok(u64::try_from(before - state.sessions.len()).unwrap_or(u64::MAX))
        })
    }

    async fn insert_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.with(|state| {
            if state.logins.contains_key(&login.state_hash) {
                return Err(refused(
                    "UNIQUE constraint failed: pending_logins.state_hash",
                ));
            }
            state.logins.insert(login.state_hash.clone(), login.clone());
            Ok(())
        })
    }

    async fn take_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>, StoreError> {
        self.with(|state| Ok(state.logins.remove(state_hash)))
    }

    async fn delete_logins_before(&self, created_before: i64) -> Result<u64, StoreError> {
        self.with(|state| {
            let before = state.logins.len();
            state.logins.retain(|_, l| l.created_at >= created_before);
            Ok(u64::try_from(before - state.logins.len()).unwrap_or(u64::MAX))
        })
    }

    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        self.with(|state| {
            state.check_new_flow(flow)?;
            state.put_new_flow(flow);
            Ok(())
        })
    }

    async fn insert_flow_with_event(
        &self,
        flow: &Flow,
        event: &NewEvent,
    ) -> Result<i64, StoreError> {
        self.with(|state| {
            state.check_new_flow(flow)?;
            let event = state.new_event(event, Some(flow))?;
            state.put_new_flow(flow);
            Ok(state.put_event(event))
        })
    }

    async fn flow(&self, id: &str) -> Result<Option<Flow>, StoreError> {
        self.with(|state| Ok(state.flows.get(id).cloned()))
    }

    async fn flow_by_auth_req_id(&self, auth_req_id: &str) -> Result<Option<Flow>, StoreError> {
        self.with(|state| {
            Ok(state
                .auth_req_ids
                .get(auth_req_id)
                .and_then(|id| state.flows.get(id))
                .cloned())
        })
    }

    async fn update_flow(&self, next: &Flow, expected_version: i64) -> Result<bool, StoreError> {
        self.with(|state| {
            let Some(updated) = state.updated_flow(next, expected_version)? else {
                return Ok(false);
            };
            state.put_updated_flow(updated);
            Ok(true)
        })
    }

    async fn update_flow_with_event(
        &self,
        next: &Flow,
        expected_version: i64,
        event: &NewEvent,
    ) -> Result<Option<i64>, StoreError> {
        self.with(|state| {
            let Some(updated) = state.updated_flow(next, expected_version)? else {
                return Ok(None);
            };
            let event = state.new_event(event, None)?;
            state.put_updated_flow(updated);
            Ok(Some(state.put_event(event)))
        })
    }

    async fn pending_flows(&self) -> Result<Vec<Flow>, StoreError> {
        self.with(|state| {
            Ok(state
                .flow_order
                .iter()
                .filter_map(|(_, id)| state.flows.get(id))
                .filter(|f| f.is_live())
                .cloned()
                .collect())
        })
    }

    async fn flows_for(
        &self,
        agent_sub: Option<&str>,
        before: Option<&FlowCursor>,
        limit: i64,
    ) -> Result<Vec<Flow>, StoreError> {
        self.with(|state| {
            // As in SQL: no cursor starts at (i64::MAX, ""), and tuples compare column by column
            // (ids bytewise, like SQLite's BINARY collation).
            let below = before.map_or((i64::MAX, String::new()), |c| (c.created_at, c.id.clone()));
            Ok(state
                .flow_order
                .range(..below)
                .rev()
                .filter_map(|(_, id)| state.flows.get(id))
                .filter(|f| agent_sub.is_none_or(|a| f.agent_sub == a))
                .take(self::limit(limit))
                .cloned()
                .collect())
        })
    }

    async fn count_flows_since(&self, agent_sub: &str, since: i64) -> Result<i64, StoreError> {
        self.with(|state| {
            let count = state
                .flows
                .values()
                .filter(|f| f.agent_sub == agent_sub && f.created_at >= since)
                .count();
            Ok(i64::try_from(count).unwrap_or(i64::MAX))
        })
    }

    async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        self.with(|state| {
            let event = state.new_event(event, None)?;
            Ok(state.put_event(event))
        })
    }

    async fn events_after(
        &self,
        after_id: i64,
        agent_sub: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.with(|state| {
            Ok(state
                .events_from(after_id)
                .filter(|e| agent_sub.is_none_or(|a| e.agent_sub == a))
                .take(self::limit(limit))
                .cloned()
                .collect())
        })
    }

    async fn events_for_flow(
        &self,
        flow_id: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        self.with(|state| {
            Ok(state
                .events_from(after_id)
                .filter(|e| e.flow_id == flow_id)
                .take(self::limit(limit))
                .cloned()
                .collect())
        })
    }

    async fn last_event_id(&self) -> Result<i64, StoreError> {
        self.with(|state| Ok(state.events.last().map_or(0, |e| e.id)))
    }

    async fn count_event(
        &self,
        key: &[u8],
        window_start: i64,
        window_end: i64,
    ) -> Result<i64, StoreError> {
        self.with(|state| {
            // The upsert: the same window counts on, another one restarts at 1.
            let count = match state.rate_counters.get(key) {
                Some(c) if c.window_start == window_start => c
                    .count
                    .checked_add(1)
                    .ok_or_else(|| refused("integer overflow in rate_counters.count"))?,
                _ => 1,
            };
            state.rate_counters.insert(
                key.to_vec(),
                RateCounter {
                    window_start,
                    expires_at: window_end,
                    count,
                },
            );
            // A first count sweeps the windows that ended (possibly this very one).
            if count == 1 {
                state
                    .rate_counters
                    .retain(|_, c| c.expires_at > window_start);
            }
            Ok(count)
        })
    }

    async fn event_count(&self, key: &[u8], window_start: i64) -> Result<i64, StoreError> {
        self.with(|state| {
            Ok(state
                .rate_counters
                .get(key)
                .filter(|c| c.window_start == window_start)
                .map_or(0, |c| c.count))
        })
    }

    async fn insert_customer_session(&self, session: &CustomerSession) -> Result<(), StoreError> {
        self.with(|state| {
            state.check_new_customer_session(session, None)?;
            state
                .customer_sessions
                .insert(session.id_hash.clone(), session.clone());
            Ok(())
        })
    }

    async fn customer_session(
        &self,
        id_hash: &[u8],
    ) -> Result<Option<CustomerSession>, StoreError> {
        self.with(|state| Ok(state.customer_sessions.get(id_hash).cloned()))
    }

    async fn update_customer_session(
        &self,
        next: &CustomerSession,
        expected_stage: &str,
    ) -> Result<bool, StoreError> {
        self.with(|state| {
            let Some(current) = state
                .customer_sessions
                .get(&next.id_hash)
                .filter(|s| s.stage == expected_stage)
            else {
                return Ok(false);
            };
            // The columns the UPDATE sets; the rest stay as stored.
            let updated = CustomerSession {
                flow_id: next.flow_id.clone(),
                identifier: next.identifier.clone(),
                hint_type: next.hint_type.clone(),
                access_token: next.access_token.clone(),
                stage: next.stage.clone(),
                outcome: next.outcome.clone(),
                notice: next.notice.clone(),
                expires_at: next.expires_at,
                code_binding: next.code_binding.clone(),
                code_sent_at: next.code_sent_at,
                codes_sent: next.codes_sent,
                wrong_codes: next.wrong_codes,
                ..current.clone()
            };
            check_customer_session_values(&updated)?;
            state.check_customer_session_flow(&updated)?;
            state
                .customer_sessions
                .insert(updated.id_hash.clone(), updated);
            Ok(true)
        })
    }

    async fn rotate_customer_session(
        &self,
        old_hash: &[u8],
        expected_stage: &str,
        next: &CustomerSession,
    ) -> Result<bool, StoreError> {
        self.with(|state| {
            if state
                .customer_sessions
                .get(old_hash)
                .is_none_or(|s| s.stage != expected_stage)
            {
                return Ok(false);
            }
            state.check_new_customer_session(next, Some(old_hash))?;
            state.customer_sessions.remove(old_hash);
            state
                .customer_sessions
                .insert(next.id_hash.clone(), next.clone());
            Ok(true)
        })
    }

    async fn delete_expired_customer_sessions(&self, now: i64) -> Result<u64, StoreError> {
        self.with(|state| {
            let before = state.customer_sessions.len();
            state.customer_sessions.retain(|_, s| s.expires_at > now);
            Ok(u64::try_from(before - state.customer_sessions.len()).unwrap_or(u64::MAX))
        })
    }

    async fn newest_code_session(
        &self,
        identifier: &str,
        now: i64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|state| {
            Ok(state
                .customer_sessions
                .values()
                .filter(|s| {
                    s.identifier.as_deref() == Some(identifier)
                        && s.code_sent_at.is_some()
                        && s.code_binding.is_some()
                        && s.expires_at > now
                })
                .max_by_key(|s| s.code_sent_at)
                .map(|s| s.id_hash.clone()))
        })
    }
}

/// How deep SQLite's JSON parser nests arrays and objects (`JSON_MAX_DEPTH`).
const JSON_MAX_DEPTH: usize = 1000;

/// SQLite's `json_valid(text)`: canonical RFC 8259 JSON (no JSON5), at most
/// [`JSON_MAX_DEPTH`] levels deep. Like SQLite, it reads the text up to its first NUL byte, and
/// it checks `\u` escapes for four hex digits but not for paired surrogates.
fn json_valid(text: &str) -> bool {
    let bytes = text.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let mut json = Json {
        text: bytes.get(..end).unwrap_or_default(),
        at: 0,
    };
    json.space();
    if !json.value(0) {
        return false;
    }
    json.space();
    json.at == json.text.len()
}

/// A JSON validator over bytes.
struct Json<'a> {
    text: &'a [u8],
    at: usize,
}

impl Json<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.at += 1;
        }
        found
    }

    /// RFC 8259 whitespace only (JSON5's extra spaces and comments are not valid).
    fn space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// One value; `depth` is how many arrays and objects enclose it.
    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth > JSON_MAX_DEPTH {
            return false;
        }
        self.at += 1;
        self.space();
        if self.eat(b'}') {
            return true;
        }
        loop {
            if !self.string() {
                return false;
            }
            self.space();
            if !self.eat(b':') {
                return false;
            }
            self.space();
            if !self.value(depth) {
                return false;
            }
            self.space();
            if self.eat(b'}') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.space();
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth > JSON_MAX_DEPTH {
            return false;
        }
        self.at += 1;
        self.space();
        if self.eat(b']') {
            return true;
        }
        loop {
            if !self.value(depth) {
                return false;
            }
            self.space();
            if self.eat(b']') {
                return true;
            }
            if !self.eat(b',') {
                return false;
            }
            self.space();
        }
    }

    fn string(&mut self) -> bool {
        if !self.eat(b'"') {
            return false;
        }
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.at += 1;
                    return true;
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => {
                            self.at += 1;
                        }
                        Some(b'u') => {
                            let hex = self.text.get(self.at + 1..self.at + 5);
                            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                                return false;
                            }
                            self.at += 5;
                        }
                        _ => return false,
                    }
                }
                // The end, or a control character (allowed by JSON5 only).
                None | Some(0..=0x1f) => return false,
                Some(_) => self.at += 1,
            }
        }
    }

    fn word(&mut self, word: &[u8]) -> bool {
        let found = self
            .text
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word));
        if found {
            self.at += word.len();
        }
        found
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; a leading zero followed by a
    /// digit fails at the caller, which finds a digit where it expects a separator.
    fn number(&mut self) -> bool {
        self.eat(b'-');
        if !self.eat(b'0') && !self.digits() {
            return false;
        }
        if self.eat(b'.') && !self.digits() {
            return false;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.at += 1;
            if !self.eat(b'+') {
                self.eat(b'-');
            }
            if !self.digits() {
                return false;
            }
        }
        true
    }

    /// One or more digits.
    fn digits(&mut self) -> bool {
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        self.at > start
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::time::Instant;

    use super::*;
    use crate::store::{
        SharedStore,
        sqlite::tests::{event, flow},
    };

    /// The store never lets tokio's paused clock move: no worker thread, no timer, no yield.
    /// (With SQLite, the runtime idles while the worker thread answers and auto-advances the
    /// clock, so the timeout below would fire.)
    #[tokio::test(start_paused = true)]
    async fn works_on_a_paused_clock() {
        let start = Instant::now();
        let store: SharedStore = Arc::new(MemoryStore::new());
        let f = flow("flow-1", "agent-a", 1_000);
        let first = tokio::time::timeout(
            Duration::from_millis(1),
            store.insert_flow_with_event(&f, &event(&f, "started", 1_000)),
        )
        .await
        .expect("the store answers without the clock moving")
        .unwrap();
        assert_eq!(first, 1);

        // Racing writers on spawned tasks: one wins, and time still has not moved.
        let mut handles = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let mut next = f.clone();
            next.status = "pending".into();
            next.poll_failures = i;
            let ev = event(&f, "pending", 2_000 + i);
            handles.push(tokio::spawn(async move {
                store.update_flow_with_event(&next, 0, &ev).await.unwrap()
            }));
        }
        let mut won = Vec::new();
        for handle in handles {
            won.extend(handle.await.unwrap());
        }
        assert_eq!(won, [2]);
        assert_eq!(Instant::now(), start);

        // The clock moves only when the test moves it.
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(Instant::now(), start + Duration::from_secs(30));
        let stored = store.flow("flow-1").await.unwrap().unwrap();
        assert_eq!((stored.status.as_str(), stored.version), ("pending", 1));
        assert_eq!(
            store.events_for_flow("flow-1", 0, 10).await.unwrap().len(),
            2
        );
        assert_eq!(Instant::now(), start + Duration::from_secs(30));
    }

    #[tokio::test]
    async fn clones_share_state_and_close() {
        let store = MemoryStore::new();
        let other = store.clone();
        store.insert_flow(&flow("f1", "agent-a", 1)).await.unwrap();
        assert!(other.flow("f1").await.unwrap().is_some());
        assert!(MemoryStore::default().flow("f1").await.unwrap().is_none());

        other.close().await;
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Query(sqlx::Error::PoolClosed))
        ));
        assert!(store.flow("f1").await.is_err());
    }

    #[tokio::test]
    async fn refusals_are_protocol_errors() {
        let store = MemoryStore::new();
        let mut bad = flow("f1", "agent-a", 1);
        bad.status = "maybe".into();
        let err = store.insert_flow(&bad).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::Query(sqlx::Error::Protocol(m)) if m.contains("CHECK")),
            "{err}"
        );
    }

    #[tokio::test]
    async fn debug_shows_counts_not_contents() {
        let store = MemoryStore::new();
        let mut f = flow("flow-1", "agent-a", 1);
        f.auth_req_id = Some("AUTHREQ-secret".into());
        f.tokens = Some(r#"{"access_token":"AT-secret"}"#.into());
        store.insert_flow(&f).await.unwrap();
        store
            .insert_session(&Session {
                id_hash: b"SESSIONHASH".to_vec(),
                agent_sub: "agent-a".into(),
                agent_name: "A".into(),
                agent_email: "a@bank.example".into(),
                role: "agent".into(),
                created_at: 0,
                last_seen_at: 0,
                expires_at: 1,
            })
            .await
            .unwrap();
        let shown = format!("{store:?}");
        assert!(
            shown.contains("MemoryStore") && shown.contains("flows: 1"),
            "{shown}"
        );
        for secret in ["AUTHREQ", "AT-secret", "83, 69, 83", "agent-a"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let shared: SharedStore = Arc::new(store);
        shared.ping().await.unwrap();
        assert!(format!("{shared:?}").contains("MemoryStore"));
    }

    #[test]
    fn json_valid_follows_sqlite() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for ok in [
            "{}",
            " [ ] ",
            "0",
            "-0.5e+10",
            "1E400",
            r#""\ud800""#,
            r#"{"a":[true,false,null,"\"\\\/\b\f\n\r\t\u00e9"]}"#,
            "{}\0 not read",
            &deep(JSON_MAX_DEPTH),
        ] {
            assert!(json_valid(ok), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "\0{}",
            "{",
            "[1,]",
            "{a:1}",
            "01",
            "1.",
            ".5",
            "+1",
            "0x1F",
            "NaN",
            "'s'",
            "\"a\tb\"",
            r#""\x41""#,
            "\u{b}1",
            "1 // c",
            "truex",
            &deep(JSON_MAX_DEPTH + 1),
        ] {
            assert!(!json_valid(bad), "{bad:?}");
        }
    }
}
