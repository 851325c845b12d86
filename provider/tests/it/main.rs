//! Integration tests of the provider over HTTP, each on its own instance and data folder.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod ciba;
mod kit;
mod limits;
mod metrics;
mod passkeys;
mod ping;
mod senders;
mod serving;
mod workforce;

use provider::{Config, Provider, StartError, store::Store as _};
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// A provider serving in this process until the test ends or calls [`Served::stop`].
struct Served {
    issuer: String,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Served {
    async fn start(config: Config) -> Self {
        let provider = Provider::bind(config).await.unwrap();
        let issuer = provider.issuer().to_owned();
        let stop = CancellationToken::new();
        let task = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
        Self { issuer, stop, task }
    }

    async fn stop(self) {
        self.stop.cancel();
        self.task.await.unwrap().unwrap();
    }
}

fn config(data: &TempDir) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        issuer: None,
        data_dir: data.path().join("data"),
        database_url: None,
        hash_key: None,
        seed_file: None,
        trust_forwarded_for: false,
        delivery: Default::default(),
        dev_outbox: false,
        limits: Default::default(),
        ping_private_hosts: Vec::new(),
        passkeys: None,
    }
}

#[tokio::test]
async fn healthz_reports_issuer_and_version_and_is_not_cached() {
    let data = TempDir::new().unwrap();
    let served = Served::start(config(&data)).await;
    let response = reqwest::get(format!("{}/healthz", served.issuer))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["issuer"], served.issuer.as_str());
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    served.stop().await;
}

#[tokio::test]
async fn the_store_is_created_on_first_start_and_kept() {
    let data = TempDir::new().unwrap();
    let path = data.path().join("data").join("provider.sqlite");
    assert!(!path.exists());

    Served::start(config(&data)).await.stop().await;
    assert!(path.exists(), "the first start creates the store");
    let store = provider::store::SqliteStore::open(&path).await.unwrap();
    let created = store.created_at().await.unwrap();
    store.close().await;

    // Starting again applies no migration twice and keeps what was stored.
    Served::start(config(&data)).await.stop().await;
    let store = provider::store::SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.created_at().await.unwrap(), created);
    store.close().await;
}

#[tokio::test]
async fn a_configured_issuer_is_reported() {
    let data = TempDir::new().unwrap();
    let mut config = config(&data);
    config.issuer = Some("https://id.bank.example".to_owned());
    let provider = Provider::bind(config).await.unwrap();
    let url = format!("http://{}", provider.local_addr());
    assert_eq!(provider.issuer(), "https://id.bank.example");
    let stop = CancellationToken::new();
    let task = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
    let body: Value = reqwest::get(format!("{url}/healthz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["issuer"], "https://id.bank.example");
    stop.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn unknown_paths_get_a_mosaic_shaped_404() {
    let data = TempDir::new().unwrap();
    let served = Served::start(config(&data)).await;
    let response = reqwest::get(format!("{}/cis/nothing-here", served.issuer))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"message": ["Not found"], "error_code": 404})
    );
    served.stop().await;
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_start_error() {
    let data = TempDir::new().unwrap();
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut config = config(&data);
    config.listen = taken.local_addr().unwrap();
    let error = Provider::bind(config.clone()).await.unwrap_err();
    assert!(matches!(error, StartError::Bind(_)), "{error:?}");
    assert!(
        error.to_string().contains(&config.listen.to_string()),
        "{error}"
    );
}

#[tokio::test]
async fn an_embedder_sets_where_a_clients_links_point_as_it_binds() {
    use provider::store::Store as _;

    let data = TempDir::new().unwrap();
    let links = |client_id: &str| provider::Links {
        app_id: "demo-bank".to_owned(),
        client_id: client_id.to_owned(),
        login_uri: "http://127.0.0.1:4321/approve".to_owned(),
        notify: None,
    };
    let options = |client_id| provider::Options {
        links: Some(links(client_id)),
        ..provider::Options::default()
    };
    let bound = Provider::bind_with(config(&data), options("agent-console"))
        .await
        .unwrap();
    drop(bound);
    let path = data.path().join("data").join("provider.sqlite");
    let store = provider::store::SqliteStore::open(&path).await.unwrap();
    let client = store.client("agent-console").await.unwrap().unwrap();
    assert!(client.ciba_enabled);
    assert_eq!(
        client.login_uri.as_deref(),
        Some("http://127.0.0.1:4321/approve")
    );
    store.close().await;

    // A client the seed does not have is a start error that names it, not a provider whose
    // links lead nowhere.
    let error = Provider::bind_with(config(&data), options("nobody"))
        .await
        .unwrap_err();
    assert!(matches!(error, StartError::Seed { .. }), "{error:?}");
    assert!(error.to_string().contains("nobody"), "{error}");

    // A login_uri the management API would refuse is refused here too.
    let mut bad = options("agent-console");
    if let Some(links) = bad.links.as_mut() {
        links.login_uri = "javascript:alert(1)#".to_owned();
    }
    let error = Provider::bind_with(config(&data), bad).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("login_uri must be an http or https URL"),
        "{error}"
    );
}

