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

use crate::store::{SharedStore, StoreError};

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

/// Counts one event for `subject` under `rule` at `now_ms`; `Err(seconds)` once over the limit.
pub async fn hit(
    store: &SharedStore,
    rule: Rule,
    subject: &str,
    now_ms: i64,
) -> Result<Result<(), u64>, StoreError> {
    let (key, window) = counter(rule, subject, now_ms);
    let count = store.count_event(&key, window.start, window.end).await?;
    Ok(verdict(rule, count, window, now_ms))
}

/// What [`hit`] would say about `subject` now, without counting anything: `Err(seconds)` while
/// it is over the limit. For pages that show the wait on a GET.
pub async fn peek(
    store: &SharedStore,
    rule: Rule,
    subject: &str,
    now_ms: i64,
) -> Result<Result<(), u64>, StoreError> {
    let (key, window) = counter(rule, subject, now_ms);
    let count = store.event_count(&key, window.start).await?;
    Ok(verdict(rule, count, window, now_ms))
}

/// The counter's key and the window `now_ms` falls in (the provider's windowing).
fn counter(rule: Rule, subject: &str, now_ms: i64) -> (Vec<u8>, Window) {
    let key = Sha256::digest(counter_name(rule, subject).as_bytes()).to_vec();
    (key, Window::of(rule, Timestamp(now_ms)))
}

fn verdict(rule: Rule, count: i64, window: Window, now_ms: i64) -> Result<(), u64> {
    if Window::over(rule, count) {
        Err(window.retry_after(Timestamp(now_ms)))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::Request;

    use std::time::Duration;

    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn every_bff_limit_is_configurable_and_a_bad_one_is_named() {
        let mut defaults = BffLimits::default();
        for (variable, _) in defaults.rules_mut() {
            let error =
                BffLimits::from_lookup(&|name: &str| (name == variable).then(|| "0/1m".to_owned()))
                    .unwrap_err();
            assert_eq!(error.variable, variable);
            let mut limits =
                BffLimits::from_lookup(&|name: &str| (name == variable).then(|| "9/9m".to_owned()))
                    .unwrap();
            let changed = limits
                .rules_mut()
                .into_iter()
                .filter(|(_, rule)| rule.max == 9 && rule.window == Duration::from_secs(540))
                .count();
            assert_eq!(changed, 1, "{variable}");
        }
    }

    #[tokio::test]
    async fn the_limit_holds_per_subject_and_window() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let t0 = 1_800_000_000_000;
        for _ in 0..3 {
            assert_eq!(
                hit(
                    &store,
                    BffLimits::default().starts_per_customer,
                    "alice",
                    t0
                )
                .await
                .unwrap(),
                Ok(())
            );
        }
        assert_eq!(
            hit(
                &store,
                BffLimits::default().starts_per_customer,
                "alice",
                t0 + 1500
            )
            .await
            .unwrap(),
            Err(599)
        );
        assert_eq!(
            hit(&store, BffLimits::default().starts_per_customer, "bob", t0)
                .await
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            hit(
                &store,
                BffLimits::default().starts_per_customer,
                "alice",
                t0 + 600_000
            )
            .await
            .unwrap(),
            Ok(())
        );
    }

    #[tokio::test]
    async fn peeking_tells_the_wait_without_counting() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let t0 = 1_800_000_000_000;
        for _ in 0..3 {
            assert_eq!(
                peek(
                    &store,
                    BffLimits::default().starts_per_customer,
                    "alice",
                    t0
                )
                .await
                .unwrap(),
                Ok(())
            );
            assert_eq!(
                hit(
                    &store,
                    BffLimits::default().starts_per_customer,
                    "alice",
                    t0
                )
                .await
                .unwrap(),
                Ok(())
            );
        }
        // At the limit, not over it: peeking any number of times changes nothing.
        for _ in 0..5 {
            assert_eq!(
                peek(
                    &store,
                    BffLimits::default().starts_per_customer,
                    "alice",
                    t0
                )
                .await
                .unwrap(),
                Ok(())
            );
        }
        assert_eq!(
            hit(
                &store,
                BffLimits::default().starts_per_customer,
                "alice",
                t0
            )
            .await
            .unwrap(),
            Err(600)
        );
        assert_eq!(
            peek(
                &store,
                BffLimits::default().starts_per_customer,
                "alice",
                t0 + 1500
            )
            .await
            .unwrap(),
            Err(599)
        );
        assert_eq!(
            peek(&store, BffLimits::default().starts_per_customer, "bob", t0)
                .await
                .unwrap(),
            Ok(())
        );
        assert_eq!(
            peek(
                &store,
                BffLimits::default().starts_per_customer,
                "alice",
                t0 + 600_000
            )
            .await
            .unwrap(),
            Ok(())
        );
    }

    #[test]
    fn the_rate_limit_counts_the_peer_address() {
        let parts = |addr: Option<&str>| {
            let mut request = Request::new(());
            if let Some(addr) = addr {
                let addr: SocketAddr = addr.parse().unwrap();
                request.extensions_mut().insert(ConnectInfo(addr));
            }
            request.into_parts().0
        };
        assert_eq!(
            client_address(&parts(Some("10.1.2.3:4000")), false),
            "10.1.2.3"
        );
        let mut proxied = parts(Some("10.1.2.3:4000"));
        proxied.headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("6.6.6.6, 203.0.113.9"),
        );
        assert_eq!(client_address(&proxied, true), "203.0.113.9");
        assert_eq!(client_address(&proxied, false), "10.1.2.3");
        assert_eq!(
            client_address(&parts(Some("[2001:db8:1:2:3:4:5:6]:443")), false),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            client_address(&parts(Some("[::ffff:10.0.0.1]:443")), false),
            "10.0.0.1"
        );
        assert_eq!(client_address(&parts(None), false), "unknown");
        // Behind a proxy the forwarded address is unmapped too.
        let mut mapped = parts(Some("127.0.0.1:4000"));
        mapped.headers.insert(
            "x-forwarded-for",
            axum::http::HeaderValue::from_static("::ffff:203.0.113.9"),
        );
        assert_eq!(client_address(&mapped, true), "203.0.113.9");
    }

    #[test]
    fn case_31_the_bff_counts_ipv4_hosts_on_a_dual_stack_listener_apart() {
        let at = |addr: &str| {
            let mut request = Request::new(());
            let addr: SocketAddr = addr.parse().unwrap();
            request.extensions_mut().insert(ConnectInfo(addr));
            client_address(&request.into_parts().0, false)
        };
        let bad = at("[::ffff:192.0.2.7]:5000");
        assert_eq!(bad, "192.0.2.7");
        assert_ne!(bad, at("[::ffff:192.0.2.8]:5000"));
        assert_ne!(bad, at("[::ffff:127.0.0.1]:5000"));
        // One function decides for the BFF and the provider.
        assert_eq!(bad, net::client_block("::ffff:192.0.2.7".parse().unwrap()));
    }
}
