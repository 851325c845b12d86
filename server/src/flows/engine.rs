//! The flow engine: starts verifications, runs one poller per pending flow, records what
//! happens as events, and tells subscribers (the agents' event streams).
//!
//! The stored flow is the truth. Every change is a compare-and-set on the flow together with
//! an appended event, in one transaction; the in-process broadcast only says "look again".
//! After a restart, [`Engine::resume`] restarts the pollers of pending flows from the store; a
//! flow that crashed while being started is failed rather than sent again, so a customer never
//! gets a second message.

use std::{collections::HashMap, sync::Arc, time::Duration};

use app::flow::{
    Channel, EventKind, FlowStatus, FlowView, HintType, TimelineEntry, VerifiedCustomer,
};
use async_trait::async_trait;
use infra::retry::{Attempt, compare_and_set};
use tokio::sync::{Notify, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::{
    binding,
    clock::Clock,
    poll::{Answer, Next, PollState},
};
use crate::store::{Event, Flow, NewEvent, SharedStore, StoreError};

/// What the engine asks of the provider (implemented over HTTP by [`crate::oidc`]; by fakes in
/// tests).
#[async_trait]
pub trait Ciba: Send + Sync + std::fmt::Debug + 'static {
    /// Starts a backchannel request for `flow` (hint, channel, binding code, custom message).
    async fn start(&self, flow: &Flow, expiry: Duration) -> Result<Started, String>;

    /// Polls the token endpoint for `flow`; on tokens, validates the ID token against the
    /// customer the flow asked for.
    async fn poll(&self, flow: &Flow, now_ms: i64) -> Polled;

    /// Revokes tokens (as [`Polled::Verified`] carried them) that will not be kept, or whose
    /// session the agent ended.
    async fn discard(&self, flow_id: &str, tokens: &str);
}

/// The provider accepted a request.
#[derive(Clone, Debug)]
pub struct Started {
    /// Its handle.
    pub auth_req_id: String,
    /// Seconds until it expires.
    pub expires_in: Duration,
    /// Seconds between polls.
    pub interval: Duration,
    /// The link, for the `link` channel.
    pub link: Option<String>,
}

/// One poll's result.
#[derive(Clone, Debug)]
pub enum Polled {
    /// Tokens arrived and the ID token is valid for the requested customer.
    Verified {
        /// Who they are, as the agent may see it.
        customer: VerifiedCustomer,
        /// The tokens, as JSON, kept server-side.
        tokens: String,
    },
    /// Keep polling, as `answer` says.
    Wait(Answer),
    /// The customer denied.
    Denied,
    /// The request expired.
    Expired,
    /// It cannot go on; the sentence says why (tokens that did not validate, `invalid_grant`…).
    Failed(String),
}

/// Who asks.
#[derive(Clone, Debug)]
pub struct Agent {
    /// Their `sub`.
    pub sub: String,
    /// Their name.
    pub name: String,
    /// Supervisors see every flow.
    pub supervisor: bool,
}

/// What the agent asks for.
#[derive(Clone, Debug)]
pub struct StartInput {
    /// The customer's email, phone or user id.
    pub hint: String,
    /// Which of those it is.
    pub hint_type: HintType,
    /// How the link goes out.
    pub channel: Channel,
    /// A note for the customer, if any.
    pub custom_message: Option<String>,
}

/// Why a flow request was refused.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No such flow, or not the agent's.
    #[error("There is no such verification.")]
    NotFound,
    /// It already ended.
    #[error("This verification has already ended.")]
    Ended,
    /// There is no customer session to end: it was never opened, or it already ended.
    #[error("There is no customer session to end.")]
    NoSession,
    /// The store failed.
    #[error("Something went wrong on our side. Try again.")]
    Store(#[from] StoreError),
}

/// A change for subscribers: look at event `id` of `agent_sub`'s flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The event id.
    pub id: i64,
    /// Whose flow.
    pub agent_sub: String,
}

/// The engine; cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: SharedStore,
    ciba: Arc<dyn Ciba>,
    clock: Clock,
    expiry: Duration,
    notices: broadcast::Sender<Notice>,
    pollers: std::sync::Mutex<HashMap<String, Arc<Notify>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

/// The outcome of a flow the customer reported ([`Engine::report`]).
pub const REPORTED: &str = "The customer said they did not ask for this.";

/// The outcome of a flow whose approval arrived but could not be stored.
pub const NOT_RECORDED: &str =
    "The customer approved, but the answer could not be recorded. Start the verification again.";

