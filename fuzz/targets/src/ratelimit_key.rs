//! Rate-limit key derivation: the client address Envoy trusts (`source.address`), parsed and
//! grouped by prefix, the key parts, their hash; then a whole local decision on that request.
//! Properties: a parsed address prints as an address that parses to itself; a client key is the
//! address or its network, never the raw text, and grouping is idempotent; the hash is never 0
//! and depends only on the values; a decision is Continue, a 400 or a 429 with a problem body
//! and valid header fields.

use crate::input::{header_list, is_json_with_unique_keys, FIELD};
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::host::{HeaderMap, Host};
use palisade_core::testing::MockHost;
use palisade_core::Decision;
use palisade_core::{PathNormalization, RequestInfo};
use palisade_ratelimit::client_address::{client_key, parse_address, Grouping};
use palisade_ratelimit::config::compile;
use palisade_ratelimit::key::{key_hash, resolve, KeyInputs};
use palisade_ratelimit::limiter::{Limiter, RequestLimiter};
use std::net::IpAddr;
use std::rc::Rc;

const CONFIG: &str = r#"{"slots": 16,
  "response_headers": {"ietf": true, "legacy": true, "on_allowed": true},
  "rules": [
    {"name": "per-user", "match": {"prefix": "/api/"}, "key": ["claim:sub", "header:x-tenant", "method"],
     "limits": [{"requests": 2, "per": "1m"}]},
    {"name": "per-ip", "key": ["client_ip", "path", "rule"], "limits": [{"requests": 1, "per": "1h", "burst": 1}],
     "on_missing_key": "deny"}
  ]}"#;

/// First byte: the IPv4 and IPv6 prefixes; then the downstream address, 0xFF, and the header list.
pub fn run(data: &[u8]) {
    let Some((prefixes, rest)) = data.split_first() else {
        return;
    };
    let grouping = Grouping {
        ipv4_prefix: (prefixes & 0x0F) * 2 + 2,
        ipv6_prefix: (prefixes >> 4) * 8 + 8,
    };
    let mut parts = rest.splitn(2, |b| *b == FIELD);
    let address = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let headers = header_list(parts.next().unwrap_or_default());

    let ip = parse_address(&address);
    if let Some(ip) = ip {
        assert_eq!(parse_address(&ip.to_string()), Some(ip), "{address}");
        let key = client_key(ip, grouping);
        let network = key.split('/').next().unwrap_or_default();
        let net: IpAddr = network
            .parse()
            .expect("a client key starts with an address");
        assert_eq!(client_key(net, grouping), key, "grouping is idempotent");
    }

    // A path the core refuses never reaches key derivation.
    let Ok(req) = RequestInfo::read(&headers, &PathNormalization::default()) else {
        return;
    };
    if let Ok(compiled) = compile(CONFIG.as_bytes()) {
        let client = || ip.map(|ip| client_key(ip, grouping));
        let claim = |_: &str| None;
        let inputs = KeyInputs {
            req: &req,
            client_ip: &client,
            claim: &claim,
        };
        for rule in &compiled.rules {
            let entries: Option<Vec<(String, String)>> = resolve(&rule.value.key, &inputs)
                .into_iter()
                .map(|(k, v)| v.map(|v| (k, v)))
                .collect();
            if let Some(entries) = entries {
                let h = key_hash(7, rule.value.index, &entries);
                assert_ne!(h, 0);
                assert_eq!(h, key_hash(7, rule.value.index, &entries));
            }
        }
    }
    decide(&address, &headers);
}

fn decide(address: &str, headers: &[(String, String)]) {
    let host = MockHost::new()
        .at_seconds(1_000_000)
        .with_property("source.address", address.as_bytes());
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    host.set_headers(HeaderMap::Request, &pairs);
    let limiter = Rc::new(Limiter::new(
        &host,
        compile(CONFIG.as_bytes()).expect("the fixed config compiles"),
    ));
    for _ in 0..3 {
        let mut flow = RequestLimiter::new(Rc::clone(&limiter), 1);
        match flow.on_request_headers(&host) {
            Decision::Continue | Decision::Pause => {}
            Decision::Deny(d) => {
                assert!(d.status == 429 || d.status == 400, "{}", d.status);
                assert!(is_json_with_unique_keys(&d.problem.to_body()));
                for (n, v) in &d.headers {
                    assert!(is_valid_name(n) && is_valid_value(v), "{n}: {v}");
                }
            }
        }
        host.set_headers(HeaderMap::Response, &[(":status", "200")]);
        flow.on_response_headers(&host);
        for (n, v) in host.headers(HeaderMap::Response) {
            if n.starts_with(':') {
                continue;
            }
            assert!(is_valid_name(&n) && is_valid_value(&v), "{n}: {v}");
        }
    }
}
