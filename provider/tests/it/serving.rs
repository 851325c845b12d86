//! The listener ([`provider::serve`]) and the body limit, over real sockets on 127.0.0.1:
//! SECURITY.md cases 27 (big bodies, many parameters) and 28 (slow headers, idle connections,
//! many connections).
//!
//! The timeouts are short real ones (hundreds of milliseconds): tokio's paused clock would jump
//! to the server's deadlines whenever the runtime waits for the kernel. The tests only assert
//! what happens and in which order (never that something is fast); each wait has a generous
//! bound so that a server without the limit fails instead of hanging.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, extract::ConnectInfo, routing::get};
use provider::serve::{ServeLimits, serve};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    time::{Instant, timeout},
};
use tokio_util::sync::CancellationToken;

use crate::kit::Op;

/// Longer than any wait a test means to see happen.
const BOUND: Duration = Duration::from_secs(10);

/// A router that names the peer (`/peer`) and one that is slow (`/slow`, 5 s).
fn app() -> Router {
    Router::new()
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
    }
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
