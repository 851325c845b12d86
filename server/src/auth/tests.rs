use super::*;

#[test]
fn only_local_paths_are_returned_to() {
    for kept in ["/", "/console", "/flows/abc?tab=events#x", "/a/b%2F%2Fc"] {
        assert_eq!(safe_return_to(Some(kept)), kept);
    }
    for refused in [
        "",
        "//evil.example",
        "///evil.example",
        "/\\evil.example",
        "/\\/evil.example",
        "https://evil.example",
        "http:/evil.example",
        "evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        "/ /x",
        "/a\\b",
        "/é",
    ] {
        assert_eq!(safe_return_to(Some(refused)), "/", "{refused:?}");
    }
    assert_eq!(safe_return_to(None), "/");
    let long = format!("/{}", "a".repeat(MAX_RETURN_TO));
    assert_eq!(safe_return_to(Some(&long)), "/");
}

#[test]
fn pkce_is_s256_of_the_verifier() {
    // RFC 7636 Appendix B.
    assert_eq!(
        code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn urls_and_descriptions() {
    assert_eq!(
        redirect_uri("http://127.0.0.1:3000/"),
        "http://127.0.0.1:3000/auth/callback"
    );
    assert_eq!(
        login_path("/a b?c=d&e"),
        "/auth/login?return_to=%2Fa+b%3Fc%3Dd%26e"
    );
    assert_eq!(
        provider_description("error=access_denied&error_description=No%0Ateller%3Cb%3E"),
        "Noteller<b>"
    );
    assert_eq!(provider_description("error=access_denied"), "access_denied");
    assert_eq!(
        provider_description("error=%0A"),
        "the sign-in was not completed."
    );
    assert_eq!(query_param("a=1&a=2&b=%2F", "a").as_deref(), Some("1"));
    assert_eq!(query_param("a=1&a=2&b=%2F", "b").as_deref(), Some("/"));
    assert_eq!(query_param("", "a"), None);
}
