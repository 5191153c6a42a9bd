//! The per-request flow over `MockHost`: what reaches the upstream, what the client gets back,
//! and the counters.

use super::*;
use crate::config::compile;
use palisade_core::decision::Decision;
use palisade_core::host::send_denial;
use palisade_core::testing::MockHost;

/// An exchange under `config`, with its counters defined on `host`.
fn exchange(host: &MockHost, config: &str) -> Exchange {
    let compiled = Rc::new(compile(config.as_bytes()).unwrap());
    Exchange::new(7, compiled, Stats::define(host))
}

/// A host holding a plain-HTTP `GET path` request.
fn request(path: &str) -> MockHost {
    MockHost::new()
        .with_request_header(":method", "GET")
        .with_request_header(":path", path)
        .with_request_header(":authority", "example.com")
        .with_request_header(":scheme", "http")
}

fn response_header(host: &MockHost, name: &str) -> Option<String> {
    host.header(HeaderMap::Response, name)
}

#[test]
fn spoofed_headers_never_reach_the_upstream() {
    let host = request("/")
        .with_request_header("x-jwt-claim-sub", "admin")
        .with_request_header("x-envoy-original-path", "/admin")
        .with_request_header("x-request-id", "abc");
    let mut ex = exchange(&host, "{}");
    assert_eq!(ex.on_request_headers(&host), Decision::Continue);
    assert!(host.header(HeaderMap::Request, "x-jwt-claim-sub").is_none());
    assert!(host
        .header(HeaderMap::Request, "x-envoy-original-path")
        .is_none());
    assert_eq!(
        host.header(HeaderMap::Request, "x-request-id").as_deref(),
        Some("abc")
    );
    assert_eq!(host.metric("palisade_headers_requests_checked"), Some(1));
    assert_eq!(
        host.metric("palisade_headers_request_headers_stripped"),
        Some(2)
    );
    assert_eq!(host.metric("palisade_headers_requests_rejected"), Some(0));
}

#[test]
fn owasp_html_response_over_trusted_https_gets_the_whole_set() {
    let host = request("/")
        .with_request_header("x-forwarded-proto", "https")
        .with_response_header(":status", "200")
        .with_response_header("content-type", "text/html")
        .with_response_header("server", "palisade-echo")
        .with_response_header("x-powered-by", "echo")
        .with_response_header("x-envoy-upstream-service-time", "2");
    let mut ex = exchange(
        &host,
        r#"{"preset":"owasp","request":{"trust_forwarded_proto":true}}"#,
    );
    assert_eq!(ex.on_request_headers(&host), Decision::Continue);
    assert_eq!(ex.on_response_headers(&host), Decision::Continue);
    for (name, value) in crate::presets::OWASP_ADD {
        assert_eq!(
            response_header(&host, name).as_deref(),
            Some(*value),
            "{name}"
        );
    }
    for gone in ["server", "x-powered-by", "x-envoy-upstream-service-time"] {
        assert!(response_header(&host, gone).is_none(), "{gone}");
    }
    assert_eq!(host.metric("palisade_headers_responses_hardened"), Some(1));
    assert_eq!(
        host.metric("palisade_headers_response_headers_removed"),
        Some(3)
    );
    assert_eq!(
        host.metric("palisade_headers_response_headers_added"),
        Some(13)
    );
}

