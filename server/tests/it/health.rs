//! The first slice: page → server function → provider `/healthz` → back.

use app::health::ProviderStatus;
use server::ProviderMode;
use tempfile::TempDir;

use crate::kit::{TestApp, closed_port_url, provider_config};

const CHECK_PROVIDER: &str = "/api/provider-status";

#[tokio::test]
async fn the_server_function_reaches_the_embedded_provider() {
    let app = TestApp::spawn().await;
    let response = app.server_fn(CHECK_PROVIDER, &[]).await;
    assert_eq!(response.status(), 200);
    let status: ProviderStatus = response.json().await.unwrap();
    let ProviderStatus::Up {
        issuer, version, ..
    } = status
    else {
        panic!("expected the provider up, got {status:?}");
    };
    assert_eq!(issuer, app.provider_issuer);
    assert!(issuer.starts_with("http://127.0.0.1:"), "{issuer}");
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
    assert!(html.contains(&app.provider_issuer), "{html}");
    // The hydration script loads the wasm bundle cargo-leptos builds.
    assert!(html.contains("/pkg/countersign.js"), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_as_down() {
    let url = closed_port_url().await;
    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url: url.clone(),
    })
    .await;
    let status: ProviderStatus = app
        .server_fn(CHECK_PROVIDER, &[])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        ProviderStatus::Down {
            detail: format!("cannot connect to {url}")
        }
    );
    let html = app.get("/status").await.text().await.unwrap();
    assert!(html.contains(r#"data-state="down""#), "{html}");
    app.stop().await;
}

#[tokio::test]
async fn a_provider_with_another_issuer_is_degraded() {
    // A real provider whose issuer is not the URL the BFF was configured with.
    let data = TempDir::new().unwrap();
    let mut config = provider_config(&data);
    config.issuer = Some("https://id.elsewhere.example".to_owned());
    let provider = provider::Provider::bind(config).await.unwrap();
    let url = format!("http://{}", provider.local_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));

    let app = TestApp::spawn_with(ProviderMode::External {
        profile: server::oidc::Profile::Mosaic,
        url: url.clone(),
    })
    .await;
    let status: ProviderStatus = app
        .server_fn(CHECK_PROVIDER, &[])
        .await
        .json()
        .await
        .unwrap();
    let ProviderStatus::Degraded { detail, .. } = status else {
        panic!("expected degraded, got {status:?}");
    };
    assert!(detail.contains("https://id.elsewhere.example"), "{detail}");
    assert!(detail.contains(&url), "{detail}");

    app.stop().await;
    stop.cancel();
    serving.await.unwrap().unwrap();
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
