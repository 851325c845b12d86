//! Reading the `Cookie` request header (RFC 6265 §5.4): the values a request carries under one
//! name, in every `Cookie` header it has. A header that is not text is passed over.

use axum::http::{HeaderMap, header};

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

#[cfg(test)]
mod tests;
