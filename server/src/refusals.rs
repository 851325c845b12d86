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
    extract::{Request, State},
    http::{HeaderMap, HeaderName, HeaderValue, Method, header},
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

/// Whether a request is a plain HTML form post: a browser without scripts (the approval page
/// runs without them) that will show whatever comes back as a page.
fn plain_form_post(method: &Method, headers: &HeaderMap) -> bool {
    let text = |name| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    *method == Method::POST
        && text(header::CONTENT_TYPE).starts_with("application/x-www-form-urlencoded")
        && text(header::ACCEPT).contains("text/html")
}

/// Where "Back" on a refusal page leads: the approval page the form was posted from (the
/// `Referer`, sent only to this origin: `Referrer-Policy: same-origin`), else `/`. Only a
/// path on this origin is ever linked.
fn back_to(headers: &HeaderMap, own_origin: Option<&str>) -> String {
    let page = headers
        .get(header::REFERER)
        .and_then(|value| value.to_str().ok())
        .and_then(|referer| reqwest::Url::parse(referer).ok())
        .filter(|url| Some(url.origin().ascii_serialization().as_str()) == own_origin)
        .filter(|url| url.path() == "/approve");
    match page {
        Some(url) => match url.query() {
            Some(query) => format!("/approve?{query}"),
            None => "/approve".to_owned(),
        },
        None => "/".to_owned(),
    }
}

/// The middleware that turns a refusal of a plain form post into a page: the refusal's
/// sentence and a link back, with the refusal's status, instead of JSON a customer's phone would
/// show as text. Whoever refused (the CSRF guard, the body limit, a server function) and
/// whatever it was, the same. Everything else passes unchanged.
pub async fn as_page(
    State(state): State<crate::AppState>,
    request: Request,
    next: Next,
) -> Response {
    if !plain_form_post(request.method(), request.headers()) {
        return next.run(request).await;
    }
    let back = back_to(
        request.headers(),
        crate::csrf::origin_of(&state.bff.public_url).as_deref(),
    );
    let response = next.run(request).await;
    let json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if response.status().as_u16() < 400 || !json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let refusal = match to_bytes(body, MAX_ERROR_BODY).await {
        Ok(bytes) => refusal_in(&bytes),
        Err(_) => Refusal::Failed,
    };
    let label = if back == "/" {
        "Back to Countersign"
    } else {
        "Back to the page"
    };
    let html_body = format!(
        "<p>{}</p>\n<p><a href=\"{}\">{label}</a></p>",
        infra::html::escape(&refusal.to_string()),
        infra::html::escape(&back),
    );
    // The status as refused: a refusal read back from its JSON keeps its sentence, not always
    // its kind.
    let mut page =
        crate::auth::html::document(parts.status, "That did not go through", "", &html_body);
    const KEPT: [HeaderName; 3] = [header::SET_COOKIE, header::VARY, header::RETRY_AFTER];
    for name in &KEPT {
        for value in parts.headers.get_all(name) {
            page.headers_mut().append(name.clone(), value.clone());
        }
    }
    page.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    page
}
