//! Whom a budget belongs to, through a real Envoy: the client address Envoy itself trusts
//! (behind a trusting Envoy, over IPv6 loopback, grouped by prefix), verified claims handed from
//! the jwt module to the ratelimit module through filter state (never a client's header), and
//! rules whose key part is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::client::RequestBuilder;
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Value};
use std::net::{Ipv6Addr, SocketAddr};

const HCM: &str = "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config";

/// An Envoy whose connection manager trusts one proxy in front of it (a load balancer that
/// appends the client to `x-forwarded-for`), on `listen` (`127.0.0.1` or `::1`).
fn trusting_envoy(upstream: &Upstream, filters: Vec<Filter>, listen: &'static str) -> Envoy {
    let mut builder = Envoy::builder();
    for f in filters {
        builder = builder.filter(f);
    }
    builder
        .patch(move |bootstrap| {
            let hcm = bootstrap.pointer_mut(HCM).unwrap();
            hcm["use_remote_address"] = json!(true);
            hcm["xff_num_trusted_hops"] = json!(1);
            bootstrap["static_resources"]["listeners"][0]["address"]["socket_address"]["address"] =
                json!(listen);
        })
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn per_ip(requests: u32) -> Filter {
    Filter::wasm(
        "ratelimit",
        json!({"rules": [{"name": "per-ip", "key": ["client_ip"],
                          "limits": [{"requests": requests, "per": "1h"}]}]}),
    )
}

/// A request as if the load balancer forwarded it for `xff` (nothing sent when empty).
fn via(addr: SocketAddr, xff: &str) -> Response {
    let mut r = RequestBuilder::new(addr, "GET", "/x");
    if !xff.is_empty() {
        r = r.header("x-forwarded-for", xff);
    }
    r.send()
}

#[test]
fn client_ip_is_the_address_a_trusting_envoy_trusts() {
    let upstream = Upstream::start();
    let envoy = trusting_envoy(&upstream, vec![per_ip(2)], "127.0.0.1");
    let at = envoy.addr();
    // Every request arrives from the same load balancer (127.0.0.1); the clients differ.
    assert_eq!(via(at, "198.51.100.1").status, 200);
    assert_eq!(via(at, "198.51.100.1").status, 200);
    let r = via(at, "198.51.100.1");
    assert_eq!(r.status, 429, "{}", r.text());
    // What the client wrote left of the load balancer's entry changes nothing.
    assert_eq!(via(at, "203.0.113.9, 198.51.100.1").status, 429);
    // Another client behind the same load balancer has a budget of its own.
    assert_eq!(via(at, "198.51.100.2").status, 200);
    assert_eq!(via(at, "203.0.113.9, 198.51.100.3").status, 200);
    // An entry that is no address is not a key: Envoy falls back to the peer, one budget.
    assert_eq!(via(at, "not-an-ip").status, 200);
    assert_eq!(via(at, "").status, 200);
    assert_eq!(via(at, "still-not-an-ip").status, 429);
}

#[test]
fn the_old_filter_level_trusted_hops_is_refused_naming_the_connection_manager() {
    let upstream = Upstream::start();
    let err = Envoy::builder()
        .filter(Filter::wasm(
            "ratelimit",
            json!({"xff_num_trusted_hops": 1, "rules": [{"name": "per-ip", "key": ["client_ip"],
                   "limits": [{"requests": 1, "per": "1h"}]}]}),
        ))
        .start(&upstream)
        .err()
        .expect("a filter-level trusted hop count must be refused");
    assert!(
        err.log
            .contains("invalid configuration at `xff_num_trusted_hops`"),
        "{}",
        err.log
    );
    assert!(err.log.contains("HTTP connection manager"), "{}", err.log);
}

#[test]
fn ipv6_clients_share_a_budget_per_64_over_ipv6_loopback() {
    let upstream = Upstream::start();
    let envoy = trusting_envoy(&upstream, vec![per_ip(2)], "::1");
    let at = SocketAddr::from((Ipv6Addr::LOCALHOST, envoy.port()));
    // Three addresses of one /64: one host, one budget.
    assert_eq!(via(at, "2001:db8:0:1::a").status, 200);
    assert_eq!(via(at, "2001:db8:0:1::b").status, 200);
    assert_eq!(via(at, "2001:db8:0:1:ffff::c").status, 429);
    // The next /64 is another client.
    assert_eq!(via(at, "2001:db8:0:2::a").status, 200);
    // The load balancer itself (no x-forwarded-for: the peer, ::1) is a client too.
    assert_eq!(via(at, "").status, 200);
    assert_eq!(via(at, "").status, 200);
    assert_eq!(via(at, "").status, 429);
}

/// A signing key and its local JWKS.
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

fn get(envoy: &Envoy, path: &str, headers: &[(&str, &str)]) -> u16 {
    let mut r = envoy.request("GET", path);
    for (n, v) in headers {
        r = r.header(n, v);
    }
    r.send().status
}

#[test]
fn verified_claims_reach_the_ratelimit_module_through_filter_state() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    // Two modules, two VMs: the jwt filter verifies, the ratelimit filter keys on `claim:sub`.
    // The jwt filter sets no claim header at all, so a forged one passes it untouched.
    let envoy = Envoy::builder()
        .filter(Filter::wasm(
            "jwt",
            json!({
                "providers": {"idp": {"issuer": "https://idp.example",
                                      "local_jwks": {"inline_string": jwks}}},
                "rules": [{"requires": {"allow_missing": {}}}]
            }),
        ))
        .filter(Filter::wasm(
            "ratelimit",
            json!({"rules": [{"name": "per-user", "key": ["claim:sub"],
                              "limits": [{"requests": 2, "per": "1h"}]}]}),
        ))
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    let alice = format!("Bearer {}", token(&pair, "alice"));
    let bob = format!("Bearer {}", token(&pair, "bob"));
    assert_eq!(get(&envoy, "/", &[("authorization", &alice)]), 200);
    assert_eq!(get(&envoy, "/", &[("authorization", &alice)]), 200);
    assert_eq!(get(&envoy, "/", &[("authorization", &alice)]), 429);
    // A forged claim header beside a real token changes nothing.
    let forged_with_token = [
        ("authorization", alice.as_str()),
        ("x-jwt-claim-sub", "zoe"),
    ];
    assert_eq!(get(&envoy, "/", &forged_with_token), 429);
    assert_eq!(get(&envoy, "/", &[("authorization", &bob)]), 200);
    // Without a verified token every request shares one budget, whatever it claims to be.
    assert_eq!(get(&envoy, "/", &[("x-jwt-claim-sub", "carol")]), 200);
    assert_eq!(get(&envoy, "/", &[("x-jwt-claim-sub", "dave")]), 200);
    assert_eq!(get(&envoy, "/", &[("x-jwt-claim-sub", "erin")]), 429);
    assert_eq!(get(&envoy, "/", &[]), 429);
}

