//! The listener ([`infra::serve`]) and the body limit, over real sockets on 127.0.0.1:
//! SECURITY.md cases 27 (big bodies, many parameters) and 28 (slow headers, idle connections,
//! many connections).
//!
//! The timeouts are short real ones (hundreds of milliseconds): tokio's paused clock would jump
//! to the server's deadlines whenever the runtime waits for the kernel. The tests only assert
//! what happens and in which order (never that something is fast); each wait has a generous
//! bound so that a server without the limit fails instead of hanging.

use std::{
    net::SocketAddr,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    Router,
    body::{Body, Bytes},
    extract::ConnectInfo,
    http::header,
    response::{IntoResponse as _, Response},
    routing::get,
};
use hyper::body::{Body as HttpBody, Frame};
use infra::serve::{ServeLimits, serve};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    time::{Instant, timeout},
};
use tokio_util::sync::CancellationToken;

use crate::kit::Op;

/// Longer than any wait a test means to see happen.
const BOUND: Duration = Duration::from_secs(10);

/// An event stream's body: a comment every `every`, or (`None`) nothing ever.
struct Ticks(Option<tokio::time::Interval>);

impl HttpBody for Ticks {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match &mut self.0 {
            Some(interval) => interval
                .poll_tick(cx)
                .map(|_| Some(Ok(Frame::data(Bytes::from_static(b": tick\n\n"))))),
            None => Poll::Pending,
        }
    }
}

fn event_stream(every: Option<Duration>) -> Response {
    let ticks = Ticks(every.map(tokio::time::interval));
    (
        [(header::CONTENT_TYPE, "text/event-stream")],
        Body::new(ticks),
    )
        .into_response()
}

/// A router that names the peer (`/peer`), one that is slow (`/slow`, 5 s), an event stream
/// that ticks every 100 ms (`/stream`) and one that never sends a frame (`/mute`).
fn app() -> Router {
    Router::new()
        .route(
            "/stream",
            get(|| async { event_stream(Some(Duration::from_millis(100))) }),
        )
        .route("/mute", get(|| async { event_stream(None) }))
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "late"
            }),
        )
}

/// Serves [`app`] within `limits` until the returned token is cancelled.
async fn served(limits: ServeLimits) -> (SocketAddr, CancellationToken) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(serve(
        listener,
        app(),
        limits,
        stop.clone().cancelled_owned(),
    ));
    (addr, stop)
}

fn limits() -> ServeLimits {
    ServeLimits {
        header_timeout: Duration::from_secs(20),
        idle_timeout: Duration::from_secs(20),
        request_timeout: Duration::from_secs(20),
        max_connections: 2048,
        max_streams: 2048,
        shutdown_grace: Duration::from_secs(20),
    }
}

/// Sends `GET path` and reads the answer's head: its status and the head's text.
async fn open(addr: SocketAddr, path: &str) -> (TcpStream, u16, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(get_request(path).as_bytes())
        .await
        .unwrap();
    let mut buffer = Vec::new();
    let mut byte = [0u8; 1];
    while !buffer.ends_with(b"\r\n\r\n") {
        let read = timeout(BOUND, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read, 1, "closed before the head was complete");
        buffer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buffer).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (stream, status, head)
}

fn get_request(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: countersign\r\n\r\n")
}

/// Reads one response (head and `Content-Length` body): its status and body; `None` if the
/// server closed the connection first.
async fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|window| window == b"\r\n\r\n") {
            break at + 4;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("content-length")
                .then(|| value.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buffer.len() < head_end + length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(read) => buffer.extend_from_slice(&chunk[..read]),
        }
    }
    let body = String::from_utf8_lossy(&buffer[head_end..head_end + length]).to_string();
    Some((status, body))
}

/// Whether the server closed `stream` (EOF or reset) within `wait`, reading and discarding.
async fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    timeout(wait, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn case_28_a_normal_request_works_and_connect_info_gives_the_peer() {
    let (addr, stop) = served(ServeLimits::default()).await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(get_request("/peer").as_bytes())
        .await
        .unwrap();
    let (status, body) = read_response(&mut stream).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, stream.local_addr().unwrap().to_string());
    // The connection is kept for the next request.
    stream
        .write_all(get_request("/peer").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut stream).await.unwrap().0, 200);
    stop.cancel();
}