#[test]
fn plain_http_gets_no_hsts_even_when_the_client_claims_https() {
    let host = request("/")
        .with_request_header("x-forwarded-proto", "https")
        .with_response_header("content-type", "text/html");
    let mut ex = exchange(&host, r#"{"preset":"owasp"}"#);
    ex.on_request_headers(&host);
    ex.on_response_headers(&host);
    assert!(response_header(&host, "strict-transport-security").is_none());
    assert!(response_header(&host, "x-frame-options").is_some());
}

#[test]
fn a_tls_connection_gets_hsts() {
    let host = request("/")
        .with_property("connection.tls_version", b"TLSv1.3")
        .with_response_header("content-type", "application/json");
    let mut ex = exchange(&host, r#"{"preset":"strict-api"}"#);
    ex.on_request_headers(&host);
    ex.on_response_headers(&host);
    assert_eq!(
        response_header(&host, "strict-transport-security").as_deref(),
        Some("max-age=63072000; includeSubDomains")
    );
    assert_eq!(
        response_header(&host, "cache-control").as_deref(),
        Some("no-store")
    );
}

#[test]
fn a_response_without_a_request_phase_uses_the_default_policy() {
    let host = MockHost::new()
        .with_property("connection.tls_version", b"TLSv1.2")
        .with_response_header("content-type", "text/html");
    let mut ex = exchange(&host, r#"{"preset":"owasp"}"#);
    ex.on_response_headers(&host);
    assert!(response_header(&host, "strict-transport-security").is_some());
    assert!(response_header(&host, "content-security-policy").is_some());
}

#[test]
fn control_characters_get_a_problem_json_400() {
    let host = request("/").with_request_header("x-bad", "a\x01b");
    let mut ex = exchange(&host, "{}");
    let Decision::Deny(denial) = ex.on_request_headers(&host) else {
        panic!("not denied")
    };
    send_denial(&host, &denial);
    let sent = host.last_response().unwrap();
    assert_eq!(sent.status, 400);
    assert_eq!(
        sent.header("content-type"),
        Some("application/problem+json")
    );
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["status"], 400);
    assert_eq!(body["type"], "https://palisade.dev/problems/invalid-header");
    assert_eq!(body["header"], "x-bad");
    assert_eq!(host.metric("palisade_headers_requests_rejected"), Some(1));
    assert_eq!(
        host.metric("palisade_headers_rejected_invalid_header"),
        Some(1)
    );
    assert_eq!(
        host.metric("palisade_headers_rejected_too_many_headers"),
        Some(0)
    );
}

#[test]
fn rejections_are_counted_by_reason() {
    let config = r#"{"request":{"max_header_count":1,"max_header_bytes":20}}"#;
    let cases = [
        (
            request("/")
                .with_request_header("a", "1")
                .with_request_header("b", "2"),
            "too_many_headers",
            431,
        ),
        (
            request("/").with_request_header("a", &"x".repeat(20)),
            "headers_too_large",
            431,
        ),
        (
            MockHost::new()
                .with_request_header(":method", "TRACE")
                .with_request_header(":path", "/"),
            "method_not_allowed",
            405,
        ),
    ];
    for (host, reason, status) in cases {
        let mut ex = exchange(&host, config);
        let Decision::Deny(denial) = ex.on_request_headers(&host) else {
            panic!("{reason} not denied")
        };
        assert_eq!(denial.status, status);
        assert_eq!(
            host.metric(&format!("palisade_headers_rejected_{reason}")),
            Some(1)
        );
        assert_eq!(host.metric("palisade_headers_requests_rejected"), Some(1));
    }
}

#[test]
fn our_own_denial_gets_the_non_document_headers() {
    // Envoy runs the response phase over a local reply too: the problem+json is not a document.
    let host = request("/").with_request_header("x-bad", "\x7f");
    let mut ex = exchange(&host, r#"{"preset":"owasp"}"#);
    ex.on_request_headers(&host);
    host.set_headers(
        HeaderMap::Response,
        &[
            (":status", "400"),
            ("content-type", "application/problem+json"),
        ],
    );
    ex.on_response_headers(&host);
    assert_eq!(
        response_header(&host, "x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(response_header(&host, "content-security-policy").is_none());
}

#[test]
fn routes_pick_the_policy_in_the_request_phase() {
    let config = r#"{"preset":"owasp","routes":[
        {"match":{"prefix":"/api/"},"preset":"strict-api","request":{"allowed_methods":["GET"]}}]}"#;
    let host = request("/api/users").with_response_header("content-type", "text/html");
    let mut ex = exchange(&host, config);
    assert_eq!(ex.on_request_headers(&host), Decision::Continue);
    ex.on_response_headers(&host);
    assert_eq!(
        response_header(&host, "cache-control").as_deref(),
        Some("no-store")
    );
    assert!(response_header(&host, "content-security-policy").is_none());

    let host = request("/page").with_response_header("content-type", "text/html");
    let mut ex = exchange(&host, config);
    ex.on_request_headers(&host);
    ex.on_response_headers(&host);
    assert_eq!(
        response_header(&host, "cache-control").as_deref(),
        Some("no-store, max-age=0")
    );
    assert!(response_header(&host, "content-security-policy").is_some());

    let host = MockHost::new()
        .with_request_header(":method", "POST")
        .with_request_header(":path", "/api/users");
    let mut ex = exchange(&host, config);
    assert!(matches!(ex.on_request_headers(&host), Decision::Deny(d) if d.status == 405));
    let host = MockHost::new()
        .with_request_header(":method", "POST")
        .with_request_header(":path", "/page");
    let mut ex = exchange(&host, config);
    assert_eq!(ex.on_request_headers(&host), Decision::Continue);
}

#[test]
fn upstream_headers_are_not_duplicated() {
    let host = request("/")
        .with_response_header("content-type", "text/html")
        .with_response_header("x-frame-options", "SAMEORIGIN");
    let mut ex = exchange(&host, r#"{"preset":"owasp"}"#);
    ex.on_request_headers(&host);
    ex.on_response_headers(&host);
    let xfo: Vec<_> = host
        .headers(HeaderMap::Response)
        .into_iter()
        .filter(|(n, _)| n == "x-frame-options")
        .collect();
    assert_eq!(
        xfo,
        vec![("x-frame-options".to_string(), "SAMEORIGIN".to_string())]
    );
}

#[test]
fn untrusted_forwarded_proto_is_corrected_to_the_connection_scheme() {
    let config = r#"{"request":{"strip_forwarded":true}}"#;
    let host = request("/")
        .with_request_header("x-forwarded-proto", "https")
        .with_request_header("x-forwarded-for", "6.6.6.6");
    let mut ex = exchange(&host, config);
    assert_eq!(ex.on_request_headers(&host), Decision::Continue);
    assert_eq!(
        host.header(HeaderMap::Request, "x-forwarded-proto")
            .as_deref(),
        Some("http")
    );
    assert!(host.header(HeaderMap::Request, "x-forwarded-for").is_none());
    assert_eq!(
        host.metric("palisade_headers_request_headers_stripped"),
        Some(2)
    );

    // Over TLS the true value is kept as it is, and not counted.
    let host = request("/")
        .with_property("connection.tls_version", b"TLSv1.3")
        .with_request_header("x-forwarded-proto", "https");
    let mut ex = exchange(&host, config);
    ex.on_request_headers(&host);
    assert_eq!(
        host.header(HeaderMap::Request, "x-forwarded-proto")
            .as_deref(),
        Some("https")
    );
    assert_eq!(
        host.metric("palisade_headers_request_headers_stripped"),
        Some(0)
    );
}

#[test]
fn a_non_canonical_path_is_refused_before_any_route() {
    let host = request("/api/%61dmin");
    let mut ex = exchange(&host, "{}");
    let Decision::Deny(denial) = ex.on_request_headers(&host) else {
        panic!("not refused");
    };
    assert_eq!(denial.status, 400);
    assert_eq!(
        denial.problem.type_uri,
        "https://palisade.dev/problems/non-canonical-path"
    );
    assert_eq!(host.metric("palisade_headers_requests_rejected"), Some(1));
    assert_eq!(
        host.metric("palisade_headers_rejected_non_canonical_path"),
        Some(1)
    );
}

#[test]
fn rewrite_gives_routes_and_upstream_the_canonical_path() {
    let host = request("//api/./x/../users;v=1?q=1");
    let config = r#"{"routes": [{"match": {"path_separated_prefix": "/api/users"},
        "request": {"allowed_methods": ["POST"]}}],
        "path_normalization": {"action": "rewrite"}}"#;
    let mut ex = exchange(&host, config);
    let Decision::Deny(denial) = ex.on_request_headers(&host) else {
        panic!("the /api/users route was skipped");
    };
    assert_eq!(denial.status, 405);
    assert_eq!(
        host.header(HeaderMap::Request, ":path").as_deref(),
        Some("/api/users?q=1")
    );
}
