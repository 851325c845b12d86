//! P3 of `make bench`: from the customer's Approve to the agent's event stream showing
//! `approved` and then `verified`, over `BENCH_APPROVALS` approvals (default 20) in each token
//! delivery mode, poll and ping, against two Countersigns with their embedded providers in this
//! process (release build), their rounds taking turns.
//!
//! The agent signs in through the provider's form and keeps one event stream open; each round
//! starts a verification by text message, and the customer (a browser with JavaScript off, as
//! the approval page serves it) opens the link, asks for a code, types it from the development
//! outbox and approves. The clock starts as the Approve form is posted. Prints one line a mode:
//! `P3 <poll|ping> <n> approved <p50 ms> <p99 ms> verified <p50 ms> <p99 ms>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio::sync::mpsc;

const AGENT: (&str, &str) = ("agent@demo.bank", "agent-demo-password");
const PHONE: &str = "+15555550101";
const HTML: &str = "text/html";

#[tokio::main]
async fn main() {
    let approvals: usize = std::env::var("BENCH_APPROVALS")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(20);
    // Both modes run side by side, their rounds taking turns, so the machine's noise falls on
    // both alike.
    let mut modes = Vec::new();
    for mode in ["poll", "ping"] {
        modes.push(Mode::launch(mode).await);
    }
    for _ in 0..approvals {
        for mode in &mut modes {
            mode.round().await;
        }
    }
    for mode in modes {
        let Mode {
            name,
            running,
            mut approved,
            mut verified,
            ..
        } = mode;
        let (a50, a99) = percentiles(&mut approved);
        let (v50, v99) = percentiles(&mut verified);
        println!("P3 {name} {approvals} approved {a50} {a99} verified {v50} {v99}");
        running.stop().await.unwrap();
    }
}

/// One Countersign in one token delivery mode, with its agent signed in and listening, and the
/// times measured so far.
struct Mode {
    name: &'static str,
    running: server::Running,
    site: Site,
    cookie: String,
    heard: mpsc::UnboundedReceiver<(String, String, Instant)>,
    approved: Vec<Duration>,
    verified: Vec<Duration>,
    _data: tempfile::TempDir,
}

impl Mode {
    /// Starts Countersign with its embedded provider in `mode` (`poll` or `ping`).
    async fn launch(mode: &'static str) -> Self {
        let data = tempfile::TempDir::new().unwrap();
        let data_dir = data.path().to_string_lossy().into_owned();
        let settings: HashMap<&str, String> = [
            ("COUNTERSIGN_ADDR", "127.0.0.1:0".to_owned()),
            ("COUNTERSIGN_PROVIDER_ADDR", "127.0.0.1:0".to_owned()),
            ("COUNTERSIGN_METRICS_ADDR", "off".to_owned()),
            ("COUNTERSIGN_DATA_DIR", data_dir),
            ("COUNTERSIGN_DEV_OUTBOX", "true".to_owned()),
            ("COUNTERSIGN_TOKEN_DELIVERY", mode.to_owned()),
            // One customer approves every round: the per-customer limits are set wide.
            (
                "COUNTERSIGN_LIMIT_STARTS_PER_AGENT",
                "100000/10m".to_owned(),
            ),
            (
                "COUNTERSIGN_LIMIT_STARTS_PER_CUSTOMER",
                "100000/10m".to_owned(),
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CUSTOMER",
                "100000/10m".to_owned(),
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_SMS_PER_NUMBER",
                "100000/1d".to_owned(),
            ),
            (
                "COUNTERSIGN_PROVIDER_LIMIT_CODES_PER_CUSTOMER",
                "100000/10m".to_owned(),
            ),
        ]
        .into_iter()
        .collect();
        let config =
            server::config::Config::from_lookup(|name| settings.get(name).cloned()).unwrap();
        let running = server::start(config).await.unwrap();
        let site = Site {
            url: running.url.clone(),
            provider: running.provider_issuer.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let cookie = site.sign_in().await;
        let heard = site.listen(&cookie).await;
        Self {
            name: mode,
            running,
            site,
            cookie,
            heard,
            approved: Vec::new(),
            verified: Vec::new(),
            _data: data,
        }
    }

    /// One verification, timed from the Approve to `approved` and to `verified` on the stream.
    async fn round(&mut self) {
        let site = &self.site;
        let flow = site.start(&self.cookie).await;
        let link = site.newest_link().await;
        let mut phone = Phone::new(site, &link);
        phone.submit("approval-send-code", &[]).await;
        let code = site.newest_code().await;
        phone
            .submit("approval-verify-code", &[("code", &code)])
            .await;
        let clicked = Instant::now();
        phone
            .submit("approval-decide", &[("decision", "approve")])
            .await;
        let mut seen_approved = None;
        loop {
            let (kind, id, at) = tokio::time::timeout(Duration::from_secs(40), self.heard.recv())
                .await
                .expect("the stream shows the outcome within 40 s")
                .expect("the stream stays open");
            if id != flow {
                continue;
            }
            match kind.as_str() {
                "approved" => seen_approved = Some(at),
                "verified" => {
                    let approved_at = seen_approved.expect("approved comes before verified");
                    self.approved.push(approved_at.duration_since(clicked));
                    self.verified.push(at.duration_since(clicked));
                    return;
                }
                "denied" | "expired" | "failed" | "cancelled" | "reported" => {
                    panic!("the flow ended {kind}")
                }
                _ => {}
            }
        }
    }
}

/// The median and the 99th percentile (nearest rank), in whole milliseconds.
fn percentiles(samples: &mut [Duration]) -> (u128, u128) {
    samples.sort();
    let rank = |p: f64| {
        let index = ((p * samples.len() as f64).ceil() as usize).saturating_sub(1);
        samples[index.min(samples.len() - 1)].as_millis()
    };
    (rank(0.5), rank(0.99))
}

/// The BFF and its embedded provider.
struct Site {
    url: String,
    provider: String,
    http: reqwest::Client,
}

impl Site {
    /// The agent's sign-in through the provider's form: the session's `Cookie` header.
    async fn sign_in(&self) -> String {
        let login = self
            .http
            .get(format!("{}/auth/login", self.url))
            .send()
            .await
            .unwrap();
        let authorize = login.headers()["location"].to_str().unwrap().to_owned();
        let login_cookie = first_part(login.headers()["set-cookie"].to_str().unwrap());
        let url = reqwest::Url::parse(&authorize).unwrap();
        let mut form: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        form.push(("email".to_owned(), AGENT.0.to_owned()));
        form.push(("password".to_owned(), AGENT.1.to_owned()));
        let signed_in = self
            .http
            .post(format!("{}/authorize", self.provider))
            .header("Origin", &self.provider)
            .form(&form)
            .send()
            .await
            .unwrap();
        let callback = signed_in.headers()["location"].to_str().unwrap().to_owned();
        let session = self
            .http
            .get(&callback)
            .header("Cookie", login_cookie)
            .send()
            .await
            .unwrap();
        first_part(session.headers()["set-cookie"].to_str().unwrap())
    }

