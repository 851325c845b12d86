//! CIBA ping mode (CIBA Core §5, §7.1, §10.2): a client registers ping with its notification
//! endpoint through the settings API, its requests must carry a `client_notification_token`,
//! and the customer's decision is POSTed to that endpoint (retried after a 5xx, not after a
//! 4xx), while polling still works.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{extract::State, http::HeaderMap, routing::post};
use serde_json::{Value, json};

use crate::kit::{Op, error_of};

const TOKEN: &str = "notify-token-0123456789abcdefghij";

/// What the client's notification endpoint received, and the statuses it answers with in turn
/// (then 204).
#[derive(Clone, Default)]
struct Receiver {
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    answers: Arc<Mutex<Vec<u16>>>,
}

impl Receiver {
    /// Listens on a free loopback port; answers its `/notify` URL.
    async fn start(answers: &[u16]) -> (Self, String) {
        let receiver = Self {
            answers: Arc::new(Mutex::new(answers.iter().rev().copied().collect())),
            ..Self::default()
        };
        let app = axum::Router::new()
            .route("/notify", post(notified))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/notify", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    fn seen(&self) -> Vec<(HeaderMap, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

async fn notified(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> axum::http::StatusCode {
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    receiver.seen.lock().unwrap().push((headers, body));
    let status = receiver.answers.lock().unwrap().pop().unwrap_or(204);
    axum::http::StatusCode::from_u16(status).unwrap()
}

/// Sets the demo client's delivery through the settings API; answers the response.
async fn register(op: &Op, settings: Value) -> reqwest::Response {
    let token = op.client_token().await;
    op.http
        .put(format!(
            "{}/cis/v1/applications/demo-bank/clients/agent-console",
            op.url
        ))
        .bearer_auth(token)
        .json(&json!({ "ciba_authorization": settings }))
        .send()
        .await
        .unwrap()
}

async fn register_ping(op: &Op, endpoint: &str) {
    let response = register(
        op,
        json!({
            "enabled": true,
            "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": endpoint,
        }),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let settings = &body["result"]["ciba_authorization"];
    assert_eq!(settings["backchannel_token_delivery_mode"], "ping");
    assert_eq!(
        settings["backchannel_client_notification_endpoint"],
        endpoint
    );
}

/// Starts a request for alice by SMS with `token`; answers the response.
async fn start(op: &Op, token: Option<&str>) -> reqwest::Response {
    let mut params = vec![
        ("scope", "openid email"),
        ("login_hint", "+15555550101"),
        ("binding_message", "K7-42"),
    ];
    if let Some(token) = token {
        params.push(("client_notification_token", token));
    }
    op.backchannel(&params).await
}

async fn started(op: &Op) -> String {
    let response = start(op, Some(TOKEN)).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["auth_req_id"].as_str().unwrap().to_owned()
}

/// Waits until the provider counted a ping with `result`.
async fn ping_counted(op: &Op, result: &str) {
    let series = format!("countersign_provider_pings_total{{result=\"{result}\"}}");
    for _ in 0..200 {
        if op.metric(&series).await >= 1.0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no {result} ping was counted");
}

#[tokio::test]
async fn discovery_offers_ping_and_poll() {
    let op = Op::start().await;
    let doc: Value = op
        .http
        .get(format!("{}/.well-known/openid-configuration", op.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        doc["backchannel_token_delivery_modes_supported"],
        json!(["poll", "ping"])
    );
}

#[tokio::test]
async fn an_approval_pings_the_registered_endpoint_with_the_clients_token() {
    let op = Op::start().await;
    let (receiver, endpoint) = Receiver::start(&[]).await;
    register_ping(&op, &endpoint).await;

    let id = started(&op).await;
    // Polling still works for a ping client, paced as for any client.
    assert_eq!(op.poll_error(&id).await, "authorization_pending");
    assert!(receiver.seen().is_empty());
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    ping_counted(&op, "delivered").await;

    let seen = receiver.seen();
    assert_eq!(seen.len(), 1);
    let (headers, body) = &seen[0];
    assert_eq!(body, &json!({ "auth_req_id": id }));
    assert_eq!(headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(headers["content-type"], "application/json");
    // The ping says only "ask now": the tokens come from the token endpoint, once.
    assert_eq!(op.poll_error(&id).await, "tokens");
    assert_eq!(op.poll_error(&id).await, "invalid_grant");

    // The token is kept sealed: the stored request does not hold it in the clear.
    let stored = op
        .store()
        .await
        .backchannel(
            &op.hash_key()
                .hash(provider::crypto::Purpose::AuthReqId, &id),
        )
        .await
        .unwrap()
        .unwrap();
    let sealed = stored.notification_token.unwrap();
    assert!(!sealed.contains(TOKEN));

    // The audit names the mode and the host pings go to, not the endpoint's path.
    let host = reqwest::Url::parse(&endpoint).unwrap();
    let trail = op.audit_trail().await;
    let change = trail
        .iter()
        .find(|event| event["event"] == "ciba_settings_changed")
        .unwrap();
    assert_eq!(
        change["detail"],
        format!("enabled, ping to 127.0.0.1:{}", host.port().unwrap())
    );
}

#[tokio::test]
async fn a_denial_pings_too_and_a_5xx_is_tried_again() {
    let op = Op::start().await;
    let (receiver, endpoint) = Receiver::start(&[503]).await;
    register_ping(&op, &endpoint).await;
    let id = started(&op).await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, false).await.status(), 200);
    ping_counted(&op, "delivered").await;
    let seen = receiver.seen();
    assert_eq!(seen.len(), 2, "one 503, then one 204");
    assert!(
        seen.iter()
            .all(|(_, body)| body == &json!({ "auth_req_id": id }))
    );
    assert_eq!(op.poll_error(&id).await, "access_denied");
}

#[tokio::test]
async fn a_4xx_is_not_tried_again() {
    let op = Op::start().await;
    let (receiver, endpoint) = Receiver::start(&[401]).await;
    register_ping(&op, &endpoint).await;
    let id = started(&op).await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    ping_counted(&op, "refused").await;
    assert_eq!(receiver.seen().len(), 1);
    // A missed ping is not a lost result: the client's poll still gets the tokens.
    assert_eq!(op.poll_error(&id).await, "tokens");
}

#[tokio::test]
async fn a_ping_client_must_send_a_strong_notification_token() {
    let op = Op::start().await;
    let (_receiver, endpoint) = Receiver::start(&[]).await;
    register_ping(&op, &endpoint).await;
    let long = "a".repeat(1025);
    for token in [
        None,
        Some("too-short-0123456789"),
        Some(long.as_str()),
        Some("has spaces in it 0123456789"),
    ] {
        let response = start(&op, token).await;
        assert_eq!(response.status(), 400, "{token:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_request", "{token:?}");
        let description = body["error_description"].as_str().unwrap_or_default();
        assert!(
            description.contains("client_notification_token"),
            "{token:?}: {body}"
        );
    }
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);
}

#[tokio::test]
async fn the_endpoint_must_be_public_https_or_listed_and_poll_clients_are_not_pinged() {
    // The kit's provider lists 127.0.0.1 as a private host (where its receivers listen), and
    // nothing else.
    let op = Op::start().await;
    let internal = [
        "http://169.254.169.254/latest",
        "https://169.254.169.254/latest",
        "https://10.0.0.7/n",
        "https://[::ffff:192.168.0.1]/n",
        "https://localhost/n",
        "http://bff.example/n",
    ];
    for endpoint in internal {
        let settings = json!({"enabled": true, "backchannel_token_delivery_mode": "ping",
                              "backchannel_client_notification_endpoint": endpoint});
        let response = register(&op, settings).await;
        assert_eq!(response.status(), 400, "{endpoint}");
        let text = response.text().await.unwrap();
        assert!(text.contains("public address"), "{endpoint}: {text}");
    }
    for (settings, expected) in [
        (
            json!({"enabled": true, "backchannel_token_delivery_mode": "ping",
                   "backchannel_client_notification_endpoint": "http://169.254.169.254/latest"}),
            "https",
        ),
        (
            json!({"enabled": true, "backchannel_token_delivery_mode": "ping",
                   "backchannel_client_notification_endpoint": "https://me:pw@bff.example/n"}),
            "https",
        ),
        (
            json!({"enabled": true, "backchannel_token_delivery_mode": "ping"}),
            "https",
        ),
        (
            json!({"enabled": true, "backchannel_token_delivery_mode": "push",
                   "backchannel_client_notification_endpoint": "https://bff.example/n"}),
            "poll",
        ),
        (
            json!({"enabled": true, "backchannel_token_delivery_mode": "poll",
                   "backchannel_client_notification_endpoint": "https://bff.example/n"}),
            "poll client",
        ),
    ] {
        let response = register(&op, settings.clone()).await;
        assert_eq!(response.status(), 400, "{settings}");
        let text = response.text().await.unwrap();
        assert!(text.contains(expected), "{settings}: {text}");
    }

    // A poll client (the default) may send a token; nothing is sent to anyone.
    let (receiver, endpoint) = Receiver::start(&[]).await;
    register_ping(&op, &endpoint).await;
    let response = register(
        &op,
        json!({"enabled": true, "backchannel_token_delivery_mode": "poll"}),
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["result"]["ciba_authorization"]["backchannel_client_notification_endpoint"],
        Value::Null
    );
    let id = started(&op).await;
    let customer = op.customer_token("alice@example.com").await;
    assert_eq!(op.complete(&customer, &id, true).await.status(), 200);
    assert_eq!(error_of(op.poll(&id).await).await, "tokens");
    assert!(receiver.seen().is_empty());
    assert_eq!(
        op.metric("countersign_provider_pings_total{result=\"delivered\"}")
            .await,
        0.0
    );
}
