//! The cluster kit: real `countersign` and `countersign-provider` processes on PostgreSQL,
//! Debian's nginx in front of each kind, and the agent's and the customer's HTTP clients that
//! go through nginx as browsers would.
//!
//! Everything lives in a temporary folder: the seed, each instance's data folder and log, and
//! nginx's configuration, logs and buffers. Each process is killed when its handle drops, so a
//! failing test leaves nothing running; the PostgreSQL server belongs to
//! `scripts/with-postgres.sh`, which stops it after the tests.

use std::{
    collections::{BTreeSet, HashMap},
    path::{Path, PathBuf},
    process::Stdio,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;
use sqlx::{Connection as _, PgPool, Row as _};
use tempfile::TempDir;
use tokio::process::{Child, Command};

/// The seeded OAuth client the BFFs use (the demo seed's).
const CLIENT: (&str, &str, &str) = ("demo-bank", "agent-console", "demo-console-secret");
/// The demo seed's agent.
pub const AGENT: (&str, &str) = ("agent@demo.bank", "agent-demo-password");
/// What a form post asks for: the page back.
const HTML: &str = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8";
/// How long anything the tests wait for may take before they fail.
pub const PATIENCE: Duration = Duration::from_secs(90);

/// How big a cluster's seed is: besides the demo accounts, `customers` customers (`c0000`…,
/// phone `+1555700NNNN`) and `agents` agents (`agent0@cluster.test`…).
#[derive(Clone, Copy, Debug, Default)]
pub struct Shape {
    pub customers: usize,
    pub agents: usize,
}

impl Shape {
    /// The phone number of generated customer `n`.
    pub fn phone(n: usize) -> String {
        format!("+1555700{n:04}")
    }

    /// The email and password of generated agent `n`.
    pub fn agent(n: usize) -> (String, String) {
        (
            format!("agent{n}@cluster.test"),
            format!("cluster-agent-password-{n}"),
        )
    }
}

/// One server process and where its output goes.
#[derive(Debug)]
pub struct Process {
    pub name: String,
    pub port: u16,
    /// A BFF's instance id (the owner its leases name), from its start-up lines.
    pub instance: String,
    log: PathBuf,
    child: Option<Child>,
}

impl Process {
    /// Whether it still runs (was not killed by a test).
    pub fn alive(&self) -> bool {
        self.child.is_some()
    }

    /// Whether its log holds `text`.
    pub fn logged(&self, text: &str) -> bool {
        std::fs::read_to_string(&self.log).is_ok_and(|log| log.contains(text))
    }

    /// The value of `series` in its `/metrics` (the address its start-up lines name), 0 when
    /// it has no sample.
    pub async fn metric(&self, series: &str) -> f64 {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let url = log
            .lines()
            .find_map(|line| line.trim().strip_prefix("metrics:"))
            .map(str::trim)
            .unwrap_or_else(|| panic!("{} names no metrics address:\n{log}", self.name))
            .to_owned();
        let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
        infra::metrics::sample(&text, series).unwrap_or(0.0)
    }

    /// The end of its log, for a failure message.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// SIGKILL: the process gets no chance to release anything.
    pub async fn kill(&mut self) {
        let mut child = self.child.take().expect("a process is killed once");
        child.kill().await.unwrap();
    }

    /// SIGTERM, then its exit: a graceful stop must end with success within 30 s.
    async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success(), "kill -TERM {pid}");
        let exited = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap_or_else(|_| panic!("{} stops within 30 s", self.name))
            .unwrap();
        assert!(
            exited.success(),
            "{} stopped with {exited}:\n{}",
            self.name,
            self.log_tail()
        );
    }
}

/// The throwaway PostgreSQL server `scripts/with-postgres.sh` runs.
#[derive(Debug)]
struct Postgres {
    url: String,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
}

