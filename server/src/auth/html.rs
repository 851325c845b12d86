//! The sign-in's own pages: a redirect, a page of one sentence, the page that moves on after a
//! sign-in, and the document they share (escaped, never cached or framed, no script).

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use infra::{
    cookies::{self, Cookie},
    html::escape,
};

use super::cleared_login_cookie;

/// A 303 to `location` (a URL this module built or checked), never cached.
pub(super) fn see_other(location: &str, cookie: Option<&Cookie<'_>>) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong",
            "Something went wrong on our side. Try again.",
            None,
        );
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(cookie) = cookie.and_then(cookies::header_value) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// A small page: a title, one sentence and maybe a link (`href`, text); all escaped.
pub(super) fn page(
    status: StatusCode,
    title: &str,
    text: &str,
    link: Option<(&str, &str)>,
) -> Response {
    let link = link
        .map(|(href, label)| format!(r#"<p><a href="{}">{}</a></p>"#, escape(href), escape(label)))
        .unwrap_or_default();
    let body = format!(
        "<p>{text}</p>\n{link}<p><a href=\"/\">Back to Countersign</a></p>",
        text = escape(text)
    );
    document(status, title, "", &body)
}

/// The end of a sign-in: a page of this origin that moves on to `return_to` (a local path) at
/// once, setting the session `cookie`. Not a redirect: the provider's redirect back is a
/// cross-site navigation, and a redirect answering it stays cross-site, so the browser would
/// not send the new `SameSite=Strict` cookie to `return_to`. A navigation this page starts is
/// same-site, so it does.
pub(super) fn moving_on(return_to: &str, cookie: &Cookie<'_>) -> Response {
    let to = escape(return_to);
    let head = format!(r#"<meta http-equiv="refresh" content="0; url={to}">"#);
    let body = format!(r#"<p><a href="{to}">Continue to Countersign</a></p>"#);
    let mut response = document(StatusCode::OK, "Signed in", &head, &body);
    let headers = response.headers_mut();
    if let Some(cookie) = cookies::header_value(cookie) {
        headers.append(header::SET_COOKIE, cookie);
    }
    if let Some(clear) = cookies::header_value(&cleared_login_cookie()) {
        headers.append(header::SET_COOKIE, clear);
    }
    response
}

/// An HTML document with `title` (escaped), `head` and `body` (already escaped), never cached
/// or framed, with no script: its policy is stricter than the one [`crate::security`] gives
/// every other page (which adds `nosniff`, `same-origin` and the rest to this one too).
pub(crate) fn document(status: StatusCode, title: &str, head: &str, body: &str) -> Response {
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
{head}<title>{title} · Countersign</title>
<link rel="stylesheet" href="/pkg/countersign.css">
</head>
<body>
<main class="auth-page">
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = escape(title),
    );
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'self'; base-uri 'none'; \
                     form-action 'self'; frame-ancestors 'none'",
                ),
            ),
        ],
        html,
    )
        .into_response()
}
