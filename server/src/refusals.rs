//! Server function refusals are sent with their own HTTP status.
//!
//! Leptos answers every server function error with a `500` whose body is the error encoded by
//! its type: for Countersign's server functions, a [`Refusal`] as JSON. [`with_status`], layered
//! on the whole router, reads the body of those answers (they carry Leptos's `serverfnerror`
//! header) and sends the refusal as the BFF's own routes do ([`Refusal`]'s `IntoResponse`): its
//! status, `Cache-Control: no-store`, `Retry-After` when rate limited. A body that is not a
//! refusal (it cannot come from Countersign's functions) becomes [`Refusal::Failed`], so no
//! framework text reaches a caller. Every other answer passes unchanged.

use app::refusal::Refusal;
use axum::{
    body::to_bytes,
    extract::Request,
    http::{StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// The longest server function error body read (a refusal is one short JSON object).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The refusal a server function error body holds; [`Refusal::Failed`] if it holds none.
pub fn refusal_in(body: &[u8]) -> Refusal {
    serde_json::from_slice(body).unwrap_or(Refusal::Failed)
}

/// The middleware (see the module documentation).
pub async fn with_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let refusal = match to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => refusal_in(&bytes),
        Err(_) => Refusal::Failed,
    };
    if refusal == Refusal::Unreadable {
        tracing::info!(
            function = ?parts.headers.get(SERVER_FN_ERROR_HEADER),
            "a server function call could not be read"
        );
    }
    let mut answer = refusal.into_response();
    // Headers the function set on its way (none today, but a cookie must not be lost).
    let own: Vec<_> = answer.headers().keys().cloned().collect();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH && !own.contains(name) {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests;
