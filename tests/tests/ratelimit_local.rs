//! Local mode through a real Envoy with several workers: budgets shared by every worker are
//! exact under many parallel connections, for every kind of key; the answers' fields; shadow
//! mode; config errors; the example config.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::envoy::validate_config;
use palisade_e2e::paths::{scratch_dir, wasm_module, workspace_root};
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

fn start(config: Value, concurrency: u32) -> (Upstream, Envoy) {
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(Filter::wasm("ratelimit", config))
        .concurrency(concurrency)
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    (upstream, envoy)
}

/// Envoy answering admitted requests itself (`direct_response`), after the filters: the load
/// tests measure the filter, not the echo upstream (which drops a few of many parallel
/// keep-alive requests).
fn start_answering_itself(config: Value, concurrency: u32) -> (Upstream, Envoy) {
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(Filter::wasm("ratelimit", config))
        .concurrency(concurrency)
        .patch(|bootstrap| {
            let hcm = bootstrap
                .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
                .unwrap();
            hcm["route_config"]["virtual_hosts"][0]["routes"] = json!([{
                "match": {"prefix": "/"},
                "direct_response": {"status": 200, "body": {"inline_string": "admitted"}}
            }]);
        })
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    (upstream, envoy)
}

/// A kind of request: which budget it draws from and how big that budget is.
struct Class {
    label: &'static str,
    method: &'static str,
    path: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    limit: u32,
}

fn class(
    label: &'static str,
    method: &'static str,
    path: &'static str,
    headers: &[(&'static str, &'static str)],
    limit: u32,
) -> Class {
    Class {
        label,
        method,
        path,
        headers: headers.to_vec(),
        limit,
    }
}

/// Sends every class `factor` times its limit, interleaved, from `threads` parallel connections;
/// returns (class label → statuses seen).
fn hammer(
    envoy: &Envoy,
    classes: &[Class],
    factor: u32,
    threads: usize,
) -> HashMap<String, Vec<u16>> {
    let mut jobs: Vec<usize> = Vec::new();
    for round in 0..classes.iter().map(|c| c.limit * factor).max().unwrap_or(0) {
        for (i, c) in classes.iter().enumerate() {
            if round < c.limit * factor {
                jobs.push(i);
            }
        }
    }
    let jobs = Arc::new(Mutex::new(jobs));
    let results = Arc::new(Mutex::new(HashMap::<String, Vec<u16>>::new()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let jobs = Arc::clone(&jobs);
            let results = Arc::clone(&results);
            scope.spawn(move || loop {
                let Some(i) = jobs.lock().unwrap().pop() else {
                    break;
                };
                let c = &classes[i];
                let mut req = envoy.request(c.method, c.path);
                for (n, v) in &c.headers {
                    req = req.header(n, v);
                }
                let status = req.send().status;
                results
                    .lock()
                    .unwrap()
                    .entry(c.label.to_string())
                    .or_default()
                    .push(status);
            });
        }
    });
    Arc::try_unwrap(results).unwrap().into_inner().unwrap()
}

#[test]
fn every_key_kind_admits_exactly_the_limit_under_parallel_load() {
    // Envoy's default connection manager trusts the last x-forwarded-for entry (source.address).
    let config = json!({
        "rules": [
            {"name": "by-ip", "match": {"prefix": "/ip"}, "key": ["client_ip"], "limits": [{"requests": 7, "per": "1h"}]},
            {"name": "by-header", "match": {"prefix": "/header"}, "key": ["header:x-api-key"], "limits": [{"requests": 9, "per": "1h"}]},
            {"name": "by-claim", "match": {"prefix": "/claim"}, "key": ["claim:sub"], "limits": [{"requests": 5, "per": "1h"}]},
            {"name": "by-path", "match": {"prefix": "/path"}, "key": ["path", "method"], "limits": [{"requests": 6, "per": "1h"}]},
            {"name": "by-route", "match": {"prefix": "/route"}, "key": [],
             "limits": [{"requests": 100, "per": "1h"}, {"requests": 1000, "per": "1d"}]}
        ]
    });
    let (_upstream, envoy) = start_answering_itself(config, 3);
    let classes = [
        class(
            "ip-a",
            "GET",
            "/ip",
            &[("x-forwarded-for", "198.51.100.1")],
            7,
        ),
        class(
            "ip-b",
            "GET",
            "/ip",
            &[("x-forwarded-for", "10.9.9.9, 198.51.100.2")],
            7,
        ),
        class("ip-connection", "GET", "/ip", &[], 7),
        class("header-a", "GET", "/header", &[("x-api-key", "key-a")], 9),
        class("header-b", "GET", "/header", &[("x-api-key", "key-b")], 9),
        // No jwt filter in front: no verified claim, so the rule's one shared budget (a claim
        // header is client input and keys nothing; see trust_ratelimit.rs).
        class(
            "claim-unverified",
            "GET",
            "/claim",
            &[("x-jwt-claim-sub", "alice")],
            5,
        ),
        class("path-a-get", "GET", "/path/a", &[], 6),
        class("path-a-post", "POST", "/path/a", &[], 6),
        class("path-b-get", "GET", "/path/b?x=1", &[], 6),
        // One budget for the whole rule, drawn by two paths and hammered hardest (most races).
        class("route", "GET", "/route/x", &[], 100),
    ];
    let results = hammer(&envoy, &classes, 3, 24);
    let (mut admitted, mut refused) = (0, 0);
    for c in &classes {
        let statuses = &results[c.label];
        let ok = statuses.iter().filter(|s| **s == 200).count() as u32;
        let limited = statuses.iter().filter(|s| **s == 429).count() as u32;
        assert_eq!(ok, c.limit, "{}: admitted {ok}, limit {}", c.label, c.limit);
        assert_eq!(ok + limited, c.limit * 3, "{}: only 200 or 429", c.label);
        admitted += ok;
        refused += limited;
    }
    // The counters agree, per rule and in total.
    let stat = |name: &str| {
        envoy
            .stat(&format!("wasmcustom.palisade_ratelimit_{name}"))
            .unwrap_or_else(|| panic!("no stat {name}"))
    };
    assert_eq!(stat("by_route_allowed"), 100);
    assert_eq!(stat("by_claim_limited"), 10);
    let rules = ["by_ip", "by_header", "by_claim", "by_path", "by_route"];
    assert_eq!(
        rules
            .iter()
            .map(|r| stat(&format!("{r}_allowed")))
            .sum::<u64>(),
        u64::from(admitted)
    );
    assert_eq!(
        rules
            .iter()
            .map(|r| stat(&format!("{r}_limited")))
            .sum::<u64>(),
        u64::from(refused)
    );
    assert_eq!(stat("cas_exhausted"), 0);
    eprintln!(
        "{admitted} admitted, {refused} refused; CAS retries after lost races: {}",
        stat("cas_retries")
    );
}

