//! One poller per pending flow: it asks the provider at the times `flows::poll` gives, and
//! records the answer; verified tokens are kept, or revoked when they cannot be.

use std::{sync::Arc, time::Duration};

use app::flow::{EventKind, FlowStatus, VerifiedCustomer};
use infra::retry::{Attempt, compare_and_set};
use tokio::sync::Notify;
use tracing::Instrument as _;

use super::{CAS_ATTEMPTS, DENIED, Engine, FlowError, LEASE_GRACE_MS, NOT_RECORDED, Polled};
use crate::{
    flows::poll::{self, Answer, Next, PollState},
    store::{Flow, Json, StoreError},
};

/// What the agent reads when the request expired.
const NOBODY_ANSWERED: &str = "Nobody answered in time.";

/// How often to retry writing an outcome over concurrent changes (a decision, a report).
const OUTCOME_ATTEMPTS: usize = CAS_ATTEMPTS;

impl Engine {
    pub(super) fn wake(&self, flow_id: &str) {
        if let Ok(pollers) = self.inner.pollers.lock()
            && let Some(notify) = pollers.get(flow_id)
        {
            notify.notify_one();
        }
    }

    pub(super) fn spawn_poller(&self, flow_id: String) {
        let notify = Arc::new(Notify::new());
        if let Ok(mut pollers) = self.inner.pollers.lock() {
            if pollers.contains_key(&flow_id) {
                return;
            }
            pollers.insert(flow_id.clone(), notify.clone());
        }
        let engine = self.clone();
        // Every log line of the poller names its flow, and the provider logs its polls under
        // the request id `poll-<flow id>`.
        let span = tracing::info_span!("poller", flow_id = %flow_id);
        let request_id = Some(format!("poll-{flow_id}"));
        let polling = async move {
            // A store error pauses the poller, backing off as for the provider's errors; the
            // flow is read afresh when it goes on.
            let mut failures = 0_u32;
            while let Err(error) = engine.run_poller(&flow_id, &notify).await {
                failures = failures.saturating_add(1);
                tracing::error!(%error, flow_id, failures, "poller paused on a store error");
                let wait = poll::backoff(Duration::from_secs(5), failures);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = engine.inner.shutdown.cancelled() => break,
                }
            }
            if let Ok(mut pollers) = engine.inner.pollers.lock() {
                pollers.remove(&flow_id);
            }
        };
        self.inner
            .tasks
            .spawn(infra::request_id::scoped(request_id, polling).instrument(span));
    }

    /// Polls one flow until it ends, another instance takes it over, or the engine shuts down.
    async fn run_poller(&self, flow_id: &str, notify: &Notify) -> Result<(), StoreError> {
        let mut epoch = None;
        loop {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(());
            };
            if !flow.is_live() {
                return Ok(());
            }
            // The lease this poller holds. This engine's own sweep may have claimed the flow
            // again (its lease lapsed during a store outage): one poller per flow runs here, so
            // this one carries on under the new epoch.
            if flow.lease_owner.as_deref() == Some(self.inner.owner.as_str()) {
                epoch = Some(flow.lease_epoch);
            }
            let Some(epoch) = epoch.filter(|epoch| self.holds(&flow, *epoch)) else {
                tracing::info!(flow_id, "another instance polls this flow now");
                return Ok(());
            };
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
                self.end_if(
                    flow_id,
                    Some(epoch),
                    FlowStatus::Expired,
                    EventKind::Expired,
                    Some(NOBODY_ANSWERED),
                    now,
                )
                .await?;
                return Ok(());
            }
            // A poll must end inside the lease, or another instance could poll at the same time
            // (the provider redeems once: the other would see the request spent). A lease
            // shorter than that (a store outage, a slow write) is renewed first; losing that
            // write means someone changed the flow: read it again.
            if flow.lease_until < now.saturating_add(LEASE_GRACE_MS / 2) {
                let renewed = Flow {
                    lease_until: now.saturating_add(LEASE_GRACE_MS),
                    ..flow.clone()
                };
                self.inner.store.update_flow(&renewed, flow.version).await?;
                continue;
            }
            let polled = tokio::select! {
                polled = self.inner.ciba.poll(&flow, now) => polled,
                () = self.inner.shutdown.cancelled() => return Ok(()),
            };
            let after = self.inner.clock.now_ms();
            self.inner.metrics.poll(match &polled {
                Polled::Verified { .. } => "verified",
                Polled::Denied => "denied",
                Polled::Expired => "expired",
                Polled::Failed(_) => "failed",
                Polled::Wait(Answer::Pending) => "pending",
                Polled::Wait(Answer::SlowDown) => "slow_down",
                Polled::Wait(Answer::Unavailable) => "unavailable",
                Polled::Wait(Answer::RateLimited(_)) => "rate_limited",
            });
            // The answers that end the flow: what it becomes and what the agent reads.
            let ending = match polled {
                Polled::Verified { customer, tokens } => {
                    self.verified(flow_id, epoch, &customer, tokens, after)
                        .await?;
                    return Ok(());
                }
                Polled::Denied => Some((FlowStatus::Denied, EventKind::Denied, DENIED.to_owned())),
                Polled::Expired => Some((
                    FlowStatus::Expired,
                    EventKind::Expired,
                    NOBODY_ANSWERED.to_owned(),
                )),
                Polled::Failed(detail) => Some((FlowStatus::Failed, EventKind::Failed, detail)),
                Polled::Wait(answer) => {
                    let state = poll_state(&flow);
                    let mut planned = state.after(now, answer, after);
                    if flow.notification_token_hash.is_some() {
                        // Ping mode: the ping asks for the tokens; polls only stand in for
                        // one that never comes.
                        planned = state.safety_net(planned, after);
                    }
                    let next = match planned {
                        Next::PollAt { at, state } => Flow {
                            interval_secs: secs(state.interval),
                            next_poll_at: at,
                            poll_failures: i64::from(state.failures),
                            lease_until: at.saturating_add(LEASE_GRACE_MS),
                            ..flow.clone()
                        },
                        Next::Expire => Flow {
                            next_poll_at: flow.expires_at,
                            lease_until: flow.expires_at.saturating_add(LEASE_GRACE_MS),
                            ..flow.clone()
                        },
                    };
                    // A lost race (a decision, a cancel) is fine: the loop reads again.
                    self.inner.store.update_flow(&next, flow.version).await?;
                    None
                }
            };
            if let Some((status, kind, detail)) = ending {
                self.end_if(flow_id, Some(epoch), status, kind, Some(&detail), after)
                    .await?;
                return Ok(());
            }
        }
    }

    /// Records verified tokens. If the flow ended meanwhile (cancelled), or the store cannot
    /// take them, they are not kept: they are revoked, never left live at the provider with
    /// nothing here to end them.
    async fn verified(
        &self,
        flow_id: &str,
        epoch: i64,
        customer: &VerifiedCustomer,
        tokens: String,
        now: i64,
    ) -> Result<(), StoreError> {
        // The provider has the customer's approval, which the instance that took it records
        // after the provider answered it: a poll can come first, and that instance may be slow
        // or have died. Recorded here if it is not yet (a decision is recorded once), so the
        // timeline always shows it before the verification.
        // Whatever happens to that record, the tokens below are kept or revoked.
        match self.record(flow_id, EventKind::Approved, None).await {
            Ok(()) | Err(FlowError::Ended | FlowError::NotFound) => {}
            Err(error) => tracing::warn!(%error, flow_id, "the approval was not recorded"),
        }
        match self
            .keep_tokens(flow_id, epoch, customer, &tokens, now)
            .await
        {
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
                self.end_if(
                    flow_id,
                    Some(epoch),
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
        epoch: i64,
        customer: &VerifiedCustomer,
        tokens: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let detail = format!("Verified {}.", customer.name);
        let detail = &detail;
        let kept = compare_and_set(OUTCOME_ATTEMPTS, || async move {
            let Some(flow) = self.inner.store.flow(flow_id).await? else {
                return Ok(Attempt::Done(false));
            };
            if !flow.is_live() || !self.holds(&flow, epoch) {
                return Ok(Attempt::Done(false));
            }
            let next = Flow {
                status: FlowStatus::Approved,
                decided_at: flow.decided_at.or(Some(now)),
                ended_at: Some(now),
                customer: Some(Json(customer.clone())),
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

/// The polling state kept in a stored flow. The last poll was one wait before the next: the
/// interval, or the backoff after failures.
pub(super) fn poll_state(flow: &Flow) -> PollState {
    let interval = Duration::from_secs(u64::try_from(flow.interval_secs).unwrap_or(5));
    let failures = u32::try_from(flow.poll_failures).unwrap_or(u32::MAX);
    let wait = if failures > 0 {
        poll::backoff(interval, failures)
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

pub(super) fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
