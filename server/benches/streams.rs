//! P4 of `make bench`: N consoles' event streams open on one release `countersign`, each its
//! own supervisor's session (every stream sees every event), then one verification started:
//! the server's RSS per open stream, and the time from the start to each stream's frame.
//!
//! The sessions are written into the BFF's SQLite before it starts (as sign-ins would leave
//! them), so that thousands of streams need no thousands of sign-ins. The streams are plain
//! HTTP/1.1 connections read by this process. `BENCH_STREAMS` lists the sizes (default
//! `1000 10000`), `BENCH_BFF_BIN` the binary (default `target/release/countersign`). Prints one
//! line a size: `P4 <n> <KiB per stream> <p50 ms> <p99 ms> <streams that got the frame>`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use server::{
    session::{COOKIE, new_id},
    store::{Role, Session, SessionStore as _, SqliteStore, Store as _},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    sync::{Barrier, mpsc},
};

const AGENT_SUB: &str = "bench-agent";

#[tokio::main]
async fn main() {
    let sizes: Vec<usize> = std::env::var("BENCH_STREAMS")
        .unwrap_or_else(|_| "1000 10000".to_owned())
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect();
    let bin =
        std::env::var("BENCH_BFF_BIN").unwrap_or_else(|_| "target/release/countersign".into());
    for n in sizes {
        run(&bin, n).await;
    }
}

async fn run(bin: &str, n: usize) {
    let data = tempfile::TempDir::new().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let store = SqliteStore::open(&data.path().join("countersign.sqlite"))
        .await
        .unwrap();
    let session = |sub: String, role| {
        let (cookie, id_hash) = new_id();
        let session = Session {
            id_hash,
            agent_sub: sub.clone(),
            agent_name: sub.clone(),
            agent_email: format!("{sub}@bench.example"),
            role,
            created_at: now,
            last_seen_at: now,
            expires_at: now + 8 * 3_600_000,
        };
        (cookie, session)
    };
    let mut cookies = Vec::with_capacity(n);
    for i in 0..n {
        let (cookie, row) = session(format!("bench-supervisor-{i}"), Role::Supervisor);
        store.insert_session(&row).await.unwrap();
        cookies.push(cookie);
    }
    let (agent_cookie, agent) = session(AGENT_SUB.to_owned(), Role::Agent);
    store.insert_session(&agent).await.unwrap();
    store.close().await;

    let port = free_port();
    let mut child = tokio::process::Command::new(bin)
        .env("COUNTERSIGN_ADDR", format!("127.0.0.1:{port}"))
        .env(
            "COUNTERSIGN_PROVIDER_ADDR",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("COUNTERSIGN_METRICS_ADDR", "off")
        .env("COUNTERSIGN_DATA_DIR", data.path())
        .env("COUNTERSIGN_MAX_CONNECTIONS", (n + 256).to_string())
        .env("COUNTERSIGN_MAX_STREAMS", (n + 16).to_string())
        .env("COUNTERSIGN_LIMIT_STARTS_PER_AGENT", "100000/10m")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut ready = false;
    for _ in 0..600 {
        if let Ok(answer) = http.get(format!("{base}/readyz")).send().await
            && answer.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ready, "countersign did not get ready");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = rss_kib(pid);

    // Every stream connects, reads its `retry:` line, then waits for the frame.
    let opened = Arc::new(Barrier::new(n + 1));
    let (arrived, mut arrivals) = mpsc::unbounded_channel::<Instant>();
    let gate = Arc::new(tokio::sync::Semaphore::new(256));
    for cookie in cookies {
        let (opened, arrived, gate) = (opened.clone(), arrived.clone(), gate.clone());
        tokio::spawn(async move {
            let mut permit = Some(gate.acquire_owned().await.unwrap());
            let mut socket = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let request = format!(
                "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\nCookie: {COOKIE}={cookie}\r\n\r\n"
            );
            socket.write_all(request.as_bytes()).await.unwrap();
            let mut seen = Vec::new();
            let mut buffer = [0_u8; 2048];
            let mut open = false;
            loop {
                let read = socket.read(&mut buffer).await.unwrap_or(0);
                if read == 0 {
                    panic!("a stream closed: {}", String::from_utf8_lossy(&seen));
                }
                seen.extend_from_slice(&buffer[..read]);
                let text = String::from_utf8_lossy(&seen);
                if !open && text.contains("retry:") {
                    open = true;
                    // Open: the next connection may go.
                    permit.take();
                    opened.wait().await;
                }
                if text.contains("event: sent") {
                    let _ = arrived.send(Instant::now());
                    break;
                }
            }
            // Hold the connection until the run ends.
            let _ = socket.read(&mut buffer).await;
        });
    }
    opened.wait().await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let with_streams = rss_kib(pid);

    let started = Instant::now();
    let flow = http
        .post(format!("{base}/api/start-verification"))
        .header("Accept", "application/json")
        .header("Origin", &base)
        .header("Cookie", format!("{COOKIE}={agent_cookie}"))
        .form(&[
            ("request[identifier]", "+15555550101"),
            ("request[channel]", "sms"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(flow.status(), 200, "{}", flow.text().await.unwrap());
    let mut times = Vec::with_capacity(n);
    while times.len() < n {
        match tokio::time::timeout(Duration::from_secs(60), arrivals.recv()).await {
            Ok(Some(at)) => times.push(at.duration_since(started)),
            _ => break,
        }
    }
    let got = times.len();
    times.sort();
    let rank = |p: f64| {
        let index = ((p * times.len() as f64).ceil() as usize).saturating_sub(1);
        times.get(index).map_or(0, Duration::as_millis)
    };
    let per_stream = (with_streams.saturating_sub(idle)) as f64 / n as f64;
    println!("P4 {n} {per_stream:.1} {} {} {got}", rank(0.5), rank(0.99));
    let _ = child.kill().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The resident set of process `pid`, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap()
}
