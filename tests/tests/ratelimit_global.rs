//! Global mode through real Envoys, the test RLS (limitador with Redis storage) and a real Redis:
//! one budget shared by two Envoys, local fallback when the service dies or stops answering, and
//! the same 200/429 sequence as Envoy's native `ratelimit` filter.
//!
//! limitador 0.6's Redis storage reads, then increments (two round trips), so parallel calls can
//! be admitted a little over a limit: exact counts through it are asserted for sequential
//! requests only.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::redis::RedisServer;
use palisade_e2e::rls::{rls_server_binary, RlsServer};
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::Instant;

/// A limitador limit: `max` requests per `seconds` in `domain` for descriptors with
/// `generic_key == rule`, one counter per value of `variable`.
fn limit(domain: &str, rule: &str, max: u32, seconds: u32, variable: &str) -> Value {
    json!({
        "namespace": domain, "max_value": max, "seconds": seconds, "name": rule,
        "conditions": [format!("generic_key == '{rule}'")],
        "variables": [variable]
    })
}

fn start_envoy(upstream: &Upstream, config: Value, rls_port: u16) -> Envoy {
    Envoy::builder()
        .filter(Filter::wasm("ratelimit", config))
        .grpc_cluster("rls", rls_port)
        .concurrency(2)
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn statuses(envoy: &Envoy, n: usize, path: &str) -> Vec<u16> {
    (0..n)
        .map(|_| envoy.request("GET", path).send().status)
        .collect()
}

#[test]
fn two_envoys_share_one_budget_through_the_service() {
    let Some(binary) = rls_server_binary() else {
        return;
    };
    let redis = RedisServer::start();
    let limits = json!([limit("palisade", "shared", 8, 3600, "remote_address")]);
    // Two service processes, one Redis: the budget lives in Redis.
    let rls_a = RlsServer::start(&binary, &redis, &limits);
    let rls_b = RlsServer::start(&binary, &redis, &limits);
    let config = json!({
        // Generous: this test is about the shared count, not about the service's speed.
        "service": {"cluster": "rls", "domain": "palisade", "timeout": "2s"},
        "response_headers": {"on_allowed": true},
        "rules": [{"name": "shared", "key": ["client_ip", "rule"]}]
    });
    let upstream = Upstream::start();
    let envoy_a = start_envoy(&upstream, config.clone(), rls_a.port());
    let envoy_b = start_envoy(&upstream, config, rls_b.port());
    let mut admitted = 0;
    let mut sequence = Vec::new();
    for i in 0..20 {
        let envoy = if i % 2 == 0 { &envoy_a } else { &envoy_b };
        let resp = envoy.request("GET", "/").send();
        sequence.push(resp.status);
        if resp.status == 200 {
            admitted += 1;
            // The service's numbers reach the client.
            assert_eq!(
                resp.header("ratelimit-policy"),
                Some(r#""shared";q=8;w=3600"#)
            );
            assert_eq!(resp.header("x-rls-limit"), Some("8"), "service header");
        } else {
            assert_eq!(resp.status, 429);
            assert_eq!(resp.header("x-rls-remaining"), Some("0"), "service header");
            assert!(resp.header("retry-after").is_some());
        }
    }
    assert_eq!(admitted, 8, "{sequence:?}");
    assert_eq!(&sequence[..8], &[200; 8]);
    for envoy in [&envoy_a, &envoy_b] {
        assert_eq!(
            envoy.stat("wasmcustom.palisade_ratelimit_service_errors"),
            Some(0)
        );
    }
}

#[test]
fn a_dead_service_hands_over_to_the_local_limits_without_hanging() {
    let Some(binary) = rls_server_binary() else {
        return;
    };
    let redis = RedisServer::start();
    let mut rls = RlsServer::start(
        &binary,
        &redis,
        &json!([limit("palisade", "api", 100, 3600, "remote_address")]),
    );
    let config = json!({
        "service": {"cluster": "rls", "domain": "palisade", "timeout": "250ms"},
        "rules": [{"name": "api", "key": ["client_ip", "rule"], "limits": [{"requests": 3, "per": "1h"}]}]
    });
    let upstream = Upstream::start();
    let envoy = start_envoy(&upstream, config, rls.port());
    // While the service answers, its (larger) limit applies. A call slower than the timeout
    // (a loaded machine) is judged by the local budget instead, so count those.
    let before = statuses(&envoy, 5, "/");
    let fallbacks_before = envoy
        .stat("wasmcustom.palisade_ratelimit_fallbacks")
        .unwrap();
    assert!(
        before.iter().all(|s| *s == 200),
        "{before:?} (fallbacks {fallbacks_before})"
    );
    rls.kill();
    let started = Instant::now();
    let after = statuses(&envoy, 6, "/");
    let elapsed = started.elapsed();
    // The local budget (3 per hour, minus what earlier fallbacks used) now decides.
    let local_left = 3 - usize::try_from(fallbacks_before).unwrap().min(3);
    let expected: Vec<u16> = (0..6)
        .map(|i| if i < local_left { 200 } else { 429 })
        .collect();
    assert_eq!(after, expected);
    assert!(
        envoy
            .stat("wasmcustom.palisade_ratelimit_fallbacks")
            .unwrap()
            >= 6
    );
    eprintln!("6 requests with the service dead: {elapsed:?}");
}

#[test]
fn a_silent_service_times_out_into_the_local_limits() {
    // Accepts connections, never answers: only the filter's timeout can end the wait.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let config = json!({
        "service": {"cluster": "rls", "domain": "palisade", "timeout": "50ms"},
        "rules": [{"name": "api", "key": ["rule"], "limits": [{"requests": 2, "per": "1h"}]}]
    });
    let upstream = Upstream::start();
    let envoy = start_envoy(&upstream, config, port);
    let started = Instant::now();
    assert_eq!(statuses(&envoy, 4, "/"), [200, 200, 429, 429]);
    let per_request = started.elapsed() / 4;
    assert_eq!(
        envoy.stat("wasmcustom.palisade_ratelimit_service_errors"),
        Some(4)
    );
    eprintln!("silent service, 50 ms timeout: {per_request:?} per request");
    drop(silent);
}

