//! The BFF's HTTP client for the CIBA provider. Every call has a timeout: a provider that does
//! not answer gives the agent a clear message, never a hung screen.
//!
//! The health check behind `/api/provider-status` is anonymous, so it is not allowed to cost an
//! outbound request per call: its answer is kept for [`STATUS_FRESH`], and one check at a time
//! runs (see [`crate::memo`]). Its sentences never name the provider's address: the status page
//! is public (what anyone not signed in sees is cut down further, by
//! [`ProviderStatus::public`]).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use app::health::ProviderStatus;
use serde::Deserialize;

use crate::memo::{Keep, Memo};

/// Time allowed to open a connection to the provider.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Time allowed for a whole request to the provider, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Time allowed for the calls after which the provider sends a message: the backchannel
/// request and the one-time code. The provider sends before it answers, and answers within its
/// own bound (12 s for the embedded one, `provider::sender::ANSWER_BOUND`: at most 4 s before
/// sending, at most 8 s for the send, a request whose message was not handed over undone); the
/// BFF waits longer than that plus the connect timeout, so an answer is never lost to an
/// impatient BFF while the customer gets a working link.
pub const SENDING_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a health check's answer is reused.
pub const STATUS_FRESH: Duration = Duration::from_secs(3);
/// The longest provider version shown.
const MAX_VERSION: usize = 40;

/// Talks to one provider.
#[derive(Clone, Debug)]
pub struct ProviderClient {
    http: reqwest::Client,
    /// Where requests go, without a trailing slash.
    base_url: String,
    /// The issuer the provider must report.
    issuer: String,
    /// The last health check's answer.
    status: Arc<Memo<ProviderStatus>>,
}

/// The provider's `GET /healthz` body.
#[derive(Debug, Deserialize)]
struct Health {
    status: String,
    issuer: String,
    version: String,
}

impl ProviderClient {
    /// A client for the provider at `base_url` whose issuer identifier is `issuer`.
    pub fn new(base_url: String, issuer: String) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // The provider is named by configuration; never follow it somewhere else.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            base_url,
            issuer,
            status: Arc::new(Memo::new()),
        })
    }

    /// The provider's health, with details for signed-in agents: asked at most once per
    /// [`STATUS_FRESH`], however many callers.
    pub async fn status(&self) -> ProviderStatus {
        self.status
            .get(
                || {
                    let this = self.clone();
                    async move { this.check().await }
                },
                |_| Keep::For(STATUS_FRESH),
                || ProviderStatus::Down {
                    detail: Some("the check was cut short".to_owned()),
                },
            )
            .await
    }

    /// Asks the provider's `/healthz` now and says what it found.
    async fn check(&self) -> ProviderStatus {
        let started = Instant::now();
        let response = match self
            .http
            .get(format!("{}/healthz", self.base_url))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                tracing::warn!(%error, "the provider's health check failed");
                return ProviderStatus::Down {
                    detail: Some(describe(&error)),
                };
            }
        };
        let code = response.status();
        let body = response.json::<Health>().await;
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match body {
            Ok(health) if code.is_success() && health.status == "ok" => {
                if health.issuer == self.issuer {
                    ProviderStatus::Up {
                        version: Some(shown_version(&health.version)),
                        latency_ms: Some(latency_ms),
                    }
                } else {
                    tracing::warn!(
                        reported = %health.issuer,
                        configured = %self.issuer,
                        "the provider reports another issuer"
                    );
                    ProviderStatus::Degraded {
                        detail: "it reports another issuer than the one configured".to_owned(),
                        latency_ms,
                    }
                }
            }
            Ok(_) => ProviderStatus::Degraded {
                detail: format!(
                    "it answered HTTP {} and does not report itself healthy",
                    code.as_u16()
                ),
                latency_ms,
            },
            Err(_) => ProviderStatus::Degraded {
                detail: format!("it answered HTTP {} without a health report", code.as_u16()),
                latency_ms,
            },
        }
    }
}

/// A plain sentence for a failed request, without the provider's address (the log has it).
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "no connection could be made".to_owned()
    } else {
        "the request failed".to_owned()
    }
}

/// The provider's version as shown: a short run of version characters, else `unknown`.
fn shown_version(version: &str) -> String {
    let plain = !version.is_empty()
        && version.len() <= MAX_VERSION
        && version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'_'));
    if plain {
        version.to_owned()
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests;