/// A client that sends its head one byte at a time never completes it: the connection is
/// closed once the header timeout has passed since the accept, however often bytes arrive.
#[tokio::test]
async fn case_28_a_trickled_request_head_is_closed_after_the_header_timeout() {
    let header_timeout = Duration::from_millis(400);
    let (addr, stop) = served(ServeLimits {
        header_timeout,
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let opened = Instant::now();
    let trickle = async {
        for byte in b"GET /peer HTTP/1.1\r\nHost: countersign\r\nX-Slow: "
            .iter()
            .cycle()
        {
            if stream.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(
        timeout(BOUND, trickle).await.is_ok(),
        "the server kept a trickling head open for {BOUND:?}"
    );
    // The server counts from its accept, which may come a little before `opened`.
    assert!(opened.elapsed() >= header_timeout / 2);
    // Nothing was answered: the bytes were never a request.
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest).await;
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));

    // A connection that sends nothing at all is closed the same way.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut silent, BOUND).await);
    stop.cancel();
}

#[tokio::test]
async fn case_28_an_idle_keep_alive_connection_is_closed_after_the_idle_limit() {
    let idle_timeout = Duration::from_millis(400);
    let (addr, stop) = served(ServeLimits {
        idle_timeout,
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // Requests closer together than the limit keep the connection.
    for round in 0..3 {
        if round > 0 {
            tokio::time::sleep(idle_timeout / 4).await;
        }
        stream
            .write_all(get_request("/peer").as_bytes())
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await.unwrap().0, 200);
    }
    let answered = Instant::now();
    // The header timeout (20 s) is longer than the bound: only the idle limit can close it.
    assert!(closed_within(&mut stream, BOUND).await);
    // The server's idle time starts when it has sent the answer, a little before it is read
    // here: half the limit is a safe lower bound.
    assert!(answered.elapsed() >= idle_timeout / 2);
    stop.cancel();
}

/// With the cap at 2, a third and a fourth connection are not served while two are open; when
/// one closes exactly one more is served, when the other closes the last one is.
#[tokio::test]
async fn case_28_the_connection_cap_is_never_exceeded() {
    let (addr, stop) = served(ServeLimits {
        max_connections: 2,
        ..limits()
    })
    .await;
    let mut open = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(get_request("/peer").as_bytes())
            .await
            .unwrap();
        assert_eq!(read_response(&mut stream).await.unwrap().0, 200);
        open.push(stream);
    }
    // The kernel completes the handshake (the backlog); the server does not take them.
    let mut waiting = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(get_request("/peer").as_bytes())
            .await
            .unwrap();
        waiting.push(stream);
    }
    let quiet = Duration::from_millis(500);
    for stream in &mut waiting {
        assert!(
            timeout(quiet, read_response(stream)).await.is_err(),
            "served over the cap"
        );
    }

    drop(open.pop());
    let (mut third, mut fourth) = (waiting.remove(0), waiting.remove(0));
    let served_one = tokio::select! {
        answer = read_response(&mut third) => { assert_eq!(answer.unwrap().0, 200); 3 }
        answer = read_response(&mut fourth) => { assert_eq!(answer.unwrap().0, 200); 4 }
        () = tokio::time::sleep(BOUND) => panic!("no connection served after one closed"),
    };
    let (served, mut other) = if served_one == 3 {
        (third, fourth)
    } else {
        (fourth, third)
    };
    assert!(
        timeout(quiet, read_response(&mut other)).await.is_err(),
        "served over the cap"
    );

    drop(open.pop());
    let answer = timeout(BOUND, read_response(&mut other)).await.unwrap();
    assert_eq!(answer.unwrap().0, 200);
    drop(served);
    stop.cancel();
}