#[tokio::test]
async fn a_data_folder_that_cannot_be_created_is_a_clear_start_error() {
    let data = TempDir::new().unwrap();
    let file = data.path().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let mut config = config(&data);
    config.data_dir = file.join("data");
    let error = Provider::bind(config).await.unwrap_err();
    assert!(matches!(error, StartError::DataDir(_)), "{error:?}");
}

/// The status of `GET path` on a provider started with `config`, or the start error.
async fn outbox_status(config: Config) -> Result<(u16, u16), StartError> {
    let provider = Provider::bind(config).await?;
    let served = {
        let issuer = provider.issuer().to_owned();
        let stop = CancellationToken::new();
        let task = tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
        Served { issuer, stop, task }
    };
    let status = |path: &'static str| {
        let url = format!("{}{path}", served.issuer);
        async move { reqwest::get(url).await.unwrap().status().as_u16() }
    };
    let statuses = (
        status("/dev/outbox").await,
        status("/dev/outbox.json").await,
    );
    served.stop().await;
    Ok(statuses)
}

fn sms_by_webhook() -> provider::config::SmsDelivery {
    provider::config::SmsDelivery::Webhook(provider::config::WebhookConfig {
        url: "http://127.0.0.1:9/sms".parse().unwrap(),
        secret: infra::secret::Secret::new("0123456789abcdef-secret"),
        timeout: std::time::Duration::from_secs(5),
    })
}

/// SECURITY.md case 32: the outbox's pages publish every link and code, so they are served
/// only under the explicit development switch, and the switch never goes with a real sender.
#[tokio::test]
async fn case_32_no_outbox_page_is_served_outside_an_explicit_development_mode() {
    // SMS by webhook, emails to the outbox, on loopback (as behind a reverse proxy on the
    // same host): the emailed links are kept, not served.
    let data = TempDir::new().unwrap();
    let mut mixed = config(&data);
    mixed.delivery.sms = sms_by_webhook();
    assert_eq!(outbox_status(mixed).await.unwrap(), (404, 404));

    // Every channel to the outbox, but no switch: not served either.
    let data = TempDir::new().unwrap();
    assert_eq!(outbox_status(config(&data)).await.unwrap(), (404, 404));

    // The switch, with no real sender: served.
    let data = TempDir::new().unwrap();
    let mut dev = config(&data);
    dev.dev_outbox = true;
    assert_eq!(outbox_status(dev).await.unwrap(), (200, 200));

    // The switch beside a real sender: the start is refused, naming both variables.
    let data = TempDir::new().unwrap();
    let mut both = config(&data);
    both.dev_outbox = true;
    both.delivery.sms = sms_by_webhook();
    let error = outbox_status(both).await.unwrap_err();
    assert!(matches!(error, StartError::Config(_)), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("COUNTERSIGN_DEV_OUTBOX"), "{text}");
    assert!(text.contains("COUNTERSIGN_SMS_SENDER=webhook"), "{text}");
}
