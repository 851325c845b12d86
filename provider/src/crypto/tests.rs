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
