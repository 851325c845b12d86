//! The wire contract with the provider: request parameters and the mapping of every answer
//! (status, `Retry-After`, body) to a typed result. Plain functions, unit-tested here; the
//! client in [`super`] only sends and calls them.
//!
//! Bodies are read for their fields and their OAuth `error` code only; no description, body or
//! token text is ever copied into an error.
//!
//! The answers every API shares are here; each API's parameters and answers are in its own file:
//! [`ciba`] (the backchannel request and the token polls), [`mosaic`] (Mosaic's one-time login
//! and the completion of a request by the customer's decision) and [`code`] (the agent's
//! authorization code flow).

use std::time::Duration;

use infra::secret::Secret;
use serde::Deserialize;
use serde_json::Value;

use super::{Channel, HintType, OidcError, Profile};

mod ciba;
mod code;
mod mosaic;

pub use ciba::{
    BackchannelRequest, BackchannelStarted, PollOutcome, backchannel_params, backchannel_started,
    poll_outcome,
};
pub use code::{authorization_code, exchanged};
pub use mosaic::{
    CustomerSession, OtpChannel, attempts_left, completed, identifier_type, otp_sent, otp_session,
};

/// The most of a provider's answer that is read; larger answers are refused.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// The polling interval when the provider names none (CIBA Core §7.3).
pub const DEFAULT_INTERVAL_SECS: u64 = 5;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// A provider's answer, read and bounded.
#[derive(Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold tokens.
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

impl Answer {
    /// An answer with `status` and a JSON `body` (for tests and fakes).
    pub fn json(status: u16, body: &Value) -> Self {
        Self {
            status,
            retry_after: None,
            body: body.to_string().into_bytes(),
        }
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The OAuth `error` code of the body, if it is a short identifier.
    pub fn error_code(&self) -> Option<String> {
        let body: Value = serde_json::from_slice(&self.body).ok()?;
        let code = body.get("error")?.as_str()?;
        let plain = (1..=64).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        plain.then(|| code.to_owned())
    }

    pub(in crate::oidc) fn parse<T: for<'de> Deserialize<'de>>(
        &self,
        what: &str,
    ) -> Result<T, OidcError> {
        serde_json::from_slice(&self.body)
            .map_err(|_| OidcError::Protocol(format!("the {what} answer is not the expected JSON")))
    }
}

/// `Retry-After` as a number of seconds (RFC 9110 §10.2.3); dates are not honoured.
pub fn retry_after(value: Option<&str>) -> Option<Duration> {
    let seconds: u64 = value?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

/// Who the request authenticated as, which decides what a bare 401 means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// The client, with its id and secret: 401 is `invalid_client`.
    Client,
    /// A bearer access token: 401 is `invalid_token`.
    Bearer,
}

/// The error for a refusal that no endpoint-specific rule covers.
pub fn refusal(answer: &Answer, caller: Caller) -> OidcError {
    let code = answer.error_code();
    match (answer.status, code.as_deref()) {
        (429, _) | (_, Some("rate_limited")) => OidcError::RateLimited {
            retry_after: retry_after(answer.retry_after.as_deref()),
        },
        (_, Some("delivery_failed")) => OidcError::DeliveryFailed,
        (500..=599, _) => OidcError::Unavailable(format!("it answered HTTP {}", answer.status)),
        (_, Some("invalid_client")) => OidcError::ClientAuthentication,
        (_, Some("invalid_token")) => OidcError::InvalidToken,
        (401, None) => match caller {
            Caller::Client => OidcError::ClientAuthentication,
            Caller::Bearer => OidcError::InvalidToken,
        },
        (_, Some("unknown_user_id")) => OidcError::UnknownUser,
        (_, Some("invalid_binding_message")) => OidcError::InvalidBindingMessage,
        (_, Some("expired_token")) => OidcError::Expired,
        (_, Some("invalid_grant")) => OidcError::InvalidGrant,
        (status, code) => OidcError::Refused {
            status,
            code: code.unwrap_or("unknown").to_owned(),
        },
    }
}

/// Tokens for a user (RFC 6749 §5.1, OIDC Core §3.1.3.3). `Debug` shows no token.
#[derive(Clone, Debug)]
pub struct TokenSet {
    pub access_token: Secret,
    /// The ID token, still to be validated with
    /// [`OidcClient::validate_id_token`](super::OidcClient::validate_id_token).
    pub id_token: Secret,
    /// The refresh token, with `offline_access`.
    pub refresh_token: Option<Secret>,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
    /// The granted scopes.
    pub scope: Option<String>,
}

#[derive(Deserialize)]
struct RawTokens {
    access_token: String,
    token_type: String,
    #[serde(default)]
    expires_in: Option<u64>,
    #[serde(default)]
    id_token: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    scope: Option<String>,
}

/// Reads a successful token answer for a user grant; it must be a Bearer token with an ID token.
pub fn token_set(answer: &Answer) -> Result<TokenSet, OidcError> {
    let raw: RawTokens = answer.parse("token")?;
    if !raw.token_type.eq_ignore_ascii_case("bearer") {
        return Err(OidcError::Protocol(
            "the token answer is not a Bearer token".to_owned(),
        ));
    }
    if raw.access_token.is_empty() {
        return Err(OidcError::Protocol(
            "the token answer has an empty access token".to_owned(),
        ));
    }
    let id_token = raw
        .id_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| OidcError::Protocol("the token answer has no ID token".to_owned()))?;
    Ok(TokenSet {
        access_token: Secret::new(raw.access_token),
        id_token: Secret::new(id_token),
        refresh_token: raw.refresh_token.filter(|t| !t.is_empty()).map(Secret::new),
        expires_in: raw.expires_in,
        scope: raw.scope,
    })
}

