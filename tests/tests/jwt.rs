//! The jwt filter through a real Envoy, with real JWKS and OIDC discovery servers on loopback:
//! key rotation without a burst of 401s, a key server down at start then up, discovery,
//! per-route rules, forged claim headers stripped, claims forwarded, requests that wait for keys
//! and never hang, counters, config errors and the example config.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine;
use jwt_simple::prelude::*;
use palisade_e2e::envoy::validate_example;
use palisade_e2e::server::Reply;
use palisade_e2e::{Envoy, Filter, HttpServer, Response, Upstream};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const ISSUER: &str = "https://idp.example";

/// A signing key and its public JWK.
struct Key {
    pair: ES256KeyPair,
    jwk: Value,
}

fn key(kid: &str) -> Key {
    let pair = ES256KeyPair::generate().with_key_id(kid);
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!(kid);
    Key { pair, jwk }
}

fn jwks(keys: &[&Key]) -> Value {
    json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
}

/// A token valid for ten minutes: iss ISSUER (unless `extra` says otherwise), aud "api", sub "user-1", plus `extra`.
fn token(key: &Key, extra: Value) -> String {
    let custom: Map<String, Value> = extra.as_object().cloned().unwrap_or_default();
    let mut claims = Claims::with_custom_claims(custom, Duration::from_mins(10))
        .with_issuer(ISSUER)
        .with_audience("api")
        .with_subject("user-1");
    if let Some(iss) = extra.get("iss").and_then(Value::as_str) {
        claims.issuer = Some(iss.to_string());
        claims.custom.remove("iss");
    }
    key.pair.sign(claims).unwrap()
}

fn bearer(t: &str) -> String {
    format!("Bearer {t}")
}

/// A JWKS and OIDC discovery server whose key set, availability and latency tests change.
struct KeyServer {
    server: HttpServer,
    jwks: Arc<Mutex<Value>>,
    up: Arc<AtomicBool>,
    delay_ms: Arc<Mutex<u64>>,
    paths: Arc<Mutex<Vec<String>>>,
    issuer: Arc<Mutex<String>>,
}

impl KeyServer {
    fn start(initial: Value) -> Self {
        let jwks = Arc::new(Mutex::new(initial));
        let up = Arc::new(AtomicBool::new(true));
        let delay_ms = Arc::new(Mutex::new(0u64));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let issuer = Arc::new(Mutex::new(String::new()));
        let server = {
            let (jwks, up, delay_ms, paths, issuer) = (
                jwks.clone(),
                up.clone(),
                delay_ms.clone(),
                paths.clone(),
                issuer.clone(),
            );
            HttpServer::start(move |req| {
                paths.lock().unwrap().push(req.path.clone());
                let delay = *delay_ms.lock().unwrap();
                std::thread::sleep(std::time::Duration::from_millis(delay));
                if !up.load(Ordering::SeqCst) {
                    return Reply::text(503, "down");
                }
                if req.path == "/.well-known/openid-configuration" {
                    let iss = issuer.lock().unwrap().clone();
                    return Reply::json(
                        200,
                        &json!({"issuer": iss, "jwks_uri": format!("{iss}/oauth2/certs")}),
                    );
                }
                Reply::json(200, &jwks.lock().unwrap())
            })
        };
        let s = Self {
            server,
            jwks,
            up,
            delay_ms,
            paths,
            issuer,
        };
        *s.issuer.lock().unwrap() = format!("http://127.0.0.1:{}", s.port());
        s
    }

    fn port(&self) -> u16 {
        self.server.port()
    }

    fn serve(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    fn fetches(&self) -> usize {
        self.paths.lock().unwrap().len()
    }
}

/// Provider `idp` with keys from `server` (`/jwks` through cluster `idp`), every route requiring it.
fn remote_config(server: &KeyServer, extra: Value) -> Value {
    let mut config = json!({
        "providers": {"idp": {
            "issuer": ISSUER,
            "audiences": ["api"],
            "remote_jwks": {
                "http_uri": {"uri": format!("http://127.0.0.1:{}/jwks", server.port()), "cluster": "idp", "timeout": "1s"},
                "cache_duration": "300s",
                "unknown_kid_refetch_interval": "1s",
                "retry_policy": {"num_retries": 20, "retry_back_off": {"base_interval": "100ms", "max_interval": "300ms"}}
            },
            "claim_to_headers": [{"header_name": "x-sub", "claim_name": "sub"}]
        }},
        "rules": [{"requires": {"provider_name": "idp"}}]
    });
    merge(&mut config, extra);
    config
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                merge(a.entry(k).or_insert(Value::Null), v);
            }
        }
        (a, b) => *a = b,
    }
}

