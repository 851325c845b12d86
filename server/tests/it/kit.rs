//! The test kit: starts a real Countersign in this process, on free ports, with its data in a
//! temporary folder, and hands back its URL and an HTTP client. Every test gets its own.

use std::path::PathBuf;

use server::{Config, ProviderMode, Running};
use tempfile::TempDir;

/// A running Countersign for one test. Dropping it aborts the servers; [`TestApp::stop`] stops
/// them gracefully and reports errors.
#[derive(Debug)]
pub struct TestApp {
    /// The BFF's base URL.
    pub url: String,
    /// The provider's issuer.
    pub provider_issuer: String,
    /// A client with no cookie store and no redirects followed.
    pub http: reqwest::Client,
    running: Option<Running>,
    _data: TempDir,
}

/// A provider configuration on a free port with its data under `data`.
pub fn provider_config(data: &TempDir) -> provider::Config {
    provider::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        issuer: None,
        data_dir: data.path().join("data"),
        seed_file: None,
        trust_forwarded_for: false,
        delivery: Default::default(),
    }
}

impl TestApp {
    /// Countersign with the embedded provider.
    pub async fn spawn() -> Self {
        let data = TempDir::new().unwrap();
        let provider = ProviderMode::Embedded(Box::new(provider_config(&data)));
        Self::spawn_in(data, provider).await
    }

    /// Countersign talking to the provider `mode` names.
    pub async fn spawn_with(mode: ProviderMode) -> Self {
        Self::spawn_in(TempDir::new().unwrap(), mode).await
    }

    async fn spawn_in(data: TempDir, provider: ProviderMode) -> Self {
        let config = Config::local(
            "127.0.0.1:0".parse().unwrap(),
            provider,
            PathBuf::from("target/site"),
            data.path().join("bff"),
        );
        let running = server::start(config).await.expect("Countersign starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            url: running.url.clone(),
            provider_issuer: running.provider_issuer.clone(),
            http,
            running: Some(running),
            _data: data,
        }
    }

    /// GET `path` on the BFF.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
    }

    /// Calls a server function (POST, URL-encoded arguments, JSON answer) the way the wasm
    /// client does, from the BFF's own origin.
    pub async fn server_fn(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.url))
            .header("Accept", "application/json")
            .header("Origin", &self.url)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Stops the servers gracefully; panics if either reports an error.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("a clean stop");
        }
    }
}

/// An address on which nothing listens.
pub async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}
