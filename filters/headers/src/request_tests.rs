//! Request checks: limits, malformed values, methods, stripping, and the HTTPS decision.

use super::*;
use crate::config::compile;
use crate::policy::RequestPolicy;

fn policy(json: &str) -> RequestPolicy {
    compile(json.as_bytes()).unwrap().default.request.clone()
}

/// A GET to `/` plus `extra` headers, as Envoy hands them to the filter.
fn request(method: &str, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut h: Vec<(String, String)> = [
        (":method", method),
        (":path", "/"),
        (":authority", "example.com"),
        (":scheme", "http"),
    ]
    .iter()
    .chain(extra)
    .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
    .collect();
    h.shrink_to_fit();
    h
}

#[test]
fn a_clean_request_passes_untouched() {
    let p = policy("{}");
    let edits = check_request(&p, &request("GET", &[("accept", "*/*")])).unwrap();
    assert_eq!(edits, RequestEdits::default());
}

#[test]
fn spoofed_internal_and_claim_headers_are_stripped_once() {
    let p = policy("{}");
    let h = request(
        "GET",
        &[
            ("x-jwt-claim-sub", "admin"),
            ("x-envoy-internal", "true"),
            ("x-jwt-claim-sub", "root"),
            ("x-request-id", "1"),
        ],
    );
    assert_eq!(
        check_request(&p, &h).unwrap().strip,
        ["x-jwt-claim-sub", "x-envoy-internal"]
    );
}

