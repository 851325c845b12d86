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
    /// Where `/metrics` answers, if the configuration asked for it.
    pub metrics_url: Option<String>,
    /// A client with no cookie store and no redirects followed.
    pub http: reqwest::Client,
    running: Option<Running>,
    _data: TempDir,
}

/// A provider configuration on a free port with its data under `data`.
pub fn provider_config(data: &TempDir) -> provider::Config {
    provider::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        metrics_listen: None,
        issuer: None,
        data_dir: data.path().join("data"),
        database_url: None,
        hash_key: None,
        seed_file: None,
        trust_forwarded_for: false,
        delivery: Default::default(),
        // The tests read links and codes from the development outbox.
        dev_outbox: true,
        limits: Default::default(),
        ping_private_hosts: Vec::new(),
        passkeys: None,
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

    /// Countersign talking to the provider `mode` names, its configuration changed by
    /// `change` first.
    pub async fn spawn_with_configured(
        mode: ProviderMode,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        Self::spawn_changed(TempDir::new().unwrap(), mode, change).await
    }

    /// Countersign with the embedded provider, the BFF's listener within `limits`.
    pub async fn spawn_limited(limits: server::config::ServeLimits) -> Self {
        Self::spawn_configured(|config| config.serve_limits = limits).await
    }

    /// Countersign with the embedded provider, its configuration changed by `change` first.
    pub async fn spawn_configured(change: impl FnOnce(&mut Config)) -> Self {
        let data = TempDir::new().unwrap();
        let provider = ProviderMode::Embedded(Box::new(provider_config(&data)));
        Self::spawn_changed(data, provider, change).await
    }

    async fn spawn_in(data: TempDir, provider: ProviderMode) -> Self {
        Self::spawn_changed(data, provider, |_| {}).await
    }

    async fn spawn_changed(
        data: TempDir,
        provider: ProviderMode,
        change: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config::local(
            "127.0.0.1:0".parse().unwrap(),
            provider,
            PathBuf::from("target/site"),
            data.path().join("bff"),
        );
        change(&mut config);
        let running = server::start(config).await.expect("Countersign starts");
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            url: running.url.clone(),
            metrics_url: running.metrics_url.clone(),
            provider_issuer: running.provider_issuer.clone(),
            http,
            running: Some(running),
            _data: data,
        }
    }

    /// The bytes of the BFF's database files as they are now (the SQLite file and its WAL).
    pub fn database_bytes(&self) -> Vec<u8> {
        let database = self.bff_store_path();
        let mut bytes = Vec::new();
        for path in [database.clone(), database.with_extension("sqlite-wal")] {
            if let Ok(mut file) = std::fs::read(path) {
                bytes.append(&mut file);
            }
        }
        assert!(
            !bytes.is_empty(),
            "the BFF's database is where the kit put it"
        );
        bytes
    }

    /// The text of `/metrics` (the app must have been started with a metrics address).
    pub async fn metrics(&self) -> String {
        let url = self.metrics_url.as_deref().expect("a metrics listener");
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
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

/// A demo agent (role `agent`).
pub const AGENT: (&str, &str) = ("agent@demo.bank", "agent-demo-password");
/// A demo supervisor.
pub const SUPERVISOR: (&str, &str) = ("supervisor@demo.bank", "supervisor-demo-password");

impl TestApp {
    /// The BFF's SQLite file (to open a second store on it in a test).
    pub fn bff_store_path(&self) -> PathBuf {
        self._data.path().join("bff").join("countersign.sqlite")
    }

    /// What opens the tokens the BFF's store keeps sealed (its key file).
    pub fn bff_sealer(&self) -> server::sealed::Sealer {
        let path = self._data.path().join("bff").join("countersign.key");
        assert!(path.exists(), "the BFF made its key file");
        server::sealed::Sealer::load_or_create(&path).unwrap()
    }

    /// The browser at the provider: posts the sign-in form of `authorization_url` (its query
    /// and the credentials, from the provider's own origin) and returns where the provider
    /// redirects (the BFF's callback URL).
    pub async fn provider_sign_in(
        &self,
        authorization_url: &str,
        (email, password): (&str, &str),
    ) -> String {
        let url = reqwest::Url::parse(authorization_url).unwrap();
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("email".to_owned(), email.to_owned()));
        form.push(("password".to_owned(), password.to_owned()));
        let response = self
            .http
            .post(format!("{}/authorize", self.provider_issuer))
            .header("Origin", &self.provider_issuer)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "the provider signs {email} in");
        response.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Signs `who` in through `/auth/login` and the provider; returns the `Cookie` header
    /// (`__Host-countersign=…`) the browser would send from then on.
    pub async fn sign_in(&self, who: (&str, &str)) -> String {
        let login = self.get("/auth/login").await;
        assert_eq!(login.status(), 303);
        let authorize = login.headers()["location"].to_str().unwrap().to_owned();
        let login_cookie = login.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let callback = self.provider_sign_in(&authorize, who).await;
        let response = self
            .http
            .get(&callback)
            .header("Cookie", login_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "the callback signs {} in", who.0);
        let set = response.headers()["set-cookie"].to_str().unwrap();
        set.split(';').next().unwrap().to_owned()
    }
}

impl TestApp {
    /// Opens `GET /api/events{query}` with the session `cookie` and, if given, `Last-Event-ID`.
    pub async fn events(
        &self,
        cookie: &str,
        query: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .get(format!("{}/api/events{query}", self.url))
            .header("Cookie", cookie)
            .header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        request.send().await.unwrap()
    }
}

/// Reads a server-sent event stream frame by frame (frames end with a blank line).
#[derive(Debug)]
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
}

impl SseReader {
    /// Reads `response`'s body.
    pub fn new(response: reqwest::Response) -> Self {
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next frame without its blank line (a keep-alive is `:`); panics after 10 s.
    pub async fn frame(&mut self) -> String {
        tokio::time::timeout(std::time::Duration::from_secs(10), self.next_frame())
            .await
            .expect("a frame within 10 s")
            .expect("the stream is open")
    }

    /// Whether no frame arrives (and the stream stays open) for `wait`.
    pub async fn quiet(&mut self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, self.next_frame()).await.is_err()
    }

    /// Whether the server ends the stream within `wait` (frames before the end are skipped).
    pub async fn ends_within(&mut self, wait: std::time::Duration) -> bool {
        tokio::time::timeout(wait, async { while self.next_frame().await.is_some() {} })
            .await
            .is_ok()
    }

    async fn next_frame(&mut self) -> Option<String> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame = self.buffer[..end].to_owned();
                self.buffer.drain(..end + 2);
                return Some(frame);
            }
            let chunk = self.response.chunk().await.unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }
}

/// Checks `response` is a rate-limit refusal: 429 with a `Retry-After` of 1 s to 10 minutes.
pub fn refused_for_a_while(response: &reqwest::Response) {
    assert_eq!(response.status(), 429);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=600).contains(&wait), "{wait}");
}

/// The URL of a new, empty database on the test server that `COUNTERSIGN_TEST_DATABASE_URL`
/// names (`make test` starts one); without that variable the test fails and says how to run it.
pub async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    let url = std::env::var("COUNTERSIGN_TEST_DATABASE_URL").expect(
        "COUNTERSIGN_TEST_DATABASE_URL is not set: run the tests through \
         `scripts/with-postgres.sh cargo test` (make test does)",
    );
    let name = format!("it_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
