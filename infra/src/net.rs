//! Client addresses, as the provider's and the BFF's per-address limits count them.
//!
//! Both sides call these functions, so they agree on who a client is:
//!
//! - [`client_ip`]: the TCP peer, or behind a trusted reverse proxy the address it appended last
//!   to `X-Forwarded-For` (earlier entries are the client's own claims).
//! - [`canonical`]: an IPv4 client on a dual-stack listener (`[::]:3001`) arrives as
//!   `::ffff:a.b.c.d`; it is counted as `a.b.c.d`, the host it is, not as one member of the
//!   `::ffff:0:0/96` block that holds every IPv4 host.
//! - [`client_block`]: what one counter covers: the IPv4 address, or the /64 of an IPv6 one
//!   (the block one host usually holds).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use axum::http::HeaderMap;

/// `ip` with an IPv4 host written as IPv4: IPv4-mapped addresses (`::ffff:a.b.c.d`, what a
/// dual-stack socket reports for an IPv4 peer) and the deprecated IPv4-compatible ones
/// (`::a.b.c.d`) become `a.b.c.d`. `::` and `::1` stay IPv6: they are not IPv4 hosts.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match ipv4_inside(v6) {
            Some(v4) => IpAddr::V4(v4),
            None => ip,
        },
    }
}

fn ipv4_inside(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let [a, b, c, d, e, f, ..] = v6.segments();
    let compatible = [a, b, c, d, e, f] == [0; 6] && !v6.is_unspecified() && !v6.is_loopback();
    compatible.then(|| v6.to_ipv4()).flatten()
}

/// The block one per-address counter covers: the IPv4 address (also when it arrived
/// IPv4-mapped), or `a:b:c:d::/64` for an IPv6 address.
pub fn client_block(ip: IpAddr) -> String {
    match canonical(ip) {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
    }
}

/// The last address of the last `X-Forwarded-For` header: the one the trusted proxy appended.
pub fn forwarded_for(headers: &HeaderMap) -> Option<IpAddr> {
    let last = headers.get_all("x-forwarded-for").iter().next_back()?;
    last.to_str().ok()?.rsplit(',').next()?.trim().parse().ok()
}

/// The client's address, [`canonical`]: behind a trusted proxy (`trust_forwarded_for`) the
/// address it appended to `X-Forwarded-For`, else (or when that header holds no address) the
/// TCP peer `tcp`.
pub fn client_ip(
    tcp: Option<IpAddr>,
    headers: &HeaderMap,
    trust_forwarded_for: bool,
) -> Option<IpAddr> {
    trust_forwarded_for
        .then(|| forwarded_for(headers))
        .flatten()
        .or(tcp)
        .map(canonical)
}

#[cfg(test)]
mod tests {
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
}