#[tokio::test]
async fn case_28_a_handler_over_the_request_time_limit_gets_503_with_a_sentence() {
    let (addr, stop) = served(ServeLimits {
        request_timeout: Duration::from_millis(300),
        ..limits()
    })
    .await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(get_request("/slow").as_bytes())
        .await
        .unwrap();
    let (status, body) = timeout(BOUND, read_response(&mut stream))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 503);
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("The request took longer than 0.3 seconds"),
        "{body}"
    );
    stop.cancel();
}

/// Shutdown waits for the request in flight, and closes idle connections.
#[tokio::test]
async fn case_28_shutdown_finishes_the_requests_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        app(),
        limits(),
        stop.clone().cancelled_owned(),
    ));
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(get_request("/peer").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_response(&mut idle).await.unwrap().0, 200);
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(get_request("/slow").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    assert!(closed_within(&mut idle, BOUND).await);
    let (status, body) = timeout(BOUND, read_response(&mut busy))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((status, body.as_str()), (200, "late"));
    timeout(BOUND, server).await.unwrap().unwrap().unwrap();
}

/// With room for two event streams, a third is answered 503 with a sentence at once, while
/// plain requests are still served; when a stream closes, its seat is free again.
#[tokio::test]
async fn case_28_event_streams_cannot_take_every_connection() {
    let (addr, stop) = served(ServeLimits {
        max_streams: 2,
        ..limits()
    })
    .await;
    let (first, status, _) = open(addr, "/stream").await;
    assert_eq!(status, 200);
    let (_second, status, _) = open(addr, "/mute").await;
    assert_eq!(status, 200);
    let mut third = TcpStream::connect(addr).await.unwrap();
    third
        .write_all(b"GET /stream HTTP/1.1\r\nHost: countersign\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    timeout(BOUND, third.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_lowercase().contains("retry-after: 60"),
        "{answer}"
    );
    assert!(
        answer.contains("Too many live streams are open"),
        "{answer}"
    );
    // The streams do not take the seats of plain requests.
    let (_peer, status, _) = open(addr, "/peer").await;
    assert_eq!(status, 200);
    // The ticking stream's seat comes back once the server notices it is gone.
    drop(first);
    let freed = async {
        loop {
            let (_stream, status, _) = open(addr, "/stream").await;
            if status == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    assert!(
        timeout(BOUND, freed).await.is_ok(),
        "the seat never came back"
    );
    stop.cancel();
}

/// An event stream has no overall bound, but one that sends nothing for the idle limit is
/// closed; one that ticks lives on.
#[tokio::test]
async fn case_28_an_event_stream_that_sends_nothing_is_closed_as_idle() {
    let idle_timeout = Duration::from_millis(400);
    let (addr, stop) = served(ServeLimits {
        idle_timeout,
        request_timeout: Duration::from_millis(200),
        ..limits()
    })
    .await;
    let (mut ticking, status, _) = open(addr, "/stream").await;
    assert_eq!(status, 200);
    let (mut mute, status, _) = open(addr, "/mute").await;
    assert_eq!(status, 200);
    let opened = Instant::now();
    assert!(
        closed_within(&mut mute, BOUND).await,
        "a mute stream was kept"
    );
    assert!(opened.elapsed() >= idle_timeout / 2);
    // The ticking one is still open, three idle limits later.
    assert!(
        !closed_within(&mut ticking, idle_timeout * 3).await,
        "a live stream was cut"
    );
    stop.cancel();
}

/// A shutdown closes event streams (their browsers resume elsewhere) instead of waiting for
/// them, and then returns.
#[tokio::test]
async fn case_28_shutdown_closes_event_streams() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        app(),
        limits(),
        stop.clone().cancelled_owned(),
    ));
    let (mut ticking, status, _) = open(addr, "/stream").await;
    assert_eq!(status, 200);
    let (mut mute, status, _) = open(addr, "/mute").await;
    assert_eq!(status, 200);
    stop.cancel();
    assert!(closed_within(&mut ticking, BOUND).await);
    assert!(closed_within(&mut mute, BOUND).await);
    // The grace period is 20 s: the server returned because nothing was left, not by it.
    timeout(BOUND, server).await.unwrap().unwrap().unwrap();
}

