use axum::http::Request;

use std::time::Duration;

use super::*;
use crate::store::SqliteStore;

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
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bff.sqlite"))
        .await
        .unwrap();
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
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("bff.sqlite"))
        .await
        .unwrap();
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
