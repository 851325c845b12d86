use std::time::Duration;

use infra::rate::{format_rule, parse_rule};

use super::*;

#[test]
fn ipv6_addresses_count_per_64_block() {
    let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
    let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
    let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(block(a), block(b));
    assert_ne!(block(a), block(c));
    assert_eq!(block("192.0.2.7".parse().unwrap()), "192.0.2.7");
}

#[test]
fn case_31_ipv4_mapped_clients_are_counted_per_host() {
    let ip = |text: &str| -> IpAddr { text.parse().unwrap() };
    let limiter_key = |text: &str| format!("ip:{}", block(ip(text)));
    assert_eq!(limiter_key("::ffff:192.0.2.7"), "ip:192.0.2.7");
    assert_ne!(
        limiter_key("::ffff:192.0.2.7"),
        limiter_key("::ffff:192.0.2.8")
    );
    assert_ne!(
        limiter_key("::ffff:192.0.2.7"),
        limiter_key("::ffff:127.0.0.1")
    );
    assert_eq!(limiter_key("::ffff:192.0.2.7"), limiter_key("192.0.2.7"));
}

#[test]
fn every_default_rule_reads_back_as_written() {
    for rule in Limits::default().rules_mut() {
        assert_eq!(
            parse_rule(&format_rule(rule.1)),
            Ok((rule.1.max, rule.1.window))
        );
    }
}

#[test]
fn every_provider_limit_is_configurable_and_a_bad_one_is_named() {
    let limits = Limits::from_lookup(&|name: &str| {
        (name == "COUNTERSIGN_PROVIDER_LIMIT_BACKCHANNEL_PER_CLIENT")
            .then(|| "100000/1m".to_owned())
    })
    .unwrap();
    assert_eq!(limits.backchannel_per_client.max, 100_000);
    assert_eq!(
        limits.backchannel_per_user,
        Limits::default().backchannel_per_user
    );
    let mut defaults = Limits::default();
    let variables: Vec<&str> = defaults.rules_mut().iter().map(|(v, _)| *v).collect();
    for variable in &variables {
        let error =
            Limits::from_lookup(&|name: &str| (name == *variable).then(|| "lots".to_owned()))
                .unwrap_err();
        assert_eq!(error.variable, *variable);
        let limits =
            Limits::from_lookup(&|name: &str| (name == *variable).then(|| "7/7h".to_owned()))
                .unwrap();
        let mut limits = limits;
        let changed = limits
            .rules_mut()
            .into_iter()
            .filter(|(_, rule)| rule.max == 7 && rule.window == Duration::from_secs(7 * 3600))
            .count();
        assert_eq!(changed, 1, "{variable}");
    }
    let mut unique = variables.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), variables.len());
}

#[test]
fn defaults_are_sane() {
    let limits = Limits::default();
    for rule in [
        limits.backchannel_per_client,
        limits.backchannel_per_user,
        limits.sms_per_number,
        limits.codes_per_user,
        limits.wrong_codes_per_user,
        limits.client_failures_per_ip,
        limits.sign_in_failures_per_ip,
        limits.sign_in_failures_per_account,
        limits.sign_in_failures_per_account_total,
        limits.sign_in_failures_per_device,
    ] {
        assert!(rule.max > 0 && !rule.window.is_zero(), "{rule:?}");
    }
    // More wrong guesses than one code allows would make the per-code cap pointless;
    // fewer would lock people out after a single re-send.
    assert!(i64::from(limits.wrong_codes_per_user.max) > crate::http::otp::MAX_ATTEMPTS);
}
