use super::*;

#[test]
fn nonces_are_long_and_fresh() {
    let (a, b) = (new_nonce(), new_nonce());
    assert_eq!(a.len(), 22);
    assert_ne!(a, b);
    assert!(policy(&a).contains(&format!("'nonce-{a}'")));
}

#[test]
fn a_handlers_own_policy_and_cache_control_are_kept() {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=60"),
    );
    apply(&mut headers, "n", false);
    assert_eq!(
        headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'"
    );
    assert_eq!(headers[header::CACHE_CONTROL], "max-age=60");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[test]
fn only_static_files_stay_cacheable() {
    assert!(is_static("/pkg/countersign.wasm"));
    assert!(is_static("/favicon.svg"));
    for page in [
        "/",
        "/approve",
        "/status",
        "/api/me",
        "/auth/login",
        "/pkgx",
        "/no/such",
    ] {
        assert!(!is_static(page), "{page}");
    }
    let mut headers = HeaderMap::new();
    apply(&mut headers, "n", true);
    assert!(!headers.contains_key(header::CACHE_CONTROL));
    apply(&mut headers, "n", false);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}
