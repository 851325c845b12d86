//! A value made by one attempt at a time and kept for as long as its outcome deserves: the
//! provider connection (kept for good once made, a failure remembered for a few seconds) and
//! the provider's health (kept for a few seconds either way).
//!
//! Every caller that arrives while nothing usable is kept waits for the same attempt (a single
//! flight), so an outage costs one outbound request per period, not one per caller, and no
//! caller queues behind the attempts of others. The attempt runs in a task of its own: a caller
//! that gives up (its request was cancelled) does not cancel it for everyone else.
//!
//! Time is tokio's, so tests can pause and advance it.

use std::{
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use tokio::{sync::watch, time::Instant};

/// How long an outcome is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keep {
    /// Until the process ends.
    Forever,
    /// For this long after the attempt ended.
    For(Duration),
}

/// See the module documentation.
#[derive(Debug)]
pub struct Memo<T> {
    state: Arc<Mutex<State<T>>>,
}

#[derive(Debug)]
struct State<T> {
    /// The last outcome and until when it may be used (`None`: for good).
    kept: Option<(T, Option<Instant>)>,
    /// The attempt under way, if any: it sends its outcome once.
    attempt: Option<watch::Receiver<Option<T>>>,
}

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                kept: None,
                attempt: None,
            })),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> Memo<T> {
    /// Nothing kept yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The kept outcome if it is still good, else the outcome of the attempt under way, else
    /// that of a new attempt `attempt()` (run in a task of its own), kept as `keep` says.
    ///
    /// `lost` is answered if the attempt's task ended without an outcome (it was aborted, as
    /// tasks are when the runtime shuts down).
    pub async fn get<F, Fut>(&self, attempt: F, keep: fn(&T) -> Keep, lost: fn() -> T) -> T
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T> + Send + 'static,
    {
        let mut receiver = {
            let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((value, until)) = &state.kept
                && until.is_none_or(|until| Instant::now() < until)
            {
                return value.clone();
            }
            match &state.attempt {
                // An attempt whose task is gone (its sender dropped) is replaced.
                Some(receiver) if receiver.has_changed().is_ok() => receiver.clone(),
                _ => {
                    let (sender, receiver) = watch::channel(None);
                    state.attempt = Some(receiver.clone());
                    let shared = Arc::clone(&self.state);
                    let future = attempt();
                    tokio::spawn(async move {
                        let outcome = future.await;
                        let until = match keep(&outcome) {
                            Keep::Forever => None,
                            Keep::For(period) => Some(Instant::now() + period),
                        };
                        {
                            let mut state = shared.lock().unwrap_or_else(PoisonError::into_inner);
                            state.kept = Some((outcome.clone(), until));
                            state.attempt = None;
                        }
                        // Nobody waiting is fine: the outcome is kept above.
                        let _ = sender.send(Some(outcome));
                    });
                    receiver
                }
            }
        };
        match receiver.wait_for(Option::is_some).await {
            Ok(outcome) => match &*outcome {
                Some(value) => value.clone(),
                None => lost(),
            },
            Err(_) => lost(),
        }
    }
}

#[cfg(test)]
mod tests;