impl Postgres {
    fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name).unwrap_or_else(|_| {
                panic!("{name} is not set: run these tests with `make test-cluster`")
            })
        };
        Self {
            url: var("COUNTERSIGN_TEST_DATABASE_URL"),
            bin: var("PG_BIN").into(),
            data: var("PG_DATA").into(),
            log: var("PG_LOG").into(),
        }
    }

    /// A new, empty database on the server: its URL.
    async fn fresh_database(&self, prefix: &str) -> String {
        let name = format!("{prefix}_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&self.url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let (base, _) = self.url.rsplit_once('/').unwrap();
        format!("{base}/{name}")
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server is back when it returns.
    async fn restart(&self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let mut command = if nix_is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(pg_ctl);
            command
        } else {
            Command::new(pg_ctl)
        };
        let status = command
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&self.log)
            .args(["-m", "fast", "-w", "-t", "60", "restart"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await
            .unwrap();
        assert!(status.success(), "pg_ctl restart");
    }
}

/// Whether this process runs as root (PostgreSQL's tools then run as `postgres`).
fn nix_is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|out| out.stdout.trim_ascii() == b"0")
        .unwrap_or(false)
}

/// A free port on the loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Three BFFs and two providers on two PostgreSQL databases, an nginx in front of each kind.
#[derive(Debug)]
pub struct Cluster {
    /// nginx in front of the BFFs: the agent's and the customer's address.
    pub bff_url: String,
    /// nginx in front of the providers: the issuer.
    pub provider_url: String,
    pub provider_port: u16,
    pub bffs: Vec<Process>,
    pub providers: Vec<Process>,
    /// The test's own connections to the BFFs' database and the providers'.
    pub bff_db: PgPool,
    pub provider_db: PgPool,
    /// No cookie store, no redirects followed.
    pub http: reqwest::Client,
    nginx: Process,
    postgres: Postgres,
    dir: TempDir,
}

/// The binaries under test: this package's `countersign` and, beside it, the provider's.
fn binaries() -> (PathBuf, PathBuf) {
    let bff = PathBuf::from(env!("CARGO_BIN_EXE_countersign"));
    let provider = bff.with_file_name("countersign-provider");
    assert!(
        provider.exists(),
        "{} is missing: `cargo build -p provider --bin countersign-provider` first (make \
         test-cluster does)",
        provider.display()
    );
    (bff, provider)
}

/// The built site (`cargo leptos build`), which the pages' scripts come from.
fn site_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site")
}

