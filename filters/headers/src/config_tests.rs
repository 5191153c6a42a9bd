//! Config parsing and compilation: shapes, defaults, layering, and every error path.

use super::*;
use crate::policy::Policy;

fn compiled(json: &str) -> Compiled {
    compile(json.as_bytes()).unwrap()
}

fn error(json: &str) -> ConfigError {
    compile(json.as_bytes()).unwrap_err()
}

fn rule<'p>(policy: &'p Policy, name: &str) -> Option<&'p HeaderRule> {
    policy.response.add.iter().find(|r| r.name == name)
}

#[test]
fn empty_config_is_the_browser_preset_with_default_limits() {
    let c = compiled("");
    let p = &c.default;
    let names: Vec<&str> = p.response.add.iter().map(|r| r.name.as_str()).collect();
    let browser: Vec<String> = Preset::Browser
        .headers()
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    assert_eq!(names, browser);
    assert_eq!(p.request.max_header_count, 100);
    assert_eq!(p.request.max_header_bytes, 32768);
    assert!(p.request.reject_control_characters);
    assert!(!p.request.trust_forwarded_proto);
    assert_eq!(
        p.request.allowed_methods.as_deref().unwrap(),
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    );
    assert!(p.request.strip.selects("x-jwt-claim-sub"));
    assert!(p.request.strip.selects("x-envoy-internal"));
    assert!(!p.request.strip.selects("x-forwarded-for"));
    assert!(p.response.remove.selects("server"));
    assert!(p.response.remove.selects("x-envoy-upstream-service-time"));
    assert_eq!(
        p.response.document_types,
        ["text/html", "application/xhtml+xml"]
    );
    assert!(c.routes.is_empty());
}

#[test]
fn preset_rules_carry_their_scope() {
    let c = compiled(r#"{"preset":"owasp"}"#);
    let p = &c.default;
    assert_eq!(p.response.add.len(), 13);
    let hsts = rule(p, "strict-transport-security").unwrap();
    assert!(hsts.https_only && !hsts.documents_only);
    let csp = rule(p, "content-security-policy").unwrap();
    assert!(csp.documents_only && !csp.https_only && !csp.overwrite);
    assert!(!rule(p, "x-frame-options").unwrap().documents_only);
    assert!(!rule(p, "cache-control").unwrap().documents_only);
    assert_eq!(rule(p, "x-frame-options").unwrap().value, "deny");
    assert!(compiled(r#"{"preset":"none"}"#)
        .default
        .response
        .add
        .is_empty());
    assert_eq!(
        rule(
            &compiled(r#"{"preset":"strict-api"}"#).default,
            "cache-control"
        )
        .unwrap()
        .value,
        "no-store"
    );
}

#[test]
fn headers_are_overridden_disabled_and_added_by_name() {
    let c = compiled(
        r#"{"preset":"owasp","response":{"overwrite":true,"headers":{
            "Content-Security-Policy":"default-src 'none'",
            "clear-site-data":null,
            "x-custom":"1",
            "x-doc":{"value":"d","documents_only":true,"overwrite":false},
            "x-frame-options":{"value":"sameorigin","documents_only":true}
        }}}"#,
    );
    let p = &c.default;
    let csp = rule(p, "content-security-policy").unwrap();
    assert_eq!(csp.value, "default-src 'none'");
    assert!(csp.documents_only, "a plain value keeps the built-in scope");
    assert!(csp.overwrite, "response.overwrite is the default");
    assert!(rule(p, "clear-site-data").is_none());
    let custom = rule(p, "x-custom").unwrap();
    assert!(!custom.documents_only && custom.overwrite);
    let doc = rule(p, "x-doc").unwrap();
    assert!(doc.documents_only && !doc.overwrite);
    let xfo = rule(p, "x-frame-options").unwrap();
    assert_eq!(xfo.value, "sameorigin");
    assert!(xfo.documents_only);
    assert_eq!(p.response.add.len(), 14);
    // Added headers come after the preset's, in the order written.
    assert_eq!(p.response.add.last().unwrap().name, "x-doc");
}

