//! Device cookies for the workforce sign-in (OWASP's "Slow down online guessing attacks with
//! device cookies"): a browser that signed in to an account gets a cookie naming that browser,
//! keyed to the account, and keeps an allowance of failures of its own.
//!
//! - The value is `v1.<nonce>.<issued>.<mac>`: a random nonce, when it was issued (Unix
//!   seconds) and an HMAC, under the provider's hash key, of the account (lower-cased email),
//!   the nonce and the time. It names no account; it is valid only with the account it was made
//!   for, for [`LIFETIME_SECS`]. A forged cookie, or one of another account, counts for nothing.
//! - With a valid cookie, failures count against that cookie ([`Subject::Device`],
//!   `sign_in_failures_per_device`) and the address, not against the account: a stranger who
//!   spends the account's allowance from many addresses does not lock its owner out of their
//!   own browser. Without one, the account-wide limits hold as before, so guessing costs a
//!   stranger as much as it did.
//! - The cookie is `HttpOnly` and `SameSite=Strict` (it is only needed on the sign-in form's
//!   own same-origin post). It is `Secure` with the `__Host-` prefix unless the issuer is plain
//!   `http` on a loopback address (local development), where browsers refuse both.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use infra::cookies;
use rand::Rng as _;

use crate::{
    clock::Timestamp,
    crypto::{HashKey, Purpose},
};

/// The cookie's name on an `https` issuer.
pub const SECURE_NAME: &str = "__Host-countersign-device";
/// The cookie's name on a plain-`http` loopback issuer.
pub const PLAIN_NAME: &str = "countersign-device";
/// How long a device cookie is honoured: 90 days.
pub const LIFETIME_SECS: i64 = 90 * 86_400;

/// Whether the issuer is plain `http` on a loopback address, where `Secure` cookies are not
/// kept.
fn plain_loopback(issuer: &str) -> bool {
    let Some(rest) = issuer.strip_prefix("http://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// The cookie's name for `issuer`.
pub fn name(issuer: &str) -> &'static str {
    if plain_loopback(issuer) {
        PLAIN_NAME
    } else {
        SECURE_NAME
    }
}

fn mac(key: &HashKey, account: &str, nonce: &str, issued: i64) -> String {
    URL_SAFE_NO_PAD.encode(key.hash(
        Purpose::DeviceCookie,
        &format!("{account}|{nonce}|{issued}"),
    ))
}

/// A new device cookie's value for `account` (lower-cased).
pub fn issue(key: &HashKey, account: &str, now: Timestamp) -> String {
    let mut bytes = [0_u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let nonce = URL_SAFE_NO_PAD.encode(bytes);
    let issued = now.unix_seconds();
    format!("v1.{nonce}.{issued}.{}", mac(key, account, &nonce, issued))
}

/// The `Set-Cookie` header for `value`.
pub fn set_cookie(issuer: &str, value: &str) -> Option<HeaderValue> {
    let attributes = cookies::Attributes {
        same_site: cookies::SameSite::Strict,
        secure: !plain_loopback(issuer),
        max_age: Some(Duration::from_secs(LIFETIME_SECS.unsigned_abs())),
    };
    cookies::header_value(&cookies::set(name(issuer), value, attributes))
}

/// The nonce of the request's device cookie, if it carries one that is valid for `account`
/// (lower-cased) now.
pub fn valid_for(
    key: &HashKey,
    issuer: &str,
    headers: &HeaderMap,
    account: &str,
    now: Timestamp,
) -> Option<String> {
    let wanted = name(issuer);
    infra::cookies::values(headers, wanted).find_map(|value| check(key, value, account, now))
}

fn check(key: &HashKey, value: &str, account: &str, now: Timestamp) -> Option<String> {
    let mut parts = value.split('.');
    let (Some("v1"), Some(nonce), Some(issued), Some(given), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let issued: i64 = issued.parse().ok()?;
    // Saturating: an issue time from the cookie is anything a stranger writes.
    let age = now.unix_seconds().saturating_sub(issued);
    if !(0..LIFETIME_SECS).contains(&age) || nonce.len() != 22 {
        return None;
    }
    let expected = mac(key, account, nonce, issued);
    let same: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given.as_bytes()).into();
    same.then(|| nonce.to_owned())
}

#[cfg(test)]
mod tests;