impl Cluster {
    /// Starts the databases' schemas, two providers, three BFFs and nginx, each ready.
    pub async fn start(shape: Shape) -> Self {
        let postgres = Postgres::from_env();
        let dir = TempDir::new().unwrap();
        let (bff_bin, provider_bin) = binaries();
        let bff_database = postgres.fresh_database("cluster_bff").await;
        let provider_database = postgres.fresh_database("cluster_provider").await;
        let (bff_lb, provider_lb) = (free_port(), free_port());
        let bff_url = format!("http://127.0.0.1:{bff_lb}");
        let provider_url = format!("http://127.0.0.1:{provider_lb}");
        let seed = dir.path().join("seed.toml");
        std::fs::write(&seed, seed_text(&bff_url, shape)).unwrap();

        let bff_ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
        let provider_ports: Vec<u16> = (0..2).map(|_| free_port()).collect();
        let nginx = start_nginx(
            dir.path(),
            (bff_lb, &bff_ports),
            (provider_lb, &provider_ports),
        );
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();

        let hash_key = "5a".repeat(32);
        let mut providers = Vec::new();
        for (n, port) in provider_ports.iter().enumerate() {
            let data = dir.path().join(format!("provider{n}"));
            let mut command = Command::new(&provider_bin);
            command
                .env("COUNTERSIGN_PROVIDER_ADDR", format!("127.0.0.1:{port}"))
                .env("COUNTERSIGN_PROVIDER_METRICS_ADDR", "127.0.0.1:0")
                .env("COUNTERSIGN_PROVIDER_ISSUER", &provider_url)
                .env("COUNTERSIGN_DATA_DIR", &data)
                .env("COUNTERSIGN_PROVIDER_DATABASE_URL", &provider_database)
                .env("COUNTERSIGN_PROVIDER_HASH_KEY", &hash_key)
                .env("COUNTERSIGN_PROVIDER_SEED", &seed)
                // The tests read links and codes from the outbox, which the providers share
                // (served only to a provider that trusts no proxy's forwarded addresses).
                .env("COUNTERSIGN_DEV_OUTBOX", "true")
                .env(
                    "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CLIENT",
                    "1000000/1m",
                );
            providers.push(spawn(command, format!("provider{n}"), *port, dir.path()));
        }
        for provider in &mut providers {
            ready(&http, provider, "/healthz").await;
        }

        let sealing_key = "3c".repeat(32);
        let mut bffs = Vec::new();
        for (n, port) in bff_ports.iter().enumerate() {
            let mut command = Command::new(&bff_bin);
            command
                .env("COUNTERSIGN_ADDR", format!("127.0.0.1:{port}"))
                .env("COUNTERSIGN_METRICS_ADDR", "127.0.0.1:0")
                .env("COUNTERSIGN_PUBLIC_URL", &bff_url)
                .env("COUNTERSIGN_DATA_DIR", dir.path().join(format!("bff{n}")))
                .env("COUNTERSIGN_SITE_ROOT", site_root())
                .env("COUNTERSIGN_DATABASE_URL", &bff_database)
                .env("COUNTERSIGN_SEALING_KEY", &sealing_key)
                .env("COUNTERSIGN_PROVIDER_URL", &provider_url)
                .env("COUNTERSIGN_APP_ID", CLIENT.0)
                .env("COUNTERSIGN_CLIENT_ID", CLIENT.1)
                .env("COUNTERSIGN_CLIENT_SECRET", CLIENT.2)
                .env("COUNTERSIGN_TRUST_FORWARDED_FOR", "true")
                // Every customer's phone is this machine: one address for all of them.
                .env("COUNTERSIGN_LIMIT_APPROVAL_PER_IP", "1000000/10m")
                .env("COUNTERSIGN_LIMIT_STARTS_PER_AGENT", "10000/10m");
            bffs.push(spawn(command, format!("bff{n}"), *port, dir.path()));
        }
        for bff in &mut bffs {
            ready(&http, bff, "/readyz").await;
            let log = std::fs::read_to_string(&bff.log).unwrap();
            bff.instance = log
                .lines()
                .find_map(|line| line.trim().strip_prefix("instance:"))
                .map(|id| id.trim().to_owned())
                .unwrap_or_else(|| panic!("{} names its instance:\n{log}", bff.name));
        }
        let cluster = Self {
            bff_url,
            provider_url,
            provider_port: provider_lb,
            bffs,
            providers,
            bff_db: PgPool::connect(&bff_database).await.unwrap(),
            provider_db: PgPool::connect(&provider_database).await.unwrap(),
            http,
            nginx,
            postgres,
            dir,
        };
        // Through the balancer too.
        let ready = cluster
            .http
            .get(format!("{}/readyz", cluster.bff_url))
            .send()
            .await;
        assert_eq!(ready.unwrap().status(), 200, "nginx passes /readyz on");
        cluster
    }

    /// The index of the BFF listening on `port`.
    pub fn bff_on(&self, port: u16) -> usize {
        self.bffs
            .iter()
            .position(|bff| bff.port == port)
            .unwrap_or_else(|| panic!("no BFF on port {port}"))
    }

    /// The instance holding `flow_id`'s poller lease, as the flow row says.
    pub async fn lease_owner(&self, flow_id: &str) -> Option<String> {
        sqlx::query("SELECT lease_owner FROM flows WHERE id = $1")
            .bind(flow_id)
            .fetch_one(&self.bff_db)
            .await
            .unwrap()
            .get("lease_owner")
    }

    /// The index of the BFF whose instance id is `instance`.
    pub fn bff_named(&self, instance: &str) -> usize {
        self.bffs
            .iter()
            .position(|bff| bff.instance == instance)
            .unwrap_or_else(|| panic!("no BFF is instance {instance}"))
    }

    /// The stored events of `flow_id`, in order: their kinds.
    pub async fn stored_kinds(&self, flow_id: &str) -> Vec<String> {
        sqlx::query_scalar("SELECT kind FROM flow_events WHERE flow_id = $1 ORDER BY id")
            .bind(flow_id)
            .fetch_all(&self.bff_db)
            .await
            .unwrap()
    }

    /// The messages the providers sent to `to`: (body, link), oldest first.
    pub async fn messages_to(&self, to: &str) -> Vec<(String, Option<String>)> {
        sqlx::query_as("SELECT body, link FROM outbox WHERE recipient = $1 ORDER BY id")
            .bind(to)
            .fetch_all(&self.provider_db)
            .await
            .unwrap()
    }

