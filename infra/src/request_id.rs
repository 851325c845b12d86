//! Request ids: every request either service answers has one, in `X-Request-Id`. A caller's
//! own id is kept when it is a plain short token (a balancer's, or the BFF's when it calls the
//! provider); anything else, or none, is replaced by a new random id, so a stranger cannot put
//! text of their choosing into the logs. The id is the `request_id` of the span every log line
//! of the request is written in, and while the request runs it is [`current`], which the BFF
//! sends on to the provider.

use std::future::Future;

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue},
    middleware::Next,
    response::Response,
};
use tracing::Instrument as _;

/// The header that carries the id, both ways.
pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The longest caller's id kept.
const MAX_LEN: usize = 64;

tokio::task_local! {
    static CURRENT: String;
}

/// The caller's id in `value`, if it is one to keep: 1 to 64 letters, digits, `-`, `_`, `.`
/// or `:`.
pub fn accepted(value: &HeaderValue) -> Option<String> {
    let text = value.to_str().ok()?;
    let plain = (1..=MAX_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
    plain.then(|| text.to_owned())
}

/// A new random id (32 hex digits).
pub fn new_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The id of the request this task is serving, if any.
pub fn current() -> Option<String> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `work` as part of request `id` (a task spawned for a request keeps its id this way).
pub async fn scoped<F: Future>(id: Option<String>, work: F) -> F::Output {
    match id {
        Some(id) => CURRENT.scope(id, work).await,
        None => work.await,
    }
}

/// Middleware: gives the request its id (the caller's, if accepted, else a new one), runs it in
/// a `request` span with that id and as [`current`], and answers with the id in [`HEADER`].
pub async fn middleware(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&HEADER)
        .and_then(accepted)
        .unwrap_or_else(new_id);
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("-"));
    request.headers_mut().insert(HEADER, value.clone());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %request.uri().path(),
    );
    let mut response = CURRENT.scope(id, next.run(request).instrument(span)).await;
    response.headers_mut().insert(HEADER, value);
    response
}

#[cfg(test)]
mod tests;
