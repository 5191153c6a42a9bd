//! Path canonicalization through a real Envoy: a corpus of spellings of `/api/admin` (dot segments,
//! encoded dots and slashes, double encoding, backslashes, `;` parameters, empty segments, case,
//! trailing dots and slashes) sent with a token that lacks the `admin` scope. With Envoy's own path
//! normalization off and on, and Palisade in `reject` and `rewrite`: no spelling reaches the
//! upstream as a path a lenient server would serve as `/api/admin`. Plus a rate-limit rule and a
//! schema route that other spellings must not skip, and the demo's jwt config (issue 10).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::paths::workspace_root;
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.example";

/// Spellings of `/api/admin` and its neighbours.
const CORPUS: &[&str] = &[
    "/api/admin",
    "//api/admin",
    "/api//admin",
    "///api///admin///",
    "/api/admin/",
    "/api/admin//",
    "/api/./admin",
    "/./api/admin",
    "/../api/admin",
    "/api/x/../admin",
    "/api/admin/x/..",
    "/api/%61dmin",
    "/api/%61%64%6d%69%6e",
    "/%61pi/admin",
    "/api/%2e/admin",
    "/api/%2E/admin",
    "/api/x/%2e%2e/admin",
    "/api/x/.%2e/admin",
    "/api/x/%2E./admin",
    "/api%2fadmin",
    "/api%2Fadmin",
    "/api/x%2f..%2fadmin",
    "/api/x/..%2fadmin",
    "/api/x/..%5cadmin",
    "/api/x/%252e%252e/admin",
    "/api/%2561dmin",
    "/api/x/%25%32%65%25%32%65/admin",
    "/api\\admin",
    "/api/x/..\\admin",
    "/api/admin;x",
    "/api;x/admin",
    "/api/x/..;/admin",
    "/api/admin;jsessionid=1/",
    "/api/x;/../admin",
    "/API/admin",
    "/api/Admin",
    "/api/ADMIN",
    "/api/admin.",
    "/api/admin./",
    "/api/admin%00",
    "/api/admin%20",
    "/api/x/%c0%ae%c0%ae/admin",
    "/api/admin?x=1",
    "/api/admin/%2e",
    "/api/%2e%2e/api/admin",
    "/api/admin%2f",
    "/api/admin/%2e%2e/admin",
    "/api/administrator",
    "/api/orders",
    "/api/orders/../admin",
];

