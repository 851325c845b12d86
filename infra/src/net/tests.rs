use axum::http::HeaderValue;
use proptest::prelude::*;

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn case_31_ipv4_hosts_on_a_dual_stack_listener_are_counted_apart() {
    let (a, b, bff) = (
        ip("::ffff:192.0.2.7"),
        ip("::ffff:192.0.2.8"),
        ip("::ffff:127.0.0.1"),
    );
    assert_eq!(client_block(a), "192.0.2.7");
    assert_ne!(client_block(a), client_block(b));
    assert_ne!(client_block(a), client_block(bff));
    assert_eq!(client_block(bff), "127.0.0.1");
    // The same host over IPv4 and over the dual-stack socket is one client.
    assert_eq!(client_block(a), client_block(ip("192.0.2.7")));
    // IPv4-compatible (deprecated) addresses too; `::` and `::1` are not IPv4 hosts.
    assert_eq!(client_block(ip("::192.0.2.9")), "192.0.2.9");
    assert_eq!(client_block(ip("::1")), "0:0:0:0::/64");
    assert_eq!(canonical(ip("::1")), ip("::1"));
    assert_eq!(canonical(ip("::")), ip("::"));
}

#[test]
fn ipv6_addresses_count_per_64_block() {
    let a = ip("2001:db8:1:2:aaaa::1");
    let b = ip("2001:db8:1:2:bbbb::9");
    let c = ip("2001:db8:1:3::1");
    assert_eq!(client_block(a), client_block(b));
    assert_ne!(client_block(a), client_block(c));
    assert_eq!(client_block(a), "2001:db8:1:2::/64");
}

#[test]
fn the_proxy_appended_address_counts_only_behind_a_trusted_proxy() {
    let tcp = Some(ip("::ffff:10.1.2.3"));
    let mut headers = HeaderMap::new();
    assert_eq!(client_ip(tcp, &headers, true), Some(ip("10.1.2.3")));
    headers.append(
        "x-forwarded-for",
        HeaderValue::from_static("198.51.100.1, ::ffff:203.0.113.9"),
    );
    assert_eq!(client_ip(tcp, &headers, true), Some(ip("203.0.113.9")));
    assert_eq!(client_ip(tcp, &headers, false), Some(ip("10.1.2.3")));
    headers.append("x-forwarded-for", HeaderValue::from_static("nonsense"));
    assert_eq!(client_ip(tcp, &headers, true), Some(ip("10.1.2.3")));
    assert_eq!(client_ip(None, &HeaderMap::new(), true), None);
}

proptest! {
    #[test]
    fn every_ipv4_host_keeps_its_own_block_however_it_arrives(raw in any::<u32>()) {
        let v4 = Ipv4Addr::from(raw);
        let block = client_block(IpAddr::V4(v4));
        prop_assert_eq!(&block, &v4.to_string());
        prop_assert_eq!(&client_block(IpAddr::V6(v4.to_ipv6_mapped())), &block);
    }

    #[test]
    fn ipv6_blocks_depend_only_on_the_first_64_bits(raw in any::<u128>(), low in any::<u64>()) {
        let v6 = Ipv6Addr::from(raw);
        prop_assume!(ipv4_inside(v6).is_none());
        let other = Ipv6Addr::from((raw & !u128::from(u64::MAX)) | u128::from(low));
        prop_assume!(ipv4_inside(other).is_none());
        prop_assert_eq!(client_block(IpAddr::V6(v6)), client_block(IpAddr::V6(other)));
    }
}
