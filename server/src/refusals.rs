//! Server function refusals are sent with their own HTTP status.
//!
//! Leptos answers every server function error with a `500` whose body is the error encoded by
//! its type: for Countersign's server functions, a [`Refusal`] as JSON. A plain form post (it
//! accepts HTML) gets a redirect instead, to the page it came from with the error in the query,
//! or to `/` when the browser sent no `Referer` (the BFF's pages ask for none). [`with_status`],
//! layered on the whole router, reads the body of every answer that carries Leptos's
//! `serverfnerror` header, whatever its status, and sends the refusal as the BFF's own routes do
//! ([`Refusal`]'s `IntoResponse`): its status, `Cache-Control: no-store`, `Retry-After` when
//! rate limited. A body that is not a refusal (it cannot come from Countersign's functions)
//! becomes [`Refusal::Failed`], so no framework text reaches a caller. Of the failed answer's
//! headers only cookies and `Vary` are kept. Every other answer passes unchanged.

use app::refusal::Refusal;
use axum::{
    body::to_bytes,
    extract::Request,
    http::{HeaderName, header},
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
    if !response.headers().contains_key(SERVER_FN_ERROR_HEADER) {
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
    // Headers the function set on its way that must not be lost (no function sets a cookie
    // and then fails today); a redirect's `Location`, the framework's own header and the body's
    // framing go with the failed answer.
    const KEPT: [HeaderName; 2] = [header::SET_COOKIE, header::VARY];
    for name in &KEPT {
        for value in parts.headers.get_all(name) {
            answer.headers_mut().append(name.clone(), value.clone());
        }
    }
    answer
}

#[cfg(test)]
mod tests;
