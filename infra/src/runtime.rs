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
mod tests;
