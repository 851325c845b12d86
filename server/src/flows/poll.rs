//! When to poll the token endpoint next: CIBA Core §7.3 and §11 as pure functions of the flow's
//! polling state, the provider's last answer and `now`.
//!
//! - `authorization_pending`: wait `interval`.
//! - `slow_down`: the interval grows by 5 seconds for the rest of the flow.
//! - the provider unreachable or failing (5xx, timeouts): back off, doubling up to a minute,
//!   never sooner than `interval`; the flow stays pending and resumes when the provider is back.
//! - `429` with `Retry-After`: wait that long, never less than `interval`.
//! - the request's lifetime ends: no more polls; the flow expires here without asking.
//! - the customer decided through this BFF (a nudge): poll at the earliest moment the interval
//!   allows, or at once if that moment would fall after expiry, so an approval is never lost to a
//!   wait.
//! - ping mode: the provider's ping asks for the tokens; polls are only a safety net for a ping
//!   that never came, at most every [`PING_SAFETY_NET`], the last one just before expiry
//!   ([`PollState::safety_net`]).

use std::time::Duration;

/// What CIBA Core adds to the interval on `slow_down`.
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The longest wait between polls while the provider is failing.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// In ping mode, the shortest wait between the polls that stand in for a lost ping.
pub const PING_SAFETY_NET: Duration = Duration::from_secs(30);
/// In ping mode, the last safety-net poll goes out this long before the request expires.
const LAST_CHANCE: Duration = Duration::from_secs(1);

/// Poll intervals below this are raised to it (a provider answering `interval: 0` must not make
/// the BFF spin).
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// A flow's polling state. Times are milliseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollState {
    /// The current interval.
    pub interval: Duration,
    /// When the request expires at the provider.
    pub expires_at: i64,
    /// When the last poll was sent, if any.
    pub last_poll_at: Option<i64>,
    /// Consecutive failed polls (provider unreachable or failing).
    pub failures: u32,
}

/// The provider's answer to one poll, as far as scheduling cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// `authorization_pending`.
    Pending,
    SlowDown,
    /// 5xx, a timeout, or no connection.
    Unavailable,
    /// `429`, with its `Retry-After` if it sent one.
    RateLimited(Option<Duration>),
}

/// What to do next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Poll at `at` (ms) with the updated state.
    PollAt {
        /// When.
        at: i64,
        /// The state to keep.
        state: PollState,
    },
    /// The request's lifetime is over: end the flow as expired without polling again.
    Expire,
}

impl PollState {
    /// The state of a request the provider just accepted at `now`.
    pub fn started(now: i64, expires_in: Duration, interval: Duration) -> Self {
        Self {
            interval: interval.max(MIN_INTERVAL),
            expires_at: now.saturating_add(millis(expires_in)),
            last_poll_at: None,
            failures: 0,
        }
    }

    /// When the first poll goes out: one interval after the start (CIBA Core §7.3).
    pub fn first_poll(&self, now: i64) -> Next {
        self.schedule(now.saturating_add(millis(self.interval)), *self, now)
    }

    /// The next step after a poll sent at `polled_at` got `answer`, decided at `now`.
    pub fn after(&self, polled_at: i64, answer: Answer, now: i64) -> Next {
        let mut state = PollState {
            last_poll_at: Some(polled_at),
            ..*self
        };
        let wait = match answer {
            Answer::Pending => {
                state.failures = 0;
                state.interval
            }
            Answer::SlowDown => {
                state.failures = 0;
                state.interval += SLOW_DOWN_STEP;
                state.interval
            }
            Answer::Unavailable => {
                state.failures = state.failures.saturating_add(1);
                backoff(state.interval, state.failures)
            }
            Answer::RateLimited(retry_after) => retry_after
                .unwrap_or(state.interval)
                .max(state.interval)
                .min(MAX_BACKOFF.max(state.interval)),
        };
        let at = polled_at.max(now).saturating_add(millis(wait));
        self.schedule(at, state, now)
    }

    /// The customer decided through this BFF: poll as soon as the interval allows.
    pub fn nudged(&self, now: i64) -> Next {
        if now >= self.expires_at {
            return Next::Expire;
        }
        let earliest = self
            .last_poll_at
            .map_or(now, |last| last.saturating_add(millis(self.interval)))
            .max(now);
        // Waiting for the interval would outlive the request: ask now, while the approval can
        // still be redeemed. The provider hands over an approved request without slow_down.
        let at = if earliest >= self.expires_at {
            now
        } else {
            earliest
        };
        Next::PollAt { at, state: *self }
    }

    /// `next` in ping mode, decided at `now`: a poll no sooner than [`PING_SAFETY_NET`] from
    /// now, but one still goes out [`LAST_CHANCE`] before expiry, so a lost ping cannot lose an
    /// approval.
    pub fn safety_net(&self, next: Next, now: i64) -> Next {
        let Next::PollAt { at, state } = next else {
            return next;
        };
        let last_chance = self.expires_at.saturating_sub(millis(LAST_CHANCE));
        let at = now
            .saturating_add(millis(PING_SAFETY_NET))
            .min(last_chance)
            .max(at);
        self.schedule(at, state, now)
    }

    /// Whether a poll planned for `at` can still happen, and the step for it.
    fn schedule(&self, at: i64, state: PollState, now: i64) -> Next {
        if now >= self.expires_at || at >= self.expires_at {
            Next::Expire
        } else {
            Next::PollAt { at, state }
        }
    }
}

/// The wait after `failures` failed polls in a row: the interval doubled per failure, capped at
/// [`MAX_BACKOFF`] (or the interval, if that is longer).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let doubled = interval.saturating_mul(1_u32.checked_shl(failures.min(16)).unwrap_or(u32::MAX));
    doubled.min(MAX_BACKOFF.max(interval)).max(interval)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
