//! What the BFF counts for operators, served at `/metrics` on `COUNTERSIGN_METRICS_ADDR`
//! (`127.0.0.1:9464` by default) in Prometheus' text format, beside the embedded provider's
//! (`countersign_provider_…`, see [`provider::metrics`]).
//!
//! Every series is named `countersign_…`; labels are fixed words (a channel, an outcome, an
//! endpoint, a rule), never an agent, a customer, a flow or an address. A cluster's figures are
//! the sum over its instances: each event is written by one instance, which counts it.
//!
//! | series | labels | what |
//! |---|---|---|
//! | `verifications_started_total` | `channel` | verifications an agent started |
//! | `verifications_ended_total` | `outcome` | how they ended: `verified`, `denied`, `reported`, `expired`, `cancelled`, `failed` |
//! | `verification_decision_seconds` | `decision` | from the start to the customer's approval or denial |
//! | `verification_verified_seconds` | | from the start to the verified customer |
//! | `oidc_call_seconds` | `endpoint` | the provider's answers, by endpoint (`discovery`, `backchannel`, `token`, `jwks`, `userinfo`, `revocation`, and Mosaic's `otp_send`, `otp_authenticate`, `complete`) |
//! | `oidc_call_errors_total` | `endpoint`, `error` | calls with no usable answer: `timeout`, `unreachable` (no connection, or it broke), `server_error` (5xx), `bad_answer` (too large) |
//! | `polls_total` | `answer` | the poller's answers: `pending`, `slow_down`, `unavailable`, `rate_limited`, `verified`, `denied`, `expired`, `failed` |
//! | `event_streams_open` | | the agents' event streams open now |
//! | `rate_limit_refusals_total` | `rule` | requests refused by a rate limit |
//! | `sign_ins_total` | `result` | agents' sign-ins: `signed_in`, `failed` (refused), `unavailable` (the provider or the store), `rate_limited` |
//! | `http_requests_total` | `route`, `status` | answered requests by route (its pattern) and status class |
//! | `http_request_seconds` | `route` | their time to the response head |

use std::{sync::Arc, time::Instant};

use app::flow::{Channel, EventKind};
use infra::metrics::{
    Counter, Counters, Family, Gauge, Histogram, Histograms, Registry, call_seconds, histograms,
    human_seconds,
};

/// The BFF's metrics; clones count into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    started: Counters<1>,
    ended: Counters<1>,
    decision_seconds: Histograms<1>,
    verified_seconds: Histogram,
    calls: Histograms<1>,
    call_errors: Counters<2>,
    polls: Counters<1>,
    streams: Gauge,
    refusals: Counters<1>,
    sign_ins: Counters<1>,
    requests: Family<[(&'static str, String); 2], Counter>,
    request_seconds: Family<[(&'static str, String); 1], Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            started: Counters::default(),
            ended: Counters::default(),
            decision_seconds: histograms(human_seconds),
            verified_seconds: human_seconds(),
            calls: histograms(call_seconds),
            call_errors: Counters::default(),
            polls: Counters::default(),
            streams: Gauge::default(),
            refusals: Counters::default(),
            sign_ins: Counters::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(call_seconds),
        }
    }
}

/// Why a call to the provider gave no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// It did not answer in time.
    Timeout,
    /// No connection, or the connection broke.
    Unreachable,
    /// It answered 5xx.
    ServerError,
    /// Its answer was larger than the BFF reads.
    BadAnswer,
}

impl CallError {
    fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Unreachable => "unreachable",
            Self::ServerError => "server_error",
            Self::BadAnswer => "bad_answer",
        }
    }
}

impl Metrics {
    /// Adds every series to `registry` (named `countersign_…` by the registry's prefix).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "verifications_started",
            "Verifications started, by channel",
            self.started.clone(),
        );
        registry.register(
            "verifications_ended",
            "Verifications ended, by outcome",
            self.ended.clone(),
        );
        registry.register(
            "verification_decision_seconds",
            "Seconds from a verification's start to the customer's decision",
            self.decision_seconds.clone(),
        );
        registry.register(
            "verification_verified_seconds",
            "Seconds from a verification's start to the verified customer",
            self.verified_seconds.clone(),
        );
        registry.register(
            "oidc_call_seconds",
            "Seconds the provider took to answer, by endpoint",
            self.calls.clone(),
        );
        registry.register(
            "oidc_call_errors",
            "Calls to the provider without a usable answer, by endpoint and error",
            self.call_errors.clone(),
        );
        registry.register(
            "polls",
            "The poller's answers from the token endpoint",
            self.polls.clone(),
        );
        registry.register(
            "event_streams_open",
            "Agents' event streams open now",
            self.streams.clone(),
        );
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit, by rule",
            self.refusals.clone(),
        );
        registry.register(
            "sign_ins",
            "Agents' sign-ins, by result",
            self.sign_ins.clone(),
        );
        registry.register(
            "http_requests",
            "Answered requests, by route and status class",
            self.requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Seconds to the response head, by route",
            self.request_seconds.clone(),
        );
    }

    /// A verification of `created_at` (ms) had event `kind` written at `now` (ms).
    pub fn flow_event(&self, kind: EventKind, created_at: i64, now: i64) {
        let seconds = now.saturating_sub(created_at).max(0) as f64 / 1000.0;
        match kind {
            EventKind::Sent => {}
            EventKind::Approved => self
                .decision_seconds
                .get_or_create(&[("decision", "approved")])
                .observe(seconds),
            EventKind::Denied => self
                .decision_seconds
                .get_or_create(&[("decision", "denied")])
                .observe(seconds),
            EventKind::Verified => self.verified_seconds.observe(seconds),
            _ => {}
        }
        let outcome = match kind {
            EventKind::Verified => "verified",
            EventKind::Denied => "denied",
            EventKind::Reported => "reported",
            EventKind::Expired => "expired",
            EventKind::Cancelled => "cancelled",
            EventKind::Failed => "failed",
            _ => return,
        };
        self.ended.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// An agent started a verification on `channel`.
    pub fn started(&self, channel: Channel) {
        self.started
            .get_or_create(&[("channel", channel.as_str())])
            .inc();
    }

    /// A call to the provider's `endpoint` took `since.elapsed()`, ending with `error` if any.
    pub fn call(&self, endpoint: &'static str, since: Instant, error: Option<CallError>) {
        self.calls
            .get_or_create(&[("endpoint", endpoint)])
            .observe(since.elapsed().as_secs_f64());
        if let Some(error) = error {
            self.call_errors
                .get_or_create(&[("endpoint", endpoint), ("error", error.as_str())])
                .inc();
        }
    }

    /// The poller got `answer` (one of the words in the table above).
    pub fn poll(&self, answer: &'static str) {
        self.polls.get_or_create(&[("answer", answer)]).inc();
    }

    /// An event stream opened; it counts as open until the guard drops.
    pub fn stream_opened(&self) -> StreamOpen {
        self.streams.inc();
        StreamOpen(self.streams.clone())
    }

    /// Rate-limit `rule` refused a request.
    pub fn refused(&self, rule: &'static str) {
        self.refusals.get_or_create(&[("rule", rule)]).inc();
    }

    /// An agent's sign-in ended with `result` (one of the words in the table above).
    pub fn sign_in(&self, result: &'static str) {
        self.sign_ins.get_or_create(&[("result", result)]).inc();
    }

    /// A request to `route` (a pattern of the router, or `other`) was answered with `status`
    /// after `seconds`.
    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.requests
            .get_or_create(&[("route", route.to_owned()), ("status", class.to_owned())])
            .inc();
        self.request_seconds
            .get_or_create(&[("route", route.to_owned())])
            .observe(seconds);
    }
}

