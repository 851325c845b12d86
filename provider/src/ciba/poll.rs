//! What a token poll with the CIBA grant answers (CIBA Core §10.1, §11), as a function of the
//! stored request and `now`. The store applies the returned state only if the request did not
//! change in between (a version check), so concurrent polls are decided one at a time.

use std::time::Duration;

use crate::clock::Timestamp;
use crate::error::{ErrorCode, OAuthError};

/// How much `slow_down` adds to the interval (CIBA Core §11).
pub const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);
/// The interval given to clients at first (Mosaic asks for at least 5 seconds).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// Where a backchannel request stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Waiting for the user.
    Pending,
    /// The user approved; tokens not yet issued.
    Approved,
    /// The user (or the provider) denied.
    Denied,
    /// Tokens were issued; the `auth_req_id` is spent.
    Redeemed,
}

impl Status {
    /// The name used in the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Denied => "denied",
            Self::Redeemed => "redeemed",
        }
    }

    /// Reads a stored name.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "denied" => Some(Self::Denied),
            "redeemed" => Some(Self::Redeemed),
            _ => None,
        }
    }
}

/// The parts of a stored request that polling reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PollState {
    /// Where the request stands.
    pub status: Status,
    /// When the request expires.
    pub expires_at: Timestamp,
    /// The minimum time between polls, as the client was told (and grown by `slow_down`).
    pub interval: Duration,
    /// When the client last polled; `None` before the first poll.
    pub last_poll: Option<Timestamp>,
}

/// The answer to one poll.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Issue the tokens (the request is now redeemed).
    Issue,
    /// An OAuth error answer with this code.
    Refuse(ErrorCode),
}

impl Outcome {
    /// The error answer for a refusal, with a sentence for people; `None` for [`Outcome::Issue`].
    pub fn error(self, interval: Duration) -> Option<OAuthError> {
        let Self::Refuse(code) = self else {
            return None;
        };
        let text = match code {
            ErrorCode::AuthorizationPending => "The user has not decided yet.".to_owned(),
            ErrorCode::SlowDown => format!(
                "Polling too fast: wait at least {} seconds between polls.",
                interval.as_secs()
            ),
            ErrorCode::AccessDenied => "The user denied the request.".to_owned(),
            ErrorCode::ExpiredToken => {
                "The request expired; start a new authentication request.".to_owned()
            }
            _ => "The auth_req_id is not valid for this client.".to_owned(),
        };
        Some(OAuthError::new(code, text))
    }
}

/// Decides one poll at `now` and returns the answer with the request's new state.
///
/// - A redeemed request is `invalid_grant`: tokens are issued at most once.
/// - An expired request is `expired_token`, whatever it was waiting for.
/// - A denied request is `access_denied`.
/// - An approved request issues tokens and becomes redeemed.
/// - A pending request polled sooner than `interval` after the previous poll is `slow_down` and
///   the interval grows by 5 seconds; the first poll is never too early. Otherwise it is
///   `authorization_pending`. Every poll of a pending request counts as the last poll.
pub fn decide(state: PollState, now: Timestamp) -> (Outcome, PollState) {
    let refuse = |code| (Outcome::Refuse(code), state);
    match state.status {
        Status::Redeemed => refuse(ErrorCode::InvalidGrant),
        _ if now >= state.expires_at => refuse(ErrorCode::ExpiredToken),
        Status::Denied => refuse(ErrorCode::AccessDenied),
        Status::Approved => (
            Outcome::Issue,
            PollState {
                status: Status::Redeemed,
                ..state
            },
        ),
        Status::Pending => {
            let too_soon = state
                .last_poll
                .is_some_and(|last| now.since(last) < state.interval);
            let next = PollState {
                last_poll: Some(now),
                interval: if too_soon {
                    state.interval + SLOW_DOWN_STEP
                } else {
                    state.interval
                },
                ..state
            };
            let code = if too_soon {
                ErrorCode::SlowDown
            } else {
                ErrorCode::AuthorizationPending
            };
            (Outcome::Refuse(code), next)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const START: Timestamp = Timestamp(1_700_000_000_000);

    fn pending() -> PollState {
        PollState {
            status: Status::Pending,
            expires_at: START.plus(Duration::from_secs(600)),
            interval: DEFAULT_INTERVAL,
            last_poll: None,
        }
    }

    fn at(seconds: u64) -> Timestamp {
        START.plus(Duration::from_secs(seconds))
    }

    #[test]
    fn the_first_poll_is_never_too_early() {
        let (outcome, state) = decide(pending(), START);
        assert_eq!(outcome, Outcome::Refuse(ErrorCode::AuthorizationPending));
        assert_eq!(state.last_poll, Some(START));
        assert_eq!(state.interval, DEFAULT_INTERVAL);
    }

    #[test]
    fn polling_faster_than_the_interval_slows_down_by_five_seconds() {
        let (_, state) = decide(pending(), at(0));
        let (outcome, state) = decide(state, START.plus(Duration::from_millis(4_999)));
        assert_eq!(outcome, Outcome::Refuse(ErrorCode::SlowDown));
        assert_eq!(state.interval, Duration::from_secs(10));
        // Measured from the poll that was too early: 9 s later is still too early for 10 s.
        let (outcome, state) = decide(state, START.plus(Duration::from_millis(13_999)));
        assert_eq!(outcome, Outcome::Refuse(ErrorCode::SlowDown));
        assert_eq!(state.interval, Duration::from_secs(15));
        // Waiting the whole interval is fine again.
        let (outcome, state) = decide(state, START.plus(Duration::from_millis(28_999)));
        assert_eq!(outcome, Outcome::Refuse(ErrorCode::AuthorizationPending));
        assert_eq!(state.interval, Duration::from_secs(15));
    }

    #[test]
    fn approval_issues_once() {
        let approved = PollState {
            status: Status::Approved,
            ..pending()
        };
        let (outcome, state) = decide(approved, at(1));
        assert_eq!(outcome, Outcome::Issue);
        assert_eq!(state.status, Status::Redeemed);
        let (outcome, _) = decide(state, at(2));
        assert_eq!(outcome, Outcome::Refuse(ErrorCode::InvalidGrant));
    }

    #[test]
    fn denial_and_expiry() {
        let denied = PollState {
            status: Status::Denied,
            ..pending()
        };
        assert_eq!(
            decide(denied, at(1)).0,
            Outcome::Refuse(ErrorCode::AccessDenied)
        );
        for status in [Status::Pending, Status::Approved, Status::Denied] {
            let state = PollState {
                status,
                ..pending()
            };
            assert_eq!(
                decide(state, at(600)).0,
                Outcome::Refuse(ErrorCode::ExpiredToken),
                "{status:?}"
            );
        }
        let redeemed = PollState {
            status: Status::Redeemed,
            ..pending()
        };
        assert_eq!(
            decide(redeemed, at(601)).0,
            Outcome::Refuse(ErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn stored_names_round_trip() {
        for status in [
            Status::Pending,
            Status::Approved,
            Status::Denied,
            Status::Redeemed,
        ] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        assert_eq!(Status::parse("other"), None);
    }
}
