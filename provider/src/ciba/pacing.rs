//! How often a client may poll for a pending request (CIBA Core §7.3, §11: `interval` and
//! `slow_down`), remembered in memory, so that a poll of a pending request reads the store but
//! writes nothing: the polls are most of the token endpoint's traffic, and nothing in them is
//! worth a write.
//!
//! Polls of one request are decided one at a time (under the map's lock), as the stored
//! compare-and-set did. What a restart forgets is only this pacing: the next poll of each
//! request is judged as a first one, so a client may poll once sooner; every decision and
//! every redemption stays in the store. In a cluster each provider instance paces the polls it
//! receives.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use super::poll::{self, Outcome, PollState, Status};
use crate::clock::Timestamp;

/// Requests remembered before the ones that expired are swept out.
const SWEEP_AT: usize = 10_000;

/// The pacing of every pending request this instance has been polled for.
#[derive(Debug, Default)]
pub struct Pacing {
    requests: Mutex<HashMap<Vec<u8>, Paced>>,
}

/// One request's pacing.
#[derive(Clone, Copy, Debug)]
struct Paced {
    last_poll: Option<Timestamp>,
    interval: Duration,
    expires_at: Timestamp,
}

impl Pacing {
    /// Decides a poll of the pending request `id_hash`, stored as `stored`, at `now`, with the
    /// pacing remembered here (the stored one at first), and remembers the pacing after it.
    pub fn poll(&self, id_hash: &[u8], stored: PollState, now: Timestamp) -> (Outcome, PollState) {
        debug_assert_eq!(stored.status, Status::Pending);
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        if requests.len() >= SWEEP_AT && !requests.contains_key(id_hash) {
            requests.retain(|_, paced| paced.expires_at > now);
        }
        let paced = requests.entry(id_hash.to_vec()).or_insert(Paced {
            last_poll: stored.last_poll,
            interval: stored.interval,
            expires_at: stored.expires_at,
        });
        let current = PollState {
            last_poll: paced.last_poll,
            interval: paced.interval,
            ..stored
        };
        let (outcome, next) = poll::decide(current, now);
        paced.last_poll = next.last_poll;
        paced.interval = next.interval;
        (outcome, next)
    }

    /// Forgets `id_hash`, which is no longer pending.
    pub fn forget(&self, id_hash: &[u8]) {
        self.requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id_hash);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires_at: i64) -> PollState {
        PollState {
            status: Status::Pending,
            expires_at: Timestamp(expires_at),
            interval: Duration::from_secs(5),
            last_poll: None,
        }
    }

    #[test]
    fn a_poll_too_soon_slows_the_client_down_for_good_without_the_store() {
        let pacing = Pacing::default();
        let stored = pending(600_000);
        let (first, _) = pacing.poll(b"a", stored, Timestamp(1_000));
        assert_eq!(
            first,
            Outcome::Refuse(crate::error::ErrorCode::AuthorizationPending)
        );
        // The store still says "never polled": the pacing here is what counts.
        let (second, next) = pacing.poll(b"a", stored, Timestamp(2_000));
        assert_eq!(second, Outcome::Refuse(crate::error::ErrorCode::SlowDown));
        assert_eq!(next.interval, Duration::from_secs(10));
        // 9 s after the last poll is too soon for 10 s (and slows it to 15 s); 15 s later is not.
        let (third, _) = pacing.poll(b"a", stored, Timestamp(11_000));
        assert_eq!(third, Outcome::Refuse(crate::error::ErrorCode::SlowDown));
        let (fourth, next) = pacing.poll(b"a", stored, Timestamp(26_000));
        assert_eq!(
            fourth,
            Outcome::Refuse(crate::error::ErrorCode::AuthorizationPending)
        );
        assert_eq!(next.interval, Duration::from_secs(15));
        // Another request is paced on its own.
        let (other, _) = pacing.poll(b"b", stored, Timestamp(26_500));
        assert_eq!(
            other,
            Outcome::Refuse(crate::error::ErrorCode::AuthorizationPending)
        );
    }

    #[test]
    fn expired_requests_are_swept_out_and_forgotten_ones_start_afresh() {
        let pacing = Pacing::default();
        for n in 0..SWEEP_AT {
            pacing.poll(&n.to_be_bytes(), pending(10_000), Timestamp(1_000));
        }
        pacing.poll(b"late", pending(600_000), Timestamp(20_000));
        assert_eq!(pacing.requests.lock().unwrap().len(), 1, "the expired went");
        pacing.forget(b"late");
        let (again, _) = pacing.poll(b"late", pending(600_000), Timestamp(20_500));
        assert_eq!(
            again,
            Outcome::Refuse(crate::error::ErrorCode::AuthorizationPending)
        );
    }
}
