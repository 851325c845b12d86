//! Validating a backchannel authentication request (CIBA Core §7.1) with Mosaic's parameters.

use std::time::Duration;

use serde::Deserialize;

use crate::error::{ErrorCode, OAuthError};
pub use proto::{Channel, HintType};

/// Scopes a client may ask for.
pub const ALLOWED_SCOPES: [&str; 4] = ["openid", "email", "phone", "offline_access"];
/// Lifetime of a request when the client does not ask for one (Mosaic's default).
pub const DEFAULT_EXPIRY: Duration = Duration::from_secs(600);
/// Longest lifetime a client can get; longer requests are capped to it.
pub const MAX_EXPIRY: Duration = Duration::from_secs(3600);
/// The message sent with the link when the client gives none (Mosaic's default).
pub const DEFAULT_CUSTOM_MESSAGE: &str = "To verify it's you, click this link:";
/// Longest custom message, in characters: it must fit an SMS with the link. The limit is
/// shared with the BFF and the console's form ([`proto::MAX_NOTE_CHARS`]).
pub const MAX_CUSTOM_MESSAGE_CHARS: usize = proto::MAX_NOTE_CHARS;

/// A user identifier, normalised so that equal identifiers compare equal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hint {
    /// E.164: `+` and 7 to 15 digits.
    Phone(String),
    /// Lower-cased address.
    Email(String),
    /// As given.
    UserId(String),
}

/// A binding message that passed Mosaic's pattern `^[a-zA-Z0-9-._+/!?#]{1,20}$`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BindingMessage(String);

impl BindingMessage {
    /// Checks `value` against Mosaic's pattern.
    pub fn parse(value: &str) -> Result<Self, OAuthError> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || "-._+/!?#".contains(c);
        if (1..=20).contains(&value.len()) && value.chars().all(allowed) {
            Ok(Self(value.to_owned()))
        } else {
            Err(OAuthError::new(
                ErrorCode::InvalidBindingMessage,
                "binding_message must be 1 to 20 characters from A-Z, a-z, 0-9 and - . _ + / ! ? #.",
            ))
        }
    }

    /// The message.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The raw parameters of a backchannel request, after client authentication.
#[derive(Clone, Debug, Default)]
pub struct RawRequest<'a> {
    pub scope: Option<&'a str>,
    pub login_hint: Option<&'a str>,
    /// `login_hint_token` (not supported; present only to refuse it clearly).
    pub login_hint_token: Option<&'a str>,
    /// `id_token_hint` (not supported; present only to refuse it clearly).
    pub id_token_hint: Option<&'a str>,
    pub binding_message: Option<&'a str>,
    pub requested_expiry: Option<&'a str>,
    /// `request_context`, a JSON object in a string.
    pub request_context: Option<&'a str>,
    /// `user_code` (not supported).
    pub user_code: Option<&'a str>,
}

/// A request that passed every check that needs no database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidRequest {
    /// The scopes, deduplicated, in the order given.
    pub scopes: Vec<String>,
    /// Whom the request is for.
    pub hint: Hint,
    /// What the user is shown to compare with what the agent says.
    pub binding_message: Option<BindingMessage>,
    /// How long the request lives.
    pub expiry: Duration,
    /// How the link reaches the user.
    pub channel: Channel,
    /// The sentence sent before the link.
    pub custom_message: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestContext {
    channel: Option<Channel>,
    login_hint_type: Option<HintType>,
    custom_message: Option<String>,
}

/// Checks a backchannel request's parameters (CIBA Core §7.1 and §13; Mosaic's
/// `request_context`).
pub fn validate(raw: &RawRequest<'_>) -> Result<ValidRequest, OAuthError> {
    let scopes = scopes(raw.scope)?;
    if raw.user_code.is_some() {
        return Err(OAuthError::invalid_request(
            "user_code is not supported by this provider.",
        ));
    }
    let hints = [raw.login_hint, raw.login_hint_token, raw.id_token_hint]
        .iter()
        .filter(|hint| hint.is_some())
        .count();
    if hints > 1 {
        return Err(OAuthError::invalid_request(
            "Send exactly one of login_hint, login_hint_token and id_token_hint.",
        ));
    }
    if raw.login_hint_token.is_some() || raw.id_token_hint.is_some() {
        return Err(OAuthError::invalid_request(
            "Only login_hint is supported; send the user's phone, email or user id in it.",
        ));
    }
    let login_hint = raw
        .login_hint
        .ok_or_else(|| OAuthError::invalid_request("login_hint is required."))?;

    let context = match raw.request_context {
        None => RequestContext::default(),
        Some(text) => serde_json::from_str::<RequestContext>(text).map_err(|_| {
            OAuthError::invalid_request(
                "request_context must be a JSON object with only channel (sms, email or link), \
                 login_hint_type (phone, email or user_id) and custom_message.",
            )
        })?,
    };
    let hint = hint(
        login_hint,
        context.login_hint_type.unwrap_or(HintType::Phone),
    )?;
    let binding_message = raw.binding_message.map(BindingMessage::parse).transpose()?;
    let expiry = expiry(raw.requested_expiry)?;
    let custom_message = match context.custom_message {
        None => DEFAULT_CUSTOM_MESSAGE.to_owned(),
        Some(message) => custom_message(&message)?,
    };
    Ok(ValidRequest {
        scopes,
        hint,
        binding_message,
        expiry,
        channel: context.channel.unwrap_or(Channel::Sms),
        custom_message,
    })
}

