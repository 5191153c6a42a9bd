//! Rate-limit key derivation: the client address from `x-forwarded-for` (trusted hops) or Envoy's
//! downstream address, the key parts, their hash; then a whole local decision on that request.
//! Properties: the client is one trimmed XFF entry or the downstream address without its port;
//! the hash is never 0 and depends only on the values; a decision is Continue or a 429 with a
//! problem body and valid header fields.

use crate::input::{header_list, is_json_with_unique_keys, FIELD};
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::host::{HeaderMap, Host};
use palisade_core::testing::MockHost;
use palisade_core::Decision;
use palisade_core::{PathNormalization, RequestInfo};
use palisade_ratelimit::config::compile;
use palisade_ratelimit::key::{client_ip, key_hash, resolve};
use palisade_ratelimit::limiter::{Limiter, RequestLimiter};
use std::rc::Rc;

const CONFIG: &str = r#"{"xff_num_trusted_hops": 2, "slots": 16,
  "response_headers": {"ietf": true, "legacy": true, "on_allowed": true},
  "rules": [
    {"name": "per-user", "match": {"prefix": "/api/"}, "key": ["claim:sub", "header:x-tenant", "method"],
     "limits": [{"requests": 2, "per": "1m"}]},
    {"name": "per-ip", "key": ["client_ip", "path", "rule"], "limits": [{"requests": 1, "per": "1h", "burst": 1}]}
  ]}"#;

/// First byte: trusted hops (0..=3); then the downstream address, 0xFF, and the header list.
pub fn run(data: &[u8]) {
    let Some((hops, rest)) = data.split_first() else {
        return;
    };
    let hops = u32::from(hops % 4);
    let mut parts = rest.splitn(2, |b| *b == FIELD);
    let address = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let headers = header_list(parts.next().unwrap_or_default());
    // A path the core refuses never reaches key derivation.
    let Ok(req) = RequestInfo::read(&headers, &PathNormalization::default()) else {
        return;
    };

    let ip = client_ip(&req, Some(&address), hops);
    let xff: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-forwarded-for")
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    let ip = ip.expect("a downstream address always gives a client");
    assert!(
        xff.contains(&ip.as_str()) || address.contains(ip.as_str()),
        "client `{ip}` is neither an XFF entry nor the downstream address `{address}`"
    );
    if hops == 0 {
        assert!(
            address.contains(ip.as_str()),
            "no trusted hop: the downstream address"
        );
    }
    assert_eq!(client_ip(&req, None, 0), None);

    if let Ok(compiled) = compile(CONFIG.as_bytes()) {
        for rule in &compiled.rules {
            let ip = || Some(ip.clone());
            if let Some(entries) = resolve(&rule.value.key, &req, &ip) {
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
                assert_eq!(d.status, 429);
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