fn start(upstream: &Upstream, config: Value, cluster: Option<u16>, workers: u32) -> Envoy {
    let mut builder = Envoy::builder()
        .filter(Filter::wasm("jwt", config))
        .concurrency(workers);
    if let Some(port) = cluster {
        builder = builder.cluster("idp", port);
    }
    builder
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn get(envoy: &Envoy, path: &str, token: Option<&str>) -> Response {
    let mut r = envoy.request("GET", path);
    if let Some(t) = token {
        r = r.header("authorization", &bearer(t));
    }
    r.send()
}

/// Polls until `f` holds (or panics after 15 s); no timing is asserted.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + std::time::Duration::from_secs(15);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("never: {what}");
}

#[test]
fn key_rotation_is_absorbed_by_one_refetch_without_401s() {
    let (a, b) = (key("a"), key("b"));
    let server = KeyServer::start(jwks(&[&a]));
    let upstream = Upstream::start();
    let envoy = start(
        &upstream,
        remote_config(&server, json!({})),
        Some(server.port()),
        2,
    );
    let old = token(&a, json!({}));
    for _ in 0..6 {
        assert_eq!(get(&envoy, "/x", Some(&old)).status, 200);
    }
    let before = server.fetches();
    // The issuer rotates: key b replaces key a, and tokens signed with b arrive at once, on both workers.
    server.serve(jwks(&[&b]));
    let new = token(&b, json!({}));
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| get(&envoy, "/x", Some(&new)).status))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        statuses.iter().all(|s| *s == 200),
        "statuses after rotation: {statuses:?}"
    );
    assert_eq!(
        server.fetches() - before,
        1,
        "one refetch absorbed the rotation"
    );
    assert_eq!(
        envoy.stat("wasmcustom.palisade_jwt_denied_invalid"),
        Some(0)
    );
    // The old key is gone from the set: its tokens are refused now.
    let r = get(&envoy, "/x", Some(&old));
    assert_eq!(r.status, 401);
}

#[test]
fn key_server_down_at_start_then_up() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    server.up.store(false, Ordering::SeqCst);
    let upstream = Upstream::start();
    let config = remote_config(&server, json!({"keys_unavailable": {"status": 503}}));
    let envoy = start(&upstream, config, Some(server.port()), 1);
    let t = token(&a, json!({}));
    let r = get(&envoy, "/x", Some(&t));
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("5"));
    assert_eq!(
        r.json()["type"],
        "https://palisade.dev/problems/jwt-keys-unavailable"
    );
    assert!(
        r.json()["detail"].as_str().unwrap().contains("HTTP 503"),
        "{}",
        r.text()
    );
    // A request without a token needs no keys: it is missing, not unavailable.
    assert_eq!(get(&envoy, "/x", None).status, 401);
    server.up.store(true, Ordering::SeqCst);
    eventually("keys load once the server is up", || {
        get(&envoy, "/x", Some(&t)).status == 200
    });
    assert!(
        envoy
            .stat("wasmcustom.palisade_jwt_jwks_fetch_failed")
            .unwrap()
            >= 1
    );
    assert!(
        envoy
            .stat("wasmcustom.palisade_jwt_jwks_fetch_success")
            .unwrap()
            >= 1
    );
    assert!(
        envoy
            .stat("wasmcustom.palisade_jwt_denied_keys_unavailable")
            .unwrap()
            >= 1
    );
}

