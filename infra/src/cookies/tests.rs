use axum::http::{HeaderMap, HeaderValue, header};

use super::values;

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
}