/// A client access token (client credentials, RFC 6749 §4.4) and its lifetime.
pub fn client_token(answer: &Answer) -> Result<(Secret, Option<u64>), OidcError> {
    if !answer.is_success() {
        return Err(refusal(answer, Caller::Client));
    }
    #[derive(Deserialize)]
    struct Raw {
        access_token: String,
        token_type: String,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let raw: Raw = answer.parse("client credentials")?;
    if raw.access_token.is_empty() || !raw.token_type.eq_ignore_ascii_case("bearer") {
        return Err(OidcError::Protocol(
            "the client credentials answer has no Bearer access token".to_owned(),
        ));
    }
    Ok((Secret::new(raw.access_token), raw.expires_in))
}

/// How long a client access token that lives `expires_in` seconds is reused: until a minute
/// before it expires (half its life, if that is shorter); a minute when the provider does not
/// say.
pub fn client_token_lifetime(expires_in: Option<u64>) -> Duration {
    let Some(lifetime) = expires_in else {
        return Duration::from_secs(60);
    };
    Duration::from_secs(lifetime - (lifetime / 2).min(60))
}

/// Standard claims about the signed-in user (OIDC Core §5.3.2), as far as scopes allow.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    /// The user id.
    pub sub: String,
    /// Who they are.
    #[serde(flatten)]
    pub profile: ProfileClaims,
}

/// The profile claims Countersign reads, in an ID token and in a userinfo answer alike.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ProfileClaims {
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
    /// With the `email` scope.
    #[serde(default)]
    pub email: Option<String>,
    /// With the `email` scope.
    #[serde(default)]
    pub email_verified: Option<bool>,
    /// With the `phone` scope.
    #[serde(default)]
    pub phone_number: Option<String>,
    /// With the `phone` scope.
    #[serde(default)]
    pub phone_number_verified: Option<bool>,
    /// A workforce user's role (`agent`, `supervisor`).
    #[serde(default)]
    pub role: Option<String>,
}

/// Reads a userinfo answer.
pub fn user_info(answer: &Answer) -> Result<UserInfo, OidcError> {
    if !answer.is_success() {
        return Err(refusal(answer, Caller::Bearer));
    }
    answer.parse("userinfo")
}

/// Reads a revocation answer (RFC 7009 §2.2: 200 whether or not the token was known).
pub fn revoked(answer: &Answer) -> Result<(), OidcError> {
    if answer.is_success() {
        Ok(())
    } else {
        Err(refusal(answer, Caller::Client))
    }
}

/// `value` form-encoded (`application/x-www-form-urlencoded`), as RFC 6749 §2.3.1 asks for the
/// id and secret inside HTTP Basic.
pub fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests;
