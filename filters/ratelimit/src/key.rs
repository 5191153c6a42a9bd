//! What a budget belongs to: the parts of a request a rule's key is made of, what happens when
//! one is missing, and the key's hash.

use palisade_core::route::RequestInfo;
use std::hash::{Hash, Hasher};

/// Where a key part's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The client's address as Envoy trusts it, grouped by prefix.
    ClientIp,
    /// A request header.
    Header(String),
    /// A claim of the token the jwt filter verified (read from filter state, never a header).
    Claim(String),
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

/// What a rule does when a key part has no value (no header, no verified claim, no address).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMissingKey {
    /// Every such request shares one budget of the rule (the default: a limit still applies,
    /// and nobody is refused for lacking what the rule keys on).
    #[default]
    Shared,
    /// Refuse the request: 400 problem+json `rate-limit-key-missing`.
    Deny,
    /// The rule does not apply; the next matching rule may (no limit at all if none does).
    Skip,
}

/// The value a missing part has in a shared budget, locally and in RLS descriptors.
pub const MISSING_VALUE: &str = "(missing)";

/// Where the values of a request's key parts come from, each read only when a part needs it.
pub struct KeyInputs<'a> {
    /// The request.
    pub req: &'a RequestInfo<'a>,
    /// The client's key (address grouped by prefix), if Envoy gave a parsable address.
    pub client_ip: &'a dyn Fn() -> Option<String>,
    /// A verified claim as text, if the jwt filter verified a token carrying it.
    pub claim: &'a dyn Fn(&str) -> Option<String>,
}

/// The values of a rule's key parts for a request, as RLS descriptor entries; `None` marks a
/// part without a value.
pub fn resolve(parts: &[KeyPart], inputs: &KeyInputs<'_>) -> Vec<(String, Option<String>)> {
    parts
        .iter()
        .map(|part| {
            let value = match &part.source {
                KeySource::ClientIp => (inputs.client_ip)(),
                KeySource::Header(name) => inputs.req.header(name).map(str::to_string),
                KeySource::Claim(name) => (inputs.claim)(name),
                KeySource::Path => Some(inputs.req.key_path().into_owned()),
                KeySource::Method => Some(inputs.req.method.to_string()),
                KeySource::Rule(name) => Some(name.clone()),
            };
            (part.descriptor_key.clone(), value)
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

    fn headers(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut h = vec![
            (":method".to_string(), "POST".to_string()),
            (":path".to_string(), "/api/x?y=1".to_string()),
            ("x-tenant".to_string(), "acme".to_string()),
        ];
        h.extend(
            extra
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string())),
        );
        h
    }

    #[test]
    fn parts_resolve_from_their_sources_and_missing_ones_are_marked() {
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
            part(KeySource::Claim("sub".into()), "sub"),
            part(KeySource::Rule("r".into()), "generic_key"),
        ];
        let ip = || Some("1.2.3.4".to_string());
        let claim = |name: &str| (name == "sub").then(|| "alice".to_string());
        let inputs = KeyInputs {
            req: &req,
            client_ip: &ip,
            claim: &claim,
        };
        let entries = resolve(&parts, &inputs);
        let values: Vec<Option<&str>> = entries.iter().map(|(_, v)| v.as_deref()).collect();
        assert_eq!(
            values,
            [
                Some("1.2.3.4"),
                Some("/api/x"),
                Some("POST"),
                Some("acme"),
                Some("alice"),
                Some("r")
            ]
        );
        assert_eq!(entries[3].0, "tenant");
        let none = || None;
        let no_claim = |_: &str| None;
        let inputs = KeyInputs {
            req: &req,
            client_ip: &none,
            claim: &no_claim,
        };
        let entries = resolve(&parts, &inputs);
        assert_eq!(entries[0].1, None);
        assert_eq!(entries[4].1, None);
        let no_header = [part(KeySource::Header("x-user".into()), "u")];
        assert_eq!(resolve(&no_header, &inputs)[0].1, None);
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
