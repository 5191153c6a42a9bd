//! What a budget belongs to: the parts of a request a rule's key is made of, and its hash.

use palisade_core::route::RequestInfo;
use std::hash::{Hash, Hasher};

/// Where a key part's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The client's IP address.
    ClientIp,
    /// A request header (a JWT claim is the header the jwt filter sets).
    Header(String),
    /// The canonical path without query (lower-case when `path_normalization.case_insensitive`).
    Path,
    /// The method.
    Method,
    /// The rule itself (a constant: one budget for every request of the rule).
    Rule(String),
}

/// A compiled key part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPart {
    /// Where the value comes from.
    pub source: KeySource,
    /// The RLS descriptor entry key it is sent as.
    pub descriptor_key: String,
}

/// The client's IP: the `trusted_hops`-th `x-forwarded-for` entry from the right, or (no hops,
/// or fewer entries) Envoy's downstream address `source_address` without its port.
pub fn client_ip(
    req: &RequestInfo<'_>,
    source_address: Option<&str>,
    trusted_hops: u32,
) -> Option<String> {
    if trusted_hops > 0 {
        let entries: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "x-forwarded-for")
            .flat_map(|(_, v)| v.split(','))
            .map(str::trim)
            .collect();
        let hops = usize::try_from(trusted_hops).unwrap_or(usize::MAX);
        if let Some(i) = entries.len().checked_sub(hops) {
            if let Some(ip) = entries.get(i).filter(|ip| !ip.is_empty()) {
                return Some((*ip).to_string());
            }
        }
    }
    source_address.map(without_port).map(str::to_string)
}

/// `1.2.3.4:5678` → `1.2.3.4`, `[::1]:5678` → `::1`; anything else as it is.
fn without_port(address: &str) -> &str {
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        Some((ip, port)) if !ip.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => ip,
        _ => address,
    }
}

/// The values of a rule's key parts for a request, as RLS descriptor entries; `None` when a part
/// is missing (the rule then does not apply: the next rule may).
pub fn resolve(
    parts: &[KeyPart],
    req: &RequestInfo<'_>,
    client_ip: &dyn Fn() -> Option<String>,
) -> Option<Vec<(String, String)>> {
    parts
        .iter()
        .map(|part| {
            let value = match &part.source {
                KeySource::ClientIp => client_ip()?,
                KeySource::Header(name) => req.header(name)?.to_string(),
                KeySource::Path => req.key_path().into_owned(),
                KeySource::Method => req.method.to_string(),
                KeySource::Rule(name) => name.clone(),
            };
            Some((part.descriptor_key.clone(), value))
        })
        .collect()
}

/// The 64-bit tag of a key in the slot table, never 0 (0 marks an empty record). Seeded with a
/// per-table random secret, so clients cannot aim collisions at somebody else's slot.
pub fn key_hash(seed: u64, rule_index: usize, entries: &[(String, String)]) -> u64 {
    // SipHash-1-3 (std's); every worker runs the same module, so every worker agrees on it.
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut hasher);
    rule_index.hash(&mut hasher);
    for (_, value) in entries {
        value.hash(&mut hasher);
    }
    hasher.finish().max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(xff: &[&str]) -> Vec<(String, String)> {
        let mut h = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), "/api/x?y=1".to_string()),
            ("x-tenant".to_string(), "acme".to_string()),
        ];
        h.extend(
            xff.iter()
                .map(|v| ("x-forwarded-for".to_string(), (*v).to_string())),
        );
        h
    }

    #[test]
    fn client_ip_comes_from_the_connection_without_hops() {
        let h = headers(&["6.6.6.6"]);
        let req = RequestInfo::from_headers(&h);
        assert_eq!(
            client_ip(&req, Some("10.0.0.1:4242"), 0).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(
            client_ip(&req, Some("[2001:db8::1]:443"), 0).as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(client_ip(&req, Some("::1"), 0).as_deref(), Some("::1"));
        assert_eq!(client_ip(&req, None, 0), None);
    }

    #[test]
    fn client_ip_counts_trusted_hops_from_the_right() {
        // The client spoofs 6.6.6.6; proxy A saw 1.1.1.1, proxy B saw A (2.2.2.2).
        let h = headers(&["6.6.6.6, 1.1.1.1", "2.2.2.2"]);
        let req = RequestInfo::from_headers(&h);
        assert_eq!(
            client_ip(&req, Some("9.9.9.9:1"), 1).as_deref(),
            Some("2.2.2.2")
        );
        assert_eq!(
            client_ip(&req, Some("9.9.9.9:1"), 2).as_deref(),
            Some("1.1.1.1")
        );
        assert_eq!(
            client_ip(&req, Some("9.9.9.9:1"), 3).as_deref(),
            Some("6.6.6.6")
        );
        // Fewer entries than trusted hops: the request did not come through them.
        assert_eq!(
            client_ip(&req, Some("9.9.9.9:1"), 4).as_deref(),
            Some("9.9.9.9")
        );
    }

    #[test]
    fn missing_parts_make_the_key_absent() {
        let h = headers(&[]);
        let req = RequestInfo::from_headers(&h);
        let part = |source, key: &str| KeyPart {
            source,
            descriptor_key: key.to_string(),
        };
        let parts = vec![
            part(KeySource::ClientIp, "remote_address"),
            part(KeySource::Path, "path"),
            part(KeySource::Method, "method"),
            part(KeySource::Header("x-tenant".into()), "tenant"),
            part(KeySource::Rule("r".into()), "generic_key"),
        ];
        let entries = resolve(&parts, &req, &|| Some("1.2.3.4".into())).unwrap();
        let values: Vec<&str> = entries.iter().map(|(_, v)| v.as_str()).collect();
        assert_eq!(values, ["1.2.3.4", "/api/x", "POST", "acme", "r"]);
        assert_eq!(entries[3].0, "tenant");
        assert!(resolve(&parts, &req, &|| None).is_none());
        let no_header = [part(KeySource::Header("x-user".into()), "u")];
        assert!(resolve(&no_header, &req, &|| None).is_none());
    }

    #[test]
    fn hashes_separate_rules_values_and_seeds() {
        let e = |v: &str| vec![("k".to_string(), v.to_string())];
        assert_eq!(key_hash(1, 0, &e("a")), key_hash(1, 0, &e("a")));
        assert_ne!(key_hash(1, 0, &e("a")), key_hash(1, 0, &e("b")));
        assert_ne!(key_hash(1, 0, &e("a")), key_hash(1, 1, &e("a")));
        assert_ne!(key_hash(1, 0, &e("a")), key_hash(2, 0, &e("a")));
        // Part boundaries count: ("ab","c") is not ("a","bc").
        let two = |a: &str, b: &str| {
            vec![
                ("k".to_string(), a.to_string()),
                ("k".to_string(), b.to_string()),
            ]
        };
        assert_ne!(
            key_hash(1, 0, &two("ab", "c")),
            key_hash(1, 0, &two("a", "bc"))
        );
    }
}
