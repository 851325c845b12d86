//! Cookies both ways: [`values`] reads the `Cookie` request header (RFC 6265 §5.4), the values a
//! request carries under one name in every `Cookie` header it has (a header that is not text is
//! passed over); [`set`] and [`clear`] build `Set-Cookie` values with the `cookie` crate.

use std::time::Duration;

use axum::http::{HeaderMap, header};
pub use cookie::SameSite;

/// Every value of the cookie `name` in `headers`, in the order the browser sent them.
pub fn values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(move |(cookie, _)| *cookie == name)
        .map(|(_, value)| value)
}

/// How a cookie is set: every one of ours is `HttpOnly` and for the whole site (`Path=/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// When the browser sends it along with a request from another site.
    pub same_site: SameSite,
    /// `Secure` (HTTPS only). Plain `http://` is only for a provider on a loopback address.
    pub secure: bool,
    /// `Max-Age`; without one, the cookie lasts as long as the browser session.
    pub max_age: Option<Duration>,
}

/// The `Set-Cookie` value that sets cookie `name` to `value` with `attributes`.
pub fn set(name: &str, value: &str, attributes: Attributes) -> String {
    let mut cookie = cookie::Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(attributes.secure)
        .same_site(attributes.same_site);
    if let Some(max_age) = attributes.max_age {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    cookie.build().to_string()
}

/// The `Set-Cookie` value that removes cookie `name` (empty, `Max-Age=0`), with the attributes it
/// was set with (a browser matches the cookie to remove by name, path and site).
pub fn clear(name: &str, attributes: Attributes) -> String {
    set(
        name,
        "",
        Attributes {
            max_age: Some(Duration::ZERO),
            ..attributes
        },
    )
}

#[cfg(test)]
mod tests;
