//! What the provider counts for operators. A standalone provider serves it at `/metrics` on
//! `COUNTERSIGN_PROVIDER_METRICS_ADDR` (`127.0.0.1:9465` by default) as
//! `countersign_provider_…`; embedded, the BFF serves it beside its own under the same names.
//!
//! Labels are fixed words: an endpoint is its route's pattern, an answer is `ok` or the OAuth
//! error code the provider answered with, never a client, a customer or an address.
//!
//! | series | labels | what |
//! |---|---|---|
//! | `http_requests_total` | `endpoint`, `answer` | every answer: `ok`, or its error code (`authorization_pending`, `slow_down`, `rate_limited`, `invalid_client`, …) |
//! | `http_request_seconds` | `endpoint` | time to the response head |
//! | `messages_total` | `channel`, `result` | links and codes handed to a sender: `sent` or `failed` |
//! | `sign_ins_total` | `result` | customers' one-time-code sign-ins: `signed_in`, `wrong_code`, `rate_limited`, `refused` |
//! | `decisions_total` | `decision` | customers' answers to requests: `approved`, `denied` |
//! | `rate_limit_refusals_total` | `rule` | requests refused by a rate limit |

use infra::metrics::{Counter, Counters, Family, Histogram, Registry, call_seconds};

/// The provider's metrics; clones count into the same series.
#[derive(Clone, Debug)]
pub struct Metrics {
    requests: Family<[(&'static str, String); 2], Counter>,
    request_seconds: Family<[(&'static str, String); 1], Histogram>,
    messages: Counters<2>,
    sign_ins: Counters<1>,
    decisions: Counters<1>,
    refusals: Counters<1>,
    pings: Counters<1>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self {
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(call_seconds),
            messages: Counters::default(),
            sign_ins: Counters::default(),
            decisions: Counters::default(),
            refusals: Counters::default(),
            pings: Counters::default(),
        }
    }
}

impl Metrics {
    /// Adds every series to `registry`, named by the registry's prefix.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "http_requests",
            "Answered requests, by endpoint and answer (ok or the error code)",
            self.requests.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Seconds to the response head, by endpoint",
            self.request_seconds.clone(),
        );
        registry.register(
            "messages",
            "Messages handed to a sender, by channel and result",
            self.messages.clone(),
        );
        registry.register(
            "sign_ins",
            "Customers' one-time-code sign-ins, by result",
            self.sign_ins.clone(),
        );
        registry.register(
            "decisions",
            "Customers' decisions on requests",
            self.decisions.clone(),
        );
        registry.register(
            "rate_limit_refusals",
            "Requests refused by a rate limit, by rule",
            self.refusals.clone(),
        );
        registry.register(
            "pings",
            "Ping-mode notifications to clients, by result (delivered, refused, failed)",
            self.pings.clone(),
        );
    }

    /// A request to `endpoint` (a route pattern, or `other`) was answered with `answer` (`ok`
    /// or an error code) after `seconds`.
    pub fn request(&self, endpoint: &str, answer: &'static str, seconds: f64) {
        self.requests
            .get_or_create(&[
                ("endpoint", endpoint.to_owned()),
                ("answer", answer.to_owned()),
            ])
            .inc();
        self.request_seconds
            .get_or_create(&[("endpoint", endpoint.to_owned())])
            .observe(seconds);
    }

    /// A message on `channel` was handed over (`sent`) or not.
    pub fn message(&self, channel: &str, sent: bool) {
        let channel = match channel {
            "sms" => "sms",
            "email" => "email",
            _ => "other",
        };
        let result = if sent { "sent" } else { "failed" };
        self.messages
            .get_or_create(&[("channel", channel), ("result", result)])
            .inc();
    }

    /// A customer's code sign-in ended with `result`.
    pub fn sign_in(&self, result: &'static str) {
        self.sign_ins.get_or_create(&[("result", result)]).inc();
    }

    /// A customer decided (`approved`, `denied`).
    pub fn decision(&self, decision: &'static str) {
        self.decisions
            .get_or_create(&[("decision", decision)])
            .inc();
    }

    /// A ping notification ended with `result`.
    pub fn ping(&self, result: &'static str) {
        self.pings.get_or_create(&[("result", result)]).inc();
    }

    /// Rate-limit `rule` refused a request.
    pub fn refused(&self, rule: &'static str) {
        self.refusals.get_or_create(&[("rule", rule)]).inc();
    }
}
