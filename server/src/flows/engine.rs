//! The flow engine: starts verifications, runs one poller per pending flow, records what
//! happens as events, and tells subscribers (the agents' event streams).
//!
//! The stored flow is the truth. Every change is a compare-and-set on the flow together with
//! an appended event, in one transaction; the in-process broadcast only says "look again".
//! After a restart, [`Engine::resume`] restarts the pollers of pending flows from the store; a
//! flow that crashed while being started is failed rather than sent again, so a customer never
//! gets a second message.

use std::{collections::HashMap, sync::Arc, time::Duration};

use tokio::sync::{Notify, broadcast};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use super::clock::Clock;
use crate::store::FlowStore;

mod commands;
mod poller;
mod port;
mod view;

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
    pub fn new(
        store: Arc<dyn FlowStore>,
        ciba: Arc<dyn Ciba>,
        clock: Clock,
        expiry: Duration,
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
        let _ = self.inner.notices.send(Notice { id, agent_sub });
        self.wake(flow_id);
    }

    /// Notifications may have been lost (the listener reconnected): every stream reads the
    /// store again, and every poller here looks at its flow again.
    pub fn look_again(&self) {
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

    /// Stops every poller and waits for them.
    pub async fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

#[cfg(test)]
mod tests;
