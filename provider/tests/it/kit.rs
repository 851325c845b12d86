//! A provider in this process with a manual clock, its data in a temporary folder, the demo seed
//! plus a second application, and helpers that speak its HTTP API as a client would.
//!
//! With `COUNTERSIGN_TEST_PROVIDER_STORE=postgres` every provider keeps its data in a new
//! database on the PostgreSQL server `COUNTERSIGN_TEST_DATABASE_URL` names instead of SQLite:
//! `make unit` runs this suite both ways.

use std::{sync::Arc, time::Duration};

use infra::clock::{Clock, Timestamp};
use provider::{
    Config, Options, Provider,
    config::Delivery,
    limits::Limits,
    sender::{BoxFuture, Outgoing, SendError, Sender},
    store::{PgStore, SharedStore, SqliteStore},
};
use reqwest::Response;
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

/// The demo console's credentials.
pub const CLIENT: (&str, &str) = ("agent-console", "demo-console-secret");
/// A client of another application.
pub const OTHER_CLIENT: (&str, &str) = ("other-console", "other-console-secret");
/// The approval page the kit's passkeys belong to.
pub const PASSKEY_ORIGIN: &str = "https://verify.bank.example";

const OTHER_APP: &str = r#"
[[applications]]
id = "other-bank"
name = "Other Bank"

[[applications.clients]]
id = "other-console"
name = "Other console"
secret = "other-console-secret"
ciba = { enabled = true, login_uri = "https://other.example/approve" }

[[applications.customers]]
id = "olga"
name = "Olga Other"
email = "olga@example.com"
email_verified = true
phone = "+15555550199"
phone_verified = true
"#;

/// A sender that always fails, for delivery-failure tests.
#[derive(Debug)]
pub struct FailingSender;

impl Sender for FailingSender {
    fn send<'a>(&'a self, _: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        Box::pin(async { Err(SendError("the SMS gateway is down".into())) })
    }
}

/// A sender that never finishes on `hang_on` (an SMTP server or webhook that accepts and never
/// answers) and delivers every other channel at once; it keeps every message it was given.
#[derive(Debug)]
pub struct HangingSender {
    pub hang_on: &'static str,
    pub given: std::sync::Mutex<Vec<Outgoing>>,
}

impl HangingSender {
    pub fn on(channel: &'static str) -> Arc<Self> {
        Arc::new(Self {
            hang_on: channel,
            given: std::sync::Mutex::default(),
        })
    }

    /// The messages given for `channel`, oldest first.
    pub fn given(&self, channel: &str) -> Vec<Outgoing> {
        let given = self.given.lock().unwrap();
        given
            .iter()
            .filter(|m| m.channel == channel)
            .cloned()
            .collect()
    }
}

impl Sender for HangingSender {
    fn send<'a>(&'a self, message: &'a Outgoing) -> BoxFuture<'a, Result<(), SendError>> {
        self.given.lock().unwrap().push(message.clone());
        if message.channel == self.hang_on {
            Box::pin(std::future::pending())
        } else {
            Box::pin(async { Ok(()) })
        }
    }
}

/// A running provider for one test.
pub struct Op {
    pub url: String,
    pub clock: Clock,
    pub http: reqwest::Client,
    /// Where its `/metrics` listener answers.
    pub metrics_url: String,
    data: TempDir,
    /// The provider's PostgreSQL database, when the suite runs on PostgreSQL.
    database_url: Option<String>,
    stop: CancellationToken,
}

impl Drop for Op {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Op {
    pub async fn start() -> Self {
        Self::start_with(None).await
    }

    pub async fn start_with(sender: Option<Arc<dyn Sender>>) -> Self {
        Self::start_full(sender, Delivery::default(), Limits::default()).await
    }

    pub async fn start_limited(limits: Limits) -> Self {
        Self::start_full(None, Delivery::default(), limits).await
    }

    /// A provider behind a reverse proxy: `X-Forwarded-For` names the caller.
    pub async fn start_behind_proxy(limits: Limits) -> Self {
        Self::start_configured(None, Delivery::default(), limits, true).await
    }

    /// A provider whose senders are chosen by `delivery`, as the configuration chooses them.
    pub async fn start_delivering(delivery: Delivery) -> Self {
        Self::start_full(None, delivery, Limits::default()).await
    }

    async fn start_full(
        sender: Option<Arc<dyn Sender>>,
        delivery: Delivery,
        limits: Limits,
    ) -> Self {
        Self::start_configured(sender, delivery, limits, false).await
    }

    /// A provider whose messages go to `sender`, waiting `deadline` for each (the store's
    /// pool keeps its own timers, so the provider cannot run on tokio's paused clock).
    pub async fn start_sending_within(sender: Arc<dyn Sender>, deadline: Duration) -> Self {
        Self::start_all(
            Some(sender),
            Delivery::default(),
            Limits::default(),
            false,
            (Some(deadline), None),
        )
        .await
    }

