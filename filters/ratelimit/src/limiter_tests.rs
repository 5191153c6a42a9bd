//! The request flow under `MockHost`: local decisions with virtual time, the service round trip,
//! and every way the service can fail.

use super::*;
use crate::rls::{DescriptorStatus, HeaderValue, ProtoDuration, RateLimit};
use palisade_core::testing::MockHost;
use prost::Message;
use std::time::Duration;

fn limiter(host: &MockHost, config: &str) -> Rc<Limiter> {
    Rc::new(Limiter::new(
        host,
        crate::config::compile(config.as_bytes()).unwrap(),
    ))
}

/// Sets the request (a GET to `path` with extra headers) and clears the response headers.
fn request(host: &MockHost, path: &str, extra: &[(&str, &str)]) {
    let mut headers = vec![(":method", "GET"), (":path", path), (":authority", "a")];
    headers.extend_from_slice(extra);
    host.set_headers(HeaderMap::Request, &headers);
    host.set_headers(HeaderMap::Response, &[]);
}

/// A host whose downstream connection comes from `ip`.
fn host_from(ip: &str) -> MockHost {
    MockHost::new()
        .at_seconds(1_000_000)
        .with_property("source.address", format!("{ip}:40000").as_bytes())
}

fn decide(l: &Rc<Limiter>, host: &MockHost) -> Decision {
    RequestLimiter::new(Rc::clone(l), 1).on_request_headers(host)
}

fn denial(d: Decision) -> palisade_core::Denial {
    match d {
        Decision::Deny(denial) => denial,
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn header<'a>(d: &'a palisade_core::Denial, name: &str) -> Option<&'a str> {
    d.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

const PER_IP: &str = r#"{"rules": [{"name": "per-ip", "key": ["client_ip"],
    "limits": [{"requests": 3, "per": "1m"}]}]}"#;

#[test]
fn each_client_gets_its_own_exact_budget() {
    let host = host_from("10.0.0.1");
    let l = limiter(&host, PER_IP);
    request(&host, "/", &[]);
    for _ in 0..3 {
        assert_eq!(decide(&l, &host), Decision::Continue);
    }
    let d = denial(decide(&l, &host));
    assert_eq!(d.status, 429);
    assert_eq!(header(&d, "retry-after"), Some("20"));
    assert_eq!(header(&d, "ratelimit-policy"), Some(r#""per-ip";q=3;w=60"#));
    assert_eq!(header(&d, "ratelimit"), Some(r#""per-ip";r=0;t=60"#));
    assert_eq!(
        header(&d, "x-ratelimit-limit"),
        None,
        "legacy fields are off by default"
    );
    // Another client (same shared data) is untouched.
    let other = host_from("10.0.0.2");
    let l2 = limiter(&other, PER_IP);
    request(&other, "/", &[]);
    assert_eq!(decide(&l2, &other), Decision::Continue);
    assert_eq!(host.metric("palisade_ratelimit_per_ip_allowed"), Some(3));
    assert_eq!(host.metric("palisade_ratelimit_per_ip_limited"), Some(1));
    // Twenty seconds refill one request.
    host.advance(Duration::from_secs(20));
    assert_eq!(decide(&l, &host), Decision::Continue);
    assert!(matches!(decide(&l, &host), Decision::Deny(_)));
}

#[test]
fn rules_match_by_route_and_fall_through_on_a_missing_key() {
    let host = host_from("10.0.0.1");
    let l = limiter(
        &host,
        r#"{"rules": [
            {"name": "per-user", "match": {"prefix": "/api/"}, "key": ["claim:sub"], "limits": [{"requests": 1, "per": "1h"}]},
            {"name": "per-ip", "match": {"prefix": "/api/"}, "key": ["client_ip"], "limits": [{"requests": 2, "per": "1h"}]}]}"#,
    );
    // Outside /api/: no rule, never limited.
    request(&host, "/public", &[]);
    for _ in 0..5 {
        assert_eq!(decide(&l, &host), Decision::Continue);
    }
    // With a subject claim: per-user, one request.
    request(&host, "/api/x", &[("x-jwt-claim-sub", "alice")]);
    assert_eq!(decide(&l, &host), Decision::Continue);
    let d = denial(decide(&l, &host));
    assert!(header(&d, "ratelimit").unwrap().starts_with("\"per-user\""));
    // Without one: per-ip, two requests.
    request(&host, "/api/x", &[]);
    assert_eq!(decide(&l, &host), Decision::Continue);
    assert_eq!(decide(&l, &host), Decision::Continue);
    let d = denial(decide(&l, &host));
    assert!(header(&d, "ratelimit").unwrap().starts_with("\"per-ip\""));
}

#[test]
fn path_method_and_header_keys_separate_budgets() {
    let host = host_from("10.0.0.1");
    let l = limiter(
        &host,
        r#"{"rules": [{"name": "r", "key": ["path", "method", "header:x-api-key"],
            "limits": [{"requests": 1, "per": "1h"}]}]}"#,
    );
    for (path, key) in [("/a", "k1"), ("/b", "k1"), ("/a", "k2")] {
        request(&host, path, &[("x-api-key", key)]);
        assert_eq!(decide(&l, &host), Decision::Continue, "{path} {key}");
    }
    request(&host, "/a?query=ignored", &[("x-api-key", "k1")]);
    assert!(matches!(decide(&l, &host), Decision::Deny(_)));
}

