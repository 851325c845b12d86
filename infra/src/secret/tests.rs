use super::*;

#[test]
fn debug_never_shows_the_value() {
    let secret = Secret::new("demo-console-secret");
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
    assert_eq!(secret.expose(), "demo-console-secret");
    assert_eq!(secret, Secret::from("demo-console-secret"));
    assert_ne!(secret, Secret::from("demo-console-secreT"));
    assert_ne!(secret, Secret::from("demo-console-secre"));
    assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
}

#[test]
fn tokens_are_long_random_and_url_safe() {
    let a = random_token();
    let b = random_token();
    assert_ne!(a, b);
    assert_eq!(a.expose().len(), 43);
    assert!(
        a.expose()
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    );
}

#[test]
fn the_key_file_is_created_once_and_kept_private() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("provider.key");
    let first = key_file(&path).unwrap();
    let again = key_file(&path).unwrap();
    assert_eq!(first, again);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    std::fs::write(&path, b"short").unwrap();
    assert!(key_file(&path).is_err());
}
