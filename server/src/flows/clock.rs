//! Wall-clock milliseconds that follow tokio's clock: real time in production, and in tests the
//! paused clock (`tokio::time::pause`, `advance`), so expiry and intervals are tested without
//! waiting.

use tokio::time::Instant;

/// Milliseconds since the Unix epoch, advancing with tokio's clock.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    base_ms: i64,
    base: Instant,
}

impl Clock {
    /// A clock that reads `start_ms` now and advances with tokio's time from here.
    pub fn starting_at(start_ms: i64) -> Self {
        Self {
            base_ms: start_ms,
            base: Instant::now(),
        }
    }

    /// The system's time, advancing with tokio's.
    pub fn system() -> Self {
        Self::starting_at(infra::clock::system_millis())
    }

    /// Now, in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        let elapsed = i64::try_from(self.base.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.base_ms.saturating_add(elapsed)
    }

    /// The tokio instant at which this clock reads `at_ms` (now, if that is past).
    pub fn instant_at(&self, at_ms: i64) -> Instant {
        let ahead = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Instant::now() + std::time::Duration::from_millis(ahead)
    }
}

#[cfg(test)]
mod tests;
