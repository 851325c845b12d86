use axum::http::HeaderValue;

use super::*;

#[test]
fn the_proxy_appended_address_counts() {
    let mut headers = HeaderMap::new();
    assert_eq!(crate::net::forwarded_for(&headers), None);
    headers.append(
        "x-forwarded-for",
        HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
    );
    assert_eq!(
        crate::net::forwarded_for(&headers),
        Some("203.0.113.9".parse().unwrap())
    );
    headers.append("x-forwarded-for", HeaderValue::from_static("2001:db8::7"));
    assert_eq!(
        crate::net::forwarded_for(&headers),
        Some("2001:db8::7".parse().unwrap())
    );
    let mut junk = HeaderMap::new();
    junk.append("x-forwarded-for", HeaderValue::from_static("nonsense"));
    assert_eq!(crate::net::forwarded_for(&junk), None);
}
