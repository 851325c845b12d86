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
//! Refusals are `403` with `{"error": "…"}`. [`decide`] is the rule, a plain function.

use axum::{
    Json,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, session};

/// Why a request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `Sec-Fetch-Site` says another site (or a same-site but other origin) sent it.
    CrossSite,
    /// `Origin` names another origin (or is `null`, or unreadable).
    WrongOrigin,
    /// Neither header, but the session cookie is there.
    NoProvenance,
}

impl Refusal {
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

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (
            StatusCode::FORBIDDEN,
            [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
            Json(serde_json::json!({ "error": self.message() })),
        )
            .into_response()
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
) -> Result<(), Refusal> {
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
            Err(Refusal::CrossSite)
        };
    }
    let mut origins = headers.get_all(header::ORIGIN).iter().peekable();
    if origins.peek().is_some() {
        return match expected_origin {
            Some(expected) if origins.all(|value| same_origin(value, expected)) => Ok(()),
            _ => Err(Refusal::WrongOrigin),
        };
    }
    if carries_our_cookie(headers) {
        Err(Refusal::NoProvenance)
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
        Err(refusal) => {
            tracing::info!(
                method = %request.method(),
                path = %request.uri().path(),
                ?refusal,
                "cross-site request refused"
            );
            refusal.into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SITE: &str = "http://127.0.0.1:3000";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn post(pairs: &[(&'static str, &'static str)]) -> Result<(), Refusal> {
        decide(&Method::POST, &headers(pairs), Some(SITE))
    }

    const COOKIE: (&str, &str) = ("cookie", "__Host-countersign=abc");

    #[test]
    fn the_origin_of_the_public_url() {
        assert_eq!(origin_of("http://127.0.0.1:3000").as_deref(), Some(SITE));
        assert_eq!(origin_of("http://127.0.0.1:3000/").as_deref(), Some(SITE));
        assert_eq!(
            origin_of("https://Console.Bank.example:443/base").as_deref(),
            Some("https://console.bank.example")
        );
        assert_eq!(origin_of("not a url"), None);
        assert_eq!(origin_of("data:text/plain,x"), None);
    }

    #[test]
    fn safe_methods_always_pass() {
        let cross = headers(&[
            ("sec-fetch-site", "cross-site"),
            ("origin", "http://evil.example"),
            COOKIE,
        ]);
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(decide(&method, &cross, Some(SITE)), Ok(()));
        }
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert_eq!(post(&[("sec-fetch-site", "same-origin"), COOKIE]), Ok(()));
        assert_eq!(post(&[("sec-fetch-site", "none"), COOKIE]), Ok(()));
        for site in ["cross-site", "same-site", "", "Same-Origin"] {
            let map = {
                let mut map = headers(&[COOKIE]);
                map.append("sec-fetch-site", HeaderValue::from_str(site).unwrap());
                map
            };
            assert_eq!(
                decide(&Method::POST, &map, Some(SITE)),
                Err(Refusal::CrossSite),
                "{site}"
            );
        }
        // Sec-Fetch-Site wins over a matching Origin, and without a cookie too.
        assert_eq!(
            post(&[("sec-fetch-site", "cross-site"), ("origin", SITE)]),
            Err(Refusal::CrossSite)
        );
        // Two values: all must be same-origin.
        assert_eq!(
            post(&[
                ("sec-fetch-site", "same-origin"),
                ("sec-fetch-site", "cross-site")
            ]),
            Err(Refusal::CrossSite)
        );
    }

    #[test]
    fn origin_decides_without_fetch_metadata() {
        assert_eq!(post(&[("origin", "http://127.0.0.1:3000"), COOKIE]), Ok(()));
        assert_eq!(post(&[("origin", "HTTP://127.0.0.1:3000")]), Ok(()));
        for origin in [
            "http://evil.example",
            "null",
            "http://127.0.0.1:3001",
            "https://127.0.0.1:3000",
            "http://127.0.0.1:3000.evil.example",
            "http://127.0.0.1",
            "",
        ] {
            let mut map = headers(&[COOKIE]);
            map.append("origin", HeaderValue::from_str(origin).unwrap());
            assert_eq!(
                decide(&Method::POST, &map, Some(SITE)),
                Err(Refusal::WrongOrigin),
                "{origin}"
            );
        }
        // Refused without a cookie too: a browser sent it from another site.
        assert_eq!(
            post(&[("origin", "http://evil.example")]),
            Err(Refusal::WrongOrigin)
        );
        // No usable public URL: no Origin matches.
        assert_eq!(
            decide(&Method::POST, &headers(&[("origin", SITE)]), None),
            Err(Refusal::WrongOrigin)
        );
    }

    #[test]
    fn neither_header_is_refused_with_an_approval_cookie_too() {
        let approval = headers(&[("cookie", "__Host-countersign-approval=xyz")]);
        assert_eq!(
            decide(&Method::POST, &approval, Some(SITE)),
            Err(Refusal::NoProvenance)
        );
    }

    #[test]
    fn neither_header_is_refused_only_with_the_session_cookie() {
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert_eq!(
                decide(&method, &headers(&[COOKIE]), Some(SITE)),
                Err(Refusal::NoProvenance),
                "{method}"
            );
            assert_eq!(decide(&method, &headers(&[]), Some(SITE)), Ok(()));
            assert_eq!(
                decide(&method, &headers(&[("cookie", "other=1")]), Some(SITE)),
                Ok(())
            );
        }
    }

    #[test]
    fn refusals_are_short_json() {
        let response = Refusal::CrossSite.into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
