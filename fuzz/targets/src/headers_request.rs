//! The headers filter's request checks: limits, malformed names and values, methods, stripping,
//! the HTTPS decision. Properties: a request that passes has only valid names; what is stripped is
//! lower-case, once each, never a header Envoy needs; a refusal is a 4xx with a problem body.

use crate::input::{header_list, is_json_with_unique_keys, selector};
use palisade_core::headers::is_valid_name;
use palisade_headers::config::compile;
use palisade_headers::policy::RequestPolicy;
use palisade_headers::request::{arrived_over_https, check_request, FORWARDED_PROTO, PROTECTED};

const STRICT: &str = r#"{"request": {"allowed_methods": ["GET", "POST"], "max_header_count": 8,
    "max_header_bytes": 256, "strip": ["x-internal-*", "x-request-*"], "trust_forwarded_proto": true}}"#;

thread_local! {
    static POLICIES: Vec<RequestPolicy> = [ "{}", STRICT ]
        .iter()
        .filter_map(|c| compile(c.as_bytes()).ok())
        .map(|c| c.default.request.clone())
        .collect();
}

/// First byte: TLS or not; the rest: the header list (pseudo-headers included).
pub fn run(data: &[u8]) {
    let (tls, rest) = selector(data);
    let headers = header_list(rest);
    let tls = (tls & 1 == 1).then_some(b"TLSv1.3".as_slice());
    POLICIES.with(|policies| {
        assert_eq!(policies.len(), 2, "both policies compile");
        for policy in policies {
            match check_request(policy, &headers) {
                Ok(edits) => {
                    assert!(headers.iter().all(|(n, _)| is_valid_name(n)));
                    for (i, name) in edits.strip.iter().enumerate() {
                        assert_eq!(*name, name.to_ascii_lowercase());
                        assert!(!PROTECTED.contains(&name.as_str()), "strips `{name}`");
                        assert_ne!(name, FORWARDED_PROTO);
                        assert!(!edits.strip.iter().skip(i + 1).any(|n| n == name));
                    }
                }
                Err(rejection) => {
                    let denial = rejection.to_denial();
                    assert!((400..500).contains(&denial.status), "{}", denial.status);
                    assert!(is_json_with_unique_keys(&denial.problem.to_body()));
                    assert!(!rejection.reason().is_empty());
                }
            }
            let https = arrived_over_https(policy, tls, &headers);
            if tls.is_some() {
                assert!(https);
            }
            if !policy.trust_forwarded_proto {
                assert_eq!(https, tls.is_some());
            }
        }
    });
}
