//! [`OidcError`]: every way a call to the provider can fail, as a plain sentence.
//!
//! No variant holds a secret, a token, a code or a response body: the provider's answers are
//! reduced to their HTTP status and OAuth `error` code (checked to be a short identifier) before
//! they reach an error, so errors are safe to log and to show an agent.

use std::time::Duration;

/// Why a call to the provider failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached, did not answer in time, or answered with a 5xx.
    #[error("the provider is unavailable: {0}")]
    Unavailable(String),
    /// The discovery document is missing something this client needs.
    #[error("the provider's discovery document cannot be used: {0}")]
    Discovery(String),
    /// Discovery names another issuer than the configured one (OIDC Discovery §4.3).
    #[error("the provider reports the issuer {found:?}, but {expected:?} is configured")]
    IssuerMismatch {
        /// The configured issuer.
        expected: String,
        /// What the discovery document says.
        found: String,
    },
    /// The configured profile has no such endpoint (e.g. one-time login on a standard provider).
    #[error("the {profile} provider profile has no {what}")]
    Unsupported {
        /// `embedded`, `mosaic` or `standard`.
        profile: &'static str,
        /// What is missing.
        what: &'static str,
    },
    /// The provider refused the client id and secret (`invalid_client`).
    #[error("the provider refused the client id and secret")]
    ClientAuthentication,
    /// No active customer matches the identifier (`unknown_user_id`).
    #[error("no active customer matches that identifier")]
    UnknownUser,
    /// The binding message was refused (`invalid_binding_message`).
    #[error("the provider refused the binding message")]
    InvalidBindingMessage,
    /// Too many requests (429); wait `retry_after` if the provider said how long.
    #[error("the provider is limiting requests{}", retry_hint(.retry_after))]
    RateLimited {
        /// From `Retry-After`, when it is a number of seconds.
        retry_after: Option<Duration>,
    },
    /// The provider could not send the SMS or email; nothing was started (`delivery_failed`).
    #[error("the provider could not deliver the message; nothing was started")]
    DeliveryFailed,
    /// The one-time code is wrong, expired, used, or locked after too many tries.
    #[error("the one-time code was not accepted")]
    WrongCode {
        /// How many tries are left, when the provider says (0: locked, ask for a new code).
        attempts_left: Option<u32>,
    },
    /// The backchannel request has expired (`expired_token`).
    #[error("the request has expired")]
    Expired,
    /// The backchannel request was already decided (409).
    #[error("the request was already decided")]
    AlreadyDecided,
    /// This sign-in may not decide the request: another customer, or not made for it (403).
    #[error("this sign-in may not decide the request")]
    Forbidden,
    /// No such backchannel request (404).
    #[error("the provider knows no such request")]
    NotFound,
    /// An access token was refused (`invalid_token`, 401).
    #[error("the provider refused the access token")]
    InvalidToken,
    /// An authorization code (or other grant) was refused (`invalid_grant`).
    #[error("the provider refused the grant")]
    InvalidGrant,
    /// The authorization response carries an error, or does not match the request.
    #[error("the sign-in did not complete: {0}")]
    Authorization(String),
    /// Any other refusal, with its HTTP status and OAuth `error` code.
    #[error("the provider refused the request (HTTP {status}, {code})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code, or `unknown`.
        code: String,
    },
    /// An ID token did not validate.
    #[error("the ID token is not valid: {0}")]
    IdToken(#[from] IdTokenError),
    /// The provider's answer could not be understood.
    #[error("the provider's answer could not be understood: {0}")]
    Protocol(String),
}

/// Why an ID token was refused (OIDC Core §3.1.3.7).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdTokenError {
    /// Not a JWS in compact form, or its header or claims do not parse.
    #[error("it is not a well-formed signed JWT")]
    Malformed,
    /// Signed with an algorithm other than RS256 or ES256 (including `none` and HMAC).
    #[error("it is signed with {0}, but only RS256 and ES256 are accepted")]
    UnsupportedAlgorithm(String),
    /// No key in the provider's JWKS matches its `kid` and algorithm, even after a refetch.
    #[error("no key of the provider matches it")]
    UnknownKey,
    /// The signature does not verify.
    #[error("its signature does not verify")]
    BadSignature,
    /// A claim the client needs is absent.
    #[error("it has no {0} claim")]
    MissingClaim(&'static str),
    /// `iss` is not the provider's issuer.
    #[error("it was issued by someone else")]
    WrongIssuer,
    /// `aud` does not name this client, or `azp` names another.
    #[error("it was issued to another client")]
    WrongAudience,
    /// `exp` has passed.
    #[error("it has expired")]
    Expired,
    /// `iat` (or `nbf`) is in the future.
    #[error("it is dated in the future")]
    NotYetValid,
    /// `nonce` differs from the one sent.
    #[error("its nonce is not the one sent")]
    NonceMismatch,
    /// `sub` is not the user the request was for.
    #[error("it names another user than the one requested")]
    SubjectMismatch,
}

fn retry_hint(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(wait) => format!("; try again in {} s", wait.as_secs()),
        None => "; try again later".to_owned(),
    }
}

impl OidcError {
    /// Whether trying again later may succeed (the provider was down or busy).
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::RateLimited { .. })
    }
}

#[cfg(test)]
mod tests;
