//! [`Refusal`]: every "no" the backend-for-frontend says, to the console, the approval page and
//! any other caller, in one type.
//!
//! It is the error type of every server function, so a refusal reaches the browser typed: the
//! console matches [`Refusal::SignedOut`] to offer the sign-in, and shows any other refusal's
//! sentence ([`Display`](fmt::Display)). On the wire (server function errors and the BFF's own
//! routes alike) it is one JSON object, `{"error": "<sentence>", "kind": "<kind>"}`, plus
//! `"retry_after": <seconds>` when rate limited; the server build renders it as an HTTP response
//! with its status ([`Refusal::status`]), `Cache-Control: no-store`, and `Retry-After` where it
//! applies.

use std::fmt;

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// Why a request was not done. Each variant has its sentence and HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "Wire", from = "Wire")]
pub enum Refusal {
    /// Nobody is signed in, or the session ended (401).
    SignedOut,
    /// The caller may not do this (403).
    Forbidden(String),
    /// No such thing, or not the caller's (404).
    NotFound(String),
    /// The request cannot be done as asked (400).
    Invalid(String),
    /// The request could not be read: a field missing, or a value not accepted (400).
    Unreadable,
    /// The request body is larger than this many KiB (413).
    TooLarge(usize),
    /// Too many requests; retry after this many seconds (429).
    RateLimited(u64),
    /// Something the BFF needs is down; trying again later may work (503).
    Unavailable(String),
    /// The BFF failed in a way the caller cannot change (500).
    Failed,
    /// In the browser: no answer came from the BFF at all (never sent by the server).
    Unreachable,
}

impl Refusal {
    /// The HTTP status the refusal is sent with.
    pub fn status(&self) -> u16 {
        match self {
            Self::SignedOut => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::Invalid(_) | Self::Unreadable => 400,
            Self::TooLarge(_) => 413,
            Self::RateLimited(_) => 429,
            Self::Unavailable(_) | Self::Unreachable => 503,
            Self::Failed => 500,
        }
    }

    /// The wire name of the variant (`kind`).
    fn kind(&self) -> &'static str {
        match self {
            Self::SignedOut => "signed_out",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Invalid(_) => "invalid",
            Self::Unreadable => "unreadable",
            Self::TooLarge(_) => "too_large",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Failed => "failed",
            Self::Unreachable => "unreachable",
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignedOut => f.write_str("Sign in to continue."),
            Self::Forbidden(text)
            | Self::NotFound(text)
            | Self::Invalid(text)
            | Self::Unavailable(text) => f.write_str(text),
            Self::Unreadable => f.write_str(
                "This request could not be read: a field is missing, or has a value Countersign does not accept.",
            ),
            Self::TooLarge(kib) => write!(f, "The request body is larger than {kib} KiB."),
            Self::RateLimited(seconds) => {
                write!(f, "Too many requests. Try again in {seconds} seconds.")
            }
            Self::Failed => f.write_str("Something went wrong on our side. Try again."),
            Self::Unreachable => f.write_str(
                "Countersign could not be reached. Check the connection and try again.",
            ),
        }
    }
}

impl std::error::Error for Refusal {}

/// A refusal as it travels: the sentence under `error` (what every BFF refusal has always
/// carried), the variant under `kind`.
#[derive(Serialize, Deserialize)]
struct Wire {
    error: String,
    kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl From<Refusal> for Wire {
    fn from(refusal: Refusal) -> Self {
        Self {
            error: refusal.to_string(),
            kind: refusal.kind().to_owned(),
            retry_after: match refusal {
                Refusal::RateLimited(seconds) => Some(seconds),
                _ => None,
            },
        }
    }
}

impl From<Wire> for Refusal {
    /// A kind this build does not know (a newer server) keeps its sentence as a refusal of the
    /// request as asked.
    fn from(wire: Wire) -> Self {
        match wire.kind.as_str() {
            "signed_out" => Self::SignedOut,
            "forbidden" => Self::Forbidden(wire.error),
            "not_found" => Self::NotFound(wire.error),
            "unreadable" => Self::Unreadable,
            "too_large" => Self::Invalid(wire.error),
            "rate_limited" => Self::RateLimited(wire.retry_after.unwrap_or(60)),
            "unavailable" => Self::Unavailable(wire.error),
            "failed" => Self::Failed,
            "unreachable" => Self::Unreachable,
            _ => Self::Invalid(wire.error),
        }
    }
}

impl FromServerFnError for Refusal {
    type Encoder = JsonEncoding;

    /// The framework's own failures. On the server they mean the call could not be read (its
    /// arguments) or the BFF failed; in the browser, that no usable answer came back.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Request(_) => Self::Unreachable,
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) => Self::Unreadable,
            ServerFnErrorErr::Deserialization(_) if cfg!(feature = "ssr") => Self::Unreadable,
            _ => Self::Failed,
        }
    }
}

#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        use http::{HeaderValue, StatusCode, header};
        let status = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        let retry_after = match self {
            Self::RateLimited(seconds) => Some(HeaderValue::from(seconds)),
            _ => None,
        };
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                ),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            ],
            body,
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, seconds);
        }
        response
    }
}

#[cfg(test)]
mod tests;