#[test]
fn a_client_claim_header_never_keys_ratelimit_without_jwt_in_front() {
    // As envoy/ratelimit.yaml: the ratelimit filter alone, keyed per user on /api/.
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(Filter::wasm(
            "ratelimit",
            json!({"rules": [
                {"name": "per-user", "match": {"prefix": "/api/"}, "key": ["claim:sub"],
                 "limits": [{"requests": 2, "per": "1h"}]},
                {"name": "per-ip", "key": ["client_ip"], "limits": [{"requests": 100, "per": "1h"}]}
            ]}),
        ))
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    // Minting a subject per request does not mint a budget per request.
    for (sub, status) in [("u1", 200), ("u2", 200), ("u3", 429), ("u4", 429)] {
        assert_eq!(
            get(&envoy, "/api/x", &[("x-jwt-claim-sub", sub)]),
            status,
            "{sub}"
        );
    }
    assert_eq!(get(&envoy, "/public", &[]), 200);
}

#[test]
fn missing_key_parts_deny_or_skip_as_each_rule_says() {
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(Filter::wasm(
            "ratelimit",
            json!({"rules": [
                {"name": "per-key", "match": {"prefix": "/keyed"}, "key": ["header:x-api-key"],
                 "on_missing_key": "deny", "limits": [{"requests": 100, "per": "1h"}]},
                {"name": "per-tenant", "match": {"prefix": "/tenant"}, "key": ["header:x-tenant"],
                 "on_missing_key": "skip", "limits": [{"requests": 100, "per": "1h"}]},
                {"name": "fallback", "key": ["rule"], "limits": [{"requests": 1, "per": "1h"}]}
            ]}),
        ))
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    let r = envoy.request("GET", "/keyed").send();
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(
        r.json()["type"],
        "https://palisade.dev/problems/rate-limit-key-missing"
    );
    assert_eq!(get(&envoy, "/keyed", &[("x-api-key", "k")]), 200);
    // `skip`: the next rule (one request in all) applies.
    assert_eq!(get(&envoy, "/tenant", &[("x-tenant", "t")]), 200);
    assert_eq!(get(&envoy, "/tenant", &[]), 200);
    assert_eq!(get(&envoy, "/tenant", &[]), 429);
    assert_eq!(upstream.hits(), 3);
}