/// Counts the answer to `request` under its route's pattern ([`Metrics::request`]).
pub async fn count_requests(
    metrics: Metrics,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "other".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics.request(
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// An open event stream, counted in `event_streams_open` while it lives.
#[derive(Debug)]
pub struct StreamOpen(Gauge);

impl Drop for StreamOpen {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The registry the BFF serves: its own series and, when embedded, the provider's under
/// `countersign_provider_`.
pub fn registry(bff: &Metrics, provider: Option<&provider::metrics::Metrics>) -> Arc<Registry> {
    let mut registry = Registry::with_prefix("countersign");
    bff.register(&mut registry);
    if let Some(provider) = provider {
        provider.register(registry.sub_registry_with_prefix("provider"));
    }
    Arc::new(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every series name a query may use: counters as `…_total`, histograms as `…_bucket`,
    /// `…_count` and `…_sum`, gauges as they are, from the exposition's `# TYPE` lines.
    fn served(exposition: &str) -> Vec<String> {
        exposition
            .lines()
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .flat_map(|line| {
                let (name, kind) = line.split_once(' ').unwrap_or((line, ""));
                let suffixes: &[&str] = match kind {
                    "counter" => &["_total"],
                    "histogram" => &["_bucket", "_count", "_sum"],
                    _ => &[""],
                };
                suffixes.iter().map(move |suffix| format!("{name}{suffix}"))
            })
            .collect()
    }

    #[test]
    fn every_query_of_the_grafana_dashboard_names_a_series_the_services_serve() {
        let dashboard: serde_json::Value =
            serde_json::from_str(include_str!("../../docs/grafana/countersign.json"))
                .expect("the dashboard is JSON");
        // A family shows in the exposition once it has a series: one of each.
        let bff = Metrics::default();
        bff.started(Channel::Sms);
        bff.flow_event(EventKind::Approved, 0, 1_000);
        bff.flow_event(EventKind::Verified, 0, 2_000);
        bff.call("token", Instant::now(), Some(CallError::Timeout));
        bff.poll("pending");
        let _stream = bff.stream_opened();
        bff.refused("starts-per-agent");
        bff.sign_in("signed_in");
        bff.request("/api/events", 200, 0.001);
        let provider = provider::metrics::Metrics::default();
        provider.request("/oidc/token", "slow_down", 0.001);
        provider.message("sms", true);
        provider.sign_in("signed_in");
        provider.decision("approved");
        provider.refused("backchannel-client");
        let registry = registry(&bff, Some(&provider));
        let served = served(&infra::metrics::render(&registry));
        assert!(
            served.contains(&"countersign_polls_total".to_owned()),
            "{served:?}"
        );
        assert!(
            served.contains(&"countersign_provider_messages_total".to_owned()),
            "{served:?}"
        );

        let panels = dashboard["panels"].as_array().expect("panels");
        let queries: Vec<&str> = panels
            .iter()
            .filter_map(|panel| panel["targets"].as_array())
            .flatten()
            .filter_map(|target| target["expr"].as_str())
            .collect();
        assert!(queries.len() >= 15, "{queries:?}");
        for query in queries {
            let names: Vec<&str> = query
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|word| word.starts_with("countersign_"))
                .collect();
            assert!(!names.is_empty(), "{query}");
            for name in names {
                assert!(served.iter().any(|s| s == name), "{name} in {query}");
            }
        }
        // Importable: the data source is an input, and every panel has a place and a title.
        assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
        for panel in panels {
            assert!(panel["title"].as_str().is_some_and(|t| !t.is_empty()));
            assert!(panel["gridPos"]["w"].as_u64().is_some(), "{panel}");
        }
    }
}
