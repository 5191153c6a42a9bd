//! Response planning: removals, document-only headers, HSTS over HTTPS only, no duplicates.

use super::*;
use crate::config::compile;
use crate::policy::ResponsePolicy;

fn policy(json: &str) -> ResponsePolicy {
    compile(json.as_bytes()).unwrap().default.response.clone()
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
        .collect()
}

fn set_names<'a>(edits: &'a ResponseEdits<'_>) -> Vec<&'a str> {
    edits.set.iter().map(|r| r.name.as_str()).collect()
}

#[test]
fn owasp_on_an_https_html_response_is_the_whole_set() {
    let p = policy(r#"{"preset":"owasp"}"#);
    let h = headers(&[
        (":status", "200"),
        ("content-type", "text/html; charset=utf-8"),
    ]);
    let edits = plan_response(&p, true, &h);
    let got: Vec<(&str, &str)> = edits
        .set
        .iter()
        .map(|r| (r.name.as_str(), r.value.as_str()))
        .collect();
    let want: Vec<(String, &str)> = crate::presets::OWASP_ADD
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), *v))
        .collect();
    let want: Vec<(&str, &str)> = want.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    assert_eq!(got, want);
    assert!(edits.remove.is_empty());
}

#[test]
fn hsts_needs_https() {
    let p = policy(r#"{"preset":"owasp"}"#);
    let h = headers(&[("content-type", "text/html")]);
    let edits = plan_response(&p, false, &h);
    assert!(!set_names(&edits).contains(&"strict-transport-security"));
    assert_eq!(edits.set.len(), 12);
}

#[test]
fn document_only_headers_skip_json_but_not_missing_content_types() {
    let p = policy(r#"{"preset":"owasp"}"#);
    let json = plan_response(&p, true, &headers(&[("content-type", "application/json")]));
    let names = set_names(&json);
    for doc in [
        "content-security-policy",
        "permissions-policy",
        "cross-origin-embedder-policy",
        "cross-origin-opener-policy",
        "x-dns-prefetch-control",
    ] {
        assert!(!names.contains(&doc), "{doc} on JSON");
    }
    assert!(names.contains(&"x-content-type-options"));
    assert!(names.contains(&"x-frame-options"));
    assert!(names.contains(&"cache-control"));
    assert_eq!(names.len(), 8);
    let untyped = plan_response(&p, true, &headers(&[]));
    assert_eq!(untyped.set.len(), 13);
    let xhtml = plan_response(
        &p,
        true,
        &headers(&[("content-type", "Application/XHTML+XML")]),
    );
    assert_eq!(xhtml.set.len(), 13);
}

#[test]
fn document_types_and_per_header_scope_are_configurable() {
    let p = policy(
        r#"{"preset":"owasp","response":{"document_types":["application/json"],
            "headers":{"content-security-policy":{"value":"default-src 'none'","documents_only":false}}}}"#,
    );
    let html = plan_response(&p, false, &headers(&[("content-type", "text/html")]));
    let names = set_names(&html);
    assert!(names.contains(&"content-security-policy"));
    assert!(!names.contains(&"permissions-policy"));
    let json = plan_response(&p, false, &headers(&[("content-type", "application/json")]));
    assert!(set_names(&json).contains(&"permissions-policy"));
}

