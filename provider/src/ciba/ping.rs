//! CIBA ping mode (CIBA Core §5, §7.1, §10.2): what a ping client must send and register, and
//! the notification the provider sends once a request is decided.
//!
//! A client registered for ping names one `backchannel_client_notification_endpoint` (seed or
//! settings API; checked by [`endpoint_ok`]) and sends a `client_notification_token` with every
//! backchannel request ([`token_ok`]). When the customer approves or denies, [`Pinger::notify`]
//! POSTs `{"auth_req_id": …}` to the endpoint the client registered, never to an address taken
//! from a request, with `Authorization: Bearer <client_notification_token>`:
//!
//! - no redirect is followed, and each attempt ends after [`ATTEMPT_TIMEOUT`];
//! - a 2xx is delivered, any other 4xx is refused and not sent again;
//! - a 5xx, a 408 or 429, a timeout or no connection is tried again after 1, 2 and 4 seconds,
//!   then given up;
//!   the client still learns the outcome at its next poll (ping clients may poll).
//!
//! The token is kept sealed under the request's `auth_req_id` (the store holds only the id's
//! hash), so only a caller presenting the id can have it sent.

use std::time::Duration;

use infra::secret::Secret;
use reqwest::{StatusCode, Url, header, redirect::Policy};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::metrics::Metrics;

/// The fewest characters of a `client_notification_token`: 22 characters of its alphabet
/// hold 128 bits (CIBA Core §7.1 asks for at least that much entropy).
pub const MIN_TOKEN_CHARS: usize = 22;
/// The most characters of a `client_notification_token` (CIBA Core §7.1: 1024).
pub const MAX_TOKEN_CHARS: usize = 1024;
/// How long one notification attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// The waits before the second, third and fourth attempts.
pub const RETRY_WAITS: [Duration; 3] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
];

/// What a refused `client_notification_token` is told.
pub const TOKEN_RULE: &str = "client_notification_token is required for a ping client: 22 to \
     1024 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding), at least 128 bits of entropy.";
/// What a refused notification endpoint is told.
pub const ENDPOINT_RULE: &str = "backchannel_client_notification_endpoint must be an https URL \
     (http only on a loopback address) without credentials or a fragment.";

/// Whether `token` may be a `client_notification_token`: a bearer token (RFC 6750 `b64token`)
/// of [`MIN_TOKEN_CHARS`] to [`MAX_TOKEN_CHARS`] characters.
pub fn token_ok(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    (MIN_TOKEN_CHARS..=MAX_TOKEN_CHARS).contains(&token.len())
        && body.len() >= MIN_TOKEN_CHARS
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Whether `uri` may be a client's notification endpoint: `https` with a host, or `http` on a
/// loopback address (a BFF with its provider on one machine); no user name or password, no
/// fragment, at most 2000 characters.
pub fn endpoint_ok(uri: &str) -> bool {
    if uri.len() > 2000 || uri.chars().any(char::is_whitespace) {
        return false;
    }
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    let plain = url.username().is_empty() && url.password().is_none() && url.fragment().is_none();
    let Some(host) = url.host_str().filter(|host| !host.is_empty()) else {
        return false;
    };
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    plain && (url.scheme() == "https" || (url.scheme() == "http" && loopback))
}

/// How one notification ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// A 2xx.
    Delivered,
    /// A 4xx (or any other final answer): not sent again.
    Refused,
    /// Every attempt failed (5xx, timeout, no connection), or the provider stopped.
    Failed,
}

impl Delivery {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Refused => "refused",
            Self::Failed => "failed",
        }
    }
}

/// Sends ping notifications in the background, and stops their retries when the provider stops.
#[derive(Clone, Debug)]
pub struct Pinger {
    http: reqwest::Client,
    tasks: TaskTracker,
    stop: CancellationToken,
    metrics: Metrics,
}

