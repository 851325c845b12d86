// A fake of the flow and session stores for tests on tokio's paused clock, where a real
// database cannot be used: while a query runs on SQLite's own thread the runtime looks idle,
// and the paused clock jumps to the next timer (a poll, or the pool's acquire timeout).
//
// It is included (not a module of its own) by the engine's unit tests and by the event
// stream's integration tests, each of which brings the store's types into scope first. It keeps
// the promises of the traits the engine relies on (compare-and-set on the version, a flow and
// its event together, increasing event ids, the flow of an event must exist); the contract
// suite (`store/tests/contract.rs`) checks the real stores for all of them.

/// Flows, events and agent sessions in memory; clones share them.
#[derive(Clone, Debug, Default)]
pub struct FakeStore {
    state: std::sync::Arc<std::sync::Mutex<FakeState>>,
}

#[derive(Debug, Default)]
struct FakeState {
    flows: std::collections::BTreeMap<String, Flow>,
    events: Vec<Event>,
    sessions: std::collections::HashMap<Vec<u8>, Session>,
    logins: std::collections::HashMap<Vec<u8>, PendingLogin>,
    /// Reads of the event log (`events_after`) so far.
    event_reads: usize,
}

impl FakeStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the event log has been read (`events_after`).
    #[allow(dead_code, reason = "the event streams' tests count reads; the engine's do not")]
    pub fn event_reads(&self) -> usize {
        self.with(|s| s.event_reads)
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut state)
    }
}

/// The databases' check on `flows.tokens`: JSON or nothing.
fn check_tokens(flow: &Flow) -> Result<(), StoreError> {
    match &flow.tokens {
        Some(tokens) if serde_json::from_str::<serde_json::Value>(tokens).is_err() => {
            Err(StoreError::Backend("the tokens are not JSON".into()))
        }
        _ => Ok(()),
    }
}

impl FakeState {
    fn insert(&mut self, flow: &Flow) -> Result<(), StoreError> {
        check_tokens(flow)?;
        if self.flows.contains_key(&flow.id) {
            return Err(StoreError::Conflict("a flow with this id exists"));
        }
        self.flows.insert(flow.id.clone(), flow.clone());
        Ok(())
    }

    fn write(&mut self, next: &Flow, expected_version: i64) -> Result<bool, StoreError> {
        let Some(stored) = self.flows.get_mut(&next.id) else {
            return Ok(false);
        };
        if stored.version != expected_version {
            return Ok(false);
        }
        check_tokens(next)?;
        *stored = Flow {
            id: stored.id.clone(),
            agent_sub: stored.agent_sub.clone(),
            agent_name: stored.agent_name.clone(),
            hint: stored.hint.clone(),
            hint_type: stored.hint_type,
            channel: stored.channel,
            binding_message: stored.binding_message.clone(),
            custom_message: stored.custom_message.clone(),
            ticket: stored.ticket.clone(),
            created_at: stored.created_at,
            version: expected_version + 1,
            lease_owner: stored.lease_owner.clone(),
            lease_epoch: stored.lease_epoch,
            ..next.clone()
        };
        Ok(true)
    }

    fn append(&mut self, event: &NewEvent) -> Result<i64, StoreError> {
        if !self.flows.contains_key(&event.flow_id) {
            return Err(StoreError::Conflict("the event's flow is not stored"));
        }
        let id = i64::try_from(self.events.len()).unwrap_or(i64::MAX) + 1;
        self.events.push(Event {
            id,
            flow_id: event.flow_id.clone(),
            agent_sub: event.agent_sub.clone(),
            kind: event.kind,
            data: event.data.clone(),
            at: event.at,
        });
        Ok(id)
    }
}

fn page<T>(items: impl Iterator<Item = T>, limit: i64) -> Vec<T> {
    items.take(usize::try_from(limit).unwrap_or(0)).collect()
}