/// How the most lenient common upstream reads a path: every escape decoded (twice, for
/// double-decoding servers), `\` as `/`, `;` parameters stripped, `//` merged, dot segments
/// removed, and case folded when the deployment says paths ignore case.
fn lenient(path: &str, fold_case: bool) -> String {
    let mut p = path.split('?').next().unwrap().to_string();
    for _ in 0..2 {
        p = decode(&p.replace('\\', "/")).replace('\\', "/");
    }
    let mut out: Vec<String> = Vec::new();
    for seg in p.split('/') {
        let seg = seg.split(';').next().unwrap();
        match seg {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            s => out.push(if fold_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }),
        }
    }
    format!("/{}", out.join("/"))
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let escaped = (b[i] == b'%')
            .then(|| b.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match escaped {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_admin(lenient_path: &str) -> bool {
    lenient_path == "/api/admin" || lenient_path.starts_with("/api/admin/")
}

struct Tokens {
    user: String,
    admin: String,
    jwks: String,
}

fn tokens() -> Tokens {
    let pair = ES256KeyPair::generate().with_key_id("k1");
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!("k1");
    let sign = |scope: &str| {
        let claims = Claims::with_custom_claims(json!({ "scope": scope }), Duration::from_mins(10))
            .with_issuer(ISSUER)
            .with_audience("api")
            .with_subject("user-1");
        pair.sign(claims).unwrap()
    };
    Tokens {
        user: sign("orders"),
        admin: sign("orders admin"),
        jwks: json!({ "keys": [jwk] }).to_string(),
    }
}

/// Envoy's own normalization (`normalize_path`, `merge_slashes`, escaped slashes redirected).
fn envoy_normalizes(b: &mut Value) {
    let hcm = b
        .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
        .unwrap();
    hcm["normalize_path"] = json!(true);
    hcm["merge_slashes"] = json!(true);
    hcm["path_with_escaped_slashes_action"] = json!("UNESCAPE_AND_REDIRECT");
}

/// The bundle with jwt (admin scope under `/api/admin`), ratelimit (one request per minute under `/api/limited`,
/// and per path under `/api/items/`), schema (`POST /api/orders` needs a valid body).
fn gateway(upstream: &Upstream, t: &Tokens, paths: &Value, envoy_normalization: bool) -> Envoy {
    let jwt = json!({
        "providers": { "idp": {
            "issuer": ISSUER, "audiences": ["api"],
            "local_jwks": { "inline_string": t.jwks }
        }},
        "rules": [
            { "match": { "path_separated_prefix": "/api/admin" }, "requires": { "provider_name": "idp" },
              "authorization": { "scopes": ["admin"] } },
            { "match": { "prefix": "/api/" }, "requires": { "provider_name": "idp" } },
            { "match": { "prefix": "/" } }
        ],
        "path_normalization": paths
    });
    let ratelimit = json!({
        "rules": [
            { "name": "limited", "match": { "path_separated_prefix": "/api/limited" }, "key": ["rule"],
              "limits": [ { "requests": 1, "per": "1m" } ] },
            { "name": "per-path", "match": { "prefix": "/api/items/" }, "key": ["path"],
              "limits": [ { "requests": 1, "per": "1m" } ] }
        ],
        "path_normalization": paths
    });
    let schema = json!({
        "openapi": {
            "openapi": "3.1.0", "info": { "title": "t", "version": "1" },
            "paths": { "/api/orders": { "post": {
                "operationId": "createOrder",
                "requestBody": { "required": true, "content": { "application/json": { "schema": {
                    "type": "object", "required": ["item"], "additionalProperties": false,
                    "properties": { "item": { "type": "string", "minLength": 1 } }
                }}}}
            }}}
        },
        "unmatched_path": "pass",
        "unmatched_method": "pass",
        "path_normalization": { "action": paths["action"].clone() }
    });
    // The gateway's bundle: the three stages in one module, each with its own normalization.
    let bundle = json!({
        "stages": { "jwt": jwt, "ratelimit": ratelimit, "schema": schema },
        "default_stages": ["jwt", "ratelimit", "schema"]
    });
    let mut builder = Envoy::builder().filter(Filter::wasm("palisade", bundle));
    if envoy_normalization {
        builder = builder.patch(envoy_normalizes);
    }
    builder.start(upstream).unwrap()
}

fn get(envoy: &Envoy, path: &str, token: &str) -> Option<Response> {
    envoy
        .request("GET", path)
        .header("authorization", &format!("Bearer {token}"))
        .try_send()
        .ok()
}

/// The path the echo upstream received, when the answer is its echo.
fn upstream_path(r: &Response) -> Option<String> {
    if r.status != 200 || r.header("server") != Some("palisade-echo") {
        return None;
    }
    r.json()["path"].as_str().map(str::to_string)
}

fn run_corpus(paths: Value, envoy_normalization: bool) {
    let fold = paths["case_insensitive"].as_bool().unwrap_or(false);
    let upstream = Upstream::start();
    let t = tokens();
    let envoy = gateway(&upstream, &t, &paths, envoy_normalization);
    let label = format!("palisade {paths}, envoy normalization {envoy_normalization}");

    // The setup works: the admin token reaches the admin route, the user token its own.
    let r = get(&envoy, "/api/admin", &t.admin).unwrap();
    assert_eq!(r.status, 200, "{label}: admin token on /api/admin");
    let r = get(&envoy, "/api/orders", &t.user).unwrap();
    assert_eq!(r.status, 200, "{label}: user token on /api/orders");

    let mut reached = 0;
    for path in CORPUS {
        let Some(r) = get(&envoy, path, &t.user) else {
            continue; // Envoy closed the connection: nothing reached the upstream.
        };
        if let Some(seen) = upstream_path(&r) {
            reached += 1;
            let read = lenient(&seen, fold);
            assert!(
                !is_admin(&read),
                "{label}: `{path}` reached the upstream as `{seen}` (served as `{read}`) with a user token"
            );
        }
        if !envoy_normalization && (*path == "/api/administrator" || *path == "/api/orders") {
            // Control: canonical paths of other resources still get through.
            assert_eq!(r.status, 200, "{label}: {path}");
        }
    }
    assert!(
        reached >= 2,
        "{label}: only {reached} requests reached the upstream"
    );
    if !envoy_normalization {
        // Never safe, whatever the action: 400 problem+json from Palisade itself.
        let r = get(&envoy, "/api%2Fadmin", &t.user).unwrap();
        assert_eq!(r.status, 400, "{label}");
        assert_eq!(
            r.json()["type"],
            "https://palisade.dev/problems/non-canonical-path",
            "{label}"
        );
    }

    // Rewrite mode: the upstream gets exactly the canonical path (query kept).
    if paths["action"] == "rewrite" && !envoy_normalization {
        let r = get(&envoy, "/api/x/../orders/./%31?q=%2e%2e", &t.user).unwrap();
        assert_eq!(r.status, 200, "{label}");
        assert_eq!(r.json()["path"], "/api/orders/1?q=%2e%2e", "{label}");
    }

    // A rate-limit rule is not skipped by another spelling of its path.
    let r = get(&envoy, "/api/limited", &t.admin).unwrap();
    assert_eq!(r.status, 200, "{label}: first request within the limit");
    for path in [
        "//api/limited",
        "/api/%6cimited",
        "/api/limited;x",
        "/api/./limited/",
        "/api/LIMITED",
        "/api/x/../limited",
    ] {
        if path == "/api/LIMITED" && !fold {
            continue; // A different resource on a case-sensitive upstream.
        }
        let r = get(&envoy, path, &t.admin).unwrap();
        assert!(
            upstream_path(&r).is_none(),
            "{label}: `{path}` skipped the rate limit ({})",
            r.status
        );
    }
    // A per-path budget is not refilled by another spelling of the path.
    let r = get(&envoy, "/api/items/1", &t.admin).unwrap();
    assert_eq!(r.status, 200, "{label}");
    for path in [
        "/api/items//1",
        "/api/items/%31",
        "/api/items/./1",
        "/api/items/1;v=2",
    ] {
        let r = get(&envoy, path, &t.admin).unwrap();
        assert!(
            upstream_path(&r).is_none(),
            "{label}: `{path}` got a fresh per-path budget ({})",
            r.status
        );
    }

    // A schema route is not skipped by another spelling of its path.
    for path in [
        "/api/orders",
        "//api/orders",
        "/api/%6frders",
        "/api/./orders",
        "/api/orders;x",
    ] {
        let r = envoy
            .request("POST", path)
            .header("authorization", &format!("Bearer {}", t.admin))
            .json(&json!({ "item": "", "extra": 1 }))
            .send();
        assert!(
            upstream_path(&r).is_none(),
            "{label}: an invalid body reached the upstream through `{path}`"
        );
        assert!(
            [400, 307].contains(&r.status),
            "{label}: {path} answered {}",
            r.status
        );
    }
}

#[test]
fn corpus_with_envoy_normalization_off_reject() {
    run_corpus(json!({ "action": "reject" }), false);
}

#[test]
fn corpus_with_envoy_normalization_on_reject() {
    run_corpus(json!({ "action": "reject" }), true);
}

#[test]
fn corpus_with_envoy_normalization_off_rewrite_case_insensitive() {
    run_corpus(
        json!({ "action": "rewrite", "case_insensitive": true }),
        false,
    );
}

#[test]
fn corpus_with_envoy_normalization_on_rewrite() {
    run_corpus(json!({ "action": "rewrite" }), true);
}

/// Issue 10's reproduction against the demo's own jwt config (`cargo xtask demo`).
#[test]
fn demo_config_refuses_the_issue_reproduction() {
    let mut config: Value = serde_json::from_slice(
        &std::fs::read(workspace_root().join("envoy/demo/jwt.json")).unwrap(),
    )
    .unwrap();
    let pair = ES256KeyPair::generate().with_key_id("demo-es256");
    let jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    config["providers"]["demo"]["local_jwks"]["inline_string"] =
        json!(json!({ "keys": [jwk] }).to_string());
    let sign = |scope: &str| {
        let claims = Claims::with_custom_claims(json!({ "scope": scope }), Duration::from_hours(1))
            .with_issuer("https://demo.palisade.dev")
            .with_audience("demo-api")
            .with_subject("alice");
        pair.sign(claims).unwrap()
    };
    let (user, admin) = (sign("orders"), sign("orders admin"));
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(Filter::wasm("jwt", config))
        .start(&upstream)
        .unwrap();
    assert_eq!(get(&envoy, "/api/admin", &admin).unwrap().status, 200);
    assert_eq!(get(&envoy, "/api/admin", &user).unwrap().status, 403);
    for path in ["//api/admin", "/api/%61dmin"] {
        let status = get(&envoy, path, &user).unwrap().status;
        assert!(
            [400, 403].contains(&status),
            "{path} with the user token: {status}"
        );
    }
    assert_eq!(
        upstream.hits(),
        1,
        "only the admin request reached the upstream"
    );
}

#[test]
fn the_lenient_reader_reads_like_a_lenient_server() {
    assert_eq!(lenient("//api/%61dmin;x/", false), "/api/admin");
    assert_eq!(lenient("/api/x/%252e%252e/admin", false), "/api/admin");
    assert_eq!(lenient("/api\\x\\..\\admin", false), "/api/admin");
    assert_eq!(lenient("/API/Admin", true), "/api/admin");
    assert_eq!(lenient("/API/Admin", false), "/API/Admin");
    assert!(!is_admin("/api/administrator"));
}
