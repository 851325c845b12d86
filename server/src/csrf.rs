//! Cross-site request forgery protection for every state-changing request, server functions
//! (`POST /api/…`) included: Leptos has none of its own.
//!
//! A request whose method is not `GET`, `HEAD` or `OPTIONS` must come from this site:
//! - with `Sec-Fetch-Site`, it must be `same-origin` (or `none`: the user typed it or used a
//!   bookmark);
//! - without it, `Origin` must be the BFF's own origin (that of `public_url`);
//! - with neither, it is refused if it carries the session cookie (a browser always sends one of
//!   them on a POST), and let through otherwise (a non-browser client with no session: whatever
//!   it asks for still needs a session).
//!
//! Refusals are a `403` [`Refusal::Forbidden`] with the [`Reason`]'s sentence. [`decide`] is the
//! rule, a plain function.

use app::refusal::Refusal;
use axum::{
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, session};

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// `Sec-Fetch-Site` says another site (or a same-site but other origin) sent it.
    CrossSite,
    /// `Origin` names another origin (or is `null`, or unreadable).
    WrongOrigin,
    /// Neither header, but the session cookie is there.
    NoProvenance,
}

impl Reason {
    /// The sentence sent back.
    pub fn message(self) -> &'static str {
        match self {
            Self::CrossSite | Self::WrongOrigin => {
                "This request came from another site and was refused."
            }
            Self::NoProvenance => "This request does not say where it came from and was refused.",
        }
    }
}

impl From<Reason> for Refusal {
    fn from(reason: Reason) -> Self {
        Self::Forbidden(reason.message().to_owned())
    }
}

/// The origin (`scheme://host[:port]`, as browsers send it in `Origin`) of `public_url`, or
/// `None` if it is not an absolute http(s) URL.
pub fn origin_of(public_url: &str) -> Option<String> {
    let url = reqwest::Url::parse(public_url).ok()?;
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// Whether a request with `method` and `headers` may reach the BFF, which lives at
/// `expected_origin` (see [`origin_of`]).
pub fn decide(
    method: &Method,
    headers: &HeaderMap,
    expected_origin: Option<&str>,
) -> Result<(), Reason> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let mut fetch_site = headers.get_all("sec-fetch-site").iter().peekable();
    if fetch_site.peek().is_some() {
        return if fetch_site.all(|value| {
            value
                .to_str()
                .is_ok_and(|site| matches!(site.trim(), "same-origin" | "none"))
        }) {
            Ok(())
        } else {
            Err(Reason::CrossSite)
        };
    }
    let mut origins = headers.get_all(header::ORIGIN).iter().peekable();
    if origins.peek().is_some() {
        return match expected_origin {
            Some(expected) if origins.all(|value| same_origin(value, expected)) => Ok(()),
            _ => Err(Reason::WrongOrigin),
        };
    }
    if carries_our_cookie(headers) {
        Err(Reason::NoProvenance)
    } else {
        Ok(())
    }
}

/// Whether the request carries any of Countersign's cookies (the agent's session, or a
/// customer's approval session).
fn carries_our_cookie(headers: &HeaderMap) -> bool {
    session::id_from(headers).is_some()
        || headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .any(|pair| pair.trim().starts_with("__Host-countersign"))
}

/// Whether an `Origin` header value is `expected` (scheme and host compared without regard to
/// case, as origins are).
fn same_origin(value: &HeaderValue, expected: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|origin| origin.trim().eq_ignore_ascii_case(expected))
}

/// The middleware: refuses what [`decide`] refuses. Layer it on the whole router with
/// `axum::middleware::from_fn_with_state(state, csrf::guard)`.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method();
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let expected = origin_of(&state.bff.public_url);
    match decide(method, request.headers(), expected.as_deref()) {
        Ok(()) => next.run(request).await,
        Err(reason) => {
            tracing::info!(
                method = %request.method(),
                path = %request.uri().path(),
                ?reason,
                "cross-site request refused"
            );
            Refusal::from(reason).into_response()
        }
    }
}

#[cfg(test)]
mod tests;
