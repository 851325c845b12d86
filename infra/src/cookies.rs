//! Cookies both ways, with the `cookie` crate: [`values`] reads the `Cookie` request header
//! (RFC 6265 §5.4), the values a request carries under one name in every `Cookie` header it has
//! (a header that is not text, or a pair that is not `name=value`, is passed over); [`set`] and
//! [`clear`] build the typed cookie a response sets, and [`header_value`] writes it as a
//! `Set-Cookie` value.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
pub use cookie::{Cookie, SameSite};

/// Every value of the cookie `name` in `headers`, in the order the browser sent them. Names and
/// values are trimmed of the spaces around `=` (RFC 6265 §5.2); quotes are not taken off.
pub fn values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .filter(move |cookie| cookie.name_raw() == Some(name))
        .filter_map(|cookie| cookie.value_raw())
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

/// The cookie `name` set to `value` with `attributes`.
pub fn set(name: &str, value: &str, attributes: Attributes) -> Cookie<'static> {
    let mut cookie = Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(attributes.secure)
        .same_site(attributes.same_site);
    if let Some(max_age) = attributes.max_age {
        let seconds = i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX);
        cookie = cookie.max_age(cookie::time::Duration::seconds(seconds));
    }
    cookie.build()
}

/// The cookie that removes cookie `name` (empty, `Max-Age=0`), with the attributes it was set
/// with (a browser matches the cookie to remove by name, path and site).
pub fn clear(name: &str, attributes: Attributes) -> Cookie<'static> {
    set(
        name,
        "",
        Attributes {
            max_age: Some(Duration::ZERO),
            ..attributes
        },
    )
}

/// `cookie` as a `Set-Cookie` header value; `None` if it holds a byte no header may carry.
pub fn header_value(cookie: &Cookie<'_>) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookie.to_string()).ok()
}

#[cfg(test)]
mod tests;
