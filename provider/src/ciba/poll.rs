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
mod tests;