#[test]
fn csp_report_only_renames_the_policy_header() {
    let c = compiled(r#"{"preset":"owasp","response":{"csp_report_only":true}}"#);
    assert!(rule(&c.default, "content-security-policy").is_none());
    let ro = rule(&c.default, "content-security-policy-report-only").unwrap();
    assert!(ro.value.starts_with("default-src 'self'"));
    assert!(ro.documents_only);
    let err = error(
        r#"{"response":{"csp_report_only":true,"headers":{"content-security-policy-report-only":"x"}}}"#,
    );
    assert_eq!(err.path, "response.csp_report_only");
    // Without a CSP to rename, an explicit report-only header is fine.
    compiled(
        r#"{"preset":"strict-api","response":{"csp_report_only":true,"headers":{"content-security-policy-report-only":"x"}}}"#,
    );
}

#[test]
fn remove_and_keep_adjust_the_owasp_list() {
    let c = compiled(r#"{"response":{"remove":["x-debug-*","X-Trace"],"keep":["Server"]}}"#);
    let r = &c.default.response.remove;
    assert!(r.selects("x-debug-token"));
    assert!(r.selects("x-trace"));
    assert!(!r.selects("server"));
    assert!(r.selects("x-powered-by"));
}

#[test]
fn request_settings_compile() {
    let c = compiled(
        r#"{"request":{"strip":["x-internal-*"],"keep":["x-envoy-force-trace"],"strip_forwarded":true,
            "max_header_count":20,"max_header_bytes":1000,"reject_control_characters":false,
            "allowed_methods":["get","post"]}}"#,
    );
    let r = &c.default.request;
    assert!(r.strip.selects("x-internal-user"));
    assert!(r.strip.selects("x-jwt-claim-sub"), "defaults stay");
    assert!(!r.strip.selects("x-envoy-force-trace"));
    assert!(r.strip.selects("x-forwarded-for"));
    assert!(r.strip.selects("forwarded"));
    assert_eq!((r.max_header_count, r.max_header_bytes), (20, 1000));
    assert!(!r.reject_control_characters);
    assert_eq!(r.allowed_methods.as_deref().unwrap(), ["GET", "POST"]);
    // Trusting the protocol while stripping the other forwarded headers is fine.
    compiled(
        r#"{"request":{"trust_forwarded_proto":true,"strip":["x-forwarded-*"],"keep":["x-forwarded-proto"]}}"#,
    );
    let any = compiled(r#"{"request":{"allowed_methods":["*"]}}"#);
    assert!(any.default.request.allowed_methods.is_none());
}

#[test]
fn routes_inherit_and_override() {
    let c = compiled(
        r#"{"preset":"owasp",
            "response":{"headers":{"clear-site-data":null,"x-team":"a"},"remove":["x-a"]},
            "request":{"max_header_count":50,"trust_forwarded_proto":true},
            "routes":[
              {"match":{"prefix":"/api/"},"preset":"strict-api",
               "response":{"headers":{"x-team":"b"},"remove":["x-b"]},
               "request":{"allowed_methods":["GET"]}},
              {"match":{"prefix":"/"},"response":{"headers":{"x-frame-options":null}}}
            ]}"#,
    );
    assert_eq!(c.routes.len(), 2);
    let api = &c.routes[0].value;
    assert_eq!(rule(api, "cache-control").unwrap().value, "no-store");
    assert_eq!(rule(api, "x-team").unwrap().value, "b");
    assert!(rule(api, "clear-site-data").is_none());
    assert!(api.response.remove.selects("x-b"));
    assert!(
        !api.response.remove.selects("x-a"),
        "a route's list replaces the top-level one"
    );
    assert_eq!(api.request.max_header_count, 50, "inherited");
    assert!(api.request.trust_forwarded_proto, "inherited");
    assert_eq!(api.request.allowed_methods.as_deref().unwrap(), ["GET"]);
    let site = &c.routes[1].value;
    assert!(rule(site, "x-frame-options").is_none());
    assert!(
        rule(site, "content-security-policy").is_some(),
        "owasp inherited"
    );
    assert_eq!(rule(site, "x-team").unwrap().value, "a");
    assert!(
        rule(&c.default, "x-frame-options").is_some(),
        "default untouched"
    );
}