#[test]
fn shadow_mode_counts_but_admits() {
    let host = host_from("10.0.0.1");
    let l = limiter(
        &host,
        r#"{"shadow": true, "rules": [{"name": "r", "limits": [{"requests": 1, "per": "1h"}]}]}"#,
    );
    request(&host, "/", &[]);
    for _ in 0..4 {
        assert_eq!(decide(&l, &host), Decision::Continue);
    }
    assert_eq!(host.metric("palisade_ratelimit_r_allowed"), Some(1));
    assert_eq!(host.metric("palisade_ratelimit_r_shadow_limited"), Some(3));
    assert_eq!(host.metric("palisade_ratelimit_r_limited"), Some(0));
}

#[test]
fn allowed_responses_carry_fields_when_asked() {
    let host = host_from("10.0.0.1");
    let l = limiter(
        &host,
        r#"{"response_headers": {"on_allowed": true, "legacy": true},
            "rules": [{"name": "r", "limits": [{"requests": 10, "per": "1s"}, {"name": "daily", "requests": 1000, "per": "1d"}]}]}"#,
    );
    request(&host, "/", &[]);
    let mut flow = RequestLimiter::new(Rc::clone(&l), 7);
    assert_eq!(flow.on_request_headers(&host), Decision::Continue);
    flow.on_response_headers(&host);
    let get = |n: &str| host.header(HeaderMap::Response, n);
    assert_eq!(
        get("ratelimit-policy").as_deref(),
        Some(r#""r";q=10;w=1, "daily";q=1000;w=86400"#)
    );
    assert_eq!(
        get("ratelimit").as_deref(),
        Some(r#""r";r=9;t=1, "daily";r=999;t=87"#)
    );
    assert_eq!(get("x-ratelimit-remaining").as_deref(), Some("9"));
}

// --- global mode ---

const GLOBAL: &str = r#"{"service": {"cluster": "rls", "domain": "palisade"},
    "response_headers": {"on_allowed": true},
    "rules": [{"name": "open", "match": {"prefix": "/open"}, "key": []},
              {"name": "per-ip", "key": ["client_ip", "rule"], "limits": [{"requests": 1, "per": "1h"}]}]}"#;

fn answer(host: &MockHost, flow: &mut RequestLimiter, response: &RateLimitResponse) -> Decision {
    let bytes = response.encode_to_vec();
    host.set_body(Body::GrpcCallResponse, &bytes);
    let token = host.calls().last().unwrap().token;
    flow.on_service_response(host, token, 0, bytes.len())
}

