//! The engine's commands: start, cancel, record what the customer did, end a session, and
//! read a flow. Each change is a compare-and-set of the flow with one appended event.

use app::flow::{Channel, EventKind, FlowStatus, FlowView, TimelineEntry};
use infra::retry::{Attempt, compare_and_set};

use super::{
    Agent, CAS_ATTEMPTS, CLAIM_BATCH, DENIED, Engine, FlowError, LEASE_GRACE_MS, Notice, REPORTED,
    START_LEASE_MS, SWEEP_EVERY, StartInput,
    poller::{poll_state, secs},
    view_of,
};
use crate::{
    flows::{
        binding,
        poll::{Next, PollState},
    },
    store::{Event, Flow, Json, NewEvent, StoreError},
};

impl Engine {
    /// Restarts the pollers of every pending flow; fails flows that were interrupted while
    /// being started (whether the provider sent a message is unknown, and sending again could
    /// message the customer twice). Returns how many pollers it started.
    pub async fn resume(&self) -> Result<usize, StoreError> {
        let resumed = self.claim_unleased().await?;
        let engine = self.clone();
        self.inner.tasks.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(SWEEP_EVERY) => {}
                    () = engine.inner.shutdown.cancelled() => return,
                }
                if let Err(error) = engine.claim_unleased().await {
                    tracing::warn!(%error, "cannot look for flows to take over");
                }
            }
        });
        Ok(resumed)
    }

    /// Claims the live flows whose lease ended and polls them; a flow caught while being
    /// started is failed instead (its customer may hold a link: never send another). Returns
    /// how many pollers it started.
    async fn claim_unleased(&self) -> Result<usize, StoreError> {
        let mut resumed = 0;
        loop {
            let now = self.inner.clock.now_ms();
            let claimed = self
                .inner
                .store
                .claim_flows(&self.inner.owner, now, LEASE_GRACE_MS, CLAIM_BATCH)
                .await?;
            let full = i64::try_from(claimed.len()).unwrap_or(i64::MAX) >= CLAIM_BATCH;
            for flow in claimed {
                if flow.status == FlowStatus::Starting {
                    self.end(
                        &flow.id,
                        FlowStatus::Failed,
                        EventKind::Failed,
                        Some(
                            "Countersign stopped while starting this verification; start it again.",
                        ),
                        now,
                    )
                    .await?;
                } else {
                    tracing::info!(flow_id = %flow.id, epoch = flow.lease_epoch, "polling a flow taken over");
                    self.spawn_poller(flow.id.clone());
                    resumed += 1;
                }
            }
            if !full {
                return Ok(resumed);
            }
        }
    }

    /// Starts a verification for `agent`: stores it, asks the provider, and starts its poller.
    pub async fn start(&self, agent: &Agent, input: StartInput) -> Result<FlowView, FlowError> {
        let now = self.inner.clock.now_ms();
        let expiry_ms = i64::try_from(self.inner.expiry.as_millis()).unwrap_or(i64::MAX);
        let flow = Flow {
            id: new_id(),
            agent_sub: agent.sub.clone(),
            agent_name: agent.name.clone(),
            hint: input.hint.trim().to_owned(),
            hint_type: input.hint_type,
            channel: input.channel,
            binding_message: binding::new_code(),
            custom_message: input.custom_message,
            ticket: input.ticket,
            auth_req_id: None,
            link: None,
            auth_req_id_hash: None,
            status: FlowStatus::Starting,
            created_at: now,
            expires_at: now.saturating_add(expiry_ms),
            interval_secs: 5,
            next_poll_at: now,
            poll_failures: 0,
            decided_at: None,
            ended_at: None,
            outcome_detail: None,
            customer: None,
            tokens: None,
            version: 0,
            lease_owner: Some(self.inner.owner.clone()),
            lease_until: now.saturating_add(START_LEASE_MS),
            lease_epoch: 1,
            notification_token_hash: None,
        };
        self.inner.store.insert_flow(&flow).await?;
        self.inner.metrics.started(input.channel);
        // The provider sends the message during this call. It runs in a task of its own, so an
        // agent's request that goes away (a closed tab, a client timeout) cannot leave the flow
        // "starting" while the customer holds a working link: the answer is always recorded.
        let id = flow.id.clone();
        let engine = self.clone();
        let channel = input.channel;
        // The request's id goes with it, to the provider's logs.
        let request_id = infra::request_id::current();
        let begun = self
            .inner
            .tasks
            .spawn(infra::request_id::scoped(request_id, async move {
                engine.begin(flow, channel).await
            }));
        match begun.await {
            Ok(result) => result?,
            Err(error) => tracing::error!(flow_id = %id, %error, "starting a flow was interrupted"),
        }
        self.view(&id).await
    }

    /// Asks the provider to start `flow` and records the answer: pending with its poller, or
    /// failed.
    async fn begin(&self, flow: Flow, channel: Channel) -> Result<(), FlowError> {
        match self.inner.ciba.start(&flow, self.inner.expiry).await {
            Ok(started) => {
                let now = self.inner.clock.now_ms();
                let state = PollState::started(now, started.expires_in, started.interval);
                let mut first = state.first_poll(now);
                if started.notification_token_hash.is_some() {
                    first = state.safety_net(first, now);
                }
                let first = match first {
                    Next::PollAt { at, .. } => at,
                    Next::Expire => state.expires_at,
                };
                let next = Flow {
                    auth_req_id: Some(started.auth_req_id),
                    auth_req_id_hash: Some(started.auth_req_id_hash),
                    link: started.link,
                    notification_token_hash: started.notification_token_hash,
                    status: FlowStatus::Pending,
                    expires_at: state.expires_at,
                    interval_secs: secs(state.interval),
                    next_poll_at: first,
                    lease_until: first.saturating_add(LEASE_GRACE_MS),
                    ..flow.clone()
                };
                let detail = match channel {
                    Channel::Sms => "Sent by text message.",
                    Channel::Email => "Sent by email.",
                    Channel::Link => "Show the link or the QR code to the customer.",
                };
                self.write(&next, flow.version, EventKind::Sent, Some(detail), now)
                    .await?;
                self.spawn_poller(flow.id.clone());
            }
            Err(detail) => {
                let now = self.inner.clock.now_ms();
                self.end(
                    &flow.id,
                    FlowStatus::Failed,
                    EventKind::Failed,
                    Some(&detail),
                    now,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Cancels `agent`'s pending flow.
    pub async fn cancel(&self, agent: &Agent, flow_id: &str) -> Result<FlowView, FlowError> {
        let flow = self.visible(agent, flow_id).await?;
        if !flow.is_live() {
            return Err(FlowError::Ended);
        }
        let now = self.inner.clock.now_ms();
        let detail = format!("Cancelled by {}.", agent.name);
        if !self
            .end(
                flow_id,
                FlowStatus::Cancelled,
                EventKind::Cancelled,
                Some(&detail),
                now,
            )
            .await?
        {
            return Err(FlowError::Ended);
        }
        self.view(flow_id).await
    }

    /// Ends a live flow because the customer said on the approval page that they did not ask
    /// for it: one `Reported` event, and the flow ends `Cancelled` with [`REPORTED`] as its
    /// outcome, so the agent sees it at once and the poller stops.
    pub async fn report(&self, flow_id: &str) -> Result<FlowView, FlowError> {
        self.live_flow(flow_id).await?;
        let now = self.inner.clock.now_ms();
        if !self
            .end(
                flow_id,
                FlowStatus::Cancelled,
                EventKind::Reported,
                Some(REPORTED),
                now,
            )
            .await?
        {
            return Err(FlowError::Ended);
        }
        self.view(flow_id).await
    }

    /// Flow `flow_id` as stored.
    async fn stored(&self, flow_id: &str) -> Result<Flow, FlowError> {
        self.inner
            .store
            .flow(flow_id)
            .await?
            .ok_or(FlowError::NotFound)
    }

    /// Flow `flow_id` as stored, if it is still live.
    async fn live_flow(&self, flow_id: &str) -> Result<Flow, FlowError> {
        let flow = self.stored(flow_id).await?;
        if !flow.is_live() {
            return Err(FlowError::Ended);
        }
        Ok(flow)
    }

    /// The provider's ping (CIBA ping mode) for the request `auth_req_id_hash`: if `presented`
    /// says the ping's token is the one whose hash the flow keeps, the token is spent and the
    /// flow's poller asks for the tokens now. `false`, changing nothing, for an unknown request
    /// or a wrong or spent token.
    pub async fn pinged(
        &self,
        auth_req_id_hash: &[u8],
        presented: impl Fn(&[u8]) -> bool + Sync,
    ) -> Result<bool, FlowError> {
        let now = self.inner.clock.now_ms();
        let presented = &presented;
        let accepted = compare_and_set(CAS_ATTEMPTS, || async move {
            let Some(flow) = self
                .inner
                .store
                .flow_by_request_hash(auth_req_id_hash)
                .await?
            else {
                return Ok(Attempt::Done(None));
            };
            let known = flow
                .notification_token_hash
                .as_deref()
                .is_some_and(presented);
            if !known {
                return Ok(Attempt::Done(None));
            }
            let next = Flow {
                notification_token_hash: None,
                next_poll_at: if flow.is_live() {
                    now.min(flow.next_poll_at)
                } else {
                    flow.next_poll_at
                },
                ..flow.clone()
            };
            let written = self.inner.store.update_flow(&next, flow.version).await?;
            Ok::<_, FlowError>(Attempt::won(written, Some(flow.id.clone())))
        })
        .await?
        .ok_or_else(kept_changing)?;
        match accepted {
            Some(flow_id) => {
                self.wake(&flow_id);
                // The poller may run on another instance. A lost wake-up leaves the flow to
                // its safety-net poll, so a failure to send one is not the ping's failure.
                if let Err(error) = self.inner.store.wake_pollers(&flow_id).await {
                    tracing::warn!(%error, "cannot wake the flow's poller on other instances");
                }
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Records something the customer did on the approval page (link opened, signed in,
    /// reported). A decision (`Approved`, `Denied`) also wakes the flow's poller so it asks the
    /// provider at the earliest moment the interval allows (an approval's tokens are still to
    /// come), and a denial ends the flow. A decision is recorded once: one the poller already
    /// recorded is left alone.
    pub async fn record(
        &self,
        flow_id: &str,
        kind: EventKind,
        detail: Option<&str>,
    ) -> Result<(), FlowError> {
        let now = self.inner.clock.now_ms();
        compare_and_set(CAS_ATTEMPTS, || async move {
            let flow = self.live_flow(flow_id).await?;
            let decision = matches!(kind, EventKind::Approved | EventKind::Denied);
            if decision && flow.decided_at.is_some() {
                // Recorded already, by the poller that got the tokens first: once is enough.
                return Ok(Attempt::Done(()));
            }
            let mut next = flow.clone();
            let mut detail = detail;
            if decision {
                next.decided_at = Some(now);
                if flow.notification_token_hash.is_some() {
                    // Ping mode: the provider hands a decided request over at once, and its
                    // ping may reach another instance: whoever polls this flow asks now.
                    next.next_poll_at = now;
                } else if let Next::PollAt { at, .. } = poll_state(&flow).nudged(now) {
                    next.next_poll_at = at.min(flow.next_poll_at);
                }
            }
            if kind == EventKind::Denied {
                // The provider took the denial: nothing is left to learn from a poll, so the
                // flow ends here, as its poller would end it (once: whoever writes first).
                next.status = FlowStatus::Denied;
                next.ended_at = Some(now);
                next.outcome_detail = Some(DENIED.to_owned());
                detail = detail.or(Some(DENIED));
            }
            let written = self.write(&next, flow.version, kind, detail, now).await?;
            Ok::<_, FlowError>(Attempt::won(written, ()))
        })
        .await?
        .ok_or_else(kept_changing)?;
        self.wake(flow_id);
        Ok(())
    }

    /// Ends the verified customer's session on `agent`'s flow: the tokens are dropped from the
    /// store (one `SessionEnded` event) and then revoked at the provider. Dropped first, so a
    /// provider that cannot be reached leaves nothing usable here (the tokens expire there).
    pub async fn end_session(&self, agent: &Agent, flow_id: &str) -> Result<FlowView, FlowError> {
        let now = self.inner.clock.now_ms();
        let detail = &format!("Ended by {}.", agent.name);
        let tokens = compare_and_set(CAS_ATTEMPTS, || async move {
            let flow = self.visible(agent, flow_id).await?;
            let Some(tokens) = flow.tokens.clone() else {
                return Err(FlowError::NoSession);
            };
            let next = Flow {
                tokens: None,
                ..flow.clone()
            };
            let kind = EventKind::SessionEnded;
            let written = self
                .write(&next, flow.version, kind, Some(detail), now)
                .await?;
            Ok::<_, FlowError>(Attempt::won(written, tokens))
        })
        .await?
        .ok_or_else(kept_changing)?;
        self.inner.ciba.discard(flow_id, &tokens).await;
        self.view(flow_id).await
    }

    /// A flow `agent` may see (their own; supervisors see all).
    pub async fn visible(&self, agent: &Agent, flow_id: &str) -> Result<Flow, FlowError> {
        match self.inner.store.flow(flow_id).await? {
            Some(flow) if agent.supervisor || flow.agent_sub == agent.sub => Ok(flow),
            _ => Err(FlowError::NotFound),
        }
    }

    /// The console's view of `flow` with its `events` (its link opened by the port).
    pub fn present(&self, flow: &Flow, events: &[Event]) -> FlowView {
        view_of(flow, events, self.inner.ciba.link(flow))
    }

    /// The console's view of a flow.
    pub async fn view(&self, flow_id: &str) -> Result<FlowView, FlowError> {
        let flow = self.stored(flow_id).await?;
        let events = self.inner.store.events_for_flow(flow_id, 0, 1000).await?;
        Ok(self.present(&flow, &events))
    }
    /// Ends a live flow with `status`; returns whether this call ended it.
    pub(super) async fn end(
        &self,
        flow_id: &str,
        status: FlowStatus,
        kind: EventKind,
        detail: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        self.end_if(flow_id, None, status, kind, detail, now).await
    }

    /// [`Engine::end`], by the poller holding lease `epoch` when given: not if another
    /// instance claimed the flow since.
    pub(super) async fn end_if(
        &self,
        flow_id: &str,
        epoch: Option<i64>,
        status: FlowStatus,
        kind: EventKind,
        detail: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let ended = compare_and_set(CAS_ATTEMPTS, || async move {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(Attempt::Done(false));
            };
            if !flow.is_live() || epoch.is_some_and(|epoch| !self.holds(&flow, epoch)) {
                return Ok(Attempt::Done(false));
            }
            let next = Flow {
                status,
                ended_at: Some(now),
                outcome_detail: detail.map(str::to_owned),
                ..flow.clone()
            };
            let written = self.write(&next, flow.version, kind, detail, now).await?;
            Ok::<_, StoreError>(Attempt::won(written, true))
        })
        .await?
        .unwrap_or(false);
        if ended {
            self.wake(flow_id);
        }
        Ok(ended)
    }

    /// Whether this engine still holds `flow`'s lease of `epoch`.
    pub(super) fn holds(&self, flow: &Flow, epoch: i64) -> bool {
        flow.lease_owner.as_deref() == Some(self.inner.owner.as_str()) && flow.lease_epoch == epoch
    }

    /// Writes `next` over version `expected` with an event, and tells subscribers.
    pub(super) async fn write(
        &self,
        next: &Flow,
        expected: i64,
        kind: EventKind,
        detail: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let entry = TimelineEntry {
            kind,
            at: now,
            detail: detail.map(str::to_owned),
        };
        let event = NewEvent {
            flow_id: next.id.clone(),
            agent_sub: next.agent_sub.clone(),
            kind,
            data: Json(entry),
            at: now,
        };
        match self
            .inner
            .store
            .update_flow_with_event(next, expected, &event)
            .await?
        {
            Some(id) => {
                self.inner.metrics.flow_event(kind, next.created_at, now);
                // Nobody listening is fine: the event is stored.
                self.next_generation();
                let _ = self.inner.notices.send(Notice {
                    id,
                    agent_sub: next.agent_sub.clone(),
                });
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

/// The error of a change that lost every attempt to writers that kept changing the flow.
fn kept_changing() -> FlowError {
    FlowError::Store(StoreError::Conflict("the flow kept changing"))
}

/// A random flow id (and engine name): 128 bits, URL-safe.
pub(super) fn new_id() -> String {
    use rand::RngExt as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
