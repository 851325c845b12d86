//! The one security-header layer: every response the BFF sends passes through [`headers`],
//! layered on the whole router (pages, server functions, `/auth/*`, `/api/*`, static files and
//! the "not found" page alike).
//!
//! - `Content-Security-Policy` ([`policy`]): scripts only from this origin or inline with this
//!   response's nonce, wasm allowed to compile (`'wasm-unsafe-eval'`), styles only from this
//!   origin, no plugins, no `<base>`, forms only to this origin, and `frame-ancestors 'none'`
//!   (case 33). A handler that sets a stricter policy of its own (the sign-in pages: no script
//!   at all) keeps it.
//! - The nonce is made here, per response, and handed to Leptos through the request's
//!   extensions ([`provide_leptos_nonce`], called in the Leptos context of every page), so the
//!   hydration script and every resource-data script Leptos writes carry the nonce the header
//!   names.
//! - `X-Content-Type-Options: nosniff`, `Referrer-Policy: same-origin` (the approval page's URL
//!   holds the `auth_req_id`: no other site is ever sent it; `no-referrer` would make a form
//!   post's `Origin` `null`, and phones without `Sec-Fetch-Site` would then fail the CSRF
//!   check), `X-Frame-Options: DENY` for browsers without `frame-ancestors`, and a
//!   `Permissions-Policy` that turns off device APIs no page uses.
//! - `Cache-Control: no-store` on everything but the static files under `/pkg/` and the icons:
//!   pages carry a session's data in their hydration data, and Back after sign-out on a shared
//!   desk must not show them (case 33). A handler's own `Cache-Control` is kept.

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderValue, header},
    middleware::Next,
    response::Response,
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use rand::RngExt as _;

/// The nonce of the response being made, in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CspNonce(pub String);

/// Device APIs no page uses, turned off for the page and anything it embeds.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), \
     geolocation=(), gyroscope=(), hid=(), magnetometer=(), microphone=(), midi=(), payment=(), \
     serial=(), usb=()";

/// A fresh nonce: 128 random bits, base64url.
pub fn new_nonce() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The content security policy of a page whose inline scripts carry `nonce`.
pub fn policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Whether `path` is a static file that may be cached (the wasm bundle, its JS and CSS, the
/// icons): they hold nothing of anyone's session.
pub fn is_static(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/favicon.ico")
}

/// The middleware. Layer it outermost on the whole router with
/// `axum::middleware::from_fn(security::headers)`.
pub async fn headers(mut request: Request, next: Next) -> Response {
    let nonce = new_nonce();
    let cacheable = is_static(request.uri().path());
    request.extensions_mut().insert(CspNonce(nonce.clone()));
    let mut response = next.run(request).await;
    apply(response.headers_mut(), &nonce, cacheable);
    response
}

/// Adds the headers to a response's `headers` (see the module documentation).
pub fn apply(headers: &mut HeaderMap, nonce: &str, cacheable: bool) {
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && let Ok(value) = HeaderValue::from_str(&policy(nonce))
    {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    if !cacheable && !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
}

/// Puts this response's nonce where Leptos looks for it (after `leptos_axum` made one of its
/// own, which this replaces): call it in the additional context of every Leptos handler.
pub fn provide_leptos_nonce() {
    use leptos::prelude::{provide_context, use_context};
    if let Some(CspNonce(nonce)) = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<CspNonce>().cloned())
    {
        provide_context(leptos::nonce::Nonce::from_value(nonce));
    }
}

#[cfg(test)]
mod tests;
