//! The BFF's listener and body limit (SECURITY.md cases 27 and 28). The listener itself
//! ([`infra::serve`]) is tested in depth in the provider's tests; these check that the BFF
//! serves through it and that its event stream is not cut by the request time limit.

use std::time::Duration;

use server::config::ServeLimits;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::{Instant, timeout},
};

use crate::kit::{AGENT, SseReader, TestApp};

const BOUND: Duration = Duration::from_secs(10);

/// A request whose handler runs longer than `request_timeout` gets 503; an event stream's
/// head comes at once, and its body then lives well past the limit (and past the grace to
/// deliver an answer, the header timeout): it is not cut.
#[tokio::test]
async fn case_28_an_event_stream_lives_past_the_request_time_limit() {
    let limits = ServeLimits {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(60),
        request_timeout: Duration::from_secs(1),
        max_connections: 64,
        ..ServeLimits::default()
    };
    let app = TestApp::spawn_limited(limits).await;
    let agent = app.sign_in(AGENT).await;
    let response = app.events(&agent, "", None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut reader = SseReader::new(response);
    assert_eq!(reader.frame().await, "retry: 3000");
    let past = limits.request_timeout + limits.header_timeout + Duration::from_secs(1);
    // `quiet` is true only if the stream neither ended nor failed meanwhile.
    assert!(reader.quiet(past).await, "the event stream was cut");
    // And it still delivers: ask for a verification; its event arrives on the stream.
    let started = app
        .http
        .post(format!("{}/api/start-verification", app.url))
        .header("Accept", "application/json")
        .header("Origin", &app.url)
        .header("Cookie", &agent)
        .form(&[
            ("request[identifier]", "alice@example.com"),
            ("request[channel]", "email"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 200);
    let frame = reader.frame().await;
    assert!(frame.starts_with("id: "), "{frame}");
    drop(reader);
    app.stop().await;
}

/// The BFF's listener has the header timeout: a trickled head is closed.
#[tokio::test]
async fn case_28_a_trickled_request_head_on_the_bff_is_closed() {
    let limits = ServeLimits {
        header_timeout: Duration::from_millis(400),
        ..ServeLimits::default()
    };
    let app = TestApp::spawn_limited(limits).await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let opened = Instant::now();
    let trickle = async {
        for byte in b"GET /healthz HTTP/1.1\r\nHost: countersign\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(timeout(BOUND, trickle).await.is_ok(), "never closed");
    // The server counts from its accept, which may come a little before `opened`.
    assert!(opened.elapsed() >= limits.header_timeout / 2);
    // Others are still answered, with the peer's address where the BFF reads it.
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
}

/// Posts `length` bytes to `path` (`Content-Length` declared), writing in the background;
/// returns the status and body of the answer.
async fn post_big(url: &str, path: &str, length: usize) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {url}\r\nAccept: application/json\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\n"
    );
    writer.write_all(head.as_bytes()).await.unwrap();
    let sending = tokio::spawn(async move {
        let piece = vec![b'a'; 16 * 1024];
        let mut sent = 0;
        while sent < length {
            if writer.write_all(&piece).await.is_err() {
                return;
            }
            sent += piece.len();
        }
    });
    let mut buffer = Vec::new();
    let _ = timeout(BOUND, reader.read_to_end(&mut buffer)).await;
    sending.abort();
    let text = String::from_utf8_lossy(&buffer).to_string();
    let status = text.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn case_27_a_two_megabyte_body_on_the_bff_gets_413() {
    let app = TestApp::spawn().await;
    for path in [
        "/api/start-verification",
        "/api/me",
        "/auth/logout",
        "/approve",
    ] {
        let (status, body) = post_big(&app.url, path, 2 * 1024 * 1024).await;
        assert_eq!(status, 413, "{path}: {body}");
        let refusal: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            refusal["error"], "The request body is larger than 64 KiB.",
            "{path}: {body}"
        );
        assert_eq!(refusal["kind"], "too_large", "{path}: {body}");
    }
    // A body under the limit still reaches the route.
    let response = app
        .server_fn("/api/me", &[("padding", &"a".repeat(32 * 1024))])
        .await;
    assert_ne!(response.status(), 413);
    assert_eq!(app.get("/healthz").await.status(), 200);
    app.stop().await;
}
