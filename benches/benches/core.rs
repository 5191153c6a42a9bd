//! The core's per-request work: canonicalizing the path, picking a rule by route, and writing a
//! problem+json answer.
// Benchmark set-up: a broken fixture should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use palisade_benches::api_request_headers;
use palisade_core::config::parse;
use palisade_core::path::{canonicalize, PathOptions};
use palisade_core::route::{first_match, RequestInfo, RouteMatch, RouteMatcher, Routed};
use palisade_core::Problem;
use serde_json::json;
use std::hint::black_box;

/// Five rules as a gateway config might order them; the request matches the fourth.
fn rules() -> Vec<Routed<usize>> {
    let matches = [
        json!({"prefix": "/admin/", "headers": [{"name": "x-admin", "present": true}]}),
        json!({"path": "/healthz", "methods": ["GET"]}),
        json!({"regex": "/api/v[0-9]+/users/[^/]+", "hosts": ["*.example.com"]}),
        json!({"prefix": "/api/orders", "methods": ["POST", "PUT"], "hosts": ["api.example.com"]}),
        json!({}),
    ];
    matches
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let m: RouteMatch = parse(m.to_string().as_bytes()).unwrap();
            Routed {
                matcher: RouteMatcher::compile(&m).unwrap(),
                value: i,
            }
        })
        .collect()
}

fn route_matching(c: &mut Criterion) {
    let rules = rules();
    let headers = api_request_headers(None);
    c.bench_function("core/route: first of 5 rules (4th matches)", |b| {
        b.iter(|| {
            let req = RequestInfo::from_headers(black_box(&headers));
            first_match(&rules, &req).map(|r| r.value)
        });
    });
}

/// Paths as clients send them, and the worst a client can send within Envoy's 60 KiB of headers.
fn path_canonicalization(c: &mut Criterion) {
    let options = PathOptions::default();
    let long_dots = format!("/api{}/admin", "/x/..".repeat(2000));
    let long_escapes = format!("/api/{}", "%61".repeat(4000));
    let long_slashes = format!("/api{}admin", "/".repeat(12_000));
    let long_utf8 = format!("/files/{}", "%C3%A9".repeat(2000));
    let cases = [
        ("canonical, 26 B", "/api/orders/1234/items/56".to_string()),
        ("canonical, 2 KiB", "/a/bcdefgh".repeat(200)),
        (
            "dot segments + escape, 40 B",
            "//api/./v1/../orders/%31234;jsessionid=x".to_string(),
        ),
        ("worst: 2000 `/x/..`, 12 KiB", long_dots),
        ("worst: 4000 `%61`, 12 KiB", long_escapes),
        ("worst: 12000 `/`, 12 KiB", long_slashes),
        ("worst: 2000 `%C3%A9`, 12 KiB", long_utf8),
    ];
    for (name, path) in cases {
        c.bench_function(&format!("core/path: {name}"), |b| {
            b.iter(|| canonicalize(black_box(&path), options).map(|p| p.len()));
        });
    }
}

fn problem_body(c: &mut Criterion) {
    c.bench_function("core/problem+json body", |b| {
        b.iter(|| {
            Problem::new(429, "rate-limited", "Too Many Requests")
                .with_detail(black_box("budget per-client spent; retry in 12 s"))
                .with("retry_after", json!(12))
                .to_body()
        });
    });
}

criterion_group!(benches, path_canonicalization, route_matching, problem_body);
criterion_main!(benches);