fn status(code: i32, remaining: u32, reset: i64) -> DescriptorStatus {
    DescriptorStatus {
        code,
        current_limit: Some(RateLimit {
            requests_per_unit: 5,
            unit: 2,
            name: String::new(),
        }),
        limit_remaining: remaining,
        duration_until_reset: Some(ProtoDuration {
            seconds: reset,
            nanos: 0,
        }),
    }
}

#[test]
fn global_mode_sends_envoy_shaped_descriptors() {
    let host = host_from("10.0.0.9");
    let l = limiter(&host, GLOBAL);
    request(&host, "/x", &[]);
    let mut flow = RequestLimiter::new(Rc::clone(&l), 1);
    assert_eq!(flow.on_request_headers(&host), Decision::Pause);
    let call = host.calls().pop().unwrap();
    assert_eq!(call.cluster, "rls");
    assert_eq!(call.timeout, Duration::from_millis(20));
    assert_eq!(
        call.headers,
        vec![
            (
                ":service".to_string(),
                "envoy.service.ratelimit.v3.RateLimitService".to_string()
            ),
            (":method".to_string(), "ShouldRateLimit".to_string()),
        ]
    );
    let sent = rls::RateLimitRequest::decode(call.body.as_slice()).unwrap();
    assert_eq!(sent.domain, "palisade");
    assert_eq!(sent.hits_addend, 1);
    let entries: Vec<(&str, &str)> = sent.descriptors[0]
        .entries
        .iter()
        .map(|e| (e.key.as_str(), e.value.as_str()))
        .collect();
    assert_eq!(
        entries,
        [("remote_address", "10.0.0.9"), ("generic_key", "per-ip")]
    );
}