/// Splits and checks `scope`: it must hold `openid`, and only [`ALLOWED_SCOPES`].
pub fn scopes(scope: Option<&str>) -> Result<Vec<String>, OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in scope
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        if !ALLOWED_SCOPES.contains(&scope) {
            return Err(OAuthError::new(
                ErrorCode::InvalidScope,
                "scope may only hold openid, email, phone and offline_access.",
            ));
        }
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
    if !scopes.iter().any(|s| s == "openid") {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope must include openid.",
        ));
    }
    Ok(scopes)
}

/// Normalises `value` as a hint of type `kind`.
pub fn hint(value: &str, kind: HintType) -> Result<Hint, OAuthError> {
    let value = value.trim_end();
    match kind {
        HintType::Phone => phone(&unmangled_plus(value)).map(Hint::Phone).ok_or_else(|| {
            OAuthError::invalid_request(
                "login_hint is not a phone number in international format, such as +15555550101.",
            )
        }),
        HintType::Email => email(value.trim_start())
            .map(Hint::Email)
            .ok_or_else(|| OAuthError::invalid_request("login_hint is not an email address.")),
        HintType::UserId => {
            let value = value.trim_start();
            let ok = (1..=64).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c));
            if ok {
                Ok(Hint::UserId(value.to_owned()))
            } else {
                Err(OAuthError::invalid_request(
                    "login_hint is not a user id (1 to 64 of A-Z, a-z, 0-9, - . _).",
                ))
            }
        }
    }
}

/// Form encoding turns `+` into a space, so `login_hint=+15555550101` sent without encoding
/// (as Mosaic's guide shows it) arrives as ` 15555550101`. A leading space before a digit is
/// read back as the `+` it was.
fn unmangled_plus(value: &str) -> String {
    match value.strip_prefix(' ') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => format!("+{rest}"),
        _ => value.trim_start().to_owned(),
    }
}

/// `+15555550101` from `+1 (555) 555-0101`; `None` unless it is E.164 (`+`, 7 to 15 digits,
/// the first not 0).
pub fn phone(value: &str) -> Option<String> {
    let rest = value.strip_prefix('+')?;
    let mut digits = String::with_capacity(16);
    digits.push('+');
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '(' | ')' | '.' => {}
            _ => return None,
        }
    }
    let count = digits.len() - 1;
    let first_ok = digits.as_bytes().get(1).is_some_and(|b| *b != b'0');
    ((7..=15).contains(&count) && first_ok).then_some(digits)
}

/// A lower-cased email address, or `None` if `value` is not one.
pub fn email(value: &str) -> Option<String> {
    let value = value.to_ascii_lowercase();
    let (local, domain) = value.split_once('@')?;
    let local_ok = (1..=64).contains(&local.len())
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    let domain_ok = (3..=253).contains(&domain.len())
        && domain.contains('.')
        && domain.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    (local_ok && domain_ok && value.len() <= 254).then_some(value)
}

/// `requested_expiry` in seconds: a positive whole number (sent as a number or a numeric
/// string), capped at [`MAX_EXPIRY`]; [`DEFAULT_EXPIRY`] when absent.
pub fn expiry(value: Option<&str>) -> Result<Duration, OAuthError> {
    let Some(value) = value else {
        return Ok(DEFAULT_EXPIRY);
    };
    let value = value.trim();
    let error = || {
        OAuthError::invalid_request("requested_expiry must be a whole number of seconds above 0.")
    };
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error());
    }
    // All digits: only overflow can fail to parse, and a huge value is capped anyway.
    let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
    if seconds == 0 {
        return Err(error());
    }
    Ok(Duration::from_secs(seconds).min(MAX_EXPIRY))
}

/// Checks a custom message: plain text of 1 to [`MAX_CUSTOM_MESSAGE_CHARS`] characters, no
/// control, invisible or direction-changing characters, no markup and no web addresses (the
/// rule the BFF and the console share: [`proto::check_note`]).
pub fn custom_message(value: &str) -> Result<String, OAuthError> {
    proto::check_note(value).map(str::to_owned).map_err(|_| {
        OAuthError::invalid_request(format!(
            "custom_message must be plain text of 1 to {MAX_CUSTOM_MESSAGE_CHARS} characters, \
             without markup, web addresses or invisible characters."
        ))
    })
}

#[cfg(test)]
mod tests;
