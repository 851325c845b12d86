//! `POST /ciba/notify`: the provider's ping in CIBA ping mode (CIBA Core §10.2).
//!
//! In ping mode every backchannel request carries a fresh `client_notification_token`
//! ([`crate::flows::provider::OidcCiba::pinged`]); the flow keeps only its keyed hash. The
//! provider's ping is `{"auth_req_id": "…"}` with `Authorization: Bearer <that token>`. When the
//! token is the flow's (compared in constant time), it is spent and the flow's poller asks for
//! the tokens at once ([`crate::flows::Engine::pinged`]): `204`. Anything else changes nothing:
//! a missing, wrong or already spent token, or an unknown request, is `401` with
//! `WWW-Authenticate: Bearer error="invalid_token"`; a body that is not that JSON is `400`.
//!
//! The route needs no session and sets no cookie; the token is its only credential. Neither the
//! token nor the request id is logged.

use axum::{
    Json, Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::post,
};
use serde::Deserialize;

use crate::AppState;

/// Where the provider pings.
pub const PATH: &str = "/ciba/notify";
/// The longest ping body read (an `auth_req_id` is well under 200 bytes).
const MAX_PING_BODY: usize = 2048;
/// The length of every token this BFF sends: 32 random bytes in unpadded base64url
/// ([`infra::secret::random_token`]).
const TOKEN_CHARS: usize = 43;

/// Whether `token` has the shape of the tokens this BFF sends. Anything else cannot be one, and
/// is refused before any hash or store read.
fn could_be_ours(token: &str) -> bool {
    token.len() == TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The route.
pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, post(notified))
}

#[derive(Deserialize)]
struct Ping {
    auth_req_id: String,
}

async fn notified(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(token) = bearer(&headers) else {
        return unauthorised("Send the request's client_notification_token as a Bearer token.");
    };
    if !could_be_ours(token) {
        return unauthorised("This token does not notify that request.");
    }
    let ping = (body.len() <= MAX_PING_BODY)
        .then(|| serde_json::from_slice::<Ping>(&body).ok())
        .flatten()
        .filter(|ping| !ping.auth_req_id.is_empty());
    let Some(ping) = ping else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send JSON {\"auth_req_id\": \"…\"}.",
        );
    };
    let bff = &state.bff;
    let hash = bff.sealer.lookup(&ping.auth_req_id);
    match bff
        .engine
        .pinged(&hash, |stored| {
            bff.sealer.is_notification_token(token, stored)
        })
        .await
    {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => {
            tracing::info!("a ping was refused: unknown request, or a wrong or spent token");
            unauthorised("This token does not notify that request.")
        }
        Err(error) => {
            tracing::error!(%error, "a ping could not be recorded");
            refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "The ping could not be recorded; the request is still polled.",
            )
        }
    }
}

/// The bearer token of `Authorization`, if there is exactly one such header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn unauthorised(sentence: &'static str) -> Response {
    let mut response = refused(StatusCode::UNAUTHORIZED, "invalid_token", sentence);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    );
    response
}

fn refused(status: StatusCode, error: &'static str, sentence: &'static str) -> Response {
    let body = serde_json::json!({ "error": error, "error_description": sentence });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tokens_shaped_like_ours_are_looked_up() {
        assert!(could_be_ours(infra::secret::random_token().expose()));
        assert!(could_be_ours(&"aZ09-_".repeat(8)[..43]));
        for other in [
            "a".repeat(42),
            "a".repeat(44),
            format!("{}=", "a".repeat(42)),
            format!("{}+", "a".repeat(42)),
            format!("{}/", "a".repeat(42)),
            format!("{}é", "a".repeat(41)),
            String::new(),
        ] {
            assert!(!could_be_ours(&other), "{other}");
        }
    }
}