#[test]
fn forwarded_headers_are_stripped_only_when_configured() {
    let h = request(
        "GET",
        &[
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=x"),
            ("x-forwarded-proto", "https"),
        ],
    );
    assert_eq!(
        check_request(&policy("{}"), &h).unwrap(),
        RequestEdits::default()
    );
    let p = policy(r#"{"request":{"strip_forwarded":true}}"#);
    let edits = check_request(&p, &h).unwrap();
    assert_eq!(edits.strip, ["x-forwarded-for", "forwarded"]);
    assert!(edits.reset_forwarded_proto, "corrected, not removed");
}

#[test]
fn headers_envoy_needs_are_never_stripped() {
    let p = policy(r#"{"request":{"strip":["ho*","content-*","transfer-*","x-forwarded-*"]}}"#);
    let h = request(
        "POST",
        &[
            ("host", "example.com"),
            ("content-length", "2"),
            ("content-type", "application/json"),
            ("x-forwarded-proto", "http"),
        ],
    );
    let edits = check_request(&p, &h).unwrap();
    assert_eq!(edits.strip, ["content-type"]);
    assert!(edits.reset_forwarded_proto);
}

#[test]
fn kept_names_survive_the_strip_patterns() {
    let p = policy(r#"{"request":{"strip":["x-internal-*"],"keep":["x-envoy-force-trace"]}}"#);
    let h = request(
        "GET",
        &[("x-envoy-force-trace", "1"), ("x-internal-role", "admin")],
    );
    assert_eq!(check_request(&p, &h).unwrap().strip, ["x-internal-role"]);
}

#[test]
fn too_many_headers_is_431_and_pseudo_headers_do_not_count() {
    let p = policy(r#"{"request":{"max_header_count":2}}"#);
    assert!(check_request(&p, &request("GET", &[("a", "1"), ("b", "2")])).is_ok());
    let err =
        check_request(&p, &request("GET", &[("a", "1"), ("b", "2"), ("c", "3")])).unwrap_err();
    assert_eq!(err, Rejection::TooManyHeaders { count: 3, limit: 2 });
    let denial = err.to_denial();
    assert_eq!(denial.status, 431);
    assert_eq!(denial.problem.status, 431);
    assert_eq!(err.reason(), "too_many_headers");
}

#[test]
fn too_many_header_bytes_is_431() {
    let p = policy(r#"{"request":{"max_header_bytes":10}}"#);
    // "abc" + "1234567" = 10 bytes: at the limit.
    assert!(check_request(&p, &request("GET", &[("abc", "1234567")])).is_ok());
    let err = check_request(&p, &request("GET", &[("abc", "12345678")])).unwrap_err();
    assert_eq!(
        err,
        Rejection::HeadersTooLarge {
            bytes: 11,
            limit: 10
        }
    );
    assert_eq!(err.to_denial().status, 431);
    assert_eq!(err.reason(), "headers_too_large");
}

#[test]
fn size_limits_win_over_malformed_values() {
    let p = policy(r#"{"request":{"max_header_count":1}}"#);
    let err = check_request(&p, &request("GET", &[("a", "\x01"), ("b", "2")])).unwrap_err();
    assert_eq!(err.to_denial().status, 431);
}

#[test]
fn control_characters_are_400_naming_the_header_not_the_value() {
    let p = policy("{}");
    for bad in ["a\x01b", "a\x7f", "\x00", "a\x1bb"] {
        let err = check_request(&p, &request("GET", &[("x-bad", bad)])).unwrap_err();
        assert_eq!(
            err,
            Rejection::ControlCharacter {
                name: "x-bad".into()
            }
        );
        let denial = err.to_denial();
        assert_eq!(denial.status, 400);
        let body = String::from_utf8(denial.problem.to_body()).unwrap();
        assert!(body.contains("x-bad") && !body.contains(bad), "{body}");
    }
    assert!(check_request(&p, &request("GET", &[("x-ok", "tab\there")])).is_ok());
    assert!(check_request(&p, &request("GET", &[("x-utf8", "caf\u{e9}")])).is_ok());
    let lax = policy(r#"{"request":{"reject_control_characters":false}}"#);
    assert!(check_request(&lax, &request("GET", &[("x-bad", "a\x01b")])).is_ok());
}

#[test]
fn invalid_header_names_are_400() {
    let err = check_request(&policy("{}"), &request("GET", &[("bad name", "1")])).unwrap_err();
    assert_eq!(err, Rejection::InvalidHeaderName);
    assert_eq!(err.to_denial().status, 400);
    assert_eq!(err.reason(), "invalid_header");
}

#[test]
fn methods_outside_the_allow_list_are_405_with_allow() {
    let p = policy(r#"{"request":{"allowed_methods":["GET","post"]}}"#);
    assert!(check_request(&p, &request("POST", &[])).is_ok());
    for method in ["TRACE", "get", "DELETE"] {
        let err = check_request(&p, &request(method, &[])).unwrap_err();
        let denial = err.to_denial();
        assert_eq!(denial.status, 405, "{method}");
        assert_eq!(
            denial.headers,
            vec![("allow".to_string(), "GET, POST".to_string())]
        );
        assert_eq!(err.reason(), "method_not_allowed");
    }
    assert!(check_request(&policy("{}"), &request("TRACE", &[])).is_err());
    let any = policy(r#"{"request":{"allowed_methods":["*"]}}"#);
    assert!(check_request(&any, &request("TRACE", &[])).is_ok());
}

#[test]
fn every_reason_is_listed_for_metrics() {
    let all = [
        Rejection::TooManyHeaders { count: 1, limit: 0 },
        Rejection::HeadersTooLarge { bytes: 1, limit: 0 },
        Rejection::InvalidHeaderName,
        Rejection::MethodNotAllowed { allowed: vec![] },
    ];
    let reasons: Vec<&str> = all.iter().map(Rejection::reason).collect();
    assert_eq!(reasons, REASONS);
}

#[test]
fn https_comes_from_tls_or_a_trusted_forwarded_proto() {
    let untrusting = policy("{}");
    let trusting = policy(r#"{"request":{"trust_forwarded_proto":true}}"#);
    let plain = request("GET", &[]);
    let claimed = request("GET", &[("x-forwarded-proto", "https")]);
    assert!(!arrived_over_https(&untrusting, None, &plain));
    assert!(arrived_over_https(&untrusting, Some(b"TLSv1.3"), &plain));
    assert!(!arrived_over_https(&untrusting, Some(b""), &plain));
    assert!(
        !arrived_over_https(&untrusting, None, &claimed),
        "untrusted claim"
    );
    assert!(arrived_over_https(&trusting, None, &claimed));
    assert!(arrived_over_https(
        &trusting,
        None,
        &request("GET", &[("x-forwarded-proto", "HTTPS")])
    ));
    assert!(!arrived_over_https(&trusting, None, &plain));
    // The nearest proxy's claim (last) counts, not what the client put first.
    assert!(!arrived_over_https(
        &trusting,
        None,
        &request("GET", &[("x-forwarded-proto", "https, http")])
    ));
    assert!(arrived_over_https(
        &trusting,
        None,
        &request("GET", &[("x-forwarded-proto", "http,https")])
    ));
    // `:scheme` alone is not believed.
    let mut scheme_https = plain.clone();
    scheme_https[3].1 = "https".into();
    assert!(!arrived_over_https(&untrusting, None, &scheme_https));
}
