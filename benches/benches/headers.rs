//! The headers filter's per-request work: the request check, the response plan, and the whole
//! exchange through the host trait (the mock host standing in for Envoy).
// Benchmark set-up: a broken fixture should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use palisade_benches::{api_request_headers, origin_response_headers};
use palisade_core::route::RequestInfo;
use palisade_core::testing::MockHost;
use palisade_headers::config::compile;
use palisade_headers::exchange::Exchange;
use palisade_headers::request::check_request;
use palisade_headers::response::plan_response;
use palisade_headers::stats::Stats;
use std::hint::black_box;
use std::rc::Rc;

/// The config `cargo xtask bench` runs: the strict-api preset, banners removed.
const STRICT_API: &str = r#"{
    "preset": "strict-api",
    "response": {"remove": ["x-backend-*"]},
    "request": {"strip": ["x-internal-*"]}
}"#;

/// The default (browser) preset with a per-route override, for the route lookup.
const BROWSER_WITH_ROUTES: &str = r#"{
    "routes": [{"match": {"prefix": "/api/"}, "preset": "strict-api"}]
}"#;

fn request_check(c: &mut Criterion) {
    let compiled = compile(STRICT_API.as_bytes()).unwrap();
    let headers = api_request_headers(None);
    c.bench_function("headers/request check (14 headers, 1 stripped)", |b| {
        b.iter(|| check_request(&compiled.default.request, black_box(&headers)));
    });
}

fn response_plan(c: &mut Criterion) {
    let headers = origin_response_headers();
    for (name, config) in [
        ("strict-api", STRICT_API),
        ("browser + route", BROWSER_WITH_ROUTES),
    ] {
        let compiled = compile(config.as_bytes()).unwrap();
        let request = api_request_headers(None);
        c.bench_function(&format!("headers/response plan ({name})"), |b| {
            b.iter(|| {
                let policy = compiled.policy_for(&RequestInfo::from_headers(&request));
                plan_response(&policy.response, false, black_box(&headers))
                    .set
                    .len()
            });
        });
    }
}

fn exchange(c: &mut Criterion) {
    let compiled = Rc::new(compile(STRICT_API.as_bytes()).unwrap());
    let fresh_host = || {
        let mut host = MockHost::new();
        for (name, value) in api_request_headers(None) {
            host = host.with_request_header(&name, &value);
        }
        for (name, value) in origin_response_headers() {
            host = host.with_response_header(&name, &value);
        }
        host
    };
    c.bench_function(
        "headers/exchange over the mock host (request + response)",
        |b| {
            b.iter_batched(
                fresh_host,
                |host| {
                    let mut exchange = Exchange::new(1, Rc::clone(&compiled), Stats::default());
                    exchange.on_request_headers(&host);
                    exchange.on_response_headers(&host)
                },
                BatchSize::SmallInput,
            );
        },
    );
}

criterion_group!(benches, request_check, response_plan, exchange);
criterion_main!(benches);
