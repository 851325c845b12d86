//! Server function calls the BFF cannot read get a 400 with a plain sentence.
//!
//! Leptos answers every server function error with a 500 and the error's text, serde's
//! included (`Args|unknown variant `Pigeon`, expected one of …`): a caller's mistake would read
//! as the BFF's failure, and the text shows the BFF's types. [`readable`], layered on the whole
//! router, looks only at server function errors (they carry Leptos's `serverfnerror` header)
//! that are still 500s: arguments that could not be read (`Args`, `MissingArg`) or a body that
//! could not be decoded (`Deserialization`) become a 400 with [`SENTENCE`], in Leptos's error
//! framing (`ServerError|…`), so the console shows it as it shows every refusal. Everything
//! else (the backend's own failures, refusals with a status of their own) passes unchanged.

use axum::{
    body::{Body, to_bytes},
    extract::Request,
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// What a caller is told when its arguments cannot be read.
pub const SENTENCE: &str = "This request could not be read: a field is missing, or has a value Countersign does not accept.";

/// The longest server function error body read (they are a line of text).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Whether a server function error body (`Kind|text`) says the call could not be read.
pub fn is_malformed_call(body: &[u8]) -> bool {
    let kind = body.split(|&b| b == b'|').next().unwrap_or_default();
    matches!(kind, b"Args" | b"MissingArg" | b"Deserialization")
}

/// The middleware (see the module documentation).
pub async fn readable(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_ERROR_BODY).await else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "ServerError|Something went wrong on our side.",
        )
            .into_response();
    };
    if !is_malformed_call(&bytes) {
        return Response::from_parts(parts, Body::from(bytes));
    }
    tracing::info!(
        function = ?parts.headers.get(SERVER_FN_ERROR_HEADER),
        "a server function call could not be read"
    );
    parts.status = StatusCode::BAD_REQUEST;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Response::from_parts(parts, Body::from(format!("ServerError|{SENTENCE}")))
}

#[cfg(test)]
mod tests;
