use super::*;

#[test]
fn a_link_becomes_a_square_path_with_a_quiet_zone() {
    let qr = encode("http://127.0.0.1:3000/approve?auth_req_id=abc&binding_message=7KX-4FP");
    let qr = qr.unwrap();
    // At least version 1 (21 modules) plus 2 × 4 of quiet zone.
    assert!(qr.side >= 21 + 8, "{}", qr.side);
    // The top-left finder pattern's first row comes first.
    assert!(qr.data.starts_with("M4,4h7v1h-7z"), "{}", qr.data);
}

#[test]
fn too_long_a_text_gives_nothing() {
    assert_eq!(encode(&"x".repeat(8000)), None);
}
