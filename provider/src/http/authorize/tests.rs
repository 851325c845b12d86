use super::*;

#[test]
fn pkce_s256_matches_the_rfc_example() {
    // RFC 7636 Appendix B.
    let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    assert!(pkce_matches(verifier, challenge));
    assert!(!pkce_matches(
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
        challenge
    ));
    assert!(!pkce_matches("short", challenge));
}

#[test]
fn loopback_redirects_match_on_any_port_only() {
    let registered = "http://127.0.0.1:3000/auth/callback";
    assert!(redirect_matches(registered, registered));
    assert!(redirect_matches(
        registered,
        "http://127.0.0.1:41234/auth/callback"
    ));
    assert!(redirect_matches(
        "http://[::1]:3000/cb",
        "http://[::1]:5555/cb"
    ));
    for bad in [
        "http://127.0.0.1:41234/auth/callback/x",
        "http://127.0.0.1:41234/auth/callback?x=1",
        "http://127.0.0.2:3000/auth/callback",
        "http://localhost:3000/auth/callback",
        "https://127.0.0.1:3000/auth/callback",
        "http://127.0.0.1:3000@evil.example/auth/callback",
        "http://127.0.0.1:x/auth/callback",
    ] {
        assert!(!redirect_matches(registered, bad), "{bad}");
    }
    assert!(!redirect_matches(
        "https://console.bank.example/cb",
        "https://console.bank.example:444/cb"
    ));
}

#[test]
fn the_dummy_hash_is_a_real_argon2id_hash() {
    use argon2::password_hash::phc::PasswordHash;
    assert!(PasswordHash::new(DUMMY_HASH).is_ok());
    assert!(!verify_password("anything", DUMMY_HASH));
}

#[test]
fn cross_site_posts_are_refused() {
    let issuer = "http://127.0.0.1:3001";
    let with = |pairs: &[(&'static str, &'static str)]| {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        headers
    };
    assert!(same_origin(&with(&[]), issuer));
    assert!(same_origin(
        &with(&[("sec-fetch-site", "same-origin")]),
        issuer
    ));
    assert!(same_origin(
        &with(&[("origin", "http://127.0.0.1:3001")]),
        issuer
    ));
    assert!(!same_origin(
        &with(&[("sec-fetch-site", "cross-site")]),
        issuer
    ));
    assert!(!same_origin(
        &with(&[("sec-fetch-site", "same-site")]),
        issuer
    ));
    assert!(!same_origin(
        &with(&[("origin", "http://127.0.0.1:30011")]),
        issuer
    ));
    assert!(!same_origin(
        &with(&[("origin", "http://evil.example")]),
        issuer
    ));
    assert!(!same_origin(&with(&[("origin", "null")]), issuer));
}
