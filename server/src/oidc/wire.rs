//! The wire contract with the provider: request parameters and the mapping of every answer
//! (status, `Retry-After`, body) to a typed result. Plain functions, unit-tested here; the
//! client in [`super`] only sends and calls them.
//!
//! Bodies are read for their fields and their OAuth `error` code only; no description, body or
//! token text is ever copied into an error.

use std::time::Duration;

use infra::secret::{Secret, same};
use serde::Deserialize;
use serde_json::Value;

use super::{Channel, HintType, OidcError, Profile};

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
    /// The body.
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

    fn parse<T: for<'de> Deserialize<'de>>(&self, what: &str) -> Result<T, OidcError> {
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

/// Tokens for a user (RFC 6749 §5.1, OIDC Core §3.1.3.3). `Debug` shows no token.
#[derive(Clone, Debug)]
pub struct TokenSet {
    /// The access token.
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

/// Where a one-time code is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OtpChannel {
    /// To the customer's verified phone.
    Sms,
    /// To the customer's verified email address.
    Email,
}

impl OtpChannel {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sms => "sms",
            Self::Email => "email",
        }
    }
}

/// Mosaic's `identifier_type` for a hint type (`phone_number`, not `phone`).
pub fn identifier_type(kind: HintType) -> &'static str {
    match kind {
        HintType::Email => "email",
        HintType::Phone => "phone_number",
        HintType::UserId => "user_id",
    }
}

/// Reads the answer to a one-time code request.
pub fn otp_sent(answer: &Answer) -> Result<(), OidcError> {
    if answer.is_success() {
        Ok(())
    } else {
        Err(refusal(answer, Caller::Bearer))
    }
}

/// A customer signed in with a one-time code. `Debug` shows no token.
#[derive(Clone, Debug)]
pub struct CustomerSession {
    /// The customer's access token: it authorises their decision.
    pub access_token: Secret,
    /// The customer's ID token, if the provider sent one.
    pub id_token: Option<Secret>,
    /// Seconds until the access token expires.
    pub expires_in: Option<u64>,
}

/// Reads the answer to a one-time code check.
pub fn otp_session(answer: &Answer) -> Result<CustomerSession, OidcError> {
    if !answer.is_success() {
        return Err(match refusal(answer, Caller::Bearer) {
            // Wrong, expired, used or locked code: one answer, whatever the reason.
            OidcError::InvalidGrant => OidcError::WrongCode {
                attempts_left: attempts_left(answer),
            },
            other => other,
        });
    }
    #[derive(Deserialize)]
    struct Raw {
        access_token: String,
        #[serde(default)]
        id_token: Option<String>,
        #[serde(default)]
        expires_in: Option<u64>,
    }
    let raw: Raw = answer.parse("one-time code")?;
    if raw.access_token.is_empty() {
        return Err(OidcError::Protocol(
            "the one-time code answer has no access token".to_owned(),
        ));
    }
    Ok(CustomerSession {
        access_token: Secret::new(raw.access_token),
        id_token: raw.id_token.filter(|t| !t.is_empty()).map(Secret::new),
        expires_in: raw.expires_in,
    })
}

/// How many tries the provider says are left for a one-time code, if its refusal says so:
/// `"Wrong code. 3 attempts left."` is 3, `"Too many wrong codes: …"` is 0. Only that number is
/// read from the description; nothing else of it is kept.
pub fn attempts_left(answer: &Answer) -> Option<u32> {
    let body: Value = serde_json::from_slice(&answer.body).ok()?;
    let text = body
        .get("error_description")
        .and_then(Value::as_str)
        .or_else(|| body.pointer("/message/0").and_then(Value::as_str))
        .or_else(|| body.get("message").and_then(Value::as_str))?
        .to_ascii_lowercase();
    if text.contains("too many") {
        return Some(0);
    }
    let words: Vec<&str> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect();
    words.windows(3).find_map(|window| match window {
        [count, noun, "left" | "remaining"]
            if noun.starts_with("attempt") || noun.starts_with("tr") =>
        {
            count.parse().ok().filter(|n| *n <= 100)
        }
        _ => None,
    })
}