impl Pinger {
    /// A pinger counting its notifications in `metrics`.
    pub fn new(metrics: Metrics) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(ATTEMPT_TIMEOUT)
            .redirect(Policy::none())
            .build()?;
        Ok(Self {
            http,
            tasks: TaskTracker::new(),
            stop: CancellationToken::new(),
            metrics,
        })
    }

    /// Notifies `endpoint` (the client's registered one) that `auth_req_id` was decided, in the
    /// background.
    pub fn notify(&self, endpoint: &str, auth_req_id: &str, token: Secret) {
        let Ok(url) = Url::parse(endpoint) else {
            // Checked when it was registered; an endpoint stored before that check is skipped.
            tracing::warn!("a ping client's notification endpoint cannot be read; not notified");
            return;
        };
        let body = serde_json::json!({ "auth_req_id": auth_req_id }).to_string();
        let pinger = self.clone();
        self.tasks.spawn(async move {
            let delivery = pinger.deliver(&url, &body, &token).await;
            pinger.metrics.ping(delivery.as_str());
            match delivery {
                Delivery::Delivered => tracing::debug!(host = url.host_str(), "ping delivered"),
                Delivery::Refused => tracing::warn!(
                    host = url.host_str(),
                    "the client refused the ping; it learns the outcome when it polls"
                ),
                Delivery::Failed => tracing::warn!(
                    host = url.host_str(),
                    "the ping could not be delivered; the client learns the outcome when it polls"
                ),
            }
        });
    }

    /// One notification with its retries.
    async fn deliver(&self, url: &Url, body: &str, token: &Secret) -> Delivery {
        let mut waits = RETRY_WAITS.iter();
        loop {
            let attempt = self
                .http
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::AUTHORIZATION, format!("Bearer {}", token.expose()))
                .body(body.to_owned())
                .send();
            let answer = tokio::select! {
                answer = attempt => answer,
                () = self.stop.cancelled() => return Delivery::Failed,
            };
            match answer.map(|response| response.status()) {
                Ok(status) if status.is_success() => return Delivery::Delivered,
                Ok(status) if !retryable(status) => return Delivery::Refused,
                Ok(_) | Err(_) => {}
            }
            let Some(wait) = waits.next() else {
                return Delivery::Failed;
            };
            tokio::select! {
                () = tokio::time::sleep(*wait) => {}
                () = self.stop.cancelled() => return Delivery::Failed,
            }
        }
    }

    /// Stops retrying and waits for the attempts in flight.
    pub async fn finish(&self) {
        self.stop.cancel();
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Whether an answer is worth another attempt: a server error, or 408 and 429, which say "later".
fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notification_token_needs_128_bits_of_a_bearer_alphabet() {
        assert!(token_ok(&"a".repeat(22)));
        assert!(token_ok("AbC-._~+/0123456789xyzQ=="));
        assert!(token_ok(&"Z".repeat(1024)));
        assert!(!token_ok(&"a".repeat(21)));
        assert!(!token_ok(&format!("{}==", "a".repeat(20))));
        assert!(!token_ok(&"Z".repeat(1025)));
        assert!(!token_ok("0123456789 0123456789abc"));
        assert!(!token_ok("0123456789\"0123456789abc"));
        assert!(!token_ok("0123456789é0123456789abc"));
        assert!(!token_ok(""));
    }

    #[test]
    fn a_notification_endpoint_is_https_or_loopback_http() {
        for good in [
            "https://bff.example/ciba/notify",
            "https://bff.example:8443/ciba/notify?x=1",
            "http://127.0.0.1:3000/ciba/notify",
            "http://localhost/ciba/notify",
            "http://[::1]:3000/ciba/notify",
        ] {
            assert!(endpoint_ok(good), "{good}");
        }
        for bad in [
            "http://bff.example/ciba/notify",
            "http://10.0.0.1/ciba/notify",
            "https://user:pw@bff.example/ciba/notify",
            "https://bff.example/ciba/notify#x",
            "ftp://bff.example/",
            "https://",
            "https://bff.example/a b",
            "/ciba/notify",
            "",
        ] {
            assert!(!endpoint_ok(bad), "{bad}");
        }
        assert!(!endpoint_ok(&format!(
            "https://bff.example/{}",
            "a".repeat(2000)
        )));
    }
}