#[test]
fn answers_carry_the_fields_and_shadow_rules_only_count() {
    let config = json!({
        "response_headers": {"on_allowed": true, "legacy": true},
        "rules": [
            {"name": "shadowed", "match": {"prefix": "/shadow"}, "shadow": true, "limits": [{"requests": 1, "per": "1h"}]},
            {"name": "api", "limits": [{"requests": 2, "per": "1m"}, {"name": "api-daily", "requests": 100, "per": "1d"}]}
        ]
    });
    let (upstream, envoy) = start(config, 1);
    let first = envoy.request("GET", "/x").send();
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("ratelimit-policy"),
        Some(r#""api";q=2;w=60, "api-daily";q=100;w=86400"#)
    );
    assert_eq!(
        first.header("ratelimit"),
        Some(r#""api";r=1;t=30, "api-daily";r=99;t=864"#)
    );
    assert_eq!(first.header("x-ratelimit-limit"), Some("2"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("1"));
    assert_eq!(envoy.request("GET", "/x").send().status, 200);
    let refused = envoy.request("GET", "/x").send();
    assert_eq!(refused.status, 429);
    assert_eq!(
        refused.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(refused.header("retry-after"), Some("30"));
    assert_eq!(refused.header("x-ratelimit-remaining"), Some("0"));
    assert_eq!(
        refused.header("ratelimit"),
        Some(r#""api";r=0;t=60, "api-daily";r=98;t=1728"#)
    );
    let problem = refused.json();
    assert_eq!(
        problem["type"],
        "https://palisade.dev/problems/rate-limited"
    );
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["retry_after"], 30);
    assert_eq!(
        upstream.hits(),
        2,
        "the refused request never reached the upstream"
    );
    // Shadow: everything admitted, the would-be refusals counted.
    for _ in 0..4 {
        assert_eq!(envoy.request("GET", "/shadow").send().status, 200);
    }
    assert_eq!(
        envoy.stat("wasmcustom.palisade_ratelimit_shadowed_allowed"),
        Some(1)
    );
    assert_eq!(
        envoy.stat("wasmcustom.palisade_ratelimit_shadowed_shadow_limited"),
        Some(3)
    );
    assert_eq!(
        envoy.stat("wasmcustom.palisade_ratelimit_shadowed_limited"),
        Some(0)
    );
}

#[test]
fn a_bad_config_is_refused_naming_the_field() {
    let upstream = Upstream::start();
    let err = Envoy::builder()
        .filter(Filter::wasm(
            "ratelimit",
            json!({"rules": [{"name": "a", "limits": [{"requests": 0, "per": "1s"}]}]}),
        ))
        .start(&upstream)
        .err()
        .expect("envoy must refuse a zero limit");
    assert!(
        err.log.contains("`rules[0].limits[0].requests`"),
        "{}",
        err.log
    );
}

#[test]
fn the_example_envoy_config_validates() {
    let example = workspace_root().join("envoy/ratelimit.yaml");
    let yaml = std::fs::read_to_string(&example).unwrap();
    let relative = "target/wasm32-wasip1/release/palisade_ratelimit.wasm";
    assert!(yaml.contains(relative), "the example loads {relative}");
    let yaml = yaml.replace(relative, &wasm_module("ratelimit").display().to_string());
    let dir = scratch_dir("ratelimit-example");
    let config = dir.join("ratelimit.yaml");
    std::fs::write(&config, &yaml).unwrap();
    let result = validate_config(&config);
    // Validation runs on_configure: the same file with a bad value is refused.
    let setting = r#""slots": 65536"#;
    assert!(yaml.contains(setting), "the example sets {setting}");
    std::fs::write(&config, yaml.replace(setting, r#""slots": 1"#)).unwrap();
    let refused = validate_config(&config);
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(out) = result {
        panic!("envoy/ratelimit.yaml does not validate:\n{out}");
    }
    let out = refused.expect_err("one slot must be refused");
    assert!(out.contains("`slots`"), "{out}");
}
