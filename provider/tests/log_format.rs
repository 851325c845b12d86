//! `COUNTERSIGN_LOG_FORMAT` as the `countersign-provider` binary sees it: an unknown value stops
//! the start, and `json` makes the log lines on stderr JSON objects.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use serde_json::Value;

/// The provider binary with a clean environment: only the variables a test sets are seen.
fn provider() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign-provider"));
    command.env_clear().stdin(Stdio::null());
    command
}

#[test]
fn an_unknown_log_format_stops_the_start() {
    let output = provider()
        .env("COUNTERSIGN_LOG_FORMAT", "yaml")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.trim_end(),
        "countersign-provider: bad configuration: COUNTERSIGN_LOG_FORMAT: \"yaml\" is not a log \
         format: set it to text or json (or leave it unset for text)"
    );
    assert!(output.stdout.is_empty(), "{output:?}");
}

#[test]
fn json_logs_go_to_stderr_as_json_objects() {
    let data = tempfile::tempdir().unwrap();
    let mut child = provider()
        .env("COUNTERSIGN_LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("COUNTERSIGN_PROVIDER_ADDR", "127.0.0.1:0")
        .env("COUNTERSIGN_PROVIDER_METRICS_ADDR", "127.0.0.1:0")
        .env("COUNTERSIGN_DATA_DIR", data.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (lines, received) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    // The first thing a provider with an empty data folder logs is loading the demo seed.
    let first = received.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("a log line on stderr");
    let Ok(Value::Object(line)) = serde_json::from_str::<Value>(&first) else {
        panic!("not a JSON object on stderr: {first:?}");
    };
    assert_eq!(line["level"], "INFO", "{first}");
    assert_eq!(line["target"], "provider", "{first}");
    assert_eq!(
        line["message"], "loaded the seed into a new store",
        "{first}"
    );
    assert_eq!(line["seed"], "the demo seed", "{first}");
    assert!(line["timestamp"].is_string(), "{first}");
}
