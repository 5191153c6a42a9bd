//! Rate-limit service (RLS v3) answers: protobuf decoding, then the decision the limiter takes on
//! the answer. Properties: the decision is Continue or a 429/503 with a problem body; every header
//! the answer makes the filter add (to the client's response or the upstream request) is valid.

use crate::input::{is_json_with_unique_keys, selector};
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::host::{Body, HeaderMap, Host};
use palisade_core::testing::MockHost;
use palisade_core::Decision;
use palisade_ratelimit::config::compile;
use palisade_ratelimit::limiter::{Limiter, RequestLimiter};
use palisade_ratelimit::rls::decode_response;
use std::rc::Rc;

const CONFIGS: [&str; 2] = [
    // A small slot table: preparing the default 65536 slots dominated every run (2 runs/s).
    r#"{"service": {"cluster": "rls", "domain": "palisade"}, "slots": 16,
        "response_headers": {"ietf": true, "legacy": true, "on_allowed": true},
        "rules": [{"name": "per-ip", "key": ["client_ip", "rule"], "limits": [{"requests": 1, "per": "1h"}]}]}"#,
    r#"{"service": {"cluster": "rls", "domain": "palisade", "failure_mode_deny": true}, "slots": 16,
        "response_headers": {"ietf": true, "legacy": false, "on_allowed": false},
        "rules": [{"name": "global", "key": ["path", "method"]}]}"#,
];

/// First byte: config and gRPC status; the rest: the service's answer.
pub fn run(data: &[u8]) {
    let (knobs, message) = selector(data);
    if let Ok(r) = decode_response(message) {
        for s in &r.statuses {
            let _ = s.duration_until_reset.map(|d| d.ceil_seconds());
            let _ = s.current_limit.as_ref().map(|l| l.unit_seconds());
        }
    }
    let config = CONFIGS
        .get(usize::from(knobs & 1))
        .copied()
        .unwrap_or_default();
    let grpc_status = u32::from((knobs >> 1) % 4 == 3);
    let host = MockHost::new()
        .at_seconds(1_000_000)
        .with_property("source.address", b"10.0.0.1:4000");
    host.set_headers(
        HeaderMap::Request,
        &[(":method", "GET"), (":path", "/x"), (":authority", "a")],
    );
    let limiter = Rc::new(Limiter::new(
        &host,
        compile(config.as_bytes()).expect("the fixed configs compile"),
    ));
    let mut flow = RequestLimiter::new(limiter, 1);
    assert_eq!(flow.on_request_headers(&host), Decision::Pause);
    let token = host.calls().last().expect("the service is called").token;
    host.set_body(Body::GrpcCallResponse, message);
    let decision = flow.on_service_response(&host, token, grpc_status, message.len());
    match decision {
        Decision::Continue => {}
        Decision::Pause => panic!("an answer leaves the request paused"),
        Decision::Deny(d) => {
            assert!(d.status == 429 || d.status == 503, "status {}", d.status);
            assert!(is_json_with_unique_keys(&d.problem.to_body()));
            for (n, v) in &d.headers {
                assert!(is_valid_name(n) && is_valid_value(v), "{n}: {v}");
            }
        }
    }
    for (n, v) in host.headers(HeaderMap::Request) {
        assert!(
            n.starts_with(':') || (is_valid_name(&n) && is_valid_value(&v)),
            "upstream header {n}: {v}"
        );
    }
    host.set_headers(HeaderMap::Response, &[(":status", "200")]);
    flow.on_response_headers(&host);
    for (n, v) in host.headers(HeaderMap::Response) {
        assert!(
            n.starts_with(':') || (is_valid_name(&n) && is_valid_value(&v)),
            "response header {n}: {v}"
        );
    }
    // A late second answer changes nothing.
    assert_eq!(
        flow.on_service_response(&host, token, 0, message.len()),
        Decision::Pause
    );
}
