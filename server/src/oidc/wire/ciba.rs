//! The CIBA backchannel request (CIBA Core §7) and the token polls of its grant (§10, §11).

use std::time::Duration;

use infra::secret::Secret;
use serde::Deserialize;

use super::{Answer, Caller, DEFAULT_INTERVAL_SECS, TokenSet, refusal, retry_after, token_set};
use super::{Channel, HintType, OidcError, Profile};

/// A backchannel authentication request (CIBA Core §7.1, with Mosaic's `request_context`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BackchannelRequest {
    /// The customer's phone number, email address or user id.
    pub login_hint: String,
    /// Which of the three `login_hint` is (Mosaic's `login_hint_type`).
    pub hint_type: HintType,
    /// How the link reaches the customer (Mosaic's `channel`).
    pub channel: Channel,
    /// The short code the agent reads out and the customer sees.
    pub binding_message: Option<String>,
    /// The sentence sent before the link (Mosaic's `custom_message`).
    pub custom_message: Option<String>,
    /// How long the request may live, in seconds.
    pub requested_expiry: Option<u32>,
    /// Space-separated scopes; must include `openid`.
    pub scope: String,
    /// In ping mode: the bearer token the provider's ping must present (CIBA Core §7.1).
    pub notification_token: Option<Secret>,
}

#[derive(serde::Serialize)]
struct RequestContext<'a> {
    channel: &'a str,
    login_hint_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_message: Option<&'a str>,
}

/// The form parameters of `request` for `profile`, without client authentication.
///
/// Mosaic-shaped providers get Mosaic's `request_context` (a JSON object in a string) with the
/// channel, hint type and custom message; a standard provider gets only the standard CIBA
/// parameters, so it picks its own channel and reads `login_hint` its own way.
pub fn backchannel_params(
    profile: Profile,
    request: &BackchannelRequest,
) -> Result<Vec<(&'static str, String)>, OidcError> {
    let mut params = vec![
        ("scope", request.scope.clone()),
        ("login_hint", request.login_hint.clone()),
    ];
    if let Some(message) = &request.binding_message {
        params.push(("binding_message", message.clone()));
    }
    if let Some(expiry) = request.requested_expiry {
        params.push(("requested_expiry", expiry.to_string()));
    }
    if let Some(token) = &request.notification_token {
        params.push(("client_notification_token", token.expose().to_owned()));
    }
    if profile.is_mosaic_shaped() {
        let context = RequestContext {
            channel: request.channel.as_str(),
            login_hint_type: request.hint_type.as_str(),
            custom_message: request.custom_message.as_deref(),
        };
        let context = serde_json::to_string(&context)
            .map_err(|_| OidcError::Protocol("cannot encode request_context".to_owned()))?;
        params.push(("request_context", context));
    }
    Ok(params)
}

/// The provider's acknowledgement of a backchannel request (CIBA Core §7.3).
#[derive(Clone)]
pub struct BackchannelStarted {
    /// The request's handle, for polling and completion.
    pub auth_req_id: Secret,
    /// Seconds until the request expires.
    pub expires_in: u64,
    /// Seconds to wait between polls (5 when the provider names none).
    pub interval: u64,
    /// With the `link` channel: the link to show the customer (it holds the `auth_req_id`).
    pub link: Option<String>,
}

impl std::fmt::Debug for BackchannelStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackchannelStarted")
            .field("auth_req_id", &self.auth_req_id)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("link", &self.link.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Deserialize)]
struct RawStarted {
    auth_req_id: String,
    expires_in: u64,
    #[serde(default)]
    interval: Option<u64>,
    #[serde(default)]
    link: Option<String>,
}

/// Reads the answer to a backchannel request.
pub fn backchannel_started(answer: &Answer) -> Result<BackchannelStarted, OidcError> {
    if !answer.is_success() {
        return Err(refusal(answer, Caller::Client));
    }
    let raw: RawStarted = answer.parse("backchannel")?;
    if raw.auth_req_id.is_empty() || raw.auth_req_id.len() > 1024 {
        return Err(OidcError::Protocol(
            "the backchannel answer has no usable auth_req_id".to_owned(),
        ));
    }
    if raw.expires_in == 0 {
        return Err(OidcError::Protocol(
            "the backchannel answer says the request has already expired".to_owned(),
        ));
    }
    Ok(BackchannelStarted {
        auth_req_id: Secret::new(raw.auth_req_id),
        expires_in: raw.expires_in,
        interval: raw.interval.unwrap_or(DEFAULT_INTERVAL_SECS).max(1),
        link: raw.link.filter(|link| !link.is_empty()),
    })
}

/// What one poll of the token endpoint with the CIBA grant says (CIBA Core §10.1, §11).
#[derive(Clone, Debug)]
pub enum PollOutcome {
    /// The customer approved: the tokens (the ID token still to be validated).
    Tokens(TokenSet),
    /// `authorization_pending`: poll again after the interval.
    Pending,
    /// `slow_down`: add 5 seconds to the interval, then poll again.
    SlowDown,
    /// `access_denied`: the customer (or the provider) said no. Stop.
    Denied,
    /// `expired_token`: nobody decided in time. Stop.
    Expired,
    /// The provider refused the poll for good (`invalid_grant`, `invalid_client`, an answer
    /// that cannot be read). Stop.
    Invalid(String),
    /// The provider could not be reached, timed out, or answered 5xx: poll again later.
    Unavailable(String),
    /// 429: poll again after the given wait, or the interval if none was given.
    RateLimited(Option<Duration>),
}

/// Maps a token endpoint answer to a CIBA grant poll to its outcome.
pub fn poll_outcome(answer: &Answer) -> PollOutcome {
    if answer.status == 200 {
        return match token_set(answer) {
            Ok(tokens) => PollOutcome::Tokens(tokens),
            Err(error) => PollOutcome::Invalid(error.to_string()),
        };
    }
    let code = answer.error_code();
    match (answer.status, code.as_deref()) {
        (429, _) => PollOutcome::RateLimited(retry_after(answer.retry_after.as_deref())),
        (500..=599, _) => {
            PollOutcome::Unavailable(format!("the provider answered HTTP {}", answer.status))
        }
        (400..=499, Some("authorization_pending")) => PollOutcome::Pending,
        (400..=499, Some("slow_down")) => PollOutcome::SlowDown,
        (400..=499, Some("access_denied")) => PollOutcome::Denied,
        (400..=499, Some("expired_token")) => PollOutcome::Expired,
        (400..=499, Some("invalid_grant")) => PollOutcome::Invalid(
            "the provider does not accept this auth_req_id (invalid_grant)".to_owned(),
        ),
        (_, Some("invalid_client")) | (401, None) => {
            PollOutcome::Invalid(OidcError::ClientAuthentication.to_string())
        }
        (status, code) => PollOutcome::Invalid(format!(
            "the provider refused the poll (HTTP {status}, {})",
            code.unwrap_or("unknown")
        )),
    }
}
