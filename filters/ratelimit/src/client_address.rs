//! The client address as a budget key: the address Envoy trusts (`source.address`, which the
//! HTTP connection manager derives from the connection, `use_remote_address` and
//! `xff_num_trusted_hops`), parsed as an IP address and widened to its network.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// How many leading bits of an address make one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grouping {
    /// IPv4 prefix length (default 32: one address).
    pub ipv4_prefix: u8,
    /// IPv6 prefix length (default 64: one host usually holds a whole /64).
    pub ipv6_prefix: u8,
}

impl Default for Grouping {
    fn default() -> Self {
        Self {
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        }
    }
}

/// An address as Envoy writes it (`1.2.3.4:80`, `[::1]:80`) or as an `x-forwarded-for` entry
/// (`1.2.3.4`, `::1`); IPv4-mapped IPv6 is IPv4. Anything else (names, garbage) is `None`.
pub fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (ip, after) = rest.split_once(']')?;
        if !after.is_empty() && !is_port(after.strip_prefix(':')?) {
            return None;
        }
        return ip
            .parse::<Ipv6Addr>()
            .ok()
            .map(|v6| IpAddr::V6(v6).to_canonical());
    }
    let (ip, port) = text.rsplit_once(':')?;
    if !is_port(port) {
        return None;
    }
    ip.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The key of a client: its address when the prefix is the whole address, else its network as
/// `network/prefix` (`2001:db8:1:2::/64`). Never the text the address came in.
pub fn client_key(ip: IpAddr, grouping: Grouping) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let prefix = grouping.ipv4_prefix.min(32);
            if prefix == 32 {
                return v4.to_string();
            }
            let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
            format!("{}/{prefix}", Ipv4Addr::from(u32::from(v4) & mask))
        }
        IpAddr::V6(v6) => {
            let prefix = grouping.ipv6_prefix.min(128);
            if prefix == 128 {
                return v6.to_string();
            }
            let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
            format!("{}/{prefix}", Ipv6Addr::from(u128::from(v6) & mask))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str, grouping: Grouping) -> Option<String> {
        parse_address(text).map(|ip| client_key(ip, grouping))
    }

    #[test]
    fn envoy_and_forwarded_forms_parse_with_ports_stripped() {
        let g = Grouping {
            ipv4_prefix: 32,
            ipv6_prefix: 128,
        };
        assert_eq!(key("10.0.0.1:4242", g).as_deref(), Some("10.0.0.1"));
        assert_eq!(key(" 10.0.0.1 ", g).as_deref(), Some("10.0.0.1"));
        assert_eq!(key("[2001:db8::1]:443", g).as_deref(), Some("2001:db8::1"));
        assert_eq!(key("[2001:db8::1]", g).as_deref(), Some("2001:db8::1"));
        assert_eq!(key("::1", g).as_deref(), Some("::1"));
        assert_eq!(key("[::1]:0", g).as_deref(), Some("::1"));
        // The same address in another spelling is the same client.
        assert_eq!(
            key("[2001:0DB8:0:0::1]:1", g).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(
            key("[::ffff:192.0.2.7]:80", g).as_deref(),
            Some("192.0.2.7")
        );
    }

    #[test]
    fn garbage_is_no_address() {
        for bad in [
            "",
            "unknown",
            "example.com:80",
            "1.2.3.4:",
            "1.2.3.4:99999999",
            "1.2.3",
            "[::1",
            "[::1]x",
            "[1.2.3.4]:80",
            "::1:80:x",
            "1.2.3.4, 5.6.7.8",
        ] {
            assert_eq!(parse_address(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ipv6_clients_are_grouped_by_their_prefix() {
        let g = Grouping::default();
        let a = key("[2001:db8:1:2:aaaa::1]:1", g).unwrap();
        let b = key("2001:db8:1:2:ffff:ffff:ffff:ffff", g).unwrap();
        let other = key("2001:db8:1:3::1", g).unwrap();
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(a, b, "one /64, one budget");
        assert_ne!(a, other);
        assert_eq!(key("10.1.2.3", g).as_deref(), Some("10.1.2.3"));
        let wide = Grouping {
            ipv4_prefix: 24,
            ipv6_prefix: 48,
        };
        assert_eq!(key("10.1.2.3", wide).as_deref(), Some("10.1.2.0/24"));
        assert_eq!(
            key("2001:db8:1:3::1", wide).as_deref(),
            Some("2001:db8:1::/48")
        );
        let all = Grouping {
            ipv4_prefix: 0,
            ipv6_prefix: 0,
        };
        assert_eq!(key("10.1.2.3", all).as_deref(), Some("0.0.0.0/0"));
        assert_eq!(key("::1", all).as_deref(), Some("::/0"));
    }
}