/// Events remembered for subscribers that fall behind before they must re-read the store.
const NOTICE_BUFFER: usize = 1024;
/// Attempts at a compare-and-set before giving up (others changed the flow each time).
const CAS_ATTEMPTS: usize = 16;

impl Engine {
    /// An engine over `store`, asking the provider through `ciba`, with requests living
    /// `expiry`.
    pub fn new(store: SharedStore, ciba: Arc<dyn Ciba>, clock: Clock, expiry: Duration) -> Self {
        let (notices, _) = broadcast::channel(NOTICE_BUFFER);
        Self {
            inner: Arc::new(Inner {
                store,
                ciba,
                clock,
                expiry,
                notices,
                pollers: std::sync::Mutex::new(HashMap::new()),
                shutdown: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        }
    }

    /// Changes as they happen. A receiver that lags must re-read the store from its last id.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }

    /// Now, by the engine's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The store the engine writes.
    pub fn store(&self) -> &SharedStore {
        &self.inner.store
    }

    /// Restarts the pollers of every pending flow; fails flows that were interrupted while
    /// being started (whether the provider sent a message is unknown, and sending again could
    /// message the customer twice). Returns how many pollers it started.
    pub async fn resume(&self) -> Result<usize, StoreError> {
        let mut resumed = 0;
        for flow in self.inner.store.pending_flows().await? {
            if flow.status == FlowStatus::Starting.as_str() {
                let now = self.inner.clock.now_ms();
                self.end(
                    &flow.id,
                    FlowStatus::Failed,
                    EventKind::Failed,
                    Some("Countersign restarted while starting this verification; start it again."),
                    now,
                )
                .await?;
            } else {
                self.spawn_poller(flow.id.clone());
                resumed += 1;
            }
        }
        Ok(resumed)
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
            hint_type: input.hint_type.as_str().to_owned(),
            channel: input.channel.as_str().to_owned(),
            binding_message: binding::new_code(),
            custom_message: input.custom_message,
            auth_req_id: None,
            link: None,
            status: FlowStatus::Starting.as_str().to_owned(),
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
        };
        self.inner.store.insert_flow(&flow).await?;
        // The provider sends the message during this call. It runs in a task of its own, so an
        // agent's request that goes away (a closed tab, a client timeout) cannot leave the flow
        // "starting" while the customer holds a working link: the answer is always recorded.
        let id = flow.id.clone();
        let engine = self.clone();
        let channel = input.channel;
        let begun = self
            .inner
            .tasks
            .spawn(async move { engine.begin(flow, channel).await });
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
                let first = match state.first_poll(now) {
                    Next::PollAt { at, .. } => at,
                    Next::Expire => state.expires_at,
                };
                let next = Flow {
                    auth_req_id: Some(started.auth_req_id),
                    link: started.link,
                    status: FlowStatus::Pending.as_str().to_owned(),
                    expires_at: state.expires_at,
                    interval_secs: secs(state.interval),
                    next_poll_at: first,
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
        let flow = self
            .inner
            .store
            .flow(flow_id)
            .await?
            .ok_or(FlowError::NotFound)?;
        if !flow.is_live() {
            return Err(FlowError::Ended);
        }
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

    /// Records something the customer did on the approval page (link opened, signed in,
    /// reported). A decision (`Approved`, `Denied`) also wakes the flow's poller so it asks the
    /// provider at the earliest moment the interval allows.
    pub async fn record(
        &self,
        flow_id: &str,
        kind: EventKind,
        detail: Option<&str>,
    ) -> Result<(), FlowError> {
        let now = self.inner.clock.now_ms();
        compare_and_set(CAS_ATTEMPTS, || async move {
            let flow = self
                .inner
                .store
                .flow(flow_id)
                .await?
                .ok_or(FlowError::NotFound)?;
            if !flow.is_live() {
                return Err(FlowError::Ended);
            }
            let mut next = flow.clone();
            if matches!(kind, EventKind::Approved | EventKind::Denied) {
                next.decided_at = Some(now);
                if let Next::PollAt { at, .. } = poll_state(&flow).nudged(now) {
                    next.next_poll_at = at.min(flow.next_poll_at);
                }
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

    /// The console's view of a flow.
    pub async fn view(&self, flow_id: &str) -> Result<FlowView, FlowError> {
        let flow = self
            .inner
            .store
            .flow(flow_id)
            .await?
            .ok_or(FlowError::NotFound)?;
        let events = self.inner.store.events_for_flow(flow_id, 0, 1000).await?;
        Ok(view_of(&flow, &events))
    }

    /// Completes when the engine shuts down (long-lived responses such as event streams end
    /// then, so a graceful stop does not wait for browsers to hang up).
    pub fn stopping(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.inner.shutdown.clone().cancelled_owned()
    }

    /// Stops every poller and waits for them.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Ends a live flow with `status`; returns whether this call ended it.
    async fn end(
        &self,
        flow_id: &str,
        status: FlowStatus,
        kind: EventKind,
        detail: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let ended = compare_and_set(CAS_ATTEMPTS, || async move {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(Attempt::Done(false));
            };
            if !flow.is_live() {
                return Ok(Attempt::Done(false));
            }
            let next = Flow {
                status: status.as_str().to_owned(),
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

    /// Writes `next` over version `expected` with an event, and tells subscribers.
    async fn write(
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
            kind: kind.as_str().to_owned(),
            data: serde_json::to_string(&entry)
                .map_err(|e| StoreError::Query(sqlx::Error::Protocol(e.to_string())))?,
            at: now,
        };
        match self
            .inner
            .store
            .update_flow_with_event(next, expected, &event)
            .await?
        {
            Some(id) => {
                // Nobody listening is fine: the event is stored.
                let _ = self.inner.notices.send(Notice {
                    id,
                    agent_sub: next.agent_sub.clone(),
                });
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn wake(&self, flow_id: &str) {
        if let Ok(pollers) = self.inner.pollers.lock()
            && let Some(notify) = pollers.get(flow_id)
        {
            notify.notify_one();
        }
    }

    fn spawn_poller(&self, flow_id: String) {
        let notify = Arc::new(Notify::new());
        if let Ok(mut pollers) = self.inner.pollers.lock() {
            if pollers.contains_key(&flow_id) {
                return;
            }
            pollers.insert(flow_id.clone(), notify.clone());
        }
        let engine = self.clone();
        self.inner.tasks.spawn(async move {
            // A store error pauses the poller, backing off as for the provider's errors; the
            // flow is read afresh when it goes on.
            let mut failures = 0_u32;
            while let Err(error) = engine.run_poller(&flow_id, &notify).await {
                failures = failures.saturating_add(1);
                tracing::error!(%error, flow_id, failures, "poller paused on a store error");
                let wait = super::poll::backoff(Duration::from_secs(5), failures);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = engine.inner.shutdown.cancelled() => break,
                }
            }
            if let Ok(mut pollers) = engine.inner.pollers.lock() {
                pollers.remove(&flow_id);
            }
        });
    }

    /// Polls one flow until it ends (or the engine shuts down).
    async fn run_poller(&self, flow_id: &str, notify: &Notify) -> Result<(), StoreError> {
        loop {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(());
            };
            if !flow.is_live() {
                return Ok(());
            }
            let now = self.inner.clock.now_ms();
            let due = flow.next_poll_at.min(flow.expires_at);
            if due > now {
                tokio::select! {
                    () = tokio::time::sleep_until(self.inner.clock.instant_at(due)) => {}
                    () = notify.notified() => {}
                    () = self.inner.shutdown.cancelled() => return Ok(()),
                }
                continue;
            }
            if now >= flow.expires_at {
                self.end(
                    flow_id,
                    FlowStatus::Expired,
                    EventKind::Expired,
                    Some("Nobody answered in time."),
                    now,
                )
                .await?;
                return Ok(());
            }
            let polled = tokio::select! {
                polled = self.inner.ciba.poll(&flow, now) => polled,
                () = self.inner.shutdown.cancelled() => return Ok(()),
            };
            let after = self.inner.clock.now_ms();
            match polled {
                Polled::Verified { customer, tokens } => {
                    self.verified(flow_id, &customer, tokens, after).await?;
                    return Ok(());
                }
                Polled::Denied => {
                    self.end(
                        flow_id,
                        FlowStatus::Denied,
                        EventKind::Denied,
                        Some("The customer denied the request."),
                        after,
                    )
                    .await?;
                    return Ok(());
                }
                Polled::Expired => {
                    self.end(
                        flow_id,
                        FlowStatus::Expired,
                        EventKind::Expired,
                        Some("Nobody answered in time."),
                        after,
                    )
                    .await?;
                    return Ok(());
                }
                Polled::Failed(detail) => {
                    self.end(
                        flow_id,
                        FlowStatus::Failed,
                        EventKind::Failed,
                        Some(&detail),
                        after,
                    )
                    .await?;
                    return Ok(());
                }
                Polled::Wait(answer) => {
                    let state = poll_state(&flow);
                    let next = match state.after(now, answer, after) {
                        Next::PollAt { at, state } => Flow {
                            interval_secs: secs(state.interval),
                            next_poll_at: at,
                            poll_failures: i64::from(state.failures),
                            ..flow.clone()
                        },
                        Next::Expire => Flow {
                            next_poll_at: flow.expires_at,
                            ..flow.clone()
                        },
                    };
                    // A lost race (a decision, a cancel) is fine: the loop reads again.
                    self.inner.store.update_flow(&next, flow.version).await?;
                }
            }
        }
    }
}

/// How often to retry writing an outcome over concurrent changes (a decision, a report).
const OUTCOME_ATTEMPTS: usize = CAS_ATTEMPTS;

impl Engine {
    /// Records verified tokens. If the flow ended meanwhile (cancelled), or the store cannot
    /// take them, they are not kept: they are revoked, never left live at the provider with
    /// nothing here to end them.
    async fn verified(
        &self,
        flow_id: &str,
        customer: &VerifiedCustomer,
        tokens: String,
        now: i64,
    ) -> Result<(), StoreError> {
        match self.keep_tokens(flow_id, customer, &tokens, now).await {
            Ok(true) => Ok(()),
            Ok(false) => {
                tracing::info!(
                    flow_id,
                    "tokens arrived for a flow that had ended; revoking them"
                );
                self.inner.ciba.discard(flow_id, &tokens).await;
                Ok(())
            }
            Err(error) => {
                tracing::error!(%error, flow_id, "tokens could not be stored; revoking them");
                self.inner.ciba.discard(flow_id, &tokens).await;
                // The request is redeemed: polling it again could only be refused. End the
                // flow with what happened; if even that cannot be written, the poller pauses,
                // and the provider's refusal of the next poll ends it.
                self.end(
                    flow_id,
                    FlowStatus::Failed,
                    EventKind::Failed,
                    Some(NOT_RECORDED),
                    now,
                )
                .await
                .map(|_| ())
            }
        }
    }

    /// Writes the verified flow with its tokens; `false` if the flow is no longer live. It may
    /// have changed since it was read (the customer's decision recorded, a report): read it
    /// again and retry while it is live.
    async fn keep_tokens(
        &self,
        flow_id: &str,
        customer: &VerifiedCustomer,
        tokens: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let detail = format!("Verified {}.", customer.name);
        let detail = &detail;
        let customer_json = &serde_json::to_string(customer)
            .map_err(|e| StoreError::Query(sqlx::Error::Protocol(e.to_string())))?;
        let kept = compare_and_set(OUTCOME_ATTEMPTS, || async move {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(Attempt::Done(false));
            };
            if !flow.is_live() {
                return Ok(Attempt::Done(false));
            }
            let next = Flow {
                status: FlowStatus::Approved.as_str().to_owned(),
                decided_at: flow.decided_at.or(Some(now)),
                ended_at: Some(now),
                customer: Some(customer_json.clone()),
                tokens: Some(tokens.to_owned()),
                ..flow.clone()
            };
            let kind = EventKind::Verified;
            let written = self
                .write(&next, flow.version, kind, Some(detail), now)
                .await?;
            Ok::<_, StoreError>(Attempt::won(written, true))
        })
        .await?;
        Ok(kept.unwrap_or(false))
    }
}

/// The error of a change that lost every attempt to writers that kept changing the flow.
fn kept_changing() -> FlowError {
    FlowError::Store(StoreError::Query(sqlx::Error::Protocol(
        "the flow kept changing".to_owned(),
    )))
}

/// The polling state kept in a stored flow. The last poll was one wait before the next: the
/// interval, or the backoff after failures.
fn poll_state(flow: &Flow) -> PollState {
    let interval = Duration::from_secs(u64::try_from(flow.interval_secs).unwrap_or(5));
    let failures = u32::try_from(flow.poll_failures).unwrap_or(u32::MAX);
    let wait = if failures > 0 {
        super::poll::backoff(interval, failures)
    } else {
        interval
    };
    PollState {
        interval,
        expires_at: flow.expires_at,
        last_poll_at: Some(
            flow.next_poll_at
                .saturating_sub(i64::try_from(wait.as_millis()).unwrap_or(0)),
        ),
        failures,
    }
}

/// The console's view of a stored flow and its events.
pub fn view_of(flow: &Flow, events: &[Event]) -> FlowView {
    let timeline = events
        .iter()
        .filter_map(|event| serde_json::from_str::<TimelineEntry>(&event.data).ok())
        .collect();
    FlowView {
        id: flow.id.clone(),
        agent: flow.agent_name.clone(),
        hint: flow.hint.clone(),
        hint_type: match flow.hint_type.as_str() {
            "email" => HintType::Email,
            "phone" => HintType::Phone,
            _ => HintType::UserId,
        },
        channel: match flow.channel.as_str() {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => Channel::Link,
        },
        binding_code: flow.binding_message.clone(),
        status: FlowStatus::parse(&flow.status).unwrap_or(FlowStatus::Failed),
        created_at: flow.created_at,
        expires_at: flow.expires_at,
        link: flow.link.clone(),
        timeline,
        customer: flow
            .customer
            .as_deref()
            .and_then(|json| serde_json::from_str(json).ok()),
        outcome: flow.outcome_detail.clone(),
        session_open: flow.tokens.is_some(),
    }
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

/// A random flow id: 128 bits, URL-safe.
fn new_id() -> String {
    use rand::RngExt as _;
    let bytes: [u8; 16] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::{collections::VecDeque, sync::Mutex};

    use super::*;
    use crate::store::{MemoryStore, Store as _};

    const T0: i64 = 1_800_000_000_000;

    /// A provider that answers polls from a script and remembers when it was asked.
    #[derive(Debug, Default)]
    struct Scripted {
        answers: Mutex<VecDeque<Polled>>,
        polls: Mutex<Vec<i64>>,
        starts: Mutex<usize>,
        refuse_start: bool,
        /// How long the provider takes to answer a start (it sends the message meanwhile).
        start_delay: Duration,
        /// Tokens revoked through `discard`.
        discarded: Mutex<Vec<String>>,
        /// While polling, change the flow in this store first (as a decision or a cancel
        /// landing during the poll would), then answer.
        meddle: Mutex<Option<(MemoryStore, &'static str)>>,
    }

    impl Scripted {
        fn with(answers: impl IntoIterator<Item = Polled>) -> Arc<Self> {
            Arc::new(Self {
                answers: Mutex::new(answers.into_iter().collect()),
                ..Self::default()
            })
        }

        /// Seconds after T0 of each poll.
        fn polls(&self) -> Vec<i64> {
            self.polls
                .lock()
                .unwrap()
                .iter()
                .map(|at| (at - T0) / 1000)
                .collect()
        }
    }

    #[async_trait]
    impl Ciba for Scripted {
        async fn start(&self, flow: &Flow, _: Duration) -> Result<Started, String> {
            *self.starts.lock().unwrap() += 1;
            tokio::time::sleep(self.start_delay).await;
            if self.refuse_start {
                return Err("No active customer matches that email address.".into());
            }
            Ok(Started {
                auth_req_id: format!("req-{}", flow.id),
                expires_in: Duration::from_secs(60),
                interval: Duration::from_secs(5),
                link: None,
            })
        }

        async fn poll(&self, flow: &Flow, now_ms: i64) -> Polled {
            self.polls.lock().unwrap().push(now_ms);
            let meddle = self.meddle.lock().unwrap().take();
            if let Some((store, status)) = meddle {
                let changed = Flow {
                    status: status.into(),
                    ..flow.clone()
                };
                assert!(store.update_flow(&changed, flow.version).await.unwrap());
            }
            self.answers
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Polled::Wait(Answer::Pending))
        }

        async fn discard(&self, _flow_id: &str, tokens: &str) {
            self.discarded.lock().unwrap().push(tokens.to_owned());
        }
    }

    fn verified() -> Polled {
        Polled::Verified {
            customer: VerifiedCustomer {
                user_id: "alice".into(),
                name: "Alice Anders".into(),
                email: Some("a•••e@example.com".into()),
                phone: None,
                amr: vec!["otp".into()],
                auth_time: 1_800_000_000,
            },
            tokens: r#"{"access_token":"secret"}"#.into(),
        }
    }

    fn agent(sub: &str) -> Agent {
        Agent {
            sub: sub.into(),
            name: format!("Agent {sub}"),
            supervisor: false,
        }
    }

    fn input() -> StartInput {
        StartInput {
            hint: "alice@example.com".into(),
            hint_type: HintType::Email,
            channel: Channel::Email,
            custom_message: None,
        }
    }

    fn engine(store: &MemoryStore, ciba: Arc<Scripted>) -> Engine {
        Engine::new(
            Arc::new(store.clone()),
            ciba,
            Clock::starting_at(T0),
            Duration::from_secs(60),
        )
    }

    /// Lets the pollers run up to `seconds` after `start` on the paused clock.
    async fn run_until(start: tokio::time::Instant, seconds: u64) {
        tokio::time::sleep_until(start + Duration::from_secs(seconds)).await;
    }

    async fn status(engine: &Engine, id: &str) -> FlowStatus {
        engine.view(id).await.unwrap().status
    }

    fn kinds(view: &FlowView) -> Vec<EventKind> {
        view.timeline.iter().map(|e| e.kind).collect()
    }

    /// The agent's request goes away while the provider is still sending (the browser gave up,
    /// the tab closed). The provider goes on and the customer gets a working link, so the flow
    /// must still become pending and be polled: never left "starting", to be failed later.
    #[tokio::test(start_paused = true)]
    async fn case_23_a_start_whose_caller_goes_away_is_still_recorded() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Arc::new(Scripted {
            start_delay: Duration::from_secs(8),
            ..Scripted::default()
        });
        let engine = engine(&store, ciba.clone());
        let gone =
            tokio::time::timeout(Duration::from_secs(1), engine.start(&agent("a"), input())).await;
        assert!(gone.is_err(), "the caller gave up first");
        run_until(start, 20).await;
        let flows = store.pending_flows().await.unwrap();
        assert_eq!(flows.len(), 1);
        assert_eq!(flows[0].status, FlowStatus::Pending.as_str());
        assert_eq!(flows[0].auth_req_id, Some(format!("req-{}", flows[0].id)));
        assert!(!ciba.polls().is_empty(), "its poller runs");
        assert_eq!(*ciba.starts.lock().unwrap(), 1, "nothing sent twice");
    }

    #[tokio::test(start_paused = true)]
    async fn polls_every_interval_until_verified() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([Polled::Wait(Answer::Pending), verified()]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        assert_eq!(view.status, FlowStatus::Pending);
        assert_eq!(view.binding_code.len(), 7);
        run_until(start, 30).await;
        assert_eq!(ciba.polls(), [5, 10]);
        let view = engine.view(&view.id).await.unwrap();
        assert_eq!(view.status, FlowStatus::Approved);
        assert_eq!(kinds(&view), [EventKind::Sent, EventKind::Verified]);
        assert_eq!(view.customer.unwrap().user_id, "alice");
        // The tokens stay in the store; the view never carries them.
        let json = serde_json::to_string(&engine.view(&view.id).await.unwrap()).unwrap();
        assert!(!json.contains("secret"));
    }

    #[tokio::test(start_paused = true)]
    async fn ending_the_customer_session_drops_and_revokes_the_tokens_once() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([verified()]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        assert!(!view.session_open, "no session before the tokens");
        assert!(matches!(
            engine.end_session(&agent("a"), &view.id).await,
            Err(FlowError::NoSession)
        ));
        run_until(start, 6).await;
        assert!(engine.view(&view.id).await.unwrap().session_open);
        // Another agent cannot; its owner can.
        assert!(matches!(
            engine.end_session(&agent("b"), &view.id).await,
            Err(FlowError::NotFound)
        ));
        assert!(ciba.discarded.lock().unwrap().is_empty());
        let ended = engine.end_session(&agent("a"), &view.id).await.unwrap();
        assert!(!ended.session_open);
        assert_eq!(ended.status, FlowStatus::Approved, "still verified");
        assert_eq!(
            kinds(&ended),
            [
                EventKind::Sent,
                EventKind::Verified,
                EventKind::SessionEnded
            ]
        );
        assert_eq!(
            ended.timeline.last().unwrap().detail.as_deref(),
            Some("Ended by Agent a.")
        );
        assert_eq!(
            *ciba.discarded.lock().unwrap(),
            [r#"{"access_token":"secret"}"#]
        );
        assert_eq!(store.flow(&view.id).await.unwrap().unwrap().tokens, None);
        assert!(matches!(
            engine.end_session(&agent("a"), &view.id).await,
            Err(FlowError::NoSession)
        ));
        assert_eq!(ciba.discarded.lock().unwrap().len(), 1, "revoked once");
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_the_store_refuses_are_revoked_and_the_flow_says_so() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let refused = Polled::Verified {
            customer: VerifiedCustomer {
                user_id: "alice".into(),
                name: "Alice Anders".into(),
                email: None,
                phone: None,
                amr: Vec::new(),
                auth_time: 1_800_000_000,
            },
            // Not JSON: the store's check refuses the write.
            tokens: "not json".into(),
        };
        let ciba = Scripted::with([refused]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 60).await;
        assert_eq!(*ciba.discarded.lock().unwrap(), ["not json"]);
        // The redeemed request is never polled again; the agent is told what happened.
        assert_eq!(ciba.polls(), [5]);
        let view = engine.view(&view.id).await.unwrap();
        assert_eq!(view.status, FlowStatus::Failed);
        assert_eq!(view.outcome.as_deref(), Some(NOT_RECORDED));
        assert!(!view.session_open);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_down_stretches_the_interval_for_good() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([
            Polled::Wait(Answer::SlowDown),
            Polled::Wait(Answer::Pending),
            Polled::Wait(Answer::SlowDown),
            verified(),
        ]);
        let engine = engine(&store, ciba.clone());
        engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 59).await;
        assert_eq!(ciba.polls(), [5, 15, 25, 40]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_customer_expires_without_polls_past_the_end() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 120).await;
        assert_eq!(ciba.polls(), [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55]);
        let view = engine.view(&view.id).await.unwrap();
        assert_eq!(view.status, FlowStatus::Expired);
        assert_eq!(kinds(&view), [EventKind::Sent, EventKind::Expired]);
        assert_eq!(view.outcome.as_deref(), Some("Nobody answered in time."));
    }

    #[tokio::test(start_paused = true)]
    async fn case_24_a_failing_provider_is_backed_off_and_a_decision_cuts_the_wait() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([
            Polled::Wait(Answer::Unavailable),
            Polled::Wait(Answer::Unavailable),
            verified(),
        ]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        // 5 s, then backoff: +10 s, then +20 s would be 35 s.
        run_until(start, 16).await;
        assert_eq!(ciba.polls(), [5, 15]);
        // The customer approves at 16 s: the next poll comes as soon as the interval allows
        // (20 s), not at the end of the backoff (35 s).
        engine
            .record(&view.id, EventKind::Approved, None)
            .await
            .unwrap();
        run_until(start, 30).await;
        assert_eq!(ciba.polls(), [5, 15, 20]);
        let view = engine.view(&view.id).await.unwrap();
        assert_eq!(view.status, FlowStatus::Approved);
        assert_eq!(
            kinds(&view),
            [EventKind::Sent, EventKind::Approved, EventKind::Verified]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn denial_and_failure_end_the_flow() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([Polled::Denied]);
        let engine = engine(&store, ciba.clone());
        let denied = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 6).await;
        assert_eq!(status(&engine, &denied.id).await, FlowStatus::Denied);

        let refusing = Arc::new(Scripted {
            refuse_start: true,
            ..Scripted::default()
        });
        let engine = Engine::new(
            Arc::new(store.clone()),
            refusing.clone(),
            Clock::starting_at(T0),
            Duration::from_secs(60),
        );
        let failed = engine.start(&agent("a"), input()).await.unwrap();
        assert_eq!(failed.status, FlowStatus::Failed);
        assert_eq!(
            failed.outcome.as_deref(),
            Some("No active customer matches that email address.")
        );
        run_until(start, 30).await;
        assert!(refusing.polls().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn cancelling_stops_polling_and_only_the_owner_or_a_supervisor_may() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([]);
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 6).await;
        assert!(matches!(
            engine.cancel(&agent("b"), &view.id).await,
            Err(FlowError::NotFound)
        ));
        let supervisor = Agent {
            supervisor: true,
            ..agent("s")
        };
        let cancelled = engine.cancel(&supervisor, &view.id).await.unwrap();
        assert_eq!(cancelled.status, FlowStatus::Cancelled);
        assert_eq!(cancelled.outcome.as_deref(), Some("Cancelled by Agent s."));
        assert!(matches!(
            engine.cancel(&agent("a"), &view.id).await,
            Err(FlowError::Ended)
        ));
        run_until(start, 60).await;
        assert_eq!(ciba.polls(), [5], "no poll after the cancel");
    }

    #[tokio::test(start_paused = true)]
    async fn a_report_ends_the_flow_for_the_agent_at_once() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([]);
        let engine = engine(&store, ciba.clone());
        let mut notices = engine.subscribe();
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 6).await;
        engine
            .record(&view.id, EventKind::LinkOpened, None)
            .await
            .unwrap();
        let reported = engine.report(&view.id).await.unwrap();
        assert_eq!(reported.status, FlowStatus::Cancelled);
        assert_eq!(reported.outcome.as_deref(), Some(REPORTED));
        assert_eq!(
            kinds(&reported),
            [EventKind::Sent, EventKind::LinkOpened, EventKind::Reported]
        );
        assert_eq!(
            reported.timeline.last().and_then(|e| e.detail.as_deref()),
            Some(REPORTED)
        );
        // The agent's stream hears every step, the report last.
        let mut last = None;
        while let Ok(notice) = notices.try_recv() {
            last = Some(notice.id);
        }
        assert_eq!(last, Some(store.last_event_id().await.unwrap()));
        // Only once, and not for an unknown flow.
        assert!(matches!(
            engine.report(&view.id).await,
            Err(FlowError::Ended)
        ));
        assert!(matches!(
            engine.report("nope").await,
            Err(FlowError::NotFound)
        ));
        run_until(start, 60).await;
        assert_eq!(ciba.polls(), [5], "no poll after the report");
    }

    #[tokio::test(start_paused = true)]
    async fn case_24_a_restart_resumes_polling_without_a_second_message() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let first = Scripted::with([]);
        let engine1 = engine(&store, first.clone());
        let view = engine1.start(&agent("a"), input()).await.unwrap();
        run_until(start, 7).await;
        engine1.shutdown().await;
        assert_eq!(first.polls(), [5]);

        // A flow caught between the store and the provider when the process died.
        let mut stuck = store.flow(&view.id).await.unwrap().unwrap();
        stuck.id = "stuck".into();
        stuck.status = "starting".into();
        stuck.auth_req_id = None;
        store.insert_flow(&stuck).await.unwrap();

        let second = Scripted::with([verified()]);
        let engine2 = engine(&store, second.clone());
        assert_eq!(engine2.resume().await.unwrap(), 1);
        run_until(start, 20).await;
        assert_eq!(*second.starts.lock().unwrap(), 0, "nothing is sent again");
        assert_eq!(second.polls(), [10]);
        assert_eq!(status(&engine2, &view.id).await, FlowStatus::Approved);
        assert_eq!(status(&engine2, "stuck").await, FlowStatus::Failed);
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_hear_every_change_of_their_flows() {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let engine = engine(&store, Scripted::with([verified()]));
        let mut notices = engine.subscribe();
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 6).await;
        let first = notices.recv().await.unwrap();
        let second = notices.recv().await.unwrap();
        assert_eq!(first.agent_sub, "a");
        assert!(second.id > first.id);
        let events = store.events_after(0, Some("a"), 10).await.unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.flow_id == view.id));
        assert!(
            store
                .events_after(0, Some("b"), 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// Starts a flow whose first poll brings tokens while the flow is changed to `status`
    /// behind the poller's back; returns the provider, the store and the flow's id after it.
    async fn tokens_during(status: &'static str) -> (Arc<Scripted>, MemoryStore, Engine, String) {
        let start = tokio::time::Instant::now();
        let store = MemoryStore::new();
        let ciba = Scripted::with([verified()]);
        *ciba.meddle.lock().unwrap() = Some((store.clone(), status));
        let engine = engine(&store, ciba.clone());
        let view = engine.start(&agent("a"), input()).await.unwrap();
        run_until(start, 6).await;
        (ciba, store, engine, view.id)
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_land_even_when_the_flow_changed_during_the_poll() {
        // The customer's decision is recorded while the poll is in flight.
        let (ciba, _, engine, id) = tokens_during("pending").await;
        assert_eq!(status(&engine, &id).await, FlowStatus::Approved);
        assert!(ciba.discarded.lock().unwrap().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_for_a_flow_cancelled_during_the_poll_are_revoked() {
        let (ciba, store, engine, id) = tokens_during("cancelled").await;
        assert_eq!(status(&engine, &id).await, FlowStatus::Cancelled);
        assert_eq!(
            ciba.discarded.lock().unwrap().as_slice(),
            [r#"{"access_token":"secret"}"#]
        );
        let flow = store.flow(&id).await.unwrap().unwrap();
        assert!(flow.tokens.is_none(), "no token is kept for an ended flow");
    }
}
