use axum::http::{HeaderMap, HeaderValue, header};

use std::time::Duration;

use super::{Attributes, Cookie, SameSite, clear, header_value, set, values};

fn headers(lines: &[&[u8]]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(header::COOKIE, HeaderValue::from_bytes(line).unwrap());
    }
    headers
}

#[test]
fn every_value_of_one_name_in_every_header() {
    let headers = headers(&[b"a=1; b=2;c=3", b"xa=9; a=4", b"a", b"\xff=5; a=\xff"]);
    assert_eq!(values(&headers, "a").collect::<Vec<_>>(), ["1", "4"]);
    assert_eq!(values(&headers, "c").collect::<Vec<_>>(), ["3"]);
    assert_eq!(values(&headers, "x").count(), 0);
    // A value may hold `=`; an empty one is still a value.
    let headers = self::headers(&[b"t=v1.a=b; e="]);
    assert_eq!(values(&headers, "t").collect::<Vec<_>>(), ["v1.a=b"]);
    assert_eq!(values(&headers, "e").collect::<Vec<_>>(), [""]);
    // Spaces around `=` are not part of the name or the value; quotes stay.
    let headers = self::headers(&[b"a =1; b= 2 ; q=\"x\""]);
    assert_eq!(values(&headers, "a").collect::<Vec<_>>(), ["1"]);
    assert_eq!(values(&headers, "b").collect::<Vec<_>>(), ["2"]);
    assert_eq!(values(&headers, "q").collect::<Vec<_>>(), ["\"x\""]);
}

fn attributes(cookie: &Cookie<'_>) -> Vec<String> {
    let value = header_value(cookie).unwrap();
    let mut parts: Vec<String> = value
        .to_str()
        .unwrap()
        .split("; ")
        .map(str::to_owned)
        .collect();
    parts.sort_unstable();
    parts
}

#[test]
fn set_cookies_carry_every_attribute_asked_for() {
    let strict = Attributes {
        same_site: SameSite::Strict,
        secure: true,
        max_age: None,
    };
    assert_eq!(
        attributes(&set("__Host-a", "v1.x-y_z", strict)),
        [
            "HttpOnly",
            "Path=/",
            "SameSite=Strict",
            "Secure",
            "__Host-a=v1.x-y_z"
        ]
    );
    let lax = Attributes {
        same_site: SameSite::Lax,
        secure: false,
        max_age: Some(Duration::from_secs(600)),
    };
    assert_eq!(
        attributes(&set("b", "1", lax)),
        ["HttpOnly", "Max-Age=600", "Path=/", "SameSite=Lax", "b=1"]
    );
    assert_eq!(
        attributes(&clear("__Host-a", strict)),
        [
            "HttpOnly",
            "Max-Age=0",
            "Path=/",
            "SameSite=Strict",
            "Secure",
            "__Host-a="
        ]
    );
}
