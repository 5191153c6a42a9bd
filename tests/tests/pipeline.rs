//! The bundle (`palisade.wasm`) through a real Envoy: one module runs each route's stages in
//! order, hands the verified identity from jwt to ratelimit in-process, and resumes a request
//! paused for keys into the stages after jwt (ratelimit, then schema on the buffered body).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::server::Reply;
use palisade_e2e::{Envoy, Filter, HttpServer, Response, Upstream};
use serde_json::{json, Value};

const ISSUER: &str = "https://idp.example";

fn key() -> (ES256KeyPair, Value) {
    let pair = ES256KeyPair::generate().with_key_id("k");
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!("k");
    (pair, json!({"keys": [jwk]}))
}

fn bearer(pair: &ES256KeyPair, sub: &str) -> String {
    let claims = Claims::create(Duration::from_mins(10))
        .with_issuer(ISSUER)
        .with_subject(sub);
    format!("Bearer {}", pair.sign(claims).unwrap())
}

/// headers → jwt → ratelimit (one request per hour per subject) → schema on `/api/`;
/// headers only on `/healthz`; nothing elsewhere.
fn bundle(jwt_keys: Value) -> Value {
    json!({
        "stages": {
            "headers": {"preset": "strict-api"},
            "jwt": {
                "providers": {"idp": merge(json!({
                    "issuer": ISSUER,
                    "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
                }), jwt_keys)},
                "rules": [{"requires": {"provider_name": "idp"}}]
            },
            "ratelimit": {"rules": [{"name": "per-user", "key": ["claim:sub"],
                                     "limits": [{"requests": 1, "per": "1h"}]}]},
            "schema": {"routes": [{
                "match": {"prefix": "/api/notes", "methods": ["POST"]},
                "body": {"required": true, "schema": {
                    "type": "object", "required": ["title"],
                    "properties": {"title": {"type": "string", "maxLength": 20}}}}
            }]}
        },
        "routes": [
            {"match": {"path": "/healthz"}, "stages": ["headers"]},
            {"match": {"prefix": "/api/"}, "stages": ["headers", "jwt", "ratelimit", "schema"]}
        ]
    })
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn local_keys(jwks: &Value) -> Value {
    json!({"local_jwks": {"inline_string": jwks.to_string()}})
}

fn start(upstream: &Upstream, config: Value, idp: Option<u16>) -> Envoy {
    let mut builder = Envoy::builder().filter(Filter::wasm("palisade", config));
    if let Some(port) = idp {
        builder = builder.cluster("idp", port);
    }
    builder
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn post_note(envoy: &Envoy, auth: &str, body: &str) -> Response {
    envoy
        .request("POST", "/api/notes")
        .header("authorization", auth)
        .header("content-type", "application/json")
        .body(body.as_bytes().to_vec())
        .send()
}

#[test]
fn each_route_runs_its_own_stages_in_one_module() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let envoy = start(&upstream, bundle(local_keys(&jwks)), None);
    // /healthz: headers only (security headers added, no token needed).
    let r = envoy.request("GET", "/healthz").send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // /api/: jwt runs (no token: 401, answered with the headers stage's security headers).
    let r = envoy.request("GET", "/api/notes").send();
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    // Elsewhere: no stage at all.
    assert_eq!(envoy.request("GET", "/other").send().status, 200);
    // A valid note goes through all four stages; the claim header reaches the upstream.
    let r = post_note(&envoy, &bearer(&pair, "alice"), r#"{"title": "hi"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.upstream_header("x-sub").as_deref(), Some("alice"));
    // Schema validates the body after jwt: a bad note of a verified user is a 400.
    let r = post_note(&envoy, &bearer(&pair, "bob"), r#"{"title": 7}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(upstream.hits(), 3);
}

#[test]
fn the_verified_subject_keys_the_budget_in_process() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let envoy = start(&upstream, bundle(local_keys(&jwks)), None);
    let get = |auth: &str, forged: Option<&str>| {
        let mut r = envoy.request("GET", "/api/x").header("authorization", auth);
        if let Some(sub) = forged {
            r = r.header("x-sub", sub);
        }
        r.send().status
    };
    let (alice, bob) = (bearer(&pair, "alice"), bearer(&pair, "bob"));
    assert_eq!(get(&alice, None), 200);
    assert_eq!(get(&alice, None), 429);
    // A forged claim header beside a real token changes nothing: the budget is the token's.
    assert_eq!(get(&alice, Some("zoe")), 429);
    assert_eq!(get(&bob, Some("alice")), 200);
    assert_eq!(
        envoy.stat("wasmcustom.palisade_ratelimit_per_user_limited"),
        Some(2)
    );
}

#[test]
fn a_request_paused_for_keys_resumes_into_ratelimit_and_schema() {
    let (pair, jwks) = key();
    // The key server answers slowly: the first requests wait for the first key set.
    let keys = jwks.clone();
    let server = HttpServer::start(move |_| {
        std::thread::sleep(std::time::Duration::from_millis(1500));
        Reply::json(200, &keys)
    });
    let remote = json!({"remote_jwks": {
        "http_uri": {"uri": format!("http://127.0.0.1:{}/jwks", server.port()),
                     "cluster": "idp", "timeout": "5s"},
        "cache_duration": "300s"}});
    let upstream = Upstream::start();
    let envoy = start(&upstream, bundle(remote), Some(server.port()));
    let alice = bearer(&pair, "alice");
    let r = post_note(&envoy, &alice, r#"{"title": "first"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.upstream_header("x-sub").as_deref(), Some("alice"));
    assert!(envoy.stat("wasmcustom.palisade_jwt_paused").unwrap() >= 1);
    // Ratelimit ran after the resumed jwt stage: alice's budget is spent.
    assert_eq!(
        post_note(&envoy, &alice, r#"{"title": "again"}"#).status,
        429
    );
    // Schema checks the body held while jwt waited.
    let r = post_note(&envoy, &bearer(&pair, "carol"), r#"{"title": 1}"#);
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(upstream.hits(), 1);
}
