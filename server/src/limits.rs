//! The BFF's rate limits: fixed windows counted in its store (so a restart forgets nothing),
//! keyed by a hash of the rule and its subject. Refusals carry the seconds to wait.

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, http::request::Parts};
pub use infra::rate::Rule;
use infra::{
    clock::Timestamp,
    config::ConfigError,
    net,
    rate::{Window, counter_name, read_rules},
};
use sha2::{Digest, Sha256};

use crate::store::{RateStore, StoreError};

/// The BFF's rate limits. [`BffLimits::default`] holds the values meant for production; each is
/// set by a `COUNTERSIGN_LIMIT_…` variable ([`BffLimits::rules_mut`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BffLimits {
    /// Verifications one agent may start: enough for a busy desk, not for a script.
    pub starts_per_agent: Rule,
    /// Verifications aimed at one customer, by any agent: stops push bombing from the console.
    pub starts_per_customer: Rule,
    /// Requests to the approval page's actions from one IP address. Wide: mobile carriers put
    /// many customers behind one address (CGNAT). The real protection is per request and per
    /// session (codes sent and wrong codes, see `approve`) and per customer (at the provider).
    pub approval_per_ip: Rule,
    /// One-time codes sent for one request (`auth_req_id`), from all its approval sessions:
    /// two sessions' worth. A request lives ten minutes by default.
    pub codes_per_request: Rule,
    /// Sign-ins started from one IP address. Each one keeps a pending sign-in for ten
    /// minutes; the allowance is wide because a call centre's agents often share one address.
    pub sign_ins_per_ip: Rule,
}

impl Default for BffLimits {
    fn default() -> Self {
        Self {
            starts_per_agent: Rule::new("agent", 30, 600),
            starts_per_customer: Rule::new("customer", 3, 600),
            approval_per_ip: Rule::new("approval-ip", 600, 600),
            codes_per_request: Rule::new("approval-request-codes", 6, 3600),
            sign_ins_per_ip: Rule::new("login-ip", 300, 600),
        }
    }
}

impl BffLimits {
    /// Every rule with the variable that sets it (in a TOML file, the key of the same name
    /// under `[limit]`).
    pub fn rules_mut(&mut self) -> [(&'static str, &mut Rule); 5] {
        [
            (
                "COUNTERSIGN_LIMIT_STARTS_PER_AGENT",
                &mut self.starts_per_agent,
            ),
            (
                "COUNTERSIGN_LIMIT_STARTS_PER_CUSTOMER",
                &mut self.starts_per_customer,
            ),
            (
                "COUNTERSIGN_LIMIT_APPROVAL_PER_IP",
                &mut self.approval_per_ip,
            ),
            (
                "COUNTERSIGN_LIMIT_CODES_PER_REQUEST",
                &mut self.codes_per_request,
            ),
            (
                "COUNTERSIGN_LIMIT_SIGN_INS_PER_IP",
                &mut self.sign_ins_per_ip,
            ),
        ]
    }

    /// The defaults, with every rule that `lookup` sets replaced; a bad value is an error
    /// naming its variable.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut limits = Self::default();
        read_rules(lookup, limits.rules_mut())?;
        Ok(limits)
    }
}

/// Whom a per-IP limit counts, as the provider counts it ([`infra::net`]): the TCP peer, or
/// behind a trusted reverse proxy the address it appended last to `X-Forwarded-For` (earlier
/// entries are the client's own claims); IPv4-mapped addresses as the IPv4 host they are, IPv6
/// per /64.
pub fn client_address(request: &Parts, trust_forwarded_for: bool) -> String {
    let tcp = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match net::client_ip(tcp, &request.headers, trust_forwarded_for) {
        Some(ip) => net::client_block(ip),
        None => "unknown".to_owned(),
    }
}

/// What a limit says: `Ok(Ok(()))` within it, `Ok(Err(seconds))` to wait while over it, `Err`
/// when the store could not count.
pub type Verdict = Result<Result<(), u64>, StoreError>;

/// Counts one event for `subject` under `rule` at `now_ms`; `Err(seconds)` once over the limit.
pub async fn hit(store: &dyn RateStore, rule: Rule, subject: &str, now_ms: i64) -> Verdict {
    let (key, window) = counter(rule, subject, now_ms);
    let count = store.count_event(&key, window.start, window.end).await?;
    Ok(window.verdict(rule, count, Timestamp(now_ms)))
}

impl crate::Bff {
    /// [`hit`] on the BFF's store, a refusal counted under the rule's name in the metrics.
    pub(crate) async fn hit_limit(&self, rule: Rule, subject: &str, now_ms: i64) -> Verdict {
        let verdict = hit(&*self.store, rule, subject, now_ms).await;
        if matches!(verdict, Ok(Err(_))) {
            self.metrics.refused(rule.name);
        }
        verdict
    }
}

/// What [`hit`] would say about `subject` now, without counting anything: `Err(seconds)` while
/// it is over the limit. For pages that show the wait on a GET.
pub async fn peek(store: &dyn RateStore, rule: Rule, subject: &str, now_ms: i64) -> Verdict {
    let (key, window) = counter(rule, subject, now_ms);
    let count = store.event_count(&key, window.start).await?;
    Ok(window.verdict(rule, count, Timestamp(now_ms)))
}

/// The counter's key and the window `now_ms` falls in (the provider's windowing).
fn counter(rule: Rule, subject: &str, now_ms: i64) -> (Vec<u8>, Window) {
    let key = Sha256::digest(counter_name(rule, subject).as_bytes()).to_vec();
    (key, Window::of(rule, Timestamp(now_ms)))
}

#[cfg(test)]
mod tests;
