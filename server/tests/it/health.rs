//! The first slice: page → server function → provider `/healthz` → back.

use app::health::ProviderStatus;
use server::ProviderMode;
use tempfile::TempDir;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use crate::kit::{AGENT, TestApp, closed_port_url, provider_config};

const CHECK_PROVIDER: &str = "/api/provider-status";

/// Whether `text` holds anything that reads as an address: a URL, a host and port.
fn names_an_address(text: &str, url: &str) -> bool {
    let host_port = url.trim_start_matches("http://");
    text.contains("http://") || text.contains("https://") || text.contains(host_port)
}

#[tokio::test]
async fn the_server_function_reaches_the_embedded_provider() {
    let app = TestApp::spawn().await;
    // Anyone: up, and nothing more.
    let response = app.server_fn(CHECK_PROVIDER, &[]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), r#"{"state":"up"}"#);

    // A signed-in agent: the details, still without the provider's address.
    let cookie = app.sign_in(AGENT).await;
    let response = app
        .http
        .post(format!("{}{CHECK_PROVIDER}", app.url))
        .header("Origin", &app.url)
        .header("Cookie", &cookie)
        .send()
        .await
        .unwrap();
    let text = response.text().await.unwrap();
    assert!(!names_an_address(&text, &app.provider_issuer), "{text}");
    let status: ProviderStatus = serde_json::from_str(&text).unwrap();
    let ProviderStatus::Up {
        version: Some(version),
        latency_ms: Some(_),
    } = status
    else {
        panic!("expected the provider up with details, got {status:?}");
    };
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    app.stop().await;
}