    /// The link of the newest message to `to`, waiting for it.
    pub async fn link_for(&self, to: &str) -> String {
        self.wait_for_message(to, |(_, link)| link.clone()).await
    }

    /// The one-time code of the newest message to `to`, waiting for it.
    pub async fn code_for(&self, to: &str) -> String {
        self.wait_for_message(to, |(body, link)| {
            let after = body
                .split("your code is ")
                .nth(1)
                .filter(|_| link.is_none())?;
            Some(after.chars().take(6).collect())
        })
        .await
    }

    async fn wait_for_message(
        &self,
        to: &str,
        pick: impl Fn(&(String, Option<String>)) -> Option<String>,
    ) -> String {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(found) = self.messages_to(to).await.iter().rev().find_map(&pick) {
                return found;
            }
            assert!(Instant::now() < deadline, "no message to {to}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Restarts the PostgreSQL server under the running cluster.
    pub async fn restart_postgres(&self) {
        self.postgres.restart().await;
    }

    /// Stops every process still running gracefully (each must exit with success), then nginx.
    pub async fn stop(mut self) {
        for process in self.bffs.iter_mut().chain(self.providers.iter_mut()) {
            process.stop().await;
        }
        self.bff_db.close().await;
        self.provider_db.close().await;
        self.nginx.stop().await;
        drop(self.dir);
    }
}

/// The demo seed, its callback and approval page at the balancer, plus `shape`'s accounts.
fn seed_text(bff_url: &str, shape: Shape) -> String {
    let demo = include_str!("../../../provider/seed/demo.toml");
    let mut seed = demo.replace("http://127.0.0.1:3000", bff_url);
    assert_ne!(seed, demo, "the demo seed's URLs moved");
    for n in 0..shape.customers {
        seed.push_str(&format!(
            "\n[[applications.customers]]\nid = \"c{n:04}\"\nname = \"Customer {n}\"\n\
             phone = \"{}\"\nphone_verified = true\n",
            Shape::phone(n)
        ));
    }
    for n in 0..shape.agents {
        let (email, password) = Shape::agent(n);
        seed.push_str(&format!(
            "\n[[applications.agents]]\nid = \"cluster-agent-{n}\"\nname = \"Agent {n}\"\n\
             email = \"{email}\"\npassword = \"{password}\"\nrole = \"agent\"\n"
        ));
    }
    seed
}

/// Starts `command` with its output in `<dir>/<name>.log`, killed when its handle drops.
fn spawn(mut command: Command, name: String, port: u16, dir: &Path) -> Process {
    let log = dir.join(format!("{name}.log"));
    let file = std::fs::File::create(&log).unwrap();
    let child = command
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().unwrap())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("{name} starts: {error}"));
    Process {
        name,
        port,
        instance: String::new(),
        log,
        child: Some(child),
    }
}

/// Waits until `process` answers 200 at `path`; fails with its log if it exits or takes a minute.
async fn ready(http: &reqwest::Client, process: &mut Process, path: &str) {
    let url = format!("http://127.0.0.1:{}{path}", process.port);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = http.get(&url).send().await
            && response.status() == 200
        {
            return;
        }
        let exited = process.child.as_mut().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "{} did not get ready ({exited:?}):\n{}",
            process.name,
            process.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// nginx on the two balancer ports: round robin over the BFFs and over the providers, no
/// stickiness, streams unbuffered, a dead instance skipped. Each answer names the instance
/// that gave it (`X-Upstream`), for the tests to see where requests landed.
fn start_nginx(dir: &Path, bffs: (u16, &[u16]), providers: (u16, &[u16])) -> Process {
    let root = dir.join("nginx");
    std::fs::create_dir_all(&root).unwrap();
    let upstream = |name: &str, ports: &[u16]| {
        let servers: String = ports
            .iter()
            .map(|port| format!("    server 127.0.0.1:{port} max_fails=1 fail_timeout=10s;\n"))
            .collect();
        format!("  upstream {name} {{\n{servers}  }}\n")
    };
    let server = |port: u16, name: &str| {
        format!(
            "  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://{name};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_buffering off;
      proxy_read_timeout 1h;
      proxy_connect_timeout 2s;
      proxy_next_upstream error timeout;
      add_header X-Upstream $upstream_addr always;
    }}
  }}\n"
        )
    };
    let root_text = root.display();
    let config = format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {root_text}/nginx.pid;