/// Reads the answer to a backchannel completion (the customer's decision).
pub fn completed(answer: &Answer) -> Result<(), OidcError> {
    if answer.is_success() {
        return Ok(());
    }
    let code = answer.error_code();
    Err(match (answer.status, code.as_deref()) {
        (403, _) | (_, Some("access_denied")) => OidcError::Forbidden,
        (409, _) | (_, Some("conflict")) => OidcError::AlreadyDecided,
        (404, _) | (_, Some("not_found")) => OidcError::NotFound,
        (400, Some("expired_token")) => OidcError::Expired,
        _ => refusal(answer, Caller::Bearer),
    })
}

/// Standard claims about the signed-in user (OIDC Core §5.3.2), as far as scopes allow.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct UserInfo {
    /// The user id.
    pub sub: String,
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

/// Reads a code exchange answer (RFC 6749 §4.1.4).
pub fn exchanged(answer: &Answer) -> Result<TokenSet, OidcError> {
    if answer.is_success() {
        token_set(answer)
    } else {
        Err(refusal(answer, Caller::Client))
    }
}

/// `value` form-encoded (`application/x-www-form-urlencoded`), as RFC 6749 §2.3.1 asks for the
/// id and secret inside HTTP Basic.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Reads the query of the redirect back from the authorization endpoint (RFC 6749 §4.1.2,
/// RFC 9207): `state` must be the one sent, `iss` the issuer (required when the provider
/// announces it), and then `code` is returned.
pub fn authorization_code(
    query: &str,
    expected_state: &str,
    issuer: &str,
    iss_required: bool,
) -> Result<Secret, OidcError> {
    let mut url = reqwest::Url::parse("http://callback.invalid/")
        .map_err(|_| OidcError::Authorization("cannot read the answer".to_owned()))?;
    url.set_query(Some(query.trim_start_matches('?')));
    let mut found = std::collections::HashMap::new();
    for (name, value) in url.query_pairs() {
        if found
            .insert(name.into_owned(), value.into_owned())
            .is_some()
        {
            return Err(OidcError::Authorization(
                "the answer repeats a parameter".to_owned(),
            ));
        }
    }
    let state_ok = found
        .get("state")
        .is_some_and(|state| same(state, expected_state));
    if !state_ok {
        return Err(OidcError::Authorization(
            "the answer does not belong to this sign-in (state)".to_owned(),
        ));
    }
    match found.get("iss") {
        Some(iss) if iss != issuer => {
            return Err(OidcError::Authorization(
                "the answer comes from another issuer (iss)".to_owned(),
            ));
        }
        None if iss_required => {
            return Err(OidcError::Authorization(
                "the answer does not name its issuer (iss)".to_owned(),
            ));
        }
        _ => {}
    }
    if let Some(error) = found.get("error") {
        let plain = (1..=64).contains(&error.len())
            && error
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return Err(OidcError::Authorization(format!(
            "the provider answered {}",
            if plain { error.as_str() } else { "an error" }
        )));
    }
    found
        .remove("code")
        .filter(|code| !code.is_empty())
        .map(Secret::new)
        .ok_or_else(|| OidcError::Authorization("the answer has no code".to_owned()))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn error(status: u16, code: &str) -> Answer {
        Answer::json(
            status,
            &json!({"error": code, "error_description": "SENSITIVE text abc123"}),
        )
    }

    fn tokens() -> Value {
        json!({
            "access_token": "at-123", "token_type": "Bearer", "expires_in": 3600,
            "id_token": "a.b.c", "scope": "openid email", "refresh_token": "rt-1",
        })
    }

    fn request(channel: Channel, custom: Option<&str>) -> BackchannelRequest {
        BackchannelRequest {
            login_hint: "alice@example.com".into(),
            hint_type: HintType::Email,
            channel,
            binding_message: Some("K7-42".into()),
            custom_message: custom.map(str::to_owned),
            requested_expiry: Some(300),
            scope: "openid email".into(),
        }
    }

    #[test]
    fn mosaic_shaped_requests_carry_request_context() {
        for profile in [Profile::Embedded, Profile::Mosaic] {
            let params =
                backchannel_params(profile, &request(Channel::Email, Some("Hello there"))).unwrap();
            let get = |name: &str| {
                params
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, v)| v.clone())
            };
            assert_eq!(get("login_hint").as_deref(), Some("alice@example.com"));
            assert_eq!(get("binding_message").as_deref(), Some("K7-42"));
            assert_eq!(get("requested_expiry").as_deref(), Some("300"));
            assert_eq!(get("scope").as_deref(), Some("openid email"));
            let context: Value = serde_json::from_str(&get("request_context").unwrap()).unwrap();
            assert_eq!(
                context,
                json!({"channel": "email", "login_hint_type": "email", "custom_message": "Hello there"})
            );
        }
        let params = backchannel_params(Profile::Mosaic, &request(Channel::Link, None)).unwrap();
        let context = &params
            .iter()
            .find(|(k, _)| *k == "request_context")
            .unwrap()
            .1;
        assert_eq!(
            serde_json::from_str::<Value>(context).unwrap(),
            json!({"channel": "link", "login_hint_type": "email"})
        );
    }

    #[test]
    fn standard_requests_carry_only_standard_parameters() {
        let params =
            backchannel_params(Profile::Standard, &request(Channel::Sms, Some("Hi"))).unwrap();
        let names: Vec<&str> = params.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            names,
            ["scope", "login_hint", "binding_message", "requested_expiry"]
        );
    }

    #[test]
    fn a_started_request_is_read() {
        let started = backchannel_started(&Answer::json(
            200,
            &json!({"auth_req_id": "abc", "expires_in": 600, "interval": 5}),
        ))
        .unwrap();
        assert_eq!(started.auth_req_id.expose(), "abc");
        assert_eq!((started.expires_in, started.interval), (600, 5));
        assert_eq!(started.link, None);
        let debug = format!("{started:?}");
        assert!(!debug.contains("abc"), "{debug}");

        let with_link = backchannel_started(&Answer::json(
            200,
            &json!({"auth_req_id": "abc", "expires_in": 600, "link": "https://x/approve?auth_req_id=abc"}),
        ))
        .unwrap();
        assert_eq!(with_link.interval, DEFAULT_INTERVAL_SECS);
        assert!(with_link.link.is_some());
        assert!(!format!("{with_link:?}").contains("abc"));

        for bad in [
            json!({"expires_in": 600}),
            json!({"auth_req_id": "", "expires_in": 600}),
            json!({"auth_req_id": "x", "expires_in": 0}),
            json!("nope"),
        ] {
            assert!(matches!(
                backchannel_started(&Answer::json(200, &bad)),
                Err(OidcError::Protocol(_))
            ));
        }
    }

    #[test]
    fn backchannel_refusals_are_typed() {
        let cases = [
            (error(400, "unknown_user_id"), OidcError::UnknownUser),
            (
                error(400, "invalid_binding_message"),
                OidcError::InvalidBindingMessage,
            ),
            (
                error(401, "invalid_client"),
                OidcError::ClientAuthentication,
            ),
            (error(502, "delivery_failed"), OidcError::DeliveryFailed),
            (
                error(400, "invalid_scope"),
                OidcError::Refused {
                    status: 400,
                    code: "invalid_scope".into(),
                },
            ),
            (
                Answer {
                    status: 401,
                    retry_after: None,
                    body: b"<html>".to_vec(),
                },
                OidcError::ClientAuthentication,
            ),
            (
                Answer {
                    status: 503,
                    retry_after: None,
                    body: b"<html>SENSITIVE</html>".to_vec(),
                },
                OidcError::Unavailable("it answered HTTP 503".into()),
            ),
            (
                Answer {
                    status: 429,
                    retry_after: Some("30".into()),
                    body: vec![],
                },
                OidcError::RateLimited {
                    retry_after: Some(Duration::from_secs(30)),
                },
            ),
        ];
        for (answer, expected) in cases {
            let got = backchannel_started(&answer).unwrap_err();
            assert_eq!(got, expected);
            assert!(!got.to_string().contains("SENSITIVE"), "{got}");
            assert!(!got.to_string().contains("abc123"), "{got}");
        }
    }

    #[test]
    fn error_codes_are_read_only_when_plain() {
        assert_eq!(
            error(400, "slow_down").error_code().as_deref(),
            Some("slow_down")
        );
        assert_eq!(error(400, "<script>").error_code(), None);
        assert_eq!(error(400, &"a".repeat(65)).error_code(), None);
        assert_eq!(Answer::json(400, &json!({"error": 7})).error_code(), None);
        let mosaic_only = Answer::json(400, &json!({"message": ["x"], "error_code": 400}));
        assert_eq!(mosaic_only.error_code(), None);
    }

    #[test]
    fn poll_answers_map_to_outcomes() {
        assert!(matches!(
            poll_outcome(&error(400, "authorization_pending")),
            PollOutcome::Pending
        ));
        assert!(matches!(
            poll_outcome(&error(400, "slow_down")),
            PollOutcome::SlowDown
        ));
        assert!(matches!(
            poll_outcome(&error(400, "access_denied")),
            PollOutcome::Denied
        ));
        assert!(matches!(
            poll_outcome(&error(403, "access_denied")),
            PollOutcome::Denied
        ));
        assert!(matches!(
            poll_outcome(&error(400, "expired_token")),
            PollOutcome::Expired
        ));
        assert!(matches!(
            poll_outcome(&error(400, "invalid_grant")),
            PollOutcome::Invalid(_)
        ));
        assert!(matches!(
            poll_outcome(&error(401, "invalid_client")),
            PollOutcome::Invalid(_)
        ));
        assert!(
            matches!(poll_outcome(&error(400, "weird")), PollOutcome::Invalid(t) if t.contains("weird"))
        );
        assert!(matches!(
            poll_outcome(&error(500, "server_error")),
            PollOutcome::Unavailable(_)
        ));
        assert!(matches!(
            poll_outcome(&Answer { status: 502, retry_after: None, body: b"Bad gateway".to_vec() }),
            PollOutcome::Unavailable(t) if t.contains("502")
        ));
        assert!(matches!(
            poll_outcome(&Answer { status: 429, retry_after: Some("12".into()), body: vec![] }),
            PollOutcome::RateLimited(Some(wait)) if wait == Duration::from_secs(12)
        ));
        assert!(matches!(
            poll_outcome(&Answer {
                status: 429,
                retry_after: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
                body: vec![]
            }),
            PollOutcome::RateLimited(None)
        ));
        let PollOutcome::Tokens(tokens) = poll_outcome(&Answer::json(200, &tokens())) else {
            panic!("expected tokens");
        };
        assert_eq!(tokens.access_token.expose(), "at-123");
        assert_eq!(tokens.id_token.expose(), "a.b.c");
        assert_eq!(
            tokens.refresh_token.as_ref().map(Secret::expose),
            Some("rt-1")
        );
        assert_eq!(tokens.expires_in, Some(3600));
        assert_eq!(tokens.scope.as_deref(), Some("openid email"));
        let debug = format!("{tokens:?}");
        assert!(
            !debug.contains("at-123") && !debug.contains("a.b.c") && !debug.contains("rt-1"),
            "{debug}"
        );
    }

    #[test]
    fn token_answers_must_be_bearer_with_an_id_token() {
        let mut body = tokens();
        body["token_type"] = json!("mac");
        assert!(matches!(
            poll_outcome(&Answer::json(200, &body)),
            PollOutcome::Invalid(_)
        ));
        let mut body = tokens();
        body.as_object_mut().unwrap().remove("id_token");
        assert!(matches!(
            poll_outcome(&Answer::json(200, &body)),
            PollOutcome::Invalid(_)
        ));
        let mut body = tokens();
        body["token_type"] = json!("bearer");
        assert!(matches!(
            poll_outcome(&Answer::json(200, &body)),
            PollOutcome::Tokens(_)
        ));
        let PollOutcome::Invalid(text) = poll_outcome(&Answer {
            status: 200,
            retry_after: None,
            body: b"at-123".to_vec(),
        }) else {
            panic!("expected invalid");
        };
        assert!(!text.contains("at-123"), "{text}");
    }

    #[test]
    fn client_tokens_are_reused_until_shortly_before_expiry() {
        assert_eq!(client_token_lifetime(Some(3600)), Duration::from_secs(3540));
        assert_eq!(client_token_lifetime(Some(60)), Duration::from_secs(30));
        assert_eq!(client_token_lifetime(Some(0)), Duration::ZERO);
        assert_eq!(client_token_lifetime(None), Duration::from_secs(60));
        let (token, expires) = client_token(&Answer::json(
            200,
            &json!({"access_token": "ct", "token_type": "Bearer", "expires_in": 3600, "scope": ""}),
        ))
        .unwrap();
        assert_eq!((token.expose(), expires), ("ct", Some(3600)));
        assert_eq!(
            client_token(&error(401, "invalid_client")).unwrap_err(),
            OidcError::ClientAuthentication
        );
    }

    #[test]
    fn one_time_login_answers() {
        assert_eq!(identifier_type(HintType::Phone), "phone_number");
        assert_eq!(identifier_type(HintType::Email), "email");
        assert_eq!(identifier_type(HintType::UserId), "user_id");
        assert_eq!(
            otp_sent(&Answer::json(200, &json!({"message": "A code was sent."}))),
            Ok(())
        );
        assert_eq!(
            otp_sent(&error(400, "unknown_user_id")),
            Err(OidcError::UnknownUser)
        );
        assert_eq!(
            otp_sent(&error(401, "invalid_token")),
            Err(OidcError::InvalidToken)
        );
        assert_eq!(
            otp_sent(&Answer {
                status: 429,
                retry_after: Some("900".into()),
                body: vec![]
            }),
            Err(OidcError::RateLimited {
                retry_after: Some(Duration::from_secs(900))
            })
        );
        assert_eq!(
            otp_session(&error(400, "invalid_grant")).unwrap_err(),
            OidcError::WrongCode {
                attempts_left: None
            }
        );
        let wrong = |text: &str| {
            Answer::json(
                400,
                &json!({"error": "invalid_grant", "error_description": text, "message": [text]}),
            )
        };
        for (text, left) in [
            ("Wrong code. 3 attempts left.", Some(3)),
            ("Wrong code. 1 attempt left.", Some(1)),
            ("Too many wrong codes: ask for a new one.", Some(0)),
            ("The code has expired: ask for a new one.", None),
            ("Wrong code. 99999 attempts left.", None),
        ] {
            assert_eq!(
                otp_session(&wrong(text)).unwrap_err(),
                OidcError::WrongCode {
                    attempts_left: left
                },
                "{text}"
            );
        }
        let session = otp_session(&Answer::json(
            200,
            &json!({"access_token": "cat", "id_token": "x.y.z", "token_type": "Bearer", "expires_in": 3600, "session_id": "s"}),
        ))
        .unwrap();
        assert_eq!(session.access_token.expose(), "cat");
        assert!(!format!("{session:?}").contains("cat"));
    }

    #[test]
    fn completion_answers() {
        assert_eq!(
            completed(&Answer::json(200, &json!({"status": "approved"}))),
            Ok(())
        );
        assert_eq!(
            completed(&error(403, "access_denied")),
            Err(OidcError::Forbidden)
        );
        assert_eq!(
            completed(&error(409, "conflict")),
            Err(OidcError::AlreadyDecided)
        );
        assert_eq!(
            completed(&error(400, "expired_token")),
            Err(OidcError::Expired)
        );
        assert_eq!(
            completed(&error(404, "not_found")),
            Err(OidcError::NotFound)
        );
        assert_eq!(
            completed(&error(401, "invalid_token")),
            Err(OidcError::InvalidToken)
        );
        assert_eq!(
            completed(&error(400, "invalid_request")),
            Err(OidcError::Refused {
                status: 400,
                code: "invalid_request".into()
            })
        );
        assert!(matches!(
            completed(&error(500, "server_error")),
            Err(OidcError::Unavailable(_))
        ));
    }

    #[test]
    fn basic_credentials_are_form_encoded() {
        assert_eq!(form_encode("agent-console"), "agent-console");
        assert_eq!(form_encode("a b:c/d%é"), "a+b%3Ac%2Fd%25%C3%A9");
    }

    #[test]
    fn authorization_answers_are_checked() {
        let iss = "http://127.0.0.1:3001";
        let ok = "code=c0de&state=s1&iss=http%3A%2F%2F127.0.0.1%3A3001";
        assert_eq!(
            authorization_code(ok, "s1", iss, true).unwrap().expose(),
            "c0de"
        );
        assert_eq!(
            authorization_code(&format!("?{ok}"), "s1", iss, true)
                .unwrap()
                .expose(),
            "c0de"
        );
        assert!(authorization_code(ok, "s2", iss, true).is_err());
        assert!(authorization_code(ok, "s1", "https://other", true).is_err());
        assert!(authorization_code("code=c&state=s1", "s1", iss, true).is_err());
        assert!(authorization_code("code=c&state=s1", "s1", iss, false).is_ok());
        assert!(authorization_code("code=c&code=d&state=s1", "s1", iss, false).is_err());
        assert!(authorization_code("state=s1", "s1", iss, false).is_err());
        let denied =
            authorization_code("error=access_denied&state=s1", "s1", iss, false).unwrap_err();
        assert_eq!(
            denied,
            OidcError::Authorization("the provider answered access_denied".into())
        );
    }
}
