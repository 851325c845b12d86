//! The provider's one error type and its two renderings.
//!
//! Every refusal is an [`OAuthError`]: an error code from the OAuth and CIBA specifications plus a
//! plain sentence that is safe to show. It renders as OAuth JSON (`{error, error_description}`,
//! RFC 6749 §5.2), and on Mosaic's own endpoints also in Mosaic's shape (`{message: [..],
//! error_code}`) in the same body, so Mosaic clients and certified OAuth clients both understand
//! it. Responses always carry `Cache-Control: no-store`.
//!
//! Internal failures never reach the client: [`OAuthError::internal`] answers with a generic
//! `server_error` and attaches the cause as a response extension, which the logging middleware
//! writes to the log (see `http::log_internal_errors`). Rendering has no side effects.

use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Error codes, named as the specifications name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A parameter is missing, repeated, malformed or unsupported (RFC 6749 §5.2).
    InvalidRequest,
    /// Client authentication failed (RFC 6749 §5.2). Answered with 401.
    InvalidClient,
    /// The grant (authorization code, `auth_req_id`, refresh token) is invalid, expired for
    /// good, already used, or belongs to another client (RFC 6749 §5.2).
    InvalidGrant,
    /// The client may not use this grant or endpoint, e.g. CIBA is not enabled (RFC 6749 §5.2).
    UnauthorizedClient,
    /// The grant type is not supported (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// The response type is not supported (RFC 6749 §4.1.2.1).
    UnsupportedResponseType,
    /// `request` objects are not supported (OIDC Core §3.1.2.6).
    RequestNotSupported,
    /// The user must sign in; `prompt=none` cannot be honoured (OIDC Core §3.1.2.6).
    LoginRequired,
    /// The scope lacks `openid`, or asks for something unknown (RFC 6749 §5.2).
    InvalidScope,
    /// No active user matches the hint (CIBA Core §13).
    UnknownUserId,
    /// The binding message is not acceptable (CIBA Core §13).
    InvalidBindingMessage,
    /// The user has not decided yet; keep polling (CIBA Core §11).
    AuthorizationPending,
    /// Polled faster than the interval; add 5 seconds to it (CIBA Core §11).
    SlowDown,
    /// The user denied the request (CIBA Core §11).
    AccessDenied,
    /// The request expired before the user decided (CIBA Core §11).
    ExpiredToken,
    /// The bearer token is missing, unknown, expired or revoked (RFC 6750 §3.1). Answered with 401.
    InvalidToken,
    /// The token lacks a scope or right the request needs (RFC 6750 §3.1). Answered with 403.
    InsufficientScope,
    /// The named resource does not exist.
    NotFound,
    /// The request conflicts with the resource's state, e.g. a second decision.
    Conflict,
    /// Too many requests; try again after `Retry-After` seconds. Answered with 429.
    RateLimited,
    /// A message (SMS, email) could not be delivered; nothing was kept.
    DeliveryFailed,
    /// Something failed inside the provider (RFC 6749 §5.2).
    ServerError,
}

impl ErrorCode {
    /// The code as it is written on the wire (and in the metrics' `answer` label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::RequestNotSupported => "request_not_supported",
            Self::LoginRequired => "login_required",
            Self::InvalidScope => "invalid_scope",
            Self::UnknownUserId => "unknown_user_id",
            Self::InvalidBindingMessage => "invalid_binding_message",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::AccessDenied => "access_denied",
            Self::ExpiredToken => "expired_token",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate_limited",
            Self::DeliveryFailed => "delivery_failed",
            Self::ServerError => "server_error",
        }
    }

    /// The HTTP status this code is answered with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Conflict => StatusCode::CONFLICT,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::DeliveryFailed => StatusCode::BAD_GATEWAY,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A refusal, with a sentence that is safe to show to the caller.