#[tokio::test]
async fn the_page_is_rendered_with_the_providers_answer() {
    let app = TestApp::spawn().await;
    let response = app.get("/status").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("<h1>Countersign</h1>"), "{html}");
    assert!(html.contains(r#"data-state="up""#), "{html}");
    // The hydration script loads the wasm bundle cargo-leptos builds.
    assert!(html.contains("/pkg/countersign.js"), "{html}");
    // Nobody signed in: no address, no version.
    assert!(!names_an_address(&html, &app.provider_issuer), "{html}");
    assert!(!html.contains(r#"data-testid="version""#), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_as_down_without_its_address() {
    let url = closed_port_url().await;
    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url: url.clone(),
    })
    .await;
    let text = app
        .server_fn(CHECK_PROVIDER, &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, r#"{"state":"down"}"#);
    let html = app.get("/status").await.text().await.unwrap();
    assert!(html.contains(r#"data-state="down""#), "{html}");
    assert!(!names_an_address(&html, &url), "{html}");
    assert!(!html.contains("connect"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn a_provider_with_another_issuer_is_down_to_anyone_not_signed_in() {
    // A real provider whose issuer is not the URL the BFF was configured with.
    let data = TempDir::new().unwrap();
    let mut config = provider_config(&data);
    config.issuer = Some("https://id.elsewhere.example".to_owned());
    config.dev_outbox = false;
    let provider = provider::Provider::bind(config).await.unwrap();
    let url = format!("http://{}", provider.local_addr());
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));

    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url: url.clone(),
    })
    .await;
    let text = app
        .server_fn(CHECK_PROVIDER, &[])
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(text, r#"{"state":"down"}"#);
    let html = app.get("/status").await.text().await.unwrap();
    assert!(!html.contains("elsewhere.example"), "{html}");
    assert!(!names_an_address(&html, &url), "{html}");

    app.stop().await;
    stop.cancel();
    serving.await.unwrap().unwrap();
}

/// A provider that answers `/healthz` healthily and counts the requests.
async fn counting_provider() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let router = axum::Router::new().route(
        "/healthz",
        axum::routing::get({
            let (hits, url) = (Arc::clone(&hits), url.clone());
            move || async move {
                hits.fetch_add(1, Ordering::SeqCst);
                // Slow enough that the calls below overlap.
                tokio::time::sleep(Duration::from_millis(200)).await;
                axum::Json(serde_json::json!({"status": "ok", "issuer": url, "version": "9.9.9"}))
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, hits)
}

#[tokio::test]
async fn anonymous_status_checks_share_one_outbound_request_per_period() {
    let (url, hits) = counting_provider().await;
    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url,
    })
    .await;
    let calls = (0..25).map(|_| app.server_fn(CHECK_PROVIDER, &[]));
    for response in futures_util::future::join_all(calls).await {
        assert_eq!(response.text().await.unwrap(), r#"{"state":"up"}"#);
    }
    for _ in 0..5 {
        let _ = app.get("/status").await;
    }
    assert_eq!(hits.load(Ordering::SeqCst), 1, "one request for 30 checks");

    // Once the answer is old, the next check asks again, once.
    tokio::time::sleep(server::provider_client::STATUS_FRESH).await;
    let calls = (0..10).map(|_| app.server_fn(CHECK_PROVIDER, &[]));
    futures_util::future::join_all(calls).await;
    assert_eq!(hits.load(Ordering::SeqCst), 2);
    app.stop().await;
}

#[tokio::test]
async fn liveness_and_unknown_pages() {
    let app = TestApp::spawn().await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.text().await.unwrap(), "ok");

    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
    app.stop().await;
}

#[tokio::test]
async fn stopping_closes_both_ports() {
    let app = TestApp::spawn().await;
    let bff = app.url.clone();
    let provider = app.provider_issuer.clone();
    app.stop().await;
    for url in [bff, provider] {
        let result = reqwest::get(format!("{url}/healthz")).await;
        assert!(result.is_err(), "{url} still answers after stop");
    }
}

#[tokio::test]
async fn ready_only_when_the_provider_answers() {
    let app = TestApp::spawn().await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.headers()["cache-control"], "no-store");
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");

    let url = closed_port_url().await;
    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url,
    })
    .await;
    // Live, but not ready: the provider cannot be reached.
    assert_eq!(app.get("/healthz").await.status(), 200);
    let not_ready = app.get("/readyz").await;
    assert_eq!(not_ready.status(), 503);
    let body: serde_json::Value = not_ready.json().await.unwrap();
    assert_eq!(body["provider"], "unreachable");
    assert_eq!(body["store"], "ok");
}

#[tokio::test]
async fn case_24_callers_during_an_outage_share_one_discovery_attempt_and_fail_fast() {
    use infra::secret::Secret;
    use server::oidc::{Credentials, ProviderSettings};
    // A provider that accepts connections and drops them at once, counting them.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let connections = Arc::new(AtomicUsize::new(0));
    tokio::spawn({
        let connections = Arc::clone(&connections);
        async move {
            while let Ok((stream, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        }
    });
    let provider = Arc::new(server::flows::connect::Provider::new(ProviderSettings {
        profile: server::oidc::Profile::Mosaic,
        base_url: url.clone(),
        issuer: url,
        discovery_url: None,
        credentials: Credentials {
            client_id: "console".to_owned(),
            client_secret: Secret::new("secret"),
        },
    }));
    let twenty = || {
        futures_util::future::join_all((0..20).map(|_| {
            let provider = Arc::clone(&provider);
            async move { provider.client().await }
        }))
    };
    let started = std::time::Instant::now();
    for outcome in twenty().await {
        assert!(outcome.unwrap_err().is_transient());
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1, "one attempt, not 20");
    // Within the memory: the remembered error at once, no new attempt.
    for outcome in twenty().await {
        assert!(outcome.unwrap_err().is_transient());
    }
    assert_eq!(connections.load(Ordering::SeqCst), 1);
    assert!(started.elapsed() < server::flows::connect::FAILURE_MEMORY);
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_shows_in_the_metrics_as_call_errors() {
    let url = closed_port_url().await;
    let app = TestApp::spawn_with_configured(
        ProviderMode::External {
            profile: server::oidc::Profile::Mosaic,
            url: url.clone(),
        },
        |config| config.metrics_listen = Some("127.0.0.1:0".parse().unwrap()),
    )
    .await;
    // A sign-in needs the provider's discovery document.
    let login = app.get("/auth/login").await;
    assert_eq!(login.status(), 503);
    let text = app.metrics().await;
    assert_eq!(
        infra::metrics::sample(
            &text,
            r#"countersign_oidc_call_errors_total{endpoint="discovery",error="unreachable"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        infra::metrics::sample(
            &text,
            r#"countersign_http_requests_total{route="/auth/login",status="5xx"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!names_an_address(&text, &url), "{text}");
    app.stop().await;
}
