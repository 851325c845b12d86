//! An in-memory [`Store`] with the semantics of the SQLite one.
//!
//! It exists for tests that run on tokio's paused clock: SQLite answers from a worker thread,
//! and while a task waits for it the runtime looks idle, so tokio auto-advances the paused clock
//! in the middle of a query. This store answers without I/O, without timers and without ever
//! yielding, so time only moves when the test moves it.
//!
//! Everything the SQLite schema enforces is enforced here too, with the same outcome: unique
//! keys (session id, sign-in `state`, flow id, `auth_req_id_hash`, customer session id), the `CHECK`
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

mod json;
mod state;

use state::{check_customer_session_values, limit, refused};

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
    /// `auth_req_id_hash` → flow id (the `UNIQUE` index).
    auth_req_ids: HashMap<Vec<u8>, String>,
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

    async fn flow_by_request_hash(&self, hash: &[u8]) -> Result<Option<Flow>, StoreError> {
        self.with(|state| {
            Ok(state
                .auth_req_ids
                .get(hash)
                .and_then(|id| state.flows.get(id))
                .cloned())
        })
    }

    async fn unsealed_flows(&self) -> Result<Vec<Flow>, StoreError> {
        self.with(|state| {
            Ok(state
                .flow_order
                .iter()
                .filter_map(|(_, id)| state.flows.get(id))
                .filter(|f| f.auth_req_id.is_some() && f.auth_req_id_hash.is_none())
                .cloned()
                .collect())
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

#[cfg(test)]
mod tests;
