//! IP networks as configuration writes them: `10.0.0.0/8`, `2001:db8::/32`, or a single
//! address (a /32 or /128). The type is `ipnet::IpNet`, the one the query language and the
//! rules use too; this adds the two things configuration needs on top of it.

use ipnet::IpNet;
use std::net::IpAddr;

/// A text that is neither a network nor an address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadNetwork {
    #[error("`{0}` is not an IP address or CIDR (the prefix must fit)")]
    Cidr(String),
    #[error("`{0}` is not an IP address or CIDR")]
    Address(String),
}

/// Parses a network or a single address; the error says which text was wrong.
pub fn parse(s: &str) -> Result<IpNet, BadNetwork> {
    let t = s.trim();
    if t.contains('/') {
        return t.parse::<IpNet>().map_err(|_| BadNetwork::Cidr(s.into()));
    }
    t.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| BadNetwork::Address(s.into()))
}

/// True when `ip` is inside `net`; IPv4-mapped IPv6 addresses (`::ffff:10.1.1.1`, as a
/// dual-stack socket reports IPv4 senders) count as IPv4.
pub fn contains(net: &IpNet, ip: IpAddr) -> bool {
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    net.contains(&ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_and_single_addresses() {
        let c = parse("10.0.0.0/8").unwrap();
        assert!(contains(&c, "10.9.8.7".parse().unwrap()));
        assert!(!contains(&c, "11.0.0.1".parse().unwrap()));
        assert!(contains(&c, "::ffff:10.1.1.1".parse().unwrap()));
        let all = parse("0.0.0.0/0").unwrap();
        assert!(contains(&all, "192.0.2.1".parse().unwrap()));
        let one = parse(" 2001:db8::1 ").unwrap();
        assert!(
            contains(&one, "2001:db8::1".parse().unwrap())
                && !contains(&one, "2001:db8::2".parse().unwrap())
        );
        assert!(parse("10.0.0.0/33").is_err() && parse("x/1").is_err() && parse("").is_err());
    }
}
