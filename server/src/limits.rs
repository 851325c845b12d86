//! The BFF's rate limits: fixed windows counted in its store (so a restart forgets nothing),
//! keyed by a hash of the rule and its subject. Refusals carry the seconds to wait.

use std::net::SocketAddr;

use axum::{extract::ConnectInfo, http::request::Parts};
use sha2::{Digest, Sha256};

use crate::store::{SharedStore, StoreError};

/// `max` events per `window_secs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Names the counter.
    pub name: &'static str,
    /// Events allowed per window.
    pub max: i64,
    /// Window length, seconds.
    pub window_secs: i64,
}

/// Verifications one agent may start: enough for a busy desk, not for a script.
pub const PER_AGENT: Rule = Rule {
    name: "agent",
    max: 30,
    window_secs: 600,
};
/// Verifications aimed at one customer, by any agent: stops push bombing from the console.
pub const PER_CUSTOMER: Rule = Rule {
    name: "customer",
    max: 3,
    window_secs: 600,
};
/// Requests to the approval page's actions from one IP address. Wide: mobile carriers put many
/// customers behind one address (CGNAT). The real protection is per request and per session
/// (codes sent and wrong codes, see `approve`) and per customer (at the provider).
pub const PER_APPROVAL_IP: Rule = Rule {
    name: "approval-ip",
    max: 600,
    window_secs: 600,
};
/// One-time codes sent for one request (`auth_req_id`), from all its approval sessions: two
/// sessions' worth. A request lives ten minutes by default.
pub const PER_APPROVAL_REQUEST_CODES: Rule = Rule {
    name: "approval-request-codes",
    max: 6,
    window_secs: 3600,
};

/// Sign-ins started from one IP address. Each one keeps a pending sign-in for ten minutes;
/// the allowance is wide because a call centre's agents often share one address.
pub const PER_LOGIN_IP: Rule = Rule {
    name: "login-ip",
    max: 300,
    window_secs: 600,
};

/// Whom a per-IP limit counts, as the provider counts it ([`provider::net`]): the TCP peer, or
/// behind a trusted reverse proxy the address it appended last to `X-Forwarded-For` (earlier
/// entries are the client's own claims); IPv4-mapped addresses as the IPv4 host they are, IPv6
/// per /64.
pub fn client_address(request: &Parts, trust_forwarded_for: bool) -> String {
    let tcp = request
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    match provider::net::client_ip(tcp, &request.headers, trust_forwarded_for) {
        Some(ip) => provider::net::client_block(ip),
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
    let (key, start, length) = window(rule, subject, now_ms);
    let count = store.count_event(&key, start, start + length).await?;
    Ok(verdict(rule, count, start + length, now_ms))
}

/// What [`hit`] would say about `subject` now, without counting anything: `Err(seconds)` while
/// it is over the limit. For pages that show the wait on a GET.
pub async fn peek(
    store: &SharedStore,
    rule: Rule,
    subject: &str,
    now_ms: i64,
) -> Result<Result<(), u64>, StoreError> {
    let (key, start, length) = window(rule, subject, now_ms);
    let count = store.event_count(&key, start).await?;
    Ok(verdict(rule, count, start + length, now_ms))
}

/// The counter's key, and the start and length (ms) of the window `now_ms` falls in.
fn window(rule: Rule, subject: &str, now_ms: i64) -> (Vec<u8>, i64, i64) {
    let length = rule.window_secs.max(1) * 1000;
    let start = now_ms - now_ms.rem_euclid(length);
    let key = Sha256::digest(format!("{}|{subject}", rule.name).as_bytes()).to_vec();
    (key, start, length)
}

fn verdict(rule: Rule, count: i64, end: i64, now_ms: i64) -> Result<(), u64> {
    if count > rule.max {
        let wait_ms = (end - now_ms).max(1000);
        Err(u64::try_from((wait_ms + 999) / 1000).unwrap_or(1))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::http::Request;

    use super::*;
    use crate::store::MemoryStore;

    #[tokio::test]
    async fn the_limit_holds_per_subject_and_window() {
        let store: SharedStore = Arc::new(MemoryStore::new());
        let t0 = 1_800_000_000_000;
        for _ in 0..3 {
            assert_eq!(
                hit(&store, PER_CUSTOMER, "alice", t0).await.unwrap(),
                Ok(())
            );
        }
        assert_eq!(
            hit(&store, PER_CUSTOMER, "alice", t0 + 1500).await.unwrap(),
            Err(599)
        );
        assert_eq!(hit(&store, PER_CUSTOMER, "bob", t0).await.unwrap(), Ok(()));
        assert_eq!(
            hit(&store, PER_CUSTOMER, "alice", t0 + 600_000)
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
                peek(&store, PER_CUSTOMER, "alice", t0).await.unwrap(),
                Ok(())
            );
            assert_eq!(
                hit(&store, PER_CUSTOMER, "alice", t0).await.unwrap(),
                Ok(())
            );
        }
        // At the limit, not over it: peeking any number of times changes nothing.
        for _ in 0..5 {
            assert_eq!(
                peek(&store, PER_CUSTOMER, "alice", t0).await.unwrap(),
                Ok(())
            );
        }
        assert_eq!(
            hit(&store, PER_CUSTOMER, "alice", t0).await.unwrap(),
            Err(600)
        );
        assert_eq!(
            peek(&store, PER_CUSTOMER, "alice", t0 + 1500)
                .await
                .unwrap(),
            Err(599)
        );
        assert_eq!(peek(&store, PER_CUSTOMER, "bob", t0).await.unwrap(), Ok(()));
        assert_eq!(
            peek(&store, PER_CUSTOMER, "alice", t0 + 600_000)
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
        assert_eq!(
            bad,
            provider::net::client_block("::ffff:192.0.2.7".parse().unwrap())
        );
    }
}
