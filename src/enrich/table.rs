//! Longest-prefix lookups of IP addresses in CIDR tables (prefix tries), shared by threat
//! lists and the asset inventory.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use prefix_trie::PrefixMap;
use std::net::IpAddr;

/// CIDR → value, with longest-prefix match.
pub struct IpTable<T> {
    v4: PrefixMap<Ipv4Net, T>,
    v6: PrefixMap<Ipv6Net, T>,
    len: usize,
}

impl<T> Default for IpTable<T> {
    fn default() -> Self {
        IpTable {
            v4: PrefixMap::new(),
            v6: PrefixMap::new(),
            len: 0,
        }
    }
}

/// An address or a CIDR (`10.0.0.0/8`, `2001:db8::/32`, `192.0.2.7`).
pub fn parse_net(s: &str) -> Option<IpNet> {
    let s = s.trim();
    s.parse::<IpNet>()
        .ok()
        .or_else(|| s.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|n| n.trunc())
}

impl<T> IpTable<T> {
    /// Adds (or replaces) a network.
    pub fn insert(&mut self, net: IpNet, value: T) {
        let replaced = match net {
            IpNet::V4(n) => self.v4.insert(n, value).is_some(),
            IpNet::V6(n) => self.v6.insert(n, value).is_some(),
        };
        if !replaced {
            self.len += 1;
        }
    }

    /// The value of the most specific network holding `ip` (IPv4-mapped IPv6 as IPv4).
    pub fn get(&self, ip: IpAddr) -> Option<&T> {
        match ip {
            IpAddr::V4(a) => self.v4.get_lpm(&Ipv4Net::from(a)).map(|(_, v)| v),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => self.v4.get_lpm(&Ipv4Net::from(v4)).map(|(_, v)| v),
                None => self.v6.get_lpm(&Ipv6Net::from(a)).map(|(_, v)| v),
            },
        }
    }

    /// Networks held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_specific_network_wins() {
        let mut t = IpTable::default();
        for (n, v) in [
            ("10.0.0.0/8", 1),
            ("10.1.0.0/16", 2),
            ("10.1.2.3", 3),
            ("2001:db8::/32", 4),
        ] {
            t.insert(
                parse_net(n).unwrap_or_else(|| IpNet::from(IpAddr::from([0, 0, 0, 0]))),
                v,
            );
        }
        let get = |s: &str| s.parse::<IpAddr>().ok().and_then(|ip| t.get(ip).copied());
        assert_eq!(get("10.9.9.9"), Some(1));
        assert_eq!(get("10.1.9.9"), Some(2));
        assert_eq!(get("10.1.2.3"), Some(3));
        assert_eq!(get("::ffff:10.1.2.3"), Some(3));
        assert_eq!(get("2001:db8::5"), Some(4));
        assert_eq!(get("11.0.0.1"), None);
        assert_eq!(t.len(), 4);
        assert_eq!(parse_net("10.1.2.3/8"), "10.0.0.0/8".parse().ok());
        assert_eq!(parse_net("nonsense"), None);
    }
}
