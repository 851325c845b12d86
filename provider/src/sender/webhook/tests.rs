use std::time::Duration;

use super::*;
use crate::{clock::Timestamp, sender::tests::message};

#[test]
fn the_signature_matches_a_known_vector() {
    // Computed independently with Python's hmac and hashlib.
    let secret = Secret::new("whsec_test_0123456789abcdef");
    let body = br#"{"to":"+15555550101","body":"hi","channel":"sms","id":"m1"}"#;
    assert_eq!(
        signature(&secret, 1_700_000_000, body),
        "t=1700000000,v1=4e6b1160e29c2c41297379e3de60ac68c0d3d25658e52042e4ed2d9478af2893"
    );
    assert_ne!(
        signature(&secret, 1_700_000_001, body),
        signature(&secret, 1_700_000_000, body)
    );
}

#[tokio::test]
async fn email_is_refused_before_connecting() {
    let config = WebhookConfig {
        url: "http://127.0.0.1:9/sms".parse().unwrap(),
        secret: Secret::new("0123456789abcdef"),
        timeout: Duration::from_secs(1),
    };
    let webhook = Webhook::new(&config, Clock::manual(Timestamp(1_800_000_000_000))).unwrap();
    let error = webhook
        .send(&message("email", "a@example.com"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("sms only"), "{error}");
    let shown = format!("{webhook:?}");
    assert!(!shown.contains("0123456789abcdef"), "{shown}");
}
