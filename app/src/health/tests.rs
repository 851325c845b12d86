use super::*;

#[test]
fn the_public_answer_is_up_or_down_only() {
    let up = ProviderStatus::Up {
        version: Some("0.1.0".into()),
        latency_ms: Some(3),
    };
    assert_eq!(
        serde_json::to_string(&up.public()).ok().as_deref(),
        Some(r#"{"state":"up"}"#)
    );
    for other in [
        ProviderStatus::Degraded {
            detail: "it reports another issuer".into(),
            latency_ms: 3,
        },
        ProviderStatus::Down {
            detail: Some("no connection could be made".into()),
        },
    ] {
        assert_eq!(
            serde_json::to_string(&other.public()).ok().as_deref(),
            Some(r#"{"state":"down"}"#)
        );
    }
}