#[test]
fn unknown_fields_name_their_path() {
    assert_eq!(error(r#"{"presett":"owasp"}"#).path, "presett");
    assert_eq!(
        error(r#"{"response":{"remvoe":[]}}"#).path,
        "response.remvoe"
    );
    let err = error(r#"{"request":{"max_headers":3}}"#);
    assert_eq!(err.path, "request.max_headers");
    assert!(err.reason.contains("unknown field"), "{}", err.reason);
    assert_eq!(
        error(r#"{"routes":[{"match":{},"request":{"x":1}}]}"#).path,
        "routes[0].request.x"
    );
    assert_eq!(
        error(r#"{"response":{"headers":{"x-a":{"value":"1","scope":"all"}}}}"#).path,
        "response.headers.x-a.scope"
    );
}

#[test]
fn bad_values_name_their_path() {
    let cases: &[(&str, &str)] = &[
        (r#"{"preset":"paranoid"}"#, "preset"),
        (
            r#"{"request":{"max_header_count":0}}"#,
            "request.max_header_count",
        ),
        (
            r#"{"request":{"max_header_bytes":0}}"#,
            "request.max_header_bytes",
        ),
        (
            r#"{"request":{"max_header_count":-1}}"#,
            "request.max_header_count",
        ),
        (
            r#"{"request":{"max_header_count":"ten"}}"#,
            "request.max_header_count",
        ),
        (
            r#"{"request":{"allowed_methods":[]}}"#,
            "request.allowed_methods",
        ),
        (
            r#"{"request":{"allowed_methods":["*","GET"]}}"#,
            "request.allowed_methods",
        ),
        (
            r#"{"request":{"allowed_methods":["GET","BAD METHOD"]}}"#,
            "request.allowed_methods[1]",
        ),
        (r#"{"request":{"strip":["ok","*"]}}"#, "request.strip[1]"),
        (r#"{"request":{"keep":["bad name"]}}"#, "request.keep[0]"),
        (
            r#"{"response":{"remove":[":status"]}}"#,
            "response.remove[0]",
        ),
        (r#"{"response":{"keep":["a*b*"]}}"#, "response.keep[0]"),
        (
            r#"{"response":{"document_types":["text/html","html"]}}"#,
            "response.document_types[1]",
        ),
        (
            r#"{"response":{"headers":{"bad name":"1"}}}"#,
            "response.headers.bad name",
        ),
        (
            r#"{"response":{"headers":{":status":"1"}}}"#,
            "response.headers.:status",
        ),
        (
            r#"{"response":{"headers":{"content-length":"1"}}}"#,
            "response.headers.content-length",
        ),
        (
            r#"{"response":{"headers":{"x-a":"a\u0000b"}}}"#,
            "response.headers.x-a",
        ),
        (
            r#"{"response":{"headers":{"x-a":""}}}"#,
            "response.headers.x-a",
        ),
        (
            r#"{"response":{"headers":{"x-a":{"value":"\r\n"}}}}"#,
            "response.headers.x-a.value",
        ),
        (
            r#"{"response":{"headers":{"x-a":{"documents_only":true}}}}"#,
            "response.headers.x-a",
        ),
        (
            r#"{"response":{"headers":{"x-a":1}}}"#,
            "response.headers.x-a",
        ),
        (
            r#"{"response":{"headers":{"X-A":"1","x-a":"2"}}}"#,
            "response.headers.x-a",
        ),
        (r#"{"response":{"headers":[]}}"#, "response.headers"),
        (r#"{"routes":[{"preset":"owasp"}]}"#, "routes[0]"),
        (
            r#"{"routes":[{"match":{"prefix":"api"}}]}"#,
            "routes[0].match.prefix",
        ),
        (
            r#"{"routes":[{"match":{}},{"match":{},"request":{"max_header_count":0}}]}"#,
            "routes[1].request.max_header_count",
        ),
        (
            r#"{"routes":[{"match":{},"response":{"headers":{"te":"x"}}}]}"#,
            "routes[0].response.headers.te",
        ),
        (
            r#"{"request":{"strip_forwarded":true,"trust_forwarded_proto":true}}"#,
            "request.strip_forwarded",
        ),
        (
            r#"{"request":{"strip_forwarded":true},"routes":[{"match":{},"request":{"trust_forwarded_proto":true}}]}"#,
            "routes[0].request.trust_forwarded_proto",
        ),
        (
            r#"{"request":{"trust_forwarded_proto":true},"routes":[{"match":{},"request":{"strip_forwarded":true}}]}"#,
            "routes[0].request.strip_forwarded",
        ),
        (
            r#"{"request":{"strip":["x-a","Host"]}}"#,
            "request.strip[1]",
        ),
        (
            r#"{"request":{"strip":["content-length"]}}"#,
            "request.strip[0]",
        ),
        (
            r#"{"request":{"trust_forwarded_proto":true,"strip":["x-forwarded-*"]}}"#,
            "request.strip",
        ),
        (
            r#"{"request":{"trust_forwarded_proto":true},"routes":[{"match":{},"request":{"strip":["x-forwarded-proto"]}}]}"#,
            "routes[0].request.strip",
        ),
        (r#"{} x"#, "."),
    ];
    for (json, path) in cases {
        let err = error(json);
        assert_eq!(err.path, *path, "{json}: {err}");
        assert!(!err.reason.is_empty());
    }
}

#[test]
fn errors_render_as_one_line_naming_the_field() {
    let err = error(r#"{"request":{"max_header_count":0}}"#);
    assert_eq!(
        err.to_string(),
        "invalid configuration at `request.max_header_count`: must be at least 1"
    );
}

#[test]
fn the_readme_example_compiles_and_means_what_it_says() {
    let readme = include_str!("../README.md");
    let fence = "```json palisade:headers\n";
    let start = readme.find(fence).unwrap() + fence.len();
    let len = readme[start..].find("```").unwrap();
    let c = compiled(&readme[start..start + len]);
    assert!(rule(&c.default, "clear-site-data").is_none());
    assert_eq!(c.routes.len(), 2);
    let logout = &c.routes[1].value;
    assert!(rule(logout, "clear-site-data").is_some());
    assert!(rule(logout, "x-custom").unwrap().documents_only);
    let cookies = &c.default.response.cookies;
    assert!(cookies.default.http_only);
    assert!(!cookies.rule_for("XSRF-TOKEN").http_only);
}

#[test]
fn cookie_defaults_come_from_the_preset_and_fields_override_them() {
    use crate::cookies::{CookieRule, SameSite};
    let cookies = |json: &str| compiled(json).default.response.cookies.clone();
    assert_eq!(
        cookies(r#"{"preset": "owasp"}"#).default,
        CookieRule {
            secure: true,
            http_only: true,
            same_site: SameSite::Lax
        }
    );
    assert_eq!(
        cookies(r#"{"preset": "strict-api"}"#).default.same_site,
        SameSite::Strict
    );
    let browser = cookies("{}").default;
    assert!(browser.secure && !browser.http_only && browser.same_site == SameSite::Off);
    assert!(cookies(r#"{"preset": "none"}"#).is_off());
    let tuned = cookies(
        r#"{"preset": "owasp", "response": {"cookies": {"same_site": "strict",
            "exceptions": {"csrf": {"http_only": false}, "off": {"secure": false, "http_only": false, "same_site": "off"}}}}}"#,
    );
    assert_eq!(tuned.default.same_site, SameSite::Strict);
    assert_eq!(
        tuned.rule_for("csrf"),
        CookieRule {
            secure: true,
            http_only: false,
            same_site: SameSite::Strict
        }
    );
    assert_eq!(tuned.rule_for("off"), CookieRule::OFF);
    // A route inherits the top level's `cookies`; what it leaves unset comes from the route's preset.
    let c = compiled(
        r#"{"preset": "owasp", "response": {"cookies": {"http_only": false}},
            "routes": [{"match": {"prefix": "/api/"}, "preset": "strict-api"},
                       {"match": {"prefix": "/app/"}, "response": {"cookies": {}}}]}"#,
    );
    assert!(!c.default.response.cookies.default.http_only);
    assert_eq!(c.default.response.cookies.default.same_site, SameSite::Lax);
    let api = c.routes[0].value.response.cookies.default;
    assert!(!api.http_only);
    assert_eq!(api.same_site, SameSite::Strict);
    // A route's own `cookies` replaces the top level's.
    assert!(c.routes[1].value.response.cookies.default.http_only);
}

#[test]
fn cookie_settings_browsers_would_refuse_are_refused_by_path() {
    let e = error(r#"{"response": {"cookies": {"secure": false, "same_site": "none"}}}"#);
    assert_eq!(e.path, "response.cookies.same_site");
    let e = error(
        r#"{"routes": [{"match": {"prefix": "/"}, "response": {"cookies": {"exceptions": {"__Host-id": {"secure": false}}}}}]}"#,
    );
    assert_eq!(
        e.path,
        "routes[0].response.cookies.exceptions.__Host-id.secure"
    );
    let e = error(r#"{"response": {"cookies": {"exceptions": {"bad name": {}}}}}"#);
    assert_eq!(e.path, "response.cookies.exceptions.bad name");
    let e = error(r#"{"response": {"cookies": {"same_site": "loose"}}}"#);
    assert_eq!(e.path, "response.cookies.same_site");
    let e = error(r#"{"response": {"cookies": {"httponly": true}}}"#);
    assert!(e.to_string().contains("httponly"), "{e}");
}