error_log {root_text}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log {root_text}/access.log;
  client_body_temp_path {root_text}/body;
  proxy_temp_path {root_text}/proxy;
  fastcgi_temp_path {root_text}/fastcgi;
  uwsgi_temp_path {root_text}/uwsgi;
  scgi_temp_path {root_text}/scgi;
{}{}{}{}}}\n",
        upstream("bffs", bffs.1),
        upstream("providers", providers.1),
        server(bffs.0, "bffs"),
        server(providers.0, "providers"),
    );
    let path = root.join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let mut command = Command::new("/usr/sbin/nginx");
    command.arg("-p").arg(&root).arg("-c").arg(&path);
    let mut nginx = spawn(command, "nginx".into(), bffs.0, dir);
    // Listening once the port takes a connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", bffs.0)).is_err() {
        let exited = nginx.child.as_mut().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none() && Instant::now() < deadline,
            "nginx did not start:\n{}",
            nginx.log_tail()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    nginx
}

/// The port of the instance that answered `response` (nginx's `X-Upstream`, its last try).
pub fn upstream_port(response: &reqwest::Response) -> u16 {
    let upstream = response.headers()["x-upstream"].to_str().unwrap();
    let last = upstream.rsplit(", ").next().unwrap();
    last.rsplit_once(':').unwrap().1.parse().unwrap()
}

/// An agent signed in through the balancer.
#[derive(Clone, Debug)]
pub struct Agent {
    pub cookie: String,
    base: String,
    http: reqwest::Client,
    /// The ports of the BFFs that answered this agent's calls.
    pub landed: Arc<Mutex<Vec<u16>>>,
}

impl Agent {
    /// Signs `who` in: the BFF's login, the provider's form, the BFF's callback.
    pub async fn sign_in(cluster: &Cluster, (email, password): (&str, &str)) -> Self {
        let http = &cluster.http;
        let login = http
            .get(format!("{}/auth/login", cluster.bff_url))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let authorize = login.headers()["location"].to_str().unwrap().to_owned();
        let login_cookie = first_part(login.headers()["set-cookie"].to_str().unwrap());
        let url = reqwest::Url::parse(&authorize).unwrap();
        assert!(authorize.starts_with(&cluster.provider_url), "{authorize}");
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("email".into(), email.into()));
        form.push(("password".into(), password.into()));
        let signed = http
            .post(format!("{}/authorize", cluster.provider_url))
            .header("Origin", &cluster.provider_url)
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(signed.status(), 303, "the provider signs {email} in");
        let callback = signed.headers()["location"].to_str().unwrap().to_owned();
        let back = http
            .get(&callback)
            .header("Cookie", login_cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 200, "the callback signs {email} in");
        let cookie = first_part(back.headers()["set-cookie"].to_str().unwrap());
        Self {
            cookie,
            base: cluster.bff_url.clone(),
            http: http.clone(),
            landed: Arc::default(),
        }
    }

    /// Calls the console's server function at `path`: its JSON answer.
    pub async fn call(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("Accept", "application/json")
            .header("Origin", &self.base)
            .header("Cookie", &self.cookie)
            .form(form)
            .send()
            .await
            .unwrap();
        self.landed.lock().unwrap().push(upstream_port(&response));
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// Starts a verification of `identifier` by `channel`: the flow's id.
    pub async fn start(&self, identifier: &str, channel: &str) -> String {
        let flow = self
            .call(
                "/api/start-verification",
                &[
                    ("request[identifier]", identifier),
                    ("request[channel]", channel),
                ],
            )
            .await;
        assert_eq!(flow["status"], "pending", "{flow}");
        flow["id"].as_str().unwrap().to_owned()
    }

    /// The flow `id` as the console lists it.
    pub async fn flow(&self, id: &str) -> Value {
        let flows = self.call("/api/verifications", &[]).await;
        flows
            .as_array()
            .unwrap()
            .iter()
            .find(|flow| flow["id"] == id)
            .cloned()
            .unwrap_or_else(|| panic!("flow {id} in {flows}"))
    }
}

