//! The BFF's HTTP client for the CIBA provider. Every call has a timeout: a provider that does
//! not answer gives the agent a clear message, never a hung screen.

use std::time::{Duration, Instant};

use app::health::ProviderStatus;
use serde::Deserialize;

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

/// Talks to one provider.
#[derive(Clone, Debug)]
pub struct ProviderClient {
    http: reqwest::Client,
    /// Where requests go, without a trailing slash.
    base_url: String,
    /// The issuer the provider must report.
    issuer: String,
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
        })
    }

    /// Asks the provider's `/healthz` and says what it found.
    pub async fn status(&self) -> ProviderStatus {
        let started = Instant::now();
        let response = match self
            .http
            .get(format!("{}/healthz", self.base_url))
            .send()
            .await
        {
            Ok(response) => response,
            Err(error) => {
                return ProviderStatus::Down {
                    detail: self.describe(&error),
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
                        issuer: health.issuer,
                        version: health.version,
                        latency_ms,
                    }
                } else {
                    ProviderStatus::Degraded {
                        detail: format!(
                            "it reports the issuer {:?}, but {:?} is configured",
                            health.issuer, self.issuer
                        ),
                        latency_ms,
                    }
                }
            }
            Ok(health) => ProviderStatus::Degraded {
                detail: format!(
                    "it answered HTTP {} and reports {:?}",
                    code.as_u16(),
                    health.status
                ),
                latency_ms,
            },
            Err(_) => ProviderStatus::Degraded {
                detail: format!("it answered HTTP {} without a health report", code.as_u16()),
                latency_ms,
            },
        }
    }

    /// A plain sentence for a failed request.
    fn describe(&self, error: &reqwest::Error) -> String {
        let base = &self.base_url;
        if error.is_timeout() {
            format!(
                "no answer from {base} within {} s",
                REQUEST_TIMEOUT.as_secs()
            )
        } else if error.is_connect() {
            format!("cannot connect to {base}")
        } else {
            format!("the request to {base} failed")
        }
    }
}
