use super::*;
use crate::provider_client::SENDING_TIMEOUT;

fn send_and_sync<T: Send + Sync>() {}
fn send<T: Send>(_: &T) {}

/// The client is shared between tasks, and its futures run on any worker.
#[test]
fn the_client_and_its_futures_cross_threads() {
    send_and_sync::<OidcClient>();
    let endpoints = Endpoints {
        issuer: "http://127.0.0.1:1".into(),
        backchannel: "http://127.0.0.1:1/bc".into(),
        token: "http://127.0.0.1:1/token".into(),
        jwks: "http://127.0.0.1:1/jwks".into(),
        authorization: "http://127.0.0.1:1/authorize".into(),
        userinfo: None,
        revocation: None,
        complete: None,
        otp_send: None,
        otp_authenticate: None,
        webauthn: None,
        client_auth: ClientAuthMethod::Basic,
    };
    let client = OidcClient::with_endpoints(
        Profile::Standard,
        endpoints,
        Credentials {
            client_id: "c".into(),
            client_secret: Secret::new("hunter2-secret"),
        },
    )
    .unwrap();
    let secret = Secret::new("x");
    send(&client.client_token());
    send(&client.poll(&secret));
    send(&client.validate_id_token(&secret, Expected::default(), 0));
    send(&client.otp_send(OtpChannel::Sms, HintType::Phone, "+1", None));
    let debug = format!("{client:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
}

/// A provider on loopback whose backchannel endpoint answers after `delay`, as the
/// embedded provider does at the latest when its SMS gateway hangs.
async fn slow_provider(delay: Duration) -> OidcClient {
    let router = axum::Router::new()
        .route(
            "/bc",
            axum::routing::post(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({
                    "auth_req_id": "a-request", "expires_in": 600, "interval": 5
                }))
            }),
        )
        .route(
            "/token",
            axum::routing::post(move || async move {
                tokio::time::sleep(delay).await;
                axum::Json(serde_json::json!({ "error": "authorization_pending" }))
            }),
        );
    client_of(router).await
}

/// A client of a provider that `router` serves on loopback (standard profile, HTTP Basic).
async fn client_of(router: axum::Router) -> OidcClient {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let endpoints = Endpoints {
        issuer: base.clone(),
        backchannel: format!("{base}/bc"),
        token: format!("{base}/token"),
        jwks: format!("{base}/jwks"),
        authorization: format!("{base}/authorize"),
        userinfo: None,
        revocation: None,
        complete: None,
        otp_send: None,
        otp_authenticate: None,
        webauthn: None,
        client_auth: ClientAuthMethod::Basic,
    };
    OidcClient::with_endpoints(
        Profile::Standard,
        endpoints,
        Credentials {
            client_id: "c".into(),
            client_secret: Secret::new("hunter2-secret"),
        },
    )
    .unwrap()
}

fn request() -> BackchannelRequest {
    BackchannelRequest {
        login_hint: "+15555550101".into(),
        hint_type: HintType::Phone,
        channel: Channel::Sms,
        binding_message: Some("K7-42".into()),
        custom_message: None,
        requested_expiry: None,
        scope: "openid".into(),
        notification_token: None,
    }
}

/// The provider sends before it answers and answers within its send deadline; the BFF
/// waits longer than that for the backchannel call, so it never reports a failure for a
/// request the provider went on with. Time is tokio's paused clock.
#[test]
fn case_23_the_backchannel_timeout_exceeds_the_providers_send_deadline() {
    let provider_bound = provider::sender::ANSWER_BOUND;
    assert_eq!(
        provider_bound,
        provider::sender::START_BUDGET + provider::sender::SEND_DEADLINE
    );
    assert!(SENDING_TIMEOUT > provider_bound + CONNECT_TIMEOUT);
    assert!(provider::config::MAX_SEND_TIMEOUT < provider::sender::SEND_DEADLINE);
    // Calls that send nothing keep their shorter timeout.
    assert!(REQUEST_TIMEOUT < provider::sender::SEND_DEADLINE);
}

#[tokio::test(start_paused = true)]
async fn case_23_a_backchannel_answer_at_the_providers_deadline_is_waited_for() {
    let client = slow_provider(provider::sender::ANSWER_BOUND).await;
    let started = client.backchannel(&request()).await.unwrap();
    assert_eq!(started.auth_req_id.expose(), "a-request");
    // A poll is not a sending call: it keeps the short timeout.
    match client.poll(&Secret::new("a-request")).await {
        PollOutcome::Unavailable(why) => assert!(why.contains("within 5 s"), "{why}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_backchannel_call_still_ends_when_the_provider_never_answers() {
    let client = slow_provider(Duration::from_secs(3600)).await;
    let started = tokio::time::Instant::now();
    let error = client.backchannel(&request()).await.unwrap_err();
    assert_eq!(started.elapsed().as_secs(), SENDING_TIMEOUT.as_secs());
    assert!(error.to_string().contains("within 15 s"), "{error}");
}

#[test]
fn the_authorization_url_carries_pkce_and_the_nonce() {
    let endpoints = Endpoints {
        issuer: "https://id.example.com".into(),
        backchannel: "https://id.example.com/bc".into(),
        token: "https://id.example.com/token".into(),
        jwks: "https://id.example.com/jwks".into(),
        authorization: "https://id.example.com/authorize?tenant=a".into(),
        userinfo: None,
        revocation: None,
        complete: None,
        otp_send: None,
        otp_authenticate: None,
        webauthn: None,
        client_auth: ClientAuthMethod::Post,
    };
    let client = OidcClient::with_endpoints(
        Profile::Standard,
        endpoints,
        Credentials {
            client_id: "agent console".into(),
            client_secret: Secret::new("s"),
        },
    )
    .unwrap();
    let url = client.authorization_url("http://127.0.0.1:3000/cb", "st&1", "n=1", "ch");
    assert_eq!(
        url,
        "https://id.example.com/authorize?tenant=a&response_type=code&client_id=agent+console\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2Fcb&scope=openid+email&state=st%261\
         &nonce=n%3D1&code_challenge=ch&code_challenge_method=S256"
    );
}

/// Calls to the provider carry the id of the request that made them, so the provider's log
/// lines of a call share the BFF's request id; outside a request they carry none.
#[tokio::test]
async fn calls_carry_the_request_id_of_the_request_that_made_them() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = axum::Router::new().route(
        "/bc",
        axum::routing::post(move |headers: axum::http::HeaderMap| {
            let record = record.clone();
            async move {
                record.lock().unwrap().push(
                    headers
                        .get("x-request-id")
                        .map(|value| value.to_str().unwrap().to_owned()),
                );
                axum::Json(serde_json::json!({
                    "auth_req_id": "a-request", "expires_in": 600, "interval": 5
                }))
            }
        }),
    );
    let client = client_of(router).await;
    infra::request_id::scoped(Some("bff-req-7".to_owned()), client.backchannel(&request()))
        .await
        .unwrap();
    client.backchannel(&request()).await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [Some("bff-req-7".to_owned()), None]);
}