/// `name=value` of a `Set-Cookie` header.
fn first_part(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// One event as a stream delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seen {
    pub id: i64,
    pub kind: String,
    pub flow: String,
}

/// One connection of a [`Stream`]: the BFF that served it and the `Last-Event-ID` it sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub port: u16,
    pub last_event_id: Option<i64>,
}

/// What a [`Stream`] has received so far.
#[derive(Debug, Default)]
pub struct Heard {
    pub events: Vec<Seen>,
    pub connections: Vec<Connection>,
}

/// The console's event stream through the balancer, reconnecting as `EventSource` does: after
/// the `retry` the server sent, with `Last-Event-ID` set to the last id received.
#[derive(Debug)]
pub struct Stream {
    heard: Arc<Mutex<Heard>>,
    task: tokio::task::JoinHandle<()>,
}

impl Stream {
    /// Opens the stream from the first event on (`?after=0`), returning once it is connected.
    pub async fn open(agent: &Agent) -> Self {
        let heard = Arc::new(Mutex::new(Heard::default()));
        let task = tokio::spawn(follow(agent.clone(), heard.clone()));
        let stream = Self { heard, task };
        stream
            .wait_until("the stream connects", |heard| !heard.connections.is_empty())
            .await;
        stream
    }

    /// Every event received so far.
    pub fn events(&self) -> Vec<Seen> {
        self.heard.lock().unwrap().events.clone()
    }

    /// Every connection so far.
    pub fn connections(&self) -> Vec<Connection> {
        self.heard.lock().unwrap().connections.clone()
    }

    /// Waits until `flow`'s event `kind` has arrived.
    pub async fn wait_for(&self, flow: &str, kind: &str) {
        self.wait_until(&format!("{kind} of {flow}"), |heard| {
            heard
                .events
                .iter()
                .any(|seen| seen.flow == flow && seen.kind == kind)
        })
        .await;
    }

    /// Waits (at most `PATIENCE`, or `patience` if longer) until `done` holds.
    pub async fn wait_until(&self, what: &str, done: impl Fn(&Heard) -> bool) {
        self.wait_until_within(what, PATIENCE, done).await;
    }