#[test]
fn global_ok_admits_and_passes_the_service_headers_on() {
    let host = host_from("10.0.0.9");
    let l = limiter(&host, GLOBAL);
    request(&host, "/x", &[]);
    let mut flow = RequestLimiter::new(Rc::clone(&l), 1);
    flow.on_request_headers(&host);
    let response = RateLimitResponse {
        overall_code: 1,
        statuses: vec![status(1, 4, 59)],
        response_headers_to_add: vec![
            HeaderValue {
                key: "x-rls".into(),
                value: "yes".into(),
            },
            HeaderValue {
                key: "bad name".into(),
                value: "dropped".into(),
            },
        ],
        request_headers_to_add: vec![HeaderValue {
            key: "x-limited-by".into(),
            value: "rls".into(),
        }],
    };
    assert_eq!(answer(&host, &mut flow, &response), Decision::Continue);
    assert_eq!(
        host.header(HeaderMap::Request, "x-limited-by").as_deref(),
        Some("rls")
    );
    flow.on_response_headers(&host);
    assert_eq!(
        host.header(HeaderMap::Response, "x-rls").as_deref(),
        Some("yes")
    );
    assert_eq!(host.header(HeaderMap::Response, "bad name"), None);
    assert_eq!(
        host.header(HeaderMap::Response, "ratelimit").as_deref(),
        Some(r#""per-ip";r=4;t=59"#)
    );
    assert_eq!(host.metric("palisade_ratelimit_per_ip_allowed"), Some(1));
    // A second callback (late, duplicate) changes nothing.
    assert_eq!(answer(&host, &mut flow, &response), Decision::Pause);
}

#[test]
fn global_over_limit_refuses_with_the_service_numbers() {
    let host = host_from("10.0.0.9");
    let l = limiter(&host, GLOBAL);
    request(&host, "/x", &[]);
    let mut flow = RequestLimiter::new(Rc::clone(&l), 1);
    flow.on_request_headers(&host);
    let response = RateLimitResponse {
        overall_code: CODE_OVER_LIMIT,
        statuses: vec![status(CODE_OVER_LIMIT, 0, 41)],
        response_headers_to_add: vec![HeaderValue {
            key: "x-rls".into(),
            value: "over".into(),
        }],
        request_headers_to_add: vec![],
    };
    let d = denial(answer(&host, &mut flow, &response));
    assert_eq!(d.status, 429);
    assert_eq!(header(&d, "retry-after"), Some("41"));
    assert_eq!(header(&d, "x-rls"), Some("over"));
    assert_eq!(header(&d, "ratelimit-policy"), Some(r#""per-ip";q=5;w=60"#));
    assert_eq!(header(&d, "ratelimit"), Some(r#""per-ip";r=0;t=41"#));
}

#[test]
fn service_failures_fall_back_to_the_local_limits() {
    let host = host_from("10.0.0.9");
    let l = limiter(&host, GLOBAL);
    request(&host, "/x", &[]);
    // Timeout / unreachable: gRPC status 4 or 14, no message. The local limit is 1 per hour.
    let mut outcomes = Vec::new();
    for grpc_status in [14, 4, 0] {
        let mut flow = RequestLimiter::new(Rc::clone(&l), 1);
        assert_eq!(flow.on_request_headers(&host), Decision::Pause);
        let token = host.calls().last().unwrap().token;
        // Status 0 with garbage: undecodable, a failure too.
        host.set_body(Body::GrpcCallResponse, &[0xff, 0xff]);
        outcomes.push(flow.on_service_response(&host, token, grpc_status, 2));
    }
    assert_eq!(outcomes[0], Decision::Continue);
    assert!(matches!(outcomes[1], Decision::Deny(_)));
    assert!(matches!(outcomes[2], Decision::Deny(_)));
    assert_eq!(host.metric("palisade_ratelimit_service_errors"), Some(3));
    assert_eq!(host.metric("palisade_ratelimit_fallbacks"), Some(3));
}

#[test]
fn an_unsendable_call_falls_back_at_once() {
    let host = host_from("10.0.0.9").failing_calls();
    let l = limiter(&host, GLOBAL);
    request(&host, "/x", &[]);
    assert_eq!(decide(&l, &host), Decision::Continue);
    assert!(matches!(decide(&l, &host), Decision::Deny(_)));
}

#[test]
fn without_local_limits_the_failure_mode_decides() {
    for (deny, expect_deny) in [(false, false), (true, true)] {
        let host = host_from("10.0.0.9").failing_calls();
        let config = GLOBAL.replace(
            r#""domain": "palisade"}"#,
            &format!(r#""domain": "palisade", "failure_mode_deny": {deny}}}"#),
        );
        let l = limiter(&host, &config);
        request(&host, "/open", &[]);
        let d = decide(&l, &host);
        assert_eq!(
            matches!(d, Decision::Deny(_)),
            expect_deny,
            "failure_mode_deny={deny}"
        );
        if let Decision::Deny(d) = d {
            assert_eq!(d.status, 429);
            assert_eq!(
                d.problem.type_uri,
                "https://palisade.dev/problems/rate-limit-unavailable"
            );
        }
    }
}

#[test]
fn spellings_of_a_path_share_its_budget() {
    let host = host_from("10.0.0.1");
    let config = r#"{"rules": [{"name": "per-path", "match": {"path_separated_prefix": "/api"},
        "key": ["path"], "limits": [{"requests": 1, "per": "1m"}]}],
        "path_normalization": {"action": "rewrite", "case_insensitive": true}}"#;
    let l = limiter(&host, config);
    request(&host, "/api/items/1", &[]);
    assert_eq!(decide(&l, &host), Decision::Continue);
    for spelling in [
        "//api/items/1",
        "/api/items/%31",
        "/api/x/../items/1",
        "/api/items/1;v=2",
        "/API/Items/1",
    ] {
        request(&host, spelling, &[]);
        assert_eq!(denial(decide(&l, &host)).status, 429, "{spelling}");
    }
}

#[test]
fn a_non_canonical_path_is_refused_by_default() {
    let host = host_from("10.0.0.1");
    let l = limiter(&host, PER_IP);
    request(&host, "/a//b", &[]);
    let d = denial(decide(&l, &host));
    assert_eq!(d.status, 400);
    assert_eq!(
        host.metric("palisade_ratelimit_non_canonical_path"),
        Some(1)
    );
    request(&host, "/a%2Fb", &[]);
    assert_eq!(denial(decide(&l, &host)).status, 400);
}