/// Envoy's native `ratelimit` filter with the same descriptor our rule sends:
/// `(api_key, <x-api-key>)`, `(generic_key, per-key)`.
fn native_filter(domain: &str) -> Filter {
    Filter::native(json!({
        "name": "envoy.filters.http.ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit",
            "domain": domain,
            "timeout": "2s",
            "rate_limit_service": {
                "grpc_service": {"envoy_grpc": {"cluster_name": "rls"}},
                "transport_api_version": "V3"
            }
        }
    }))
}

#[test]
fn the_native_filter_and_ours_agree_request_by_request() {
    let Some(binary) = rls_server_binary() else {
        return;
    };
    let redis = RedisServer::start();
    // The same limit in two domains, so the two filters count separately.
    let limits = json!([
        limit("native", "per-key", 3, 3600, "api_key"),
        limit("palisade", "per-key", 3, 3600, "api_key")
    ]);
    let rls = RlsServer::start(&binary, &redis, &limits);
    let upstream = Upstream::start();
    let native = Envoy::builder()
        .filter(native_filter("native"))
        .grpc_cluster("rls", rls.port())
        .patch(|bootstrap| {
            let hcm = bootstrap
                .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
                .unwrap();
            hcm["route_config"]["virtual_hosts"][0]["routes"][0]["route"]["rate_limits"] = json!([{
                "actions": [
                    {"request_headers": {"header_name": "x-api-key", "descriptor_key": "api_key"}},
                    {"generic_key": {"descriptor_value": "per-key"}}
                ]
            }]);
        })
        .start(&upstream)
        .unwrap_or_else(|e| panic!("native envoy did not start:\n{}", e.log));
    let ours = start_envoy(
        &upstream,
        json!({
            "service": {"cluster": "rls", "domain": "palisade", "timeout": "2s"},
            "rules": [{"name": "per-key",
                       "key": [{"part": "header:x-api-key", "descriptor_key": "api_key"}, "rule"]}]
        }),
        rls.port(),
    );
    let keys = [
        "k1", "k1", "k2", "k1", "k1", "k2", "k3", "k2", "k2", "k1", "k3",
    ];
    let run = |envoy: &Envoy| -> Vec<(u16, Option<String>)> {
        keys.iter()
            .map(|k| {
                let r = envoy.request("GET", "/").header("x-api-key", k).send();
                (r.status, r.header("x-rls-remaining").map(str::to_string))
            })
            .collect()
    };
    let from_native = run(&native);
    let from_ours = run(&ours);
    assert_eq!(from_ours, from_native);
    let codes: Vec<u16> = from_ours.iter().map(|(s, _)| *s).collect();
    assert_eq!(
        codes,
        [200, 200, 200, 200, 429, 200, 200, 200, 429, 429, 200],
        "each key has 3"
    );
    // Without the header, neither filter asks the service (a descriptor needs every entry).
    assert_eq!(native.request("GET", "/").send().status, 200);
    assert_eq!(ours.request("GET", "/").send().status, 200);
}
