use super::*;
use axum::http::header;

#[test]
fn a_cookie_is_valid_for_its_account_only_and_for_a_while() {
    let key = HashKey::from_bytes([7; 32]);
    let now = Timestamp(1_800_000_000_000);
    let value = issue(&key, "agent@demo.bank", now);
    let mut headers = HeaderMap::new();
    headers.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("other=1; {SECURE_NAME}={value}")).unwrap(),
    );
    let issuer = "https://op.bank.example";
    assert!(valid_for(&key, issuer, &headers, "agent@demo.bank", now).is_some());
    assert!(valid_for(&key, issuer, &headers, "supervisor@demo.bank", now).is_none());
    assert!(
        valid_for(
            &HashKey::from_bytes([8; 32]),
            issuer,
            &headers,
            "agent@demo.bank",
            now
        )
        .is_none()
    );
    let later = Timestamp(now.0 + LIFETIME_SECS * 1000);
    assert!(valid_for(&key, issuer, &headers, "agent@demo.bank", later).is_none());
    // The plain-http name is another cookie.
    assert!(
        valid_for(
            &key,
            "http://127.0.0.1:3001",
            &headers,
            "agent@demo.bank",
            now
        )
        .is_none()
    );
    let tampered = value.replacen("v1.", "v1.A", 1);
    assert!(check(&key, &tampered, "agent@demo.bank", now).is_none());
}

#[test]
fn a_cookie_with_an_extreme_issue_time_is_refused_without_overflow() {
    let key = HashKey::from_bytes([7; 32]);
    let now = Timestamp(1_800_000_000_000);
    for issued in [i64::MIN, i64::MAX, -1] {
        let value = format!("v1.{}.{issued}.AAAA", "A".repeat(22));
        assert!(check(&key, &value, "agent@demo.bank", now).is_none());
    }
}

#[test]
fn the_cookie_is_host_only_and_secure_except_on_plain_loopback() {
    let secure = set_cookie("https://op.bank.example", "v").unwrap();
    let secure = secure.to_str().unwrap();
    assert!(
        secure.starts_with("__Host-countersign-device=v;"),
        "{secure}"
    );
    for part in ["Path=/", "Secure", "HttpOnly", "SameSite=Strict"] {
        assert!(secure.contains(part), "{secure}");
    }
    assert!(!secure.contains("Domain"));
    let plain = set_cookie("http://127.0.0.1:3001", "v").unwrap();
    let plain = plain.to_str().unwrap();
    assert!(plain.starts_with("countersign-device=v;"), "{plain}");
    assert!(!plain.contains("Secure"));
    assert_eq!(name("http://[::1]:3001"), PLAIN_NAME);
    assert_eq!(name("http://op.bank.example"), SECURE_NAME);
}
