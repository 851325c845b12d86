//! The rules of the state: what the SQLite schema refuses, checked the same way (the `CHECK`
//! constraints, the keys and the references a write needs), and the rows each write puts in place.

use crate::store::{CustomerSession, Event, Flow, NewEvent, StoreError};

use super::{State, json::json_valid};

/// What SQLite would have refused (a constraint, an overflow).
pub(super) fn refused(message: impl Into<String>) -> StoreError {
    StoreError::Query(sqlx::Error::Protocol(message.into()))
}

/// `LIMIT max(limit, 0)`.
pub(super) fn limit(limit: i64) -> usize {
    usize::try_from(limit.max(0)).unwrap_or(usize::MAX)
}

/// The `CHECK` constraints of `flows`.
pub(super) fn check_flow_values(flow: &Flow) -> Result<(), StoreError> {
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
pub(super) fn check_customer_session_values(session: &CustomerSession) -> Result<(), StoreError> {
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
    pub(super) fn check_new_customer_session(
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
    pub(super) fn check_customer_session_flow(
        &self,
        session: &CustomerSession,
    ) -> Result<(), StoreError> {
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
    pub(super) fn check_new_flow(&self, flow: &Flow) -> Result<(), StoreError> {
        check_flow_values(flow)?;
        if self.flows.contains_key(&flow.id) {
            return Err(refused("UNIQUE constraint failed: flows.id"));
        }
        if let Some(hash) = &flow.auth_req_id_hash
            && self.auth_req_ids.contains_key(hash)
        {
            return Err(refused("UNIQUE constraint failed: flows.auth_req_id_hash"));
        }
        Ok(())
    }

    /// Stores a flow that passed [`State::check_new_flow`].
    pub(super) fn put_new_flow(&mut self, flow: &Flow) {
        if let Some(hash) = &flow.auth_req_id_hash {
            self.auth_req_ids.insert(hash.clone(), flow.id.clone());
        }
        self.flow_order.insert((flow.created_at, flow.id.clone()));
        self.flows.insert(flow.id.clone(), flow.clone());
    }

    /// The flow as the compare-and-set would leave it, `None` if it loses (no such flow, or
    /// another version), or what SQLite would refuse. Changes nothing.
    pub(super) fn updated_flow(
        &self,
        next: &Flow,
        expected_version: i64,
    ) -> Result<Option<Flow>, StoreError> {
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
            auth_req_id_hash: next.auth_req_id_hash.clone(),
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
        if let Some(hash) = &updated.auth_req_id_hash
            && self
                .auth_req_ids
                .get(hash)
                .is_some_and(|owner| *owner != updated.id)
        {
            return Err(refused("UNIQUE constraint failed: flows.auth_req_id_hash"));
        }
        Ok(Some(updated))
    }

    /// Stores a flow from [`State::updated_flow`].
    pub(super) fn put_updated_flow(&mut self, updated: Flow) {
        let old = self
            .flows
            .get(&updated.id)
            .and_then(|f| f.auth_req_id_hash.clone());
        if old != updated.auth_req_id_hash {
            if let Some(old) = old {
                self.auth_req_ids.remove(&old);
            }
            if let Some(new) = &updated.auth_req_id_hash {
                self.auth_req_ids.insert(new.clone(), updated.id.clone());
            }
        }
        self.flows.insert(updated.id.clone(), updated);
    }

    /// The event as `INSERT INTO flow_events` would store it, or what SQLite would refuse.
    /// `new_flow` is a flow written in the same transaction. Changes nothing.
    pub(super) fn new_event(
        &self,
        event: &NewEvent,
        new_flow: Option<&Flow>,
    ) -> Result<Event, StoreError> {
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
    pub(super) fn put_event(&mut self, event: Event) -> i64 {
        let id = event.id;
        self.events.push(event);
        id
    }

    /// Events with an id above `after_id`, oldest first.
    pub(super) fn events_from(&self, after_id: i64) -> impl Iterator<Item = &Event> {
        let start = self.events.partition_point(|e| e.id <= after_id);
        self.events.iter().skip(start)
    }
}
