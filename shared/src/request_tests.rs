use super::*;
use crate::path::PathFault;
use crate::testing::MockHost;
use wasm_bindgen_test::wasm_bindgen_test;

fn headers(path: &str) -> Vec<(String, String)> {
    vec![
        (":method".into(), "GET".into()),
        (":path".into(), path.into()),
        (":authority".into(), "API.Example.com.:8443".into()),
    ]
}

fn rewrite() -> PathNormalization {
    PathNormalization {
        action: PathAction::Rewrite,
        ..PathNormalization::default()
    }
}

#[test]
#[wasm_bindgen_test]
fn a_canonical_path_is_read_as_received() {
    let h = headers("/api/users?x=1&y=%2F#");
    let h = &h[..];
    let refused = RequestInfo::read(h, &PathNormalization::default()).unwrap_err();
    assert_eq!(refused, PathRefusal::Unsafe(PathFault::Fragment));
    let h = headers("/api/users?x=1&y=%2F");
    let info = RequestInfo::read(&h, &PathNormalization::default()).unwrap();
    assert!(matches!(info.path, Cow::Borrowed(_)));
    assert_eq!(info.path_only(), "/api/users");
    assert_eq!(
        info.query(),
        Some("x=1&y=%2F"),
        "the query is not canonicalized"
    );
    assert_eq!(info.rewritten_path(), None);
    assert_eq!(info.host(), "api.example.com");
}

#[test]
#[wasm_bindgen_test]
fn reject_refuses_a_path_not_in_canonical_form() {
    let h = headers("//api/%61dmin?q=1");
    let refused = RequestInfo::read(&h, &PathNormalization::default()).unwrap_err();
    assert_eq!(
        refused,
        PathRefusal::NotCanonical {
            canonical: "/api/admin".into()
        }
    );
}

#[test]
#[wasm_bindgen_test]
fn rewrite_gives_the_canonical_path_with_the_query() {
    let h = headers("/api/./x/../%61dmin;y?q=%2e%2e");
    let info = RequestInfo::read(&h, &rewrite()).unwrap();
    assert_eq!(info.path, "/api/admin?q=%2e%2e");
    assert_eq!(info.path_only(), "/api/admin");
    assert_eq!(info.query(), Some("q=%2e%2e"));
    assert_eq!(info.rewritten_path(), Some("/api/admin?q=%2e%2e"));
    assert_eq!(info.raw_path(), "/api/./x/../%61dmin;y?q=%2e%2e");
}

#[test]
#[wasm_bindgen_test]
fn unsafe_paths_are_refused_even_under_rewrite() {
    for (path, fault) in [
        ("/api%2Fadmin", PathFault::EncodedSlash),
        ("/api\\admin", PathFault::Backslash),
        ("/%252e", PathFault::DoubleEncoding),
        ("/a%00", PathFault::ControlCharacter),
        ("/a%zz", PathFault::InvalidEscape),
        ("", PathFault::NotOriginForm),
    ] {
        let h = headers(path);
        assert_eq!(
            RequestInfo::read(&h, &rewrite()).unwrap_err(),
            PathRefusal::Unsafe(fault),
            "{path}"
        );
    }
}

#[test]
#[wasm_bindgen_test]
fn case_insensitive_keys_are_lower_case() {
    let h = headers("/API/Admin");
    let policy = PathNormalization {
        case_insensitive: true,
        ..PathNormalization::default()
    };
    let info = RequestInfo::read(&h, &policy).unwrap();
    assert_eq!(info.key_path(), "/api/admin");
    assert_eq!(
        info.path_only(),
        "/API/Admin",
        "the upstream keeps the case"
    );
    let info = RequestInfo::read(&h, &PathNormalization::default()).unwrap();
    assert_eq!(info.key_path(), "/API/Admin");
}

#[test]
#[wasm_bindgen_test]
fn canonical_request_rewrites_path_or_answers_400() {
    let host = MockHost::new();
    let h = headers("//api/admin?q=1");
    let info = canonical_request(&host, 1, &h, &rewrite()).unwrap();
    assert_eq!(info.path, "/api/admin?q=1");
    assert_eq!(
        host.header(HeaderMap::Request, ":path").as_deref(),
        Some("/api/admin?q=1")
    );
    let host = MockHost::new().with_request_header(":path", "/x");
    let refusal = canonical_request(&host, 1, &h, &PathNormalization::default()).unwrap_err();
    assert_eq!(refusal.to_denial().status, 400);
    assert_eq!(
        host.header(HeaderMap::Request, ":path").as_deref(),
        Some("/x"),
        "reject leaves the request alone"
    );
}

#[test]
#[wasm_bindgen_test]
fn hosts_are_lower_case_without_port_or_trailing_dot() {
    assert_eq!(normalize_host("[::1]:8080"), "[::1]");
    assert_eq!(normalize_host("Example.COM.:80"), "example.com");
    assert_eq!(normalize_host("example.com"), "example.com");
    assert!(matches!(normalize_host("a.b"), Cow::Borrowed(_)));
}