#[test]
fn a_request_before_the_first_key_set_waits_for_it() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    *server.delay_ms.lock().unwrap() = 1500;
    let upstream = Upstream::start();
    let config = remote_config(
        &server,
        json!({"providers": {"idp": {"remote_jwks": {"http_uri": {"timeout": "5s"}}}}}),
    );
    let envoy = start(&upstream, config, Some(server.port()), 1);
    let r = get(&envoy, "/x", Some(&token(&a, json!({}))));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.upstream_header("x-sub").as_deref(), Some("user-1"));
    assert!(envoy.stat("wasmcustom.palisade_jwt_paused").unwrap() >= 1);
}

#[test]
fn a_key_server_that_never_answers_does_not_hang_requests() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    *server.delay_ms.lock().unwrap() = 20_000;
    let upstream = Upstream::start();
    let config = remote_config(&server, json!({"keys_wait_timeout": "2s"}));
    let envoy = start(&upstream, config, Some(server.port()), 1);
    let r = get(&envoy, "/x", Some(&token(&a, json!({}))));
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.json()["type"],
        "https://palisade.dev/problems/jwt-keys-unavailable"
    );
}

#[test]
fn a_missing_key_cluster_is_keys_unavailable_not_a_hang() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    let upstream = Upstream::start();
    // No `idp` cluster in Envoy at all.
    let envoy = start(&upstream, remote_config(&server, json!({})), None, 1);
    let r = get(&envoy, "/x", Some(&token(&a, json!({}))));
    assert_eq!(r.status, 401, "{}", r.text());
    assert!(
        r.json()["detail"].as_str().unwrap().contains("cluster"),
        "{}",
        r.text()
    );
}

#[test]
fn keys_unavailable_can_let_requests_through_marked() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    let upstream = Upstream::start();
    // No `idp` cluster: keys never load; `action: allow` lets the request through, marked.
    let config = remote_config(&server, json!({"keys_unavailable": {"action": "allow"}}));
    let envoy = start(&upstream, config, None, 1);
    let r = envoy
        .request("GET", "/x")
        .header("authorization", &bearer(&token(&a, json!({}))))
        .header("x-palisade-jwt-unverified", "no")
        .header("x-sub", "forged")
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.upstream_header("x-palisade-jwt-unverified").as_deref(),
        Some("keys-unavailable")
    );
    assert_eq!(
        r.upstream_header("x-sub"),
        None,
        "nothing verified, nothing forwarded"
    );
    assert_eq!(r.upstream_header("authorization"), None);
    assert_eq!(
        envoy.stat("wasmcustom.palisade_jwt_allowed_unverified"),
        Some(1)
    );
}

#[test]
fn a_token_from_a_query_parameter_or_cookie_is_removed_before_the_upstream() {
    let k = key("k");
    let upstream = Upstream::start();
    let mut config = local_config(&k);
    config["providers"]["local"]["from_params"] = json!(["access_token"]);
    config["providers"]["local"]["from_cookies"] = json!(["session"]);
    let envoy = start(&upstream, config, None, 1);
    let t = token(&k, json!({}));
    let r = get(&envoy, &format!("/api/items?page=2&access_token={t}"), None);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["path"], "/api/items?page=2");
    let r = envoy
        .request("GET", "/api")
        .header("cookie", &format!("theme=dark; session={t}"))
        .send();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.upstream_header("cookie").as_deref(), Some("theme=dark"));
    assert_eq!(r.upstream_header("x-sub").as_deref(), Some("user-1"));
}

#[test]
fn oidc_discovery_finds_the_key_set() {
    let a = key("a");
    let server = KeyServer::start(jwks(&[&a]));
    let issuer = server.issuer.lock().unwrap().clone();
    let upstream = Upstream::start();
    let config = json!({
        "providers": {"idp": {
            "issuer": issuer,
            "remote_jwks": {"http_uri": {"cluster": "idp", "timeout": "2s"}, "oidc_discovery": true}
        }},
        "rules": [{"requires": {"provider_name": "idp"}}]
    });
    let envoy = start(&upstream, config, Some(server.port()), 1);
    let t = token(&a, json!({"iss": issuer}));
    let r = get(&envoy, "/x", Some(&t));
    assert_eq!(r.status, 200, "{}", r.text());
    let paths = server.paths.lock().unwrap().clone();
    assert_eq!(paths[0], "/.well-known/openid-configuration");
    assert!(paths.contains(&"/oauth2/certs".to_string()), "{paths:?}");
}

