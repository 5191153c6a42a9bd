//! The bundle on the mock host: per-route stage lists and the identity handed in-process.

use super::*;
use jwt_simple::prelude::*;
use palisade_core::driver::{Flow, Pipeline};
use palisade_core::host::HeaderMap;
use palisade_core::identity::VERIFIED_CLAIMS_PROPERTY;
use palisade_core::testing::MockHost;
use serde_json::{json, Value};
use std::rc::Rc;

fn key() -> (ES256KeyPair, String) {
    let pair = ES256KeyPair::generate().with_key_id("k");
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!("k");
    (pair, json!({"keys": [jwk]}).to_string())
}

fn token(pair: &ES256KeyPair, sub: &str) -> String {
    let claims = Claims::create(Duration::from_mins(10))
        .with_issuer("https://idp.example")
        .with_subject(sub);
    pair.sign(claims).unwrap()
}

fn bundle(host: &MockHost, jwks: &str) -> Rc<Module> {
    let config = json!({
        "stages": {
            "headers": {"preset": "strict-api"},
            "jwt": {
                "providers": {"idp": {"issuer": "https://idp.example",
                                      "local_jwks": {"inline_string": jwks}}},
                "rules": [{"requires": {"provider_name": "idp"}}]
            },
            "ratelimit": {"rules": [{"name": "per-user", "key": ["claim:sub"],
                                     "limits": [{"requests": 1, "per": "1h"}]}]}
        },
        "routes": [
            {"match": {"path": "/healthz"}, "stages": ["headers"]},
            {"match": {"prefix": "/api/"}, "stages": ["headers", "jwt", "ratelimit"]}
        ]
    });
    Rc::new(module(host, config.to_string().as_bytes()).unwrap())
}

/// One GET through the bundle: the flow and the status of a local answer, if any.
fn get(host: &MockHost, m: &Rc<Module>, id: u32, path: &str, auth: Option<&str>) -> (Flow, u16) {
    let mut headers = vec![
        (":method", "GET"),
        (":path", path),
        (":authority", "api.example"),
    ];
    let bearer = auth.map(|t| format!("Bearer {t}"));
    if let Some(b) = &bearer {
        headers.push(("authorization", b));
    }
    host.set_headers(HeaderMap::Request, &headers);
    let before = host.sent().len();
    let mut p = Pipeline::new(Rc::clone(m), id);
    let flow = p.on_request_headers(host, true);
    p.on_log(host);
    let status = match host.sent().get(before) {
        Some(r) => r.status,
        None => 0,
    };
    (flow, status)
}

#[test]
fn each_route_runs_its_own_stages() {
    let (_, jwks) = key();
    let host = MockHost::new();
    let m = bundle(&host, &jwks);
    assert_eq!(get(&host, &m, 1, "/healthz", None), (Flow::Continue, 0));
    assert_eq!(get(&host, &m, 2, "/api/notes", None), (Flow::Pause, 401));
    // No route: no stage (default_stages is empty).
    assert_eq!(get(&host, &m, 3, "/other", None), (Flow::Continue, 0));
}

#[test]
fn the_verified_subject_keys_the_ratelimit_stage_in_process() {
    let (pair, jwks) = key();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let host = MockHost::new().at_seconds(now);
    let m = bundle(&host, &jwks);
    let alice = token(&pair, "alice");
    let bob = token(&pair, "bob");
    assert_eq!(
        get(&host, &m, 1, "/api/x", Some(&alice)),
        (Flow::Continue, 0)
    );
    assert_eq!(
        get(&host, &m, 2, "/api/x", Some(&alice)),
        (Flow::Pause, 429)
    );
    assert_eq!(get(&host, &m, 3, "/api/x", Some(&bob)), (Flow::Continue, 0));
    // In the bundle the identity never goes through filter state.
    assert_eq!(host.property(&[VERIFIED_CLAIMS_PROPERTY]), None);
}