    /// A provider that lets a backchannel request take at most `budget` before its message.
    pub async fn start_with_budget(sender: Arc<dyn Sender>, budget: Duration) -> Self {
        Self::start_all(
            Some(sender),
            Delivery::default(),
            Limits::default(),
            false,
            (None, Some(budget)),
        )
        .await
    }

    async fn start_configured(
        sender: Option<Arc<dyn Sender>>,
        delivery: Delivery,
        limits: Limits,
        trust_forwarded_for: bool,
    ) -> Self {
        Self::start_all(sender, delivery, limits, trust_forwarded_for, (None, None)).await
    }

    async fn start_all(
        sender: Option<Arc<dyn Sender>>,
        delivery: Delivery,
        limits: Limits,
        trust_forwarded_for: bool,
        (send_deadline, start_budget): (Option<Duration>, Option<Duration>),
    ) -> Self {
        let data = TempDir::new().unwrap();
        let seed = data.path().join("seed.toml");
        std::fs::write(&seed, format!("{}\n{OTHER_APP}", provider::seed::DEMO)).unwrap();
        let clock = Clock::manual(Timestamp(1_800_000_000_000));
        let database_url = match std::env::var("COUNTERSIGN_TEST_PROVIDER_STORE").as_deref() {
            Ok("postgres") => Some(fresh_postgres_database().await),
            Ok("sqlite") | Err(_) => None,
            Ok(other) => {
                panic!("COUNTERSIGN_TEST_PROVIDER_STORE is sqlite or postgres, not {other}")
            }
        };
        // The tests read links and codes from the development outbox; the switch may not go
        // with a real sender nor behind a reverse proxy, so such a test reads the kept
        // messages instead ([`Op::kept_messages`]).
        let dev_outbox = delivery == Delivery::default() && !trust_forwarded_for;
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: Some("127.0.0.1:0".parse().unwrap()),
            issuer: None,
            data_dir: data.path().join("data"),
            database_url: database_url.clone().map(infra::secret::Secret::new),
            hash_key: database_url
                .as_ref()
                .map(|_| infra::secret::Secret::new("5a".repeat(32))),
            seed_file: Some(seed),
            trust_forwarded_for,
            delivery,
            dev_outbox,
            limits,
            // The ping tests' receivers listen on loopback, as an operator would list a BFF on
            // the provider's own machine.
            ping_private_hosts: vec!["127.0.0.1".parse().unwrap()],
            passkeys: Some(provider::passkeys::PasskeyConfig::new(PASSKEY_ORIGIN, None).unwrap()),
        };
        let provider = Provider::bind_with(
            config,
            Options {
                clock: clock.clone(),
                sender,
                send_deadline,
                start_budget,
                links: None,
            },
        )
        .await
        .unwrap();
        let url = provider.issuer().to_owned();
        let metrics_url = format!("http://{}/metrics", provider.metrics_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(provider.serve(stop.clone().cancelled_owned()));
        Self {
            url,
            metrics_url,
            clock,
            http: reqwest::Client::new(),
            data,
            database_url,
            stop,
        }
    }

    /// The provider's `/metrics` now.
    pub async fn metrics(&self) -> String {
        let answer = self.http.get(&self.metrics_url).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        answer.text().await.unwrap()
    }

    /// The value of `series` in the provider's `/metrics` now (0 when it has no sample yet).
    pub async fn metric(&self, series: &str) -> f64 {
        infra::metrics::sample(&self.metrics().await, series).unwrap_or(0.0)
    }

    /// The demo application's audit trail, newest first.
    pub async fn audit_trail(&self) -> Vec<Value> {
        let response = self
            .http
            .get(format!("{}/cis/v1/audit", self.url))
            .bearer_auth(self.client_token().await)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["result"].as_array().unwrap().clone()
    }

    pub fn advance(&self, seconds: u64) {
        self.clock.advance(Duration::from_secs(seconds));
    }

    /// The provider's store, opened beside it.
    pub async fn store(&self) -> SharedStore {
        match &self.database_url {
            Some(url) => Arc::new(
                PgStore::open(infra::postgres::options(url).unwrap())
                    .await
                    .unwrap(),
            ),
            None => Arc::new(
                SqliteStore::open(&self.data.path().join("data").join("provider.sqlite"))
                    .await
                    .unwrap(),
            ),
        }
    }

