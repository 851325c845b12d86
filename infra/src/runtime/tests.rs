use std::{
    io,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

use super::*;

/// Everything the layer under test writes, shared between it and the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Runs `log` with only `format`'s layer installed and returns what it wrote.
fn capture(format: LogFormat, log: impl FnOnce()) -> String {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry().with(log_layer(format, move || writer.clone()));
    tracing::subscriber::with_default(subscriber, log);
    captured.text()
}

fn json_lines(output: &str) -> Vec<serde_json::Map<String, Value>> {
    assert!(output.ends_with('\n'), "{output:?}");
    output
        .lines()
        .map(|line| match serde_json::from_str(line) {
            Ok(Value::Object(object)) => object,
            other => panic!("not a JSON object: {line:?} ({other:?})"),
        })
        .collect()
}

#[test]
fn json_writes_one_object_per_event_with_its_fields_at_the_top() {
    let output = capture(LogFormat::Json, || {
        tracing::warn!(
            customer = "c-1",
            attempts = 3,
            retry = true,
            "verification slow"
        );
        tracing::info!("second");
    });
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 2, "{output}");
    let first = &lines[0];
    assert_eq!(first["level"], "WARN");
    assert_eq!(first["target"], module_path!());
    assert_eq!(first["message"], "verification slow");
    assert_eq!(first["customer"], "c-1");
    assert_eq!(first["attempts"], 3);
    assert_eq!(first["retry"], true);
    let timestamp = first["timestamp"].as_str().unwrap();
    assert!(
        timestamp.len() >= 20 && timestamp.as_bytes()[10] == b'T' && timestamp.ends_with('Z'),
        "not an RFC 3339 UTC time: {timestamp}"
    );
    // Outside a span there are no span keys, and nothing else is added.
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "attempts",
            "customer",
            "level",
            "message",
            "retry",
            "target",
            "timestamp"
        ]
    );
    assert_eq!(lines[1]["message"], "second");
    assert_eq!(lines[1]["level"], "INFO");
}

#[test]
fn json_events_in_spans_carry_the_span_fields() {
    let output = capture(LogFormat::Json, || {
        let outer = tracing::info_span!("request", method = "POST");
        let _outer = outer.enter();
        let inner = tracing::info_span!("poll", request_id = "r-7");
        let _inner = inner.enter();
        tracing::info!(outcome = "pending", "polled");
    });
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1, "{output}");
    let line = &lines[0];
    assert_eq!(line["outcome"], "pending");
    assert_eq!(line["span"], json!({ "name": "poll", "request_id": "r-7" }));
    assert_eq!(
        line["spans"],
        json!([
            { "name": "request", "method": "POST" },
            { "name": "poll", "request_id": "r-7" },
        ])
    );
}

#[test]
fn text_stays_a_human_line() {
    let output = capture(LogFormat::Text, || {
        tracing::info!(customer = "c-1", "verification started");
    });
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(
        serde_json::from_str::<Value>(output.trim()).is_err(),
        "{output}"
    );
    assert!(output.contains("INFO"), "{output}");
    assert!(output.contains("verification started"), "{output}");
    assert!(output.contains("customer"), "{output}");
    // The human format leaves out the target.
    assert!(!output.contains(module_path!()), "{output}");
}

#[test]
fn the_format_is_text_unless_json_is_asked_for() {
    assert_eq!(LogFormat::from_value(None).unwrap(), LogFormat::Text);
    assert_eq!(LogFormat::from_value(Some("")).unwrap(), LogFormat::Text);
    assert_eq!(LogFormat::from_value(Some("  ")).unwrap(), LogFormat::Text);
    assert_eq!(
        LogFormat::from_value(Some("text")).unwrap(),
        LogFormat::Text
    );
    assert_eq!(
        LogFormat::from_value(Some("json")).unwrap(),
        LogFormat::Json
    );
    assert_eq!(
        LogFormat::from_value(Some(" json\n")).unwrap(),
        LogFormat::Json
    );
}

#[test]
fn an_unknown_format_is_refused_naming_the_variable_and_the_choices() {
    for value in ["xml", "JSON", "logfmt", "json,text"] {
        let error = LogFormat::from_value(Some(value)).unwrap_err();
        assert_eq!(error.variable, "COUNTERSIGN_LOG_FORMAT");
        let message = error.to_string();
        assert!(message.starts_with("COUNTERSIGN_LOG_FORMAT: "), "{message}");
        assert!(message.contains(&format!("{value:?}")), "{message}");
        assert!(message.contains("text or json"), "{message}");
    }
}
