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
mod tests;
