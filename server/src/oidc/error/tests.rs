use super::*;

#[test]
fn sentences_are_plain() {
    let limited = OidcError::RateLimited {
        retry_after: Some(Duration::from_secs(30)),
    };
    assert_eq!(
        limited.to_string(),
        "the provider is limiting requests; try again in 30 s"
    );
    assert_eq!(
        OidcError::IdToken(IdTokenError::UnsupportedAlgorithm("HS256".into())).to_string(),
        "the ID token is not valid: it is signed with HS256, but only RS256 and ES256 are accepted"
    );
    assert!(OidcError::Unavailable("x".into()).is_transient());
    assert!(!OidcError::Expired.is_transient());
}