/// Local keys; /public open, /admin needs scope `admin`, /optional allow_missing, the rest needs a token.
fn local_config(k: &Key) -> Value {
    json!({
        "providers": {"local": {
            "issuer": ISSUER,
            "audiences": ["api"],
            "local_jwks": {"inline_string": jwks(&[k]).to_string()},
            "claim_to_headers": [
                {"header_name": "x-sub", "claim_name": "sub"},
                {"header_name": "x-groups", "claim_name": "groups"},
                {"header_name": "x-roles", "claim_name": "realm_access.roles", "separator": " "},
                {"header_name": "x-org", "claim_name": "org"}
            ],
            "forward_payload_header": "x-jwt-payload"
        }},
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/admin"}, "requires": {"provider_name": "local"}, "authorization": {"scopes": ["admin"]}},
            {"match": {"prefix": "/optional"}, "requires": {"allow_missing": {}}},
            {"requires": {"provider_name": "local"}}
        ],
        "realm": "palisade-test"
    })
}

#[test]
fn per_route_rules_and_answers() {
    let k = key("k");
    let upstream = Upstream::start();
    let envoy = start(&upstream, local_config(&k), None, 1);
    let user = token(&k, json!({"scope": "read"}));
    let admin = token(&k, json!({"scope": "read admin"}));
    assert_eq!(get(&envoy, "/public/x", None).status, 200);
    assert_eq!(get(&envoy, "/optional", None).status, 200);
    assert_eq!(get(&envoy, "/optional", Some("a.b.c")).status, 401);
    let r = get(&envoy, "/api", None);
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(r#"Bearer realm="palisade-test""#)
    );
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(get(&envoy, "/api", Some(&user)).status, 200);
    let r = get(&envoy, "/admin", Some(&user));
    assert_eq!(r.status, 403);
    let challenge = r.header("www-authenticate").unwrap();
    assert!(
        challenge.contains(r#"error="insufficient_scope""#)
            && challenge.contains(r#"scope="admin""#),
        "{challenge}"
    );
    assert_eq!(r.json()["missing_scopes"], json!(["admin"]));
    assert_eq!(get(&envoy, "/admin", Some(&admin)).status, 200);
    let expired = {
        let mut claims = Claims::create(Duration::from_mins(1))
            .with_issuer(ISSUER)
            .with_audience("api");
        claims.expires_at = Some(Clock::now_since_epoch() - Duration::from_mins(5));
        k.pair.sign(claims).unwrap()
    };
    let r = get(&envoy, "/api", Some(&expired));
    assert_eq!(r.status, 401);
    assert_eq!(
        r.header("www-authenticate"),
        Some(
            r#"Bearer realm="palisade-test", error="invalid_token", error_description="Jwt is expired""#
        )
    );
    for (stat, at_least) in [
        ("wasmcustom.palisade_jwt_allowed", 4),
        ("wasmcustom.palisade_jwt_denied_missing", 1),
        ("wasmcustom.palisade_jwt_denied_invalid", 1),
        ("wasmcustom.palisade_jwt_denied_expired", 1),
        ("wasmcustom.palisade_jwt_denied_forbidden", 1),
        ("wasmcustom.palisade_jwt_cache_miss", 1),
    ] {
        let value = envoy.stat(stat).unwrap_or_else(|| panic!("no stat {stat}"));
        assert!(value >= at_least, "{stat} = {value}");
    }
    // The same token twice: the second is a cache hit.
    get(&envoy, "/api", Some(&user));
    assert!(envoy.stat("wasmcustom.palisade_jwt_cache_hit").unwrap() >= 1);
}

#[test]
fn forged_claim_headers_never_reach_the_upstream() {
    let k = key("k");
    let upstream = Upstream::start();
    let envoy = start(&upstream, local_config(&k), None, 1);
    let forged = [
        ("x-sub", "admin"),
        ("x-groups", "root"),
        ("x-jwt-payload", "eyJzdWIiOiJhZG1pbiJ9"),
        ("X-Roles", "superuser"),
    ];
    // On an open route, and on a protected route with a token lacking those claims.
    let t = token(&k, json!({}));
    for (path, tok) in [("/public", None), ("/api", Some(t.as_str()))] {
        let mut req = envoy.request("GET", path);
        for (n, v) in forged {
            req = req.header(n, v);
        }
        if let Some(t) = tok {
            req = req.header("authorization", &bearer(t));
        }
        let r = req.send();
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let headers = r.json()["headers"].clone();
        let values = |name: &str| -> Vec<String> {
            headers
                .as_array()
                .unwrap()
                .iter()
                .filter(|h| h[0].as_str().unwrap().eq_ignore_ascii_case(name))
                .map(|h| h[1].as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            values("x-groups").is_empty() && values("x-roles").is_empty(),
            "{path}: {headers}"
        );
        match tok {
            None => assert!(
                values("x-sub").is_empty() && values("x-jwt-payload").is_empty(),
                "{headers}"
            ),
            Some(_) => {
                assert_eq!(values("x-sub"), vec!["user-1"], "only the verified value");
                assert_ne!(values("x-jwt-payload"), vec!["eyJzdWIiOiJhZG1pbiJ9"]);
            }
        }
    }
}

#[test]
fn claims_are_forwarded_and_the_token_is_not() {
    let k = key("k");
    let upstream = Upstream::start();
    let envoy = start(&upstream, local_config(&k), None, 1);
    // payload: {"groups":["dev","ops"],"realm_access":{"roles":["reader","writer"]},"org":{"id":7}, iss, aud, sub, iat, nbf, exp}
    let t = token(
        &k,
        json!({"groups": ["dev", "ops"], "realm_access": {"roles": ["reader", "writer"]}, "org": {"id": 7}}),
    );
    let r = get(&envoy, "/api", Some(&t));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.upstream_header("x-sub").as_deref(), Some("user-1"));
    assert_eq!(r.upstream_header("x-groups").as_deref(), Some("dev,ops"));
    assert_eq!(
        r.upstream_header("x-roles").as_deref(),
        Some("reader writer")
    );
    assert_eq!(r.upstream_header("x-org").as_deref(), Some(r#"{"id":7}"#));
    assert_eq!(r.upstream_header("authorization"), None, "forward: false");
    let payload = r.upstream_header("x-jwt-payload").unwrap();
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&decoded).unwrap();
    assert_eq!(claims["groups"], json!(["dev", "ops"]));
}

#[test]
fn bad_configs_are_refused_naming_the_field() {
    let k = key("k");
    let upstream = Upstream::start();
    let mut typo = local_config(&k);
    typo["providers"]["local"]["isuer"] = json!("x");
    let mut unknown = local_config(&k);
    unknown["rules"][1]["requires"] = json!({"provider_name": "nope"});
    let mut file = local_config(&k);
    file["providers"]["local"]["local_jwks"] = json!({"filename": "/etc/palisade/jwks.json"});
    for (config, line) in [
        (typo, "palisade-jwt: invalid configuration at `providers.local.isuer`: unknown field `isuer`"),
        (unknown, "palisade-jwt: invalid configuration at `rules[1].requires.provider_name`: no provider `nope`"),
        (file, "palisade-jwt: invalid configuration at `providers.local.local_jwks.filename`"),
    ] {
        let err = Envoy::builder()
            .filter(Filter::wasm("jwt", config.clone()))
            .start(&upstream)
            .err()
            .unwrap_or_else(|| panic!("envoy accepted {config}"));
        assert!(err.log.contains(line), "no `{line}` in\n{}", err.log);
    }
}

#[test]
fn the_example_envoy_config_validates() {
    validate_example("jwt", str::to_string)
        .unwrap_or_else(|out| panic!("envoy/jwt.yaml does not validate:\n{out}"));
    // Validation runs the filter's on_configure: the same file with a bad value is refused.
    let requirement = r#"{ "provider_name": "idp" }"#;
    let out = validate_example("jwt", |yaml| {
        assert!(
            yaml.contains(requirement),
            "the example requires {requirement}"
        );
        yaml.replace(requirement, r#"{ "provider_name": "nope" }"#)
    })
    .expect_err("an unknown provider must be refused");
    assert!(out.contains("no provider `nope`"), "{out}");
}
