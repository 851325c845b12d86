//! Process plumbing shared by the `countersign` and `countersign-provider` binaries.

use std::env::VarError;

use tracing::Subscriber;
use tracing_subscriber::{
    EnvFilter, Layer,
    fmt::{self, MakeWriter},
    layer::SubscriberExt,
    registry::LookupSpan,
    util::SubscriberInitExt,
};

use crate::config::ConfigError;

/// The environment variable that chooses the [`LogFormat`].
pub const LOG_FORMAT_VARIABLE: &str = "COUNTERSIGN_LOG_FORMAT";

/// How each log event is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line: time, level, message, then the fields as `key=value`.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message` and the event's
    /// fields as top-level keys; inside a span, `span` (the innermost) and `spans` (outermost
    /// first), each with its `name` and fields. Event fields are not named like those keys, which
    /// would then appear twice in the object.
    Json,
}

impl LogFormat {
    /// Reads [`LOG_FORMAT_VARIABLE`] from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(LOG_FORMAT_VARIABLE) {
            Ok(value) => Self::from_value(Some(&value)),
            Err(VarError::NotPresent) => Self::from_value(None),
            Err(VarError::NotUnicode(_)) => Err(Self::refused("a value that is not UTF-8")),
        }
    }

    /// Parses the variable's value: unset or blank is [`LogFormat::Text`]; anything other than
    /// `text` or `json` (surrounding spaces aside) is refused.
    pub fn from_value(value: Option<&str>) -> Result<Self, ConfigError> {
        match value.map(str::trim) {
            None | Some("" | "text") => Ok(Self::Text),
            Some("json") => Ok(Self::Json),
            Some(other) => Err(Self::refused(&format!("{other:?}"))),
        }
    }

    fn refused(what: &str) -> ConfigError {
        ConfigError {
            variable: LOG_FORMAT_VARIABLE,
            problem: format!(
                "{what} is not a log format: set it to text or json (or leave it unset for text)"
            ),
        }
    }
}

/// Sends logs to stderr in `format`; `RUST_LOG` sets the filter (default `info`).
///
/// Nothing secret is ever passed to a log macro; the filter only chooses how much is shown.
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // A second call (tests that start several servers) keeps the first subscriber.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(log_layer(format, std::io::stderr))
        .try_init();
}

/// The layer that formats each event in `format` and writes it, one line, through `writer`.
fn log_layer<S, W>(format: LogFormat, writer: W) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
    W: for<'line> MakeWriter<'line> + Send + Sync + 'static,
{
    match format {
        // The target (the module path) is left out of the human format to keep lines short.
        LogFormat::Text => fmt::layer()
            .with_target(false)
            .log_internal_errors(true)
            .with_writer(writer)
            .boxed(),
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_ansi(false)
            .log_internal_errors(true)
            .with_writer(writer)
            .boxed(),
    }
}

/// Completes on Ctrl-C (SIGINT) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
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
        let subscriber =
            tracing_subscriber::registry().with(log_layer(format, move || writer.clone()));
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
}
