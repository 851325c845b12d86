//! The SMTP and SMS webhook senders against real receivers started by the test: Python's
//! aiosmtpd (with the `smtp_sink.py` handler beside this file) and a small axum app.

use std::{
    fs::File,
    future::IntoFuture,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{Router, body::Bytes, extract::State, http::HeaderMap, http::StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use infra::secret::Secret;
use provider::config::{Delivery, EmailDelivery, SmsDelivery, SmtpConfig, SmtpTls, WebhookConfig};
use serde_json::{Value, json};
use sha2::Sha256;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use crate::kit::Op;

/// The Pythons tried, in order: the one on `PATH`, then Debian's (which `make setup` equips).
const PYTHONS: [&str; 2] = ["python3", "/usr/bin/python3"];

/// A Python that can import aiosmtpd; the test fails (it does not skip) without one.
fn python_with_aiosmtpd() -> &'static str {
    PYTHONS
        .into_iter()
        .find(|python| {
            Command::new(python)
                .args(["-c", "import aiosmtpd"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        })
        .unwrap_or_else(|| {
            panic!(
                "the SMTP tests need python3 with aiosmtpd (tried {PYTHONS:?}): run `make setup` \
                 (it installs Debian's python3-aiosmtpd)"
            )
        })
}

/// A port nothing listens on (just now).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An aiosmtpd server on a free port that writes each message it receives, parsed, to a JSON
/// file. Dropping it kills the process.
struct SmtpServer {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpServer {
    async fn start() -> Self {
        let python = python_with_aiosmtpd();
        let dir = TempDir::new().unwrap();
        let port = free_port();
        let log = File::create(dir.path().join("aiosmtpd.log")).unwrap();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "smtp_sink.JsonDir"])
            .arg(dir.path())
            .env(
                "PYTHONPATH",
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it"),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        // The guard owns the process from here: a failed start below still kills it.
        let mut server = Self { child, port, dir };
        // Poll until it listens: at most 200 × 50 ms.
        for _ in 0..200 {
            if let Some(status) = server.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(server.dir.path().join("aiosmtpd.log"));
                panic!("aiosmtpd exited ({status}) before listening: {log:?}");
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen on port {port} within 10 seconds");
    }

    /// The messages received so far, oldest first.
    fn messages(&self) -> Vec<Value> {
        let mut numbered: Vec<(u32, Value)> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|entry| {
                let path = entry.unwrap().path();
                let number = path
                    .file_name()?
                    .to_str()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                let text = std::fs::read_to_string(&path).unwrap();
                Some((number, serde_json::from_str(&text).unwrap()))
            })
            .collect();
        numbered.sort_by_key(|(number, _)| *number);
        numbered.into_iter().map(|(_, message)| message).collect()
    }
}

/// Plain SMTP to `port` on this host, as Demo Bank.
fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        login: None,
        from: "Demo Bank <no-reply@bank.example>".parse().unwrap(),
        timeout: Duration::from_secs(5),
    }
}

fn email_by_smtp(port: u16) -> Delivery {
    Delivery {
        email: EmailDelivery::Smtp(smtp_config(port)),
        sms: SmsDelivery::Outbox,
    }
}

/// A backchannel request for alice with her link sent by email.
const BY_EMAIL: &[(&str, &str)] = &[
    ("scope", "openid"),
    ("login_hint", "alice@example.com"),
    ("binding_message", "K7-42"),
    (
        "request_context",
        r#"{"channel":"email","login_hint_type":"email"}"#,
    ),
];

fn alices_link(auth_req_id: &str) -> String {
    format!("http://127.0.0.1:3000/approve?auth_req_id={auth_req_id}&binding_message=K7-42")
}

#[tokio::test]
async fn smtp_delivers_the_link_and_the_code_by_email() {
    let smtp = SmtpServer::start().await;
    let op = Op::start_delivering(email_by_smtp(smtp.port)).await;

    let response = op.backchannel(BY_EMAIL).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let auth_req_id = body["auth_req_id"].as_str().unwrap();

    // The server answered 250 before the provider answered, and the file was written first.
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mail = &mails[0];
    assert_eq!(mail["mail_from"], "no-reply@bank.example");
    assert_eq!(mail["rcpt_tos"], json!(["alice@example.com"]));
    assert_eq!(mail["from"], "Demo Bank <no-reply@bank.example>");
    assert_eq!(mail["to"], "alice@example.com");
    assert_eq!(mail["subject"], "Demo Bank: confirm it's you");
    assert_eq!(mail["content_type"], "text/plain");
    assert_eq!(mail["charset"], "utf-8");
    assert!(
        mail["message_id"]
            .as_str()
            .unwrap()
            .ends_with("@bank.example>")
    );
    let text = mail["body"].as_str().unwrap();
    assert!(text.contains(&alices_link(auth_req_id)), "{text}");
    assert!(text.starts_with("Demo Bank: "), "{text}");

    // Emails no longer reach the outbox; SMS messages still do. A real sender is configured,
    // so the outbox is kept but not served.
    assert!(op.kept_messages().await.is_empty());
    let sms = op.start_for_alice().await;
    assert!(!sms.is_empty());
    assert_eq!(op.kept_messages().await.len(), 1);
    assert_eq!(
        op.http
            .get(format!("{}/dev/outbox.json", op.url))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(smtp.messages().len(), 1);

    // One-time codes go the same way, and the code in the email signs alice in.
    let client_token = op.client_token().await;
    let sent = op
        .post_json(
            "/cis/v1/auth/otp/send",
            &client_token,
            &json!({"channel": "email", "identifier_type": "email", "identifier": "alice@example.com"}),
        )
        .await;
    assert_eq!(sent.status(), 200);
    let mails = smtp.messages();
    assert_eq!(mails.len(), 2);
    assert_eq!(mails[1]["subject"], "Demo Bank: your sign-in code");
    let code = mails[1]["body"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|part| part.len() == 6)
        .unwrap()
        .to_owned();
    let signed_in = op
        .authenticate(&client_token, "alice@example.com", &code)
        .await;
    assert_eq!(signed_in.status(), 200);
}

#[tokio::test]
async fn an_smtp_server_that_is_down_is_a_clean_delivery_error() {
    // Nothing listens on this port: the connection is refused at once.
    let op = Op::start_delivering(email_by_smtp(free_port())).await;
    let response = op.backchannel(BY_EMAIL).await;
    assert_eq!(response.status(), 502);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "delivery_failed");
    assert!(body["auth_req_id"].is_null());
    assert!(!body.to_string().contains("127.0.0.1"), "{body}");
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);
    assert!(
        op.kept_messages().await.is_empty(),
        "no fallback to the outbox"
    );
    // SMS messages go on through the outbox.
    op.start_for_alice().await;
}