/// A request still running when the shutdown grace period ends is dropped, unanswered, and
/// the server returns: one slow handler cannot hold a stop.
#[tokio::test]
async fn case_28_shutdown_drops_what_outlasts_its_grace_period() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(
        listener,
        app(),
        ServeLimits {
            shutdown_grace: Duration::from_millis(300),
            ..limits()
        },
        stop.clone().cancelled_owned(),
    ));
    let mut busy = TcpStream::connect(addr).await.unwrap();
    busy.write_all(get_request("/slow").as_bytes())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.cancel();
    // The handler takes 5 s: with no grace limit its "late" would arrive before BOUND.
    let answer = timeout(BOUND, read_response(&mut busy)).await.unwrap();
    assert_eq!(answer, None, "answered after the grace period");
    timeout(BOUND, server).await.unwrap().unwrap().unwrap();
}

/// Posts a body of `length` bytes to `path` (with `Content-Length` if `declared`, else
/// chunked), writing it in the background; returns the response, read while the body is still
/// going.
async fn post_big(addr: &str, path: &str, length: usize, declared: bool) -> (u16, String) {
    let piece = vec![b'a'; 16 * 1024];
    let pieces = length.div_ceil(piece.len());
    if declared {
        post_bytes(
            addr,
            path,
            &format!("Content-Length: {}", pieces * piece.len()),
            || (0..pieces).map(|_| piece.clone()).collect(),
        )
        .await
    } else {
        post_bytes(addr, path, "Transfer-Encoding: chunked", || {
            let mut chunk = format!("{:x}\r\n", piece.len()).into_bytes();
            chunk.extend_from_slice(&piece);
            chunk.extend_from_slice(b"\r\n");
            (0..pieces).map(|_| chunk.clone()).collect()
        })
        .await
    }
}

/// Sends a form post's head with `framing`, then the pieces `body` makes in the background;
/// returns the response's status and body.
async fn post_bytes(
    addr: &str,
    path: &str,
    framing: &str,
    body: impl FnOnce() -> Vec<Vec<u8>>,
) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: countersign\r\nContent-Type: \
         application/x-www-form-urlencoded\r\n{framing}\r\n\r\n"
    );
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(head.as_bytes()).await.unwrap();
    let pieces = body();
    let sending = tokio::spawn(async move {
        for piece in pieces {
            if writer.write_all(&piece).await.is_err() {
                return;
            }
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
async fn case_27_a_two_megabyte_body_on_the_provider_gets_413() {
    let op = Op::start().await;
    let addr = op.url.trim_start_matches("http://").to_owned();
    for declared in [true, false] {
        for path in [
            "/cis/oidc/backchannel",
            "/oidc/token",
            "/cis/v1/auth/otp/send",
            "/no/such/path",
        ] {
            let (status, body) = post_big(&addr, path, 2 * 1024 * 1024, declared).await;
            assert_eq!(status, 413, "{path} (declared: {declared}): {body}");
            assert!(
                body.contains(r#""error_description":"The request body is larger than 16 KiB.""#),
                "{body}"
            );
        }
    }
    // Everyone else is still answered.
    let health = op
        .http
        .get(format!("{}/healthz", op.url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn case_27_a_form_of_200000_distinct_parameters_gets_a_4xx_at_once() {
    let op = Op::start().await;
    let addr = op.url.trim_start_matches("http://").to_owned();
    let form = |count: usize| -> Vec<u8> {
        let mut form = String::from("client_id=agent-console&client_secret=demo-console-secret");
        for index in 0..count {
            form.push_str(&format!("&p{index}="));
        }
        form.into_bytes()
    };
    let big = form(200_000);
    let (status, body) = post_bytes(
        &addr,
        "/cis/oidc/backchannel",
        &format!("Content-Length: {}", big.len()),
        || vec![big],
    )
    .await;
    assert_eq!(status, 413, "{body}");

    // Within the body limit, the parameter cap answers.
    let response = op
        .http
        .post(format!("{}/cis/oidc/backchannel", op.url))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(form(100))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "The form has more than 64 parameters."
    );
}