    /// Opens the agent's event stream; every frame's kind and flow id arrive on the channel
    /// with the moment it was read.
    async fn listen(&self, cookie: &str) -> mpsc::UnboundedReceiver<(String, String, Instant)> {
        let mut response = self
            .http
            .get(format!("{}/api/events", self.url))
            .header("Cookie", cookie)
            .header("Accept", "text/event-stream")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let (tell, heard) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buffer = String::new();
            while let Ok(Some(chunk)) = response.chunk().await {
                let at = Instant::now();
                buffer.push_str(&String::from_utf8_lossy(&chunk));
                while let Some(end) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..end + 2).collect();
                    let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data:"))
                    else {
                        continue;
                    };
                    let Ok(event) = serde_json::from_str::<Value>(data.trim()) else {
                        continue;
                    };
                    let kind = event["kind"].as_str().unwrap_or_default().to_owned();
                    let flow = event["flow"]["id"].as_str().unwrap_or_default().to_owned();
                    if tell.send((kind, flow, at)).is_err() {
                        return;
                    }
                }
            }
        });
        heard
    }

    /// Starts a verification by text message: its flow id.
    async fn start(&self, cookie: &str) -> String {
        let flow: Value = self
            .http
            .post(format!("{}/api/start-verification", self.url))
            .header("Accept", "application/json")
            .header("Origin", &self.url)
            .header("Cookie", cookie)
            .form(&[("request[identifier]", PHONE), ("request[channel]", "sms")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(flow["status"], "pending", "{flow}");
        flow["id"].as_str().unwrap().to_owned()
    }

    /// The development outbox, newest first.
    async fn outbox(&self) -> Vec<Value> {
        self.http
            .get(format!("{}/dev/outbox.json", self.provider))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn newest_link(&self) -> String {
        let outbox = self.outbox().await;
        outbox
            .iter()
            .find(|m| m["to"] == PHONE && m["link"].is_string())
            .and_then(|m| m["link"].as_str())
            .unwrap()
            .to_owned()
    }

    async fn newest_code(&self) -> String {
        let outbox = self.outbox().await;
        let body = outbox
            .iter()
            .find(|m| m["to"] == PHONE && m["link"].is_null())
            .and_then(|m| m["body"].as_str())
            .unwrap();
        body.split("your code is ")
            .nth(1)
            .unwrap()
            .chars()
            .take(6)
            .collect()
    }
}

/// The customer's phone on the approval page, JavaScript off.
struct Phone<'a> {
    site: &'a Site,
    page: String,
    cookie: Option<String>,
}

impl<'a> Phone<'a> {
    fn new(site: &'a Site, link: &str) -> Self {
        Self {
            site,
            page: link.strip_prefix(&site.url).unwrap().to_owned(),
            cookie: None,
        }
    }

    async fn open(&self) -> String {
        let mut request = self
            .site
            .http
            .get(format!("{}{}", self.site.url, self.page))
            .header("Accept", HTML);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        request.send().await.unwrap().text().await.unwrap()
    }

    /// Posts the page's form for `endpoint` with its hidden fields and `extra`.
    async fn submit(&mut self, endpoint: &str, extra: &[(&str, &str)]) {
        let html = self.open().await;
        let mut form = vec![("auth_req_id", hidden(&html, "auth_req_id").unwrap())];
        if let Some(message) = hidden(&html, "binding_message") {
            form.push(("binding_message", message));
        }
        for (name, value) in extra {
            form.push((name, (*value).to_owned()));
        }
        let mut request = self
            .site
            .http
            .post(format!("{}/api/{endpoint}", self.site.url))
            .header("Accept", HTML)
            .header("Origin", &self.site.url)
            .form(&form);
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 303, "{endpoint}");
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = Some(first_part(set.to_str().unwrap()));
        }
    }
}

fn first_part(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The value of the hidden field `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].replace("&amp;", "&"))
}
