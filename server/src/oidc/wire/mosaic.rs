//! Mosaic's one-time login (send a code, check it) and the completion of a backchannel request
//! with the customer's decision.

use infra::secret::Secret;
use serde::Deserialize;
use serde_json::Value;

use super::{Answer, Caller, refusal};
use super::{HintType, OidcError};

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
