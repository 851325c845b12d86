use axum::http::{HeaderValue, header};

use super::*;

#[test]
fn the_cookie_is_host_only_secure_and_script_proof() {
    let (id, hash_of_id) = new_id();
    assert_eq!(id.len(), 43);
    assert_eq!(hash(&id), hash_of_id);
    let set = cookie(&id).to_string();
    for part in [
        "__Host-countersign=",
        "Path=/",
        "Secure",
        "HttpOnly",
        "SameSite=Strict",
    ] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Domain"));
    assert!(cleared_cookie().to_string().contains("Max-Age=0"));
}

#[test]
fn the_session_id_is_read_from_any_cookie_header() {
    let mut headers = HeaderMap::new();
    assert_eq!(id_from(&headers), None);
    headers.append(header::COOKIE, HeaderValue::from_static("a=1; b=2"));
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("x=y; __Host-countersign=abc; z=1"),
    );
    assert_eq!(id_from(&headers).as_deref(), Some("abc"));
    let mut empty = HeaderMap::new();
    empty.append(
        header::COOKIE,
        HeaderValue::from_static("__Host-countersign="),
    );
    assert_eq!(id_from(&empty), None);
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A cookie name (an RFC 6265 token).
    const NAME: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}";
    /// A cookie value (RFC 6265 cookie-octets), base64 padding included.
    const VALUE: &str = "[A-Za-z0-9!#$%&'()*+./:<=>?@\\[\\]^_`{|}~-]{1,40}";

    proptest! {
        /// Any Cookie header: an answer, never a panic, and never an empty value.
        #[test]
        fn any_cookie_header_gets_an_answer(
            bytes in proptest::collection::vec(any::<u8>(), 0..80),
            name in NAME,
        ) {
            if let Ok(value) = HeaderValue::from_bytes(&bytes) {
                let mut headers = HeaderMap::new();
                headers.insert(header::COOKIE, value);
                let found = cookie_value(&headers, &name);
                prop_assert!(found.is_none_or(|v| !v.is_empty()));
                let _ = id_from(&headers);
            }
        }

        /// A cookie set among others, in one header or several, reads back as set; a
        /// cookie whose name merely contains it does not.
        #[test]
        fn a_cookie_reads_back_among_others(
            name in NAME,
            value in VALUE,
            others in proptest::collection::vec((NAME, VALUE), 0..4),
            split in any::<bool>(),
        ) {
            let others: Vec<(String, String)> =
                others.into_iter().filter(|(other, _)| *other != name).collect();
            let mut pairs: Vec<String> =
                others.iter().map(|(n, v)| format!("{n}={v}")).collect();
            pairs.insert(pairs.len() / 2, format!("{name}={value}"));
            pairs.push(format!("x{name}=decoy"));
            let mut headers = HeaderMap::new();
            if split {
                for pair in &pairs {
                    headers.append(header::COOKIE, HeaderValue::from_str(pair).unwrap());
                }
            } else {
                headers.insert(header::COOKIE, HeaderValue::from_str(&pairs.join("; ")).unwrap());
            }
            prop_assert_eq!(cookie_value(&headers, &name), Some(value));
        }

        /// Session ids this BFF makes read back from the cookie it sets.
        #[test]
        fn new_session_ids_round_trip(_run in 0..8u8) {
            let (id, id_hash) = new_id();
            let set = cookie(&id).to_string();
            let pair = set.split(';').next().unwrap_or_default();
            let mut headers = HeaderMap::new();
            headers.insert(header::COOKIE, HeaderValue::from_str(pair).unwrap());
            prop_assert_eq!(id_from(&headers).map(|id| hash(&id)), Some(id_hash));
        }
    }
}
