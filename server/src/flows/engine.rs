//! The flow engine: starts verifications, runs one poller per pending flow, records what
//! happens as events, and tells subscribers (the agents' event streams).
//!
//! The stored flow is the truth. Every change is a compare-and-set on the flow together with
//! an appended event, in one transaction; the in-process broadcast only says "look again".
//! One poller per live flow across every instance sharing the store: the engine polls only the
//! flows it holds a lease on ([`FlowStore::claim_flows`]), renews the lease with every poll,
//! stops as soon as a read shows another owner, and every few seconds claims the flows whose
//! lease ended (their instance stopped or died). Every claim bumps the flow's version, so a
//! former owner's late write loses its compare-and-set. [`Engine::resume`] makes the first
//! claim at start; a flow whose instance stopped while starting it is failed rather than sent
//! again, so a customer never gets a second message. A graceful stop releases the leases.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::{Notify, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::clock::Clock;
use crate::{metrics::Metrics, store::FlowStore};

mod commands;
mod pages;
mod poller;
mod port;
mod view;

pub use pages::Page;
pub use port::{Agent, Ciba, FlowError, Polled, StartInput, Started};
pub use view::view_of;

/// A change for subscribers: look at event `id` of `agent_sub`'s flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// The event id.
    pub id: i64,
    /// Whose flow.
    pub agent_sub: String,
}

impl Notice {
    /// "Read the store again, whoever you are": notices may have been lost.
    pub fn look_again() -> Self {
        Self {
            id: i64::MAX,
            agent_sub: String::new(),
        }
    }

    /// Whether this is [`Notice::look_again`].
    pub fn is_look_again(&self) -> bool {
        self.id == i64::MAX && self.agent_sub.is_empty()
    }
}

/// The engine; cheap to clone.
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn FlowStore>,
    ciba: Arc<dyn Ciba>,
    clock: Clock,
    expiry: Duration,
    notices: broadcast::Sender<Notice>,
    pollers: std::sync::Mutex<HashMap<String, Arc<Notify>>>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    /// This engine's name in the leases it holds: random, new at every start.
    owner: String,
    /// Where verifications and polls are counted.
    metrics: Metrics,
    /// Notices sent so far ([`Engine::generation`]).
    generation: std::sync::atomic::AtomicU64,
    /// Pages of the event log shared by the streams ([`Engine::page_after`]).
    pages: pages::Pages,
}

/// The outcome of a flow the customer reported ([`Engine::report`]).
pub const REPORTED: &str = "The customer said they did not ask for this.";

/// The outcome of a flow the customer denied.
pub const DENIED: &str = "The customer denied the request.";

/// The outcome of a flow whose approval arrived but could not be stored.
pub const NOT_RECORDED: &str =
    "The customer approved, but the answer could not be recorded. Start the verification again.";

/// Events remembered for subscribers that fall behind before they must re-read the store.
const NOTICE_BUFFER: usize = 1024;
/// Attempts at a compare-and-set before giving up (others changed the flow each time).
const CAS_ATTEMPTS: usize = 16;
/// How long a lease outlives the moment its poller next means to act: longer than one poll
/// can take (the provider's answer, then the ID token's keys and the userinfo call, 5 s each
/// at most), so a live owner never loses a flow mid-poll; an instance that died has its flows
/// taken over within this long of their next poll.
const LEASE_GRACE_MS: i64 = 20_000;
/// How long a flow being started is leased: the provider's answer comes well within it.
const START_LEASE_MS: i64 = 120_000;
/// How often the engine looks for flows whose lease ended.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// Flows claimed in one go.
const CLAIM_BATCH: i64 = 100;

impl Engine {
    /// An engine over `store`, asking the provider through `ciba`, with requests living
    /// `expiry`, counting in `metrics`.
    pub fn new(
        store: Arc<dyn FlowStore>,
        ciba: Arc<dyn Ciba>,
        clock: Clock,
        expiry: Duration,
        metrics: Metrics,
    ) -> Self {
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
                owner: commands::new_id(),
                metrics,
                generation: std::sync::atomic::AtomicU64::new(0),
                pages: pages::Pages::default(),
            }),
        }
    }

    /// Changes as they happen. A receiver that lags must re-read the store from its last id.
    pub fn subscribe(&self) -> broadcast::Receiver<Notice> {
        self.inner.notices.subscribe()
    }

    /// Another instance (or this one) committed event `id` of `flow_id`, as the database's
    /// notifications say: the streams of `agent_sub`'s flows look again, and the flow's poller,
    /// if it runs here, polls without waiting (a decision may have landed elsewhere).
    pub fn heard(&self, id: i64, flow_id: &str, agent_sub: String) {
        self.next_generation();
        let _ = self.inner.notices.send(Notice { id, agent_sub });
        self.wake(flow_id);
    }

    /// The poller of `flow_id`, if it runs here, polls now (another instance took the
    /// provider's ping).
    pub fn wake_poller(&self, flow_id: &str) {
        self.wake(flow_id);
    }

    /// Notifications may have been lost (the listener reconnected): every stream reads the
    /// store again, and every poller here looks at its flow again.
    pub fn look_again(&self) {
        self.next_generation();
        let _ = self.inner.notices.send(Notice::look_again());
        if let Ok(pollers) = self.inner.pollers.lock() {
            for notify in pollers.values() {
                notify.notify_one();
            }
        }
    }

    /// Now, by the engine's clock (ms since the epoch).
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The store the engine writes.
    pub fn store(&self) -> &Arc<dyn FlowStore> {
        &self.inner.store
    }

    /// Completes when the engine shuts down (long-lived responses such as event streams end
    /// then, so a graceful stop does not wait for browsers to hang up).
    pub fn stopping(&self) -> tokio_util::sync::WaitForCancellationFutureOwned {
        self.inner.shutdown.clone().cancelled_owned()
    }

    /// This instance's id: the owner written into the leases it holds (random at every start).
    pub fn instance(&self) -> &str {
        &self.inner.owner
    }

    /// Stops every poller, waits for them, and releases their leases so that another instance
    /// takes the flows over at once.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
        match self
            .inner
            .store
            .release_leases(Some(&self.inner.owner))
            .await
        {
            Ok(0) => {}
            Ok(released) => tracing::info!(released, "pollers' leases released"),
            Err(error) => tracing::warn!(%error, "cannot release the pollers' leases"),
        }
    }
}

#[cfg(test)]
mod tests;
