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

#[test]
fn lookups_are_stable_per_key_and_tell_nothing_of_the_handle() {
    let sealer = Sealer::from_bytes([7; 32]);
    let hash = sealer.lookup("req-1");
    assert_eq!(hash.len(), 32);
    assert_eq!(sealer.lookup("req-1"), hash);
    assert_ne!(sealer.lookup("req-2"), hash);
    assert_ne!(Sealer::from_bytes([8; 32]).lookup("req-1"), hash);
    // Not the plain SHA-256 of the handle: a copy of the database cannot test guesses.
    use sha2::{Digest, Sha256};
    assert_ne!(Sha256::digest(b"req-1").to_vec(), hash);
    assert_eq!(hex(&[0, 15, 255]), "000fff");
    // Handles and links seal for their own purpose only.
    let sealed = sealer.seal(Purpose::AuthReqId, b"flow-1", "req-1").unwrap();
    assert_eq!(sealer.open(Purpose::Link, b"flow-1", &sealed), None);
    assert_eq!(
        sealer
            .open(Purpose::AuthReqId, b"flow-1", &sealed)
            .as_deref(),
        Some("req-1")
    );
}

#[tokio::test]
async fn requests_kept_from_before_sealing_are_sealed_once_and_found_by_hash() {
    use crate::store::{FlowStore as _, fake::FakeStore};

    let sealer = Sealer::from_bytes([7; 32]);
    let store = FakeStore::new();
    let mut kept = crate::store::test_flow("flow-1", "agent-a", 1_000);
    kept.status = app::flow::FlowStatus::Pending;
    kept.auth_req_id = Some("req-plain".into());
    kept.link = Some("https://bff.example/approve?auth_req_id=req-plain".into());
    store.insert_flow(&kept).await.unwrap();
    let fresh = crate::store::test_flow("flow-2", "agent-a", 2_000);
    store.insert_flow(&fresh).await.unwrap();

    assert_eq!(seal_kept_requests(&store, &sealer).await.unwrap(), 1);
    let stored = store
        .flow_by_request_hash(&sealer.lookup("req-plain"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.id, "flow-1");
    assert_eq!(stored.status, app::flow::FlowStatus::Pending);
    let handle = stored.auth_req_id.as_deref().unwrap();
    let link = stored.link.as_deref().unwrap();
    assert!(!handle.contains("req-plain") && !link.contains("req-plain"));
    assert_eq!(
        sealer
            .open(Purpose::AuthReqId, b"flow-1", handle)
            .as_deref(),
        Some("req-plain")
    );
    assert_eq!(
        sealer.open(Purpose::Link, b"flow-1", link).as_deref(),
        kept.link.as_deref()
    );
    // Nothing is left to seal, and a flow without a handle was left alone.
    assert_eq!(seal_kept_requests(&store, &sealer).await.unwrap(), 0);
    assert_eq!(store.flow("flow-2").await.unwrap(), Some(fresh));
}