#[derive(Debug)]
pub struct OAuthError {
    /// The machine-readable code.
    pub code: ErrorCode,
    /// A plain sentence for people; never holds a secret, token or code.
    pub description: String,
    /// Seconds to wait before retrying (429 only).
    pub retry_after: Option<u64>,
    status: Option<StatusCode>,
    mosaic: bool,
    internal: Option<String>,
}

/// The cause of a `server_error`, carried to the logging middleware as a response extension.
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

impl OAuthError {
    /// A refusal with `code` and a plain-sentence `description`.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            retry_after: None,
            status: None,
            mosaic: false,
            internal: None,
        }
    }

    /// `invalid_request` with `description`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// `invalid_client`: the same words whatever was wrong, so callers learn nothing.
    pub fn invalid_client() -> Self {
        Self::new(ErrorCode::InvalidClient, "Client authentication failed.")
    }

    /// `invalid_grant` with `description`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// `invalid_token`: the bearer token is not accepted.
    pub fn invalid_token() -> Self {
        Self::new(
            ErrorCode::InvalidToken,
            "The access token is missing, expired, revoked or unknown.",
        )
    }

    /// `rate_limited`, to retry after `seconds`.
    pub fn rate_limited(seconds: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimited,
            format!("Too many requests. Try again in {seconds} seconds."),
        );
        error.retry_after = Some(seconds.max(1));
        error
    }

    /// A failure inside the provider. The caller sees only `server_error`; `cause` goes to the
    /// log, so it must not hold secrets either.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut error = Self::new(ErrorCode::ServerError, "Something went wrong on our side.");
        error.internal = Some(cause.to_string());
        error
    }

    /// Answers with `status` instead of the code's usual one, where a specification says so
    /// for one endpoint (e.g. `access_denied` with 403 on CIBA's authentication endpoint).
    #[must_use]
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = Some(status);
        self
    }

    /// Also renders Mosaic's `{message, error_code}` fields (for Mosaic's endpoints).
    #[must_use]
    pub fn mosaic(mut self) -> Self {
        self.mosaic = true;
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.description)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> Self {
        Self::internal(error)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: ErrorCode,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<[&'a str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<u16>,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = self.status.unwrap_or_else(|| self.code.status());
        let body = Body {
            error: self.code,
            error_description: &self.description,
            message: self.mosaic.then_some([self.description.as_str()]),
            error_code: self.mosaic.then_some(status.as_u16()),
        };
        let mut response = (status, Json(body)).into_response();
        // For the metrics' `answer` label (`http::count_requests`).
        response.extensions_mut().insert(self.code);
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match self.code {
            ErrorCode::InvalidClient => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Basic realm="countersign""#),
                );
            }
            ErrorCode::InvalidToken => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            ErrorCode::InsufficientScope => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="insufficient_scope""#),
                );
            }
            _ => {}
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalCause(cause));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn every_code_reads_as_it_is_written_on_the_wire() {
        for code in [
            ErrorCode::InvalidRequest,
            ErrorCode::InvalidClient,
            ErrorCode::InvalidGrant,
            ErrorCode::UnauthorizedClient,
            ErrorCode::UnsupportedGrantType,
            ErrorCode::UnsupportedResponseType,
            ErrorCode::RequestNotSupported,
            ErrorCode::LoginRequired,
            ErrorCode::InvalidScope,
            ErrorCode::UnknownUserId,
            ErrorCode::InvalidBindingMessage,
            ErrorCode::AuthorizationPending,
            ErrorCode::SlowDown,
            ErrorCode::AccessDenied,
            ErrorCode::ExpiredToken,
            ErrorCode::InvalidToken,
            ErrorCode::InsufficientScope,
            ErrorCode::NotFound,
            ErrorCode::Conflict,
            ErrorCode::RateLimited,
            ErrorCode::DeliveryFailed,
            ErrorCode::ServerError,
        ] {
            let wire = serde_json::to_value(code).unwrap_or_default();
            assert_eq!(wire, code.as_str(), "{code:?}");
        }
    }
}