    /// Waits at most `patience` until `done` holds.
    pub async fn wait_until_within(
        &self,
        what: &str,
        patience: Duration,
        done: impl Fn(&Heard) -> bool,
    ) {
        let deadline = Instant::now() + patience;
        while !done(&self.heard.lock().unwrap()) {
            assert!(Instant::now() < deadline, "waited {patience:?} for {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Checks nothing arrived twice and ids only grew, and returns the events by flow.
    pub fn by_flow(&self) -> HashMap<String, Vec<String>> {
        let events = self.events();
        let ids: BTreeSet<i64> = events.iter().map(|seen| seen.id).collect();
        assert_eq!(ids.len(), events.len(), "an event arrived twice");
        assert!(
            events.windows(2).all(|pair| pair[0].id < pair[1].id),
            "events arrived out of order"
        );
        let mut flows: HashMap<String, Vec<String>> = HashMap::new();
        for seen in events {
            flows.entry(seen.flow).or_default().push(seen.kind);
        }
        flows
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Heard {
    /// How many `kind` events arrived.
    pub fn count(&self, kind: &str) -> usize {
        self.events.iter().filter(|seen| seen.kind == kind).count()
    }
}

/// Reads the stream, reconnecting after it ends or breaks, until aborted.
async fn follow(agent: Agent, heard: Arc<Mutex<Heard>>) {
    let mut retry = Duration::from_secs(3);
    loop {
        let last = heard.lock().unwrap().events.last().map(|seen| seen.id);
        let mut request = agent
            .http
            .get(format!("{}/api/events?after=0", agent.base))
            .header("Cookie", &agent.cookie)
            .header("Accept", "text/event-stream")
            .timeout(Duration::from_secs(3600));
        if let Some(id) = last {
            request = request.header("Last-Event-ID", id.to_string());
        }
        if let Ok(response) = request.send().await
            && response.status() == 200
        {
            heard.lock().unwrap().connections.push(Connection {
                port: upstream_port(&response),
                last_event_id: last,
            });
            read_frames(response, &heard, &mut retry).await;
        }
        tokio::time::sleep(retry).await;
    }
}

/// Reads frames until the response ends or breaks.
async fn read_frames(mut response: reqwest::Response, heard: &Mutex<Heard>, retry: &mut Duration) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            let mut seen = (None, None, None);
            for line in frame.lines() {
                if let Some(ms) = line.strip_prefix("retry: ") {
                    *retry = Duration::from_millis(ms.parse().unwrap());
                } else if let Some(id) = line.strip_prefix("id: ") {
                    seen.0 = Some(id.parse().unwrap());
                } else if let Some(kind) = line.strip_prefix("event: ") {
                    seen.1 = Some(kind.to_owned());
                } else if let Some(data) = line.strip_prefix("data: ") {
                    let data: Value = serde_json::from_str(data).unwrap();
                    seen.2 = data["flow"]["id"].as_str().map(str::to_owned);
                }
            }
            if let (Some(id), Some(kind), Some(flow)) = seen {
                heard.lock().unwrap().events.push(Seen { id, kind, flow });
            }
        }
    }
}

/// The customer's phone, JavaScript off: plain form posts through the balancer.
#[derive(Debug)]
pub struct Phone {
    base: String,
    http: reqwest::Client,
    /// The page's path and query, as in the link.
    page: String,
    cookie: Option<String>,
    /// The ports of the BFFs that answered, in order.
    pub landed: Vec<u16>,
}

impl Phone {
    /// A phone that opened `link`.
    pub fn new(cluster: &Cluster, link: &str) -> Self {
        let page = link
            .strip_prefix(&cluster.bff_url)
            .unwrap_or_else(|| panic!("{link} is the balancer's"))
            .to_owned();
        Self {
            base: cluster.bff_url.clone(),
            http: cluster.http.clone(),
            page,
            cookie: None,
            landed: Vec::new(),
        }
    }

    /// GETs the page: its HTML.
    pub async fn open(&mut self) -> String {
        let mut request = self
            .http
            .get(format!("{}{}", self.base, self.page))
            .header("Accept", HTML);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.landed.push(upstream_port(&response));
        assert_eq!(response.status(), 200, "the approval page");
        response.text().await.unwrap()
    }

    /// Posts the page's form for `endpoint` with its hidden fields and `extra`; the page after.
    pub async fn submit(&mut self, endpoint: &str, extra: &[(&str, &str)]) -> String {
        let html = self.open().await;
        let action = format!("/api/{endpoint}");
        assert!(
            html.contains(&format!("action=\"{action}\"")),
            "no {action} form in {html}"
        );
        let mut form = vec![("auth_req_id", hidden(&html, "auth_req_id").unwrap())];
        if let Some(message) = hidden(&html, "binding_message") {
            form.push(("binding_message", message));
        }
        for (name, value) in extra {
            form.push((name, (*value).to_owned()));
        }
        let mut request = self
            .http
            .post(format!("{}{action}", self.base))
            .header("Accept", HTML)
            .header("Origin", &self.base)
            .form(&form);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        self.landed.push(upstream_port(&response));
        assert_eq!(response.status(), 303, "{action}");
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = Some(first_part(set.to_str().unwrap()));
        }
        self.open().await
    }

    /// Asks for a code, types it, approves; the code read from the providers' outbox.
    pub async fn sign_in_and_approve(&mut self, cluster: &Cluster, to: &str) {
        self.send_code().await;
        self.verify_code(cluster, to).await;
        self.approve().await;
    }

    /// Asks for a one-time code.
    pub async fn send_code(&mut self) {
        self.submit("approval-send-code", &[]).await;
    }

    /// Types the newest code sent to `to`.
    pub async fn verify_code(&mut self, cluster: &Cluster, to: &str) {
        let code = cluster.code_for(to).await;
        let page = self
            .submit("approval-verify-code", &[("code", &code)])
            .await;
        assert!(page.contains("Approve this request?"), "{page}");
    }

    /// Approves.
    pub async fn approve(&mut self) {
        let page = self
            .submit("approval-decide", &[("decision", "approve")])
            .await;
        assert!(page.contains("data-outcome=\"approved\""), "{page}");
    }
}

/// The value of the hidden field `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}

/// Every event kind of a verification approved by text message, in order.
pub const APPROVED: [&str; 5] = ["sent", "link_opened", "signed_in", "approved", "verified"];