/// What the webhook receiver got.
type Received = Arc<Mutex<Vec<(HeaderMap, Bytes)>>>;

/// An axum app on a free port that records each POST to `/sms` and answers `status` with a
/// body the provider must not repeat.
struct Receiver {
    url: String,
    received: Received,
    stop: CancellationToken,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

const RECEIVER_DETAIL: &str = "receiver-internal-detail";

impl Receiver {
    async fn start(status: StatusCode) -> Self {
        let received = Received::default();
        let app = Router::new()
            .route(
                "/sms",
                axum::routing::post(
                    move |State(received): State<Received>, headers: HeaderMap, body: Bytes| async move {
                        received.lock().unwrap().push((headers, body));
                        (status, RECEIVER_DETAIL)
                    },
                ),
            )
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        tokio::spawn(
            axum::serve(listener, app)
                .with_graceful_shutdown(stop.clone().cancelled_owned())
                .into_future(),
        );
        Self {
            url,
            received,
            stop,
        }
    }

    fn received(&self) -> Vec<(HeaderMap, Bytes)> {
        self.received.lock().unwrap().clone()
    }
}

const WEBHOOK_SECRET: &str = "whsec_test_shared_secret_42";

fn sms_by_webhook(url: &str) -> SmsDelivery {
    SmsDelivery::Webhook(WebhookConfig {
        url: url.parse().unwrap(),
        secret: Secret::new(WEBHOOK_SECRET),
        timeout: Duration::from_secs(5),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Checks a request as a receiver would (HMAC-SHA256 of `"<t>.<raw body>"` under the shared
/// secret); returns `t` if the signature is right.
fn signed_at(headers: &HeaderMap, body: &[u8]) -> Option<i64> {
    let header = headers["countersign-signature"].to_str().unwrap();
    let parts: Vec<(&str, &str)> = header
        .split(',')
        .map(|part| part.split_once('=').unwrap())
        .collect();
    assert_eq!(parts.len(), 2, "{header}");
    assert_eq!(parts[0].0, "t", "{header}");
    assert_eq!(parts[1].0, "v1", "{header}");
    let (t, v1) = (parts[0].1, parts[1].1);
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
    mac.update(t.as_bytes());
    mac.update(b".");
    mac.update(body);
    (hex(&mac.finalize().into_bytes()) == v1).then(|| t.parse().unwrap())
}

#[tokio::test]
async fn the_webhook_gets_each_sms_as_signed_json() {
    let receiver = Receiver::start(StatusCode::NO_CONTENT).await;
    let op = Op::start_delivering(Delivery {
        email: EmailDelivery::Outbox,
        sms: sms_by_webhook(&receiver.url),
    })
    .await;
    let auth_req_id = op.start_for_alice().await;

    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let (headers, body) = &received[0];
    assert_eq!(headers["content-type"], "application/json");
    // Signed at the provider's (manual) clock.
    assert_eq!(signed_at(headers, body), Some(1_800_000_000));
    let sms: Value = serde_json::from_slice(body).unwrap();
    let fields = sms.as_object().unwrap();
    assert_eq!(fields.len(), 4, "{sms}");
    assert_eq!(sms["to"], "+15555550101");
    assert_eq!(sms["channel"], "sms");
    assert!(
        sms["body"]
            .as_str()
            .unwrap()
            .contains(&alices_link(&auth_req_id)),
        "{sms}"
    );
    let id = sms["id"].as_str().unwrap();
    assert!(id.len() >= 22, "{id}");

    // A changed body no longer matches the signature.
    let mut tampered = body.to_vec();
    tampered[10] ^= 1;
    assert_eq!(signed_at(headers, &tampered), None);

    // A second message gets its own id; nothing went to the outbox.
    op.start_for_alice().await;
    let received = receiver.received();
    let second: Value = serde_json::from_slice(&received[1].1).unwrap();
    assert_ne!(second["id"], sms["id"]);
    assert!(op.kept_messages().await.is_empty());
}

#[tokio::test]
async fn a_webhook_that_fails_is_a_clean_delivery_error() {
    let receiver = Receiver::start(StatusCode::INTERNAL_SERVER_ERROR).await;
    let op = Op::start_delivering(Delivery {
        email: EmailDelivery::Outbox,
        sms: sms_by_webhook(&receiver.url),
    })
    .await;
    let response = op
        .backchannel(&[("scope", "openid"), ("login_hint", "+15555550101")])
        .await;
    assert_eq!(response.status(), 502);
    let text = response.text().await.unwrap();
    assert!(!text.contains(RECEIVER_DETAIL), "{text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], "delivery_failed");
    assert!(body["auth_req_id"].is_null());
    assert_eq!(receiver.received().len(), 1, "the webhook was called once");
    assert_eq!(op.store().await.backchannel_count().await.unwrap(), 0);
    assert!(
        op.kept_messages().await.is_empty(),
        "no fallback to the outbox"
    );
}

#[tokio::test]
async fn each_channel_goes_to_its_sender_and_the_outbox_is_gone() {
    let smtp = SmtpServer::start().await;
    let receiver = Receiver::start(StatusCode::OK).await;
    let op = Op::start_delivering(Delivery {
        email: EmailDelivery::Smtp(smtp_config(smtp.port)),
        sms: sms_by_webhook(&receiver.url),
    })
    .await;

    assert_eq!(op.backchannel(BY_EMAIL).await.status(), 200);
    op.start_for_alice().await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["to"], "alice@example.com");
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let sms: Value = serde_json::from_slice(&received[0].1).unwrap();
    assert_eq!(sms["to"], "+15555550101");

    // No channel uses the outbox: its pages are not mounted.
    for path in ["/dev/outbox", "/dev/outbox.json"] {
        let response = op
            .http
            .get(format!("{}{path}", op.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
