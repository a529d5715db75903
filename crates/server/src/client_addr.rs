//! The client address of a request, for rate limits: the connection's peer, or,
//! when the peer is a trusted reverse proxy (`trusted_proxies`), the address the
//! proxies recorded in `Forwarded` (RFC 7239) or `X-Forwarded-For`, read from the
//! right: the nearest hop that is not itself a trusted proxy. Any other peer's
//! forwarding headers are ignored, so a client cannot choose its own address.
//! IPv6 clients are grouped by /64, the block one subscriber usually holds.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// A client for rate limiting: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// The client of `ip`: IPv4 (also when mapped into IPv6) as is, IPv6 by /64.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let bits = u128::from(v6) & (u128::MAX << 64);
                Self(IpAddr::V6(Ipv6Addr::from(bits)))
            }
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// The client address of a request (an extractor).
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub ClientAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
        Ok(Self(ClientAddr::of(client_ip(peer, &parts.headers, &state.config.trusted_proxies.0))))
    }
}

/// The client's address: `peer` unless it is a trusted proxy; then the rightmost
/// hop of `Forwarded` (or, without it, `X-Forwarded-For`) that is not a trusted
/// proxy. A hop that is not an address (`unknown`, an obfuscated name, garbage)
/// ends the walk at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
    if !is_trusted(&peer) {
        return peer;
    }
    let hops = if headers.contains_key("forwarded") { forwarded_hops(headers) } else { x_forwarded_for(headers) };
    let mut client = peer;
    for hop in hops.iter().rev() {
        let Some(ip) = hop else { return client };
        client = *ip;
        if !is_trusted(ip) {
            return client;
        }
    }
    client
}

/// The hops of every `X-Forwarded-For` header, left to right (`None`: not an address).
fn x_forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|v| v.to_str().map_or_else(|_| vec![None], |s| s.split(',').map(parse_node).collect()))
        .collect()
}

/// The `for=` hops of every `Forwarded` header, left to right.
fn forwarded_hops(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let mut hops = Vec::new();
    for value in headers.get_all("forwarded") {
        let Ok(value) = value.to_str() else {
            hops.push(None);
            continue;
        };
        for element in value.split(',') {
            let node = element.split(';').find_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                name.trim().eq_ignore_ascii_case("for").then_some(value.trim())
            });
            // An element without `for` says nothing about the client: a break.
            hops.push(node.and_then(|n| parse_node(n.trim_matches('"'))));
        }
    }
    hops
}

/// One node: `192.0.2.1`, `192.0.2.1:4711`, `[2001:db8::1]`, `[2001:db8::1]:4711`
/// or a bare IPv6 address (as `X-Forwarded-For` writes it).
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim();
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Some(rest) = node.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok()).map(IpAddr::V6);
    }
    node.parse::<SocketAddr>().ok().map(|s| s.ip())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn trusted() -> Vec<IpNet> {
        vec!["10.0.0.0/8".parse().unwrap(), "2001:db8:ffff::/48".parse().unwrap()]
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=1.2.3.4")]);
        assert_eq!(client_ip(ip("203.0.113.9"), &h, &trusted()), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &[]), ip("10.0.0.1"));
    }

    #[test]
    fn x_forwarded_for_is_read_from_the_right_past_trusted_hops() {
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("198.51.100.7"));
        // Several headers are one list, in order.
        let h = headers(&[("x-forwarded-for", "6.6.6.6"), ("x-forwarded-for", "198.51.100.8")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("198.51.100.8"));
        // Only trusted hops: the leftmost one.
        let h = headers(&[("x-forwarded-for", "10.9.9.9, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("10.9.9.9"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, garbage, 10.1.1.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("10.1.1.1"));
        // No header: the proxy itself.
        assert_eq!(client_ip(ip("10.0.0.1"), &HeaderMap::new(), &trusted()), ip("10.0.0.1"));
    }

    #[test]
    fn forwarded_wins_over_x_forwarded_for_and_reads_ports_and_brackets() {
        let h = headers(&[
            ("forwarded", r#"for=6.6.6.6, for="[2001:db8:1:2::9]:4711";proto=https, for=10.2.2.2"#),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("2001:db8:1:2::9"));
        let h = headers(&[("forwarded", "for=198.51.100.7:8080;by=10.0.0.1")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("198.51.100.7"));
        let h = headers(&[("forwarded", "for=unknown, for=10.2.2.2")]);
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted()), ip("10.2.2.2"));
    }

    #[test]
    fn ipv6_clients_are_grouped_by_64_and_mapped_ipv4_is_ipv4() {
        let a = ClientAddr::of(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddr::of(ip("2001:db8:1:2:bbbb::2"));
        let c = ClientAddr::of(ip("2001:db8:1:3::1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
        assert_eq!(ClientAddr::of(ip("::ffff:192.0.2.1")).to_string(), "192.0.2.1");
    }
}
