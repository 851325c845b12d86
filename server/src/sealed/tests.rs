use super::*;

#[test]
fn sealed_values_open_only_with_their_key_purpose_and_row() {
    let sealer = Sealer::from_bytes([7; 32]);
    let plain = r#"{"access_token":"at-123","refresh_token":"rt-456"}"#;
    let sealed = sealer.seal(Purpose::FlowTokens, b"flow-1", plain).unwrap();
    assert!(sealed.starts_with("v1."));
    assert!(!sealed.contains("at-123"));
    let open = |purpose, row: &[u8], value: &str| sealer.open(purpose, row, value);
    assert_eq!(
        open(Purpose::FlowTokens, b"flow-1", &sealed).as_deref(),
        Some(plain)
    );
    // A fresh nonce each time.
    let again = sealer.seal(Purpose::FlowTokens, b"flow-1", plain).unwrap();
    assert_ne!(again, sealed);
    // Another purpose, row or key, a changed byte, or no seal at all: nothing.
    assert_eq!(open(Purpose::CustomerToken, b"flow-1", &sealed), None);
    assert_eq!(open(Purpose::FlowTokens, b"flow-2", &sealed), None);
    let other = Sealer::from_bytes([8; 32]);
    assert_eq!(other.open(Purpose::FlowTokens, b"flow-1", &sealed), None);
    let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(bytes));
    assert_eq!(open(Purpose::FlowTokens, b"flow-1", &tampered), None);
    for junk in ["", "v1.", "v1.AAAA", plain, "v2.abc"] {
        assert_eq!(open(Purpose::FlowTokens, b"flow-1", junk), None, "{junk}");
    }
}

#[test]
fn the_key_file_is_made_once_and_kept() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("countersign.key");
    let first = Sealer::load_or_create(&path).unwrap();
    let sealed = first.seal(Purpose::CustomerToken, b"row", "token").unwrap();
    let again = Sealer::load_or_create(&path).unwrap();
    assert_eq!(
        again
            .open(Purpose::CustomerToken, b"row", &sealed)
            .as_deref(),
        Some("token")
    );
    std::fs::write(&path, b"short").unwrap();
    assert!(Sealer::load_or_create(&path).is_err());
}