    /// The provider's hash key, to find a stored row by the hash of its handle.
    pub fn hash_key(&self) -> provider::crypto::HashKey {
        match &self.database_url {
            Some(_) => provider::crypto::HashKey::from_bytes([0x5a; 32]),
            None => provider::crypto::HashKey::load_or_create(
                &self.data.path().join("data").join("provider.key"),
            )
            .unwrap(),
        }
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// A backchannel request by the demo console with `params`.
    pub async fn backchannel(&self, params: &[(&str, &str)]) -> Response {
        self.backchannel_as(CLIENT, params).await
    }

    pub async fn backchannel_as(&self, client: (&str, &str), params: &[(&str, &str)]) -> Response {
        let mut form = vec![("client_id", client.0), ("client_secret", client.1)];
        form.extend_from_slice(params);
        self.post_form("/cis/oidc/backchannel", &form).await
    }

    /// Starts a request for alice by SMS and returns its `auth_req_id`.
    pub async fn start_for_alice(&self) -> String {
        let response = self
            .backchannel(&[
                ("scope", "openid email"),
                ("login_hint", "+15555550101"),
                ("binding_message", "K7-42"),
            ])
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["auth_req_id"].as_str().unwrap().to_owned()
    }

    pub async fn poll_as(&self, client: (&str, &str), auth_req_id: &str) -> Response {
        self.post_form(
            "/oidc/token",
            &[
                ("client_id", client.0),
                ("client_secret", client.1),
                ("grant_type", "urn:openid:params:grant-type:ciba"),
                ("auth_req_id", auth_req_id),
            ],
        )
        .await
    }

    pub async fn poll(&self, auth_req_id: &str) -> Response {
        self.poll_as(CLIENT, auth_req_id).await
    }

    /// The `error` of a poll answer, or `"tokens"` for a 200.
    pub async fn poll_error(&self, auth_req_id: &str) -> String {
        error_of(self.poll(auth_req_id).await).await
    }

    pub async fn client_token_of(&self, client: (&str, &str)) -> String {
        let response = self
            .post_form(
                "/oidc/token",
                &[
                    ("client_id", client.0),
                    ("client_secret", client.1),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn client_token(&self) -> String {
        self.client_token_of(CLIENT).await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: &Value) -> Response {
        self.http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// The outbox, newest first.
    pub async fn outbox(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/dev/outbox.json", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The messages the outbox kept, newest first, read from the store (for a provider that
    /// does not serve the outbox).
    pub async fn kept_messages(&self) -> Vec<provider::store::Message> {
        self.store().await.messages(100).await.unwrap()
    }

    /// Sends a code by email to `email` and returns it, read from the outbox.
    pub async fn send_code(&self, client_token: &str, email: &str) -> String {
        let response = self
            .post_json(
                "/cis/v1/auth/otp/send",
                client_token,
                &serde_json::json!({"channel": "email", "identifier_type": "email", "identifier": email}),
            )
            .await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
        let newest = &self.outbox().await[0];
        assert_eq!(newest["to"], email);
        let body = newest["body"].as_str().unwrap();
        body.split(|c: char| !c.is_ascii_digit())
            .find(|part| part.len() == 6)
            .unwrap()
            .to_owned()
    }

    pub async fn authenticate(&self, client_token: &str, email: &str, code: &str) -> Response {
        self.post_json(
            "/cis/v1/auth/otp/authenticate",
            client_token,
            &serde_json::json!({"identifier_type": "email", "identifier": email, "passcode": code}),
        )
        .await
    }

    /// Signs `email`'s customer in with a one-time code and returns their access token.
    pub async fn customer_token(&self, email: &str) -> String {
        let client_token = self.client_token().await;
        let code = self.send_code(&client_token, email).await;
        let response = self.authenticate(&client_token, email, &code).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn complete(
        &self,
        customer_token: &str,
        auth_req_id: &str,
        approved: bool,
    ) -> Response {
        self.post_json(
            "/cis/auth/backchannel/complete",
            customer_token,
            &serde_json::json!({"auth_req_id": auth_req_id, "approved": approved}),
        )
        .await
    }
}

/// The `error` of an answer, or `"tokens"` for a 200 with an access token.
pub async fn error_of(response: Response) -> String {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    if status == 200 && body["access_token"].is_string() {
        "tokens".into()
    } else {
        body["error"].as_str().unwrap_or("?").to_owned()
    }
}

/// The URL of a new, empty database on the test server that `COUNTERSIGN_TEST_DATABASE_URL`
/// names (`make test` starts one).
async fn fresh_postgres_database() -> String {
    use sqlx::Connection as _;
    let url = std::env::var("COUNTERSIGN_TEST_DATABASE_URL").expect(
        "COUNTERSIGN_TEST_DATABASE_URL is not set: run through `scripts/with-postgres.sh` \
         (make test does)",
    );
    let name = format!("provider_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    format!("{base}/{name}")
}