#[test]
fn upstream_values_are_kept_unless_overwrite() {
    let h = headers(&[
        ("content-type", "text/html"),
        ("X-Frame-Options", "SAMEORIGIN"),
        ("cache-control", "max-age=60"),
    ]);
    let keep = policy(r#"{"preset":"owasp"}"#);
    let names = set_names(&plan_response(&keep, false, &h)).join(",");
    assert!(!names.contains("x-frame-options") && !names.contains("cache-control"));
    let all = policy(r#"{"preset":"owasp","response":{"overwrite":true}}"#);
    let names = set_names(&plan_response(&all, false, &h)).join(",");
    assert!(names.contains("x-frame-options") && names.contains("cache-control"));
    let one = policy(
        r#"{"preset":"owasp","response":{"headers":{"x-frame-options":{"value":"deny","overwrite":true}}}}"#,
    );
    let names = set_names(&plan_response(&one, false, &h)).join(",");
    assert!(names.contains("x-frame-options") && !names.contains("cache-control"));
}

#[test]
fn leaking_headers_are_removed_once_and_kept_ones_stay() {
    let h = headers(&[
        (":status", "200"),
        ("server", "palisade-echo"),
        ("X-Powered-By", "echo"),
        ("x-powered-by", "again"),
        ("x-envoy-upstream-service-time", "3"),
        ("x-aspnet-version", "4"),
        ("x-aspnetmvc-version", "5"),
        ("content-type", "application/json"),
    ]);
    let defaults = policy("{}");
    let edits = plan_response(&defaults, false, &h);
    assert_eq!(
        edits.remove,
        [
            "server",
            "x-powered-by",
            "x-envoy-upstream-service-time",
            "x-aspnet-version",
            "x-aspnetmvc-version"
        ]
    );
    let keep = policy(r#"{"response":{"keep":["server"],"remove":["content-*"]}}"#);
    let edits = plan_response(&keep, false, &h);
    assert!(!edits.remove.contains(&"server".to_string()));
    assert!(edits.remove.contains(&"content-type".to_string()));
}

#[test]
fn a_removed_header_that_is_also_configured_is_replaced() {
    let p = policy(r#"{"preset":"none","response":{"headers":{"server":"hidden"}}}"#);
    let edits = plan_response(&p, false, &headers(&[("server", "apache/2.4")]));
    assert_eq!(edits.remove, ["server"]);
    assert_eq!(set_names(&edits), ["server"]);
}

#[test]
fn csp_report_only_is_sent_under_its_own_name() {
    let p = policy(r#"{"preset":"owasp","response":{"csp_report_only":true}}"#);
    let edits = plan_response(&p, false, &headers(&[("content-type", "text/html")]));
    let names = set_names(&edits);
    assert!(names.contains(&"content-security-policy-report-only"));
    assert!(!names.contains(&"content-security-policy"));
    // An upstream's enforcing CSP does not stop the report-only one.
    let edits = plan_response(
        &p,
        false,
        &headers(&[
            ("content-type", "text/html"),
            ("content-security-policy", "x"),
        ]),
    );
    assert!(set_names(&edits).contains(&"content-security-policy-report-only"));
}

#[test]
fn media_type_parameters_and_case_are_ignored() {
    let types = vec!["text/html".to_string()];
    assert!(is_document(Some("TEXT/HTML ; charset=utf-8"), &types));
    assert!(is_document(None, &types));
    assert!(!is_document(Some("text/plain"), &types));
    assert!(!is_document(Some(""), &types));
}

#[test]
fn set_cookie_values_are_planned_in_order_unless_set_cookie_is_removed() {
    let h = headers(&[
        (":status", "200"),
        ("set-cookie", "a=1"),
        ("Set-Cookie", "b=2; Secure; HttpOnly; SameSite=Strict"),
    ]);
    let p = policy(r#"{"preset":"owasp"}"#);
    let cookies = plan_response(&p, true, &h).cookies.unwrap();
    assert_eq!(
        cookies.values,
        [
            "a=1; Secure; HttpOnly; SameSite=Lax",
            "b=2; Secure; HttpOnly; SameSite=Strict"
        ]
    );
    assert_eq!(cookies.changed, 1);
    // A config that removes Set-Cookie altogether is not undone by hardening.
    let p = policy(r#"{"preset":"owasp","response":{"remove":["set-cookie"]}}"#);
    let edits = plan_response(&p, true, &h);
    assert_eq!(edits.remove, ["set-cookie"]);
    assert_eq!(edits.cookies, None);
    // No cookies, nothing to do.
    assert_eq!(
        plan_response(&p, true, &headers(&[(":status", "200")])).cookies,
        None
    );
}
