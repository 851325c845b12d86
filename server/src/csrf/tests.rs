use axum::{http::StatusCode, response::IntoResponse};

use super::*;

const SITE: &str = "http://127.0.0.1:3000";

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn post(pairs: &[(&'static str, &'static str)]) -> Result<(), Reason> {
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
            Err(Reason::CrossSite),
            "{site}"
        );
    }
    // Sec-Fetch-Site wins over a matching Origin, and without a cookie too.
    assert_eq!(
        post(&[("sec-fetch-site", "cross-site"), ("origin", SITE)]),
        Err(Reason::CrossSite)
    );
    // Two values: all must be same-origin.
    assert_eq!(
        post(&[
            ("sec-fetch-site", "same-origin"),
            ("sec-fetch-site", "cross-site")
        ]),
        Err(Reason::CrossSite)
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
            Err(Reason::WrongOrigin),
            "{origin}"
        );
    }
    // Refused without a cookie too: a browser sent it from another site.
    assert_eq!(
        post(&[("origin", "http://evil.example")]),
        Err(Reason::WrongOrigin)
    );
    // No usable public URL: no Origin matches.
    assert_eq!(
        decide(&Method::POST, &headers(&[("origin", SITE)]), None),
        Err(Reason::WrongOrigin)
    );
}

#[test]
fn neither_header_is_refused_with_an_approval_cookie_too() {
    let approval = headers(&[("cookie", "__Host-countersign-approval=xyz")]);
    assert_eq!(
        decide(&Method::POST, &approval, Some(SITE)),
        Err(Reason::NoProvenance)
    );
}

#[test]
fn neither_header_is_refused_only_with_the_session_cookie() {
    for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
        assert_eq!(
            decide(&method, &headers(&[COOKIE]), Some(SITE)),
            Err(Reason::NoProvenance),
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
fn refusals_are_a_403_with_the_reasons_sentence() {
    assert_eq!(
        Refusal::from(Reason::NoProvenance),
        Refusal::Forbidden(Reason::NoProvenance.message().to_owned())
    );
    let response = Refusal::from(Reason::CrossSite).into_response();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
}