#[async_trait::async_trait]
impl FlowStore for FakeStore {
    async fn insert_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        self.with(|s| s.insert(flow))
    }

    async fn insert_flow_with_event(
        &self,
        flow: &Flow,
        event: &NewEvent,
    ) -> Result<i64, StoreError> {
        self.with(|s| {
            s.insert(flow)?;
            s.append(event)
        })
    }

    async fn flow(&self, id: &str) -> Result<Option<Flow>, StoreError> {
        Ok(self.with(|s| s.flows.get(id).cloned()))
    }

    async fn flow_by_request_hash(&self, hash: &[u8]) -> Result<Option<Flow>, StoreError> {
        Ok(self.with(|s| {
            s.flows
                .values()
                .find(|f| f.auth_req_id_hash.as_deref() == Some(hash))
                .cloned()
        }))
    }

    async fn unsealed_flows(&self) -> Result<Vec<Flow>, StoreError> {
        Ok(self.with(|s| {
            let mut found: Vec<Flow> = s
                .flows
                .values()
                .filter(|f| f.auth_req_id.is_some() && f.auth_req_id_hash.is_none())
                .cloned()
                .collect();
            found.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            found
        }))
    }

    async fn update_flow(&self, next: &Flow, expected_version: i64) -> Result<bool, StoreError> {
        self.with(|s| s.write(next, expected_version))
    }

    async fn update_flow_with_event(
        &self,
        next: &Flow,
        expected_version: i64,
        event: &NewEvent,
    ) -> Result<Option<i64>, StoreError> {
        self.with(|s| {
            if !s.flows.contains_key(&event.flow_id) {
                return Err(StoreError::Conflict("the event's flow is not stored"));
            }
            if !s.write(next, expected_version)? {
                return Ok(None);
            }
            s.append(event).map(Some)
        })
    }

    async fn pending_flows(&self) -> Result<Vec<Flow>, StoreError> {
        Ok(self.with(|s| {
            let mut live: Vec<Flow> = s.flows.values().filter(|f| f.is_live()).cloned().collect();
            live.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            live
        }))
    }

    async fn claim_flows(
        &self,
        owner: &str,
        now: i64,
        grace: i64,
        limit: i64,
    ) -> Result<Vec<Flow>, StoreError> {
        Ok(self.with(|s| {
            let mut free: Vec<&mut Flow> = s
                .flows
                .values_mut()
                .filter(|f| f.is_live() && f.lease_until <= now)
                .collect();
            free.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            free.into_iter()
                .take(usize::try_from(limit).unwrap_or(0))
                .map(|f| {
                    f.lease_owner = Some(owner.to_owned());
                    f.lease_until = f.next_poll_at.max(now) + grace;
                    f.lease_epoch += 1;
                    f.version += 1;
                    f.clone()
                })
                .collect()
        }))
    }

    async fn release_leases(&self, owner: Option<&str>) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let mut released = 0;
            for f in s.flows.values_mut() {
                let theirs = owner.is_none_or(|owner| f.lease_owner.as_deref() == Some(owner));
                if f.is_live() && theirs && f.lease_until > 0 {
                    f.lease_until = 0;
                    f.version += 1;
                    released += 1;
                }
            }
            released
        }))
    }

    async fn flows_for(
        &self,
        agent_sub: Option<&str>,
        before: Option<&FlowCursor>,
        limit: i64,
    ) -> Result<Vec<Flow>, StoreError> {
        Ok(self.with(|s| {
            let mut mine: Vec<Flow> = s
                .flows
                .values()
                .filter(|f| agent_sub.is_none_or(|sub| f.agent_sub == sub))
                .filter(|f| before.is_none_or(|c| (f.created_at, &f.id) < (c.created_at, &c.id)))
                .cloned()
                .collect();
            mine.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
            page(mine.into_iter(), limit)
        }))
    }

    async fn count_flows_since(&self, agent_sub: &str, since: i64) -> Result<i64, StoreError> {
        Ok(self.with(|s| {
            let n = s
                .flows
                .values()
                .filter(|f| f.agent_sub == agent_sub && f.created_at >= since)
                .count();
            i64::try_from(n).unwrap_or(i64::MAX)
        }))
    }

    async fn append_event(&self, event: &NewEvent) -> Result<i64, StoreError> {
        self.with(|s| s.append(event))
    }

    async fn events_after(
        &self,
        after_id: i64,
        agent_sub: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(self.with(|s| {
            s.event_reads += 1;
            let found = s
                .events
                .iter()
                .filter(|e| e.id > after_id && agent_sub.is_none_or(|sub| e.agent_sub == sub))
                .cloned();
            page(found, limit)
        }))
    }

    async fn events_for_flow(
        &self,
        flow_id: &str,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Event>, StoreError> {
        Ok(self.with(|s| {
            let found = s
                .events
                .iter()
                .filter(|e| e.id > after_id && e.flow_id == flow_id)
                .cloned();
            page(found, limit)
        }))
    }

    async fn last_event_id(&self) -> Result<i64, StoreError> {
        Ok(self.with(|s| s.events.last().map_or(0, |e| e.id)))
    }
}

#[async_trait::async_trait]
impl SessionStore for FakeStore {
    async fn insert_session(&self, session: &Session) -> Result<(), StoreError> {
        self.with(|s| {
            if s.sessions.contains_key(&session.id_hash) {
                return Err(StoreError::Conflict("a session with this id exists"));
            }
            s.sessions.insert(session.id_hash.clone(), session.clone());
            Ok(())
        })
    }

    async fn session(&self, id_hash: &[u8]) -> Result<Option<Session>, StoreError> {
        Ok(self.with(|s| s.sessions.get(id_hash).cloned()))
    }

    async fn touch_session(&self, id_hash: &[u8], now: i64) -> Result<bool, StoreError> {
        Ok(self.with(|s| match s.sessions.get_mut(id_hash) {
            Some(session) => {
                session.last_seen_at = session.last_seen_at.max(now);
                true
            }
            None => false,
        }))
    }

    async fn delete_session(&self, id_hash: &[u8]) -> Result<bool, StoreError> {
        Ok(self.with(|s| s.sessions.remove(id_hash).is_some()))
    }

    async fn delete_expired_sessions(&self, idle_ms: i64, now: i64) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let before = s.sessions.len();
            s.sessions.retain(|_, session| session.is_live(idle_ms, now));
            u64::try_from(before - s.sessions.len()).unwrap_or(u64::MAX)
        }))
    }

    async fn insert_login(&self, login: &PendingLogin) -> Result<(), StoreError> {
        self.with(|s| s.logins.insert(login.state_hash.clone(), login.clone()));
        Ok(())
    }

    async fn take_login(&self, state_hash: &[u8]) -> Result<Option<PendingLogin>, StoreError> {
        Ok(self.with(|s| s.logins.remove(state_hash)))
    }

    async fn delete_logins_before(&self, created_before: i64) -> Result<u64, StoreError> {
        Ok(self.with(|s| {
            let before = s.logins.len();
            s.logins.retain(|_, login| login.created_at >= created_before);
            u64::try_from(before - s.logins.len()).unwrap_or(u64::MAX)
        }))
    }
}
