use super::*;

#[test]
fn codes_have_six_digits() {
    for _ in 0..200 {
        let code = one_time_code();
        assert_eq!(code.expose().len(), 6);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn hashes_depend_on_key_purpose_and_value() {
    let key = HashKey::from_bytes([7; 32]);
    let other = HashKey::from_bytes([8; 32]);
    let h = key.hash(Purpose::Token, "abc");
    assert!(key.verify(Purpose::Token, "abc", &h));
    assert!(!key.verify(Purpose::Token, "abd", &h));
    assert!(!key.verify(Purpose::AuthReqId, "abc", &h));
    assert!(!other.verify(Purpose::Token, "abc", &h));
    assert!(!key.verify(Purpose::Token, "abc", &h[..31]));
}

#[test]
fn a_notification_token_opens_only_with_its_request_id_and_key() {
    let key = HashKey::from_bytes([7; 32]);
    let token = "client-notification-token-0123456789";
    let sealed = key.seal_for_request("request-a", token).unwrap();
    assert!(!sealed.contains(token));
    assert_eq!(
        key.open_for_request("request-a", &sealed).as_deref(),
        Some(token)
    );
    assert_eq!(key.open_for_request("request-b", &sealed), None);
    assert_eq!(
        HashKey::from_bytes([8; 32]).open_for_request("request-a", &sealed),
        None
    );
    // Sealing twice gives two texts (a fresh nonce each time); a cut or altered text opens to nothing.
    assert_ne!(key.seal_for_request("request-a", token).unwrap(), sealed);
    assert_eq!(
        key.open_for_request("request-a", &sealed[..sealed.len() - 2]),
        None
    );
    assert_eq!(key.open_for_request("request-a", "short"), None);
}
