//! The schema filter's body work on valid orders of 1 KiB and 64 KiB: parsing within limits,
//! validating against the order schema, and the whole flow through the host trait (operation
//! lookup, buffering, parse, validate); and the bounded-work cases of issue 10 (path templates,
//! capped violations), worst input vs normal input.
// Benchmark set-up: a broken fixture should stop the run loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use palisade_benches::{
    api_request_headers, large_api, large_api_body, order_body, order_schema, LARGE_API_RESOURCES,
};
use palisade_core::decision::Decision;
use palisade_core::host::Body;
use palisade_core::testing::MockHost;
use palisade_schema::config::compile;
use palisade_schema::flow::RequestFlow;
use palisade_schema::json;
use palisade_schema::path_template::PathTemplate;
use palisade_schema::stats::Stats;
use palisade_schema::validator::{Dialect, SchemaSetBuilder};
use serde_json::{json, Value};
use std::hint::black_box;
use std::rc::Rc;

const ORDER_URL: &str = "https://schemas.bench.palisade/order.json";

/// The config `cargo xtask bench` runs: plain mode, one route with the order schema.
fn config() -> String {
    json!({"routes": [{
        "match": {"prefix": "/api/orders", "methods": ["POST"]},
        "body": {"schema": order_schema(), "required": true}
    }]})
    .to_string()
}

fn parse_and_validate(c: &mut Criterion) {
    let limits = compile(config().as_bytes()).unwrap().json;
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, true);
    builder.add_resource(ORDER_URL, order_schema()).unwrap();
    let id = builder.compile(ORDER_URL).unwrap();
    let schemas = builder.finish();
    let mut group = c.benchmark_group("schema");
    for (size, label) in [(1024, "1 KiB"), (64 * 1024, "64 KiB")] {
        let body = order_body(size);
        let value = json::parse(&body, &limits).unwrap();
        assert!(
            schemas.is_valid(id, &value),
            "the order fixture must be valid"
        );
        group.throughput(Throughput::Bytes(u64::try_from(size).unwrap()));
        group.bench_function(format!("parse {label} (within limits)"), |b| {
            b.iter(|| json::parse(black_box(&body), &limits).is_ok());
        });
        group.bench_function(format!("validate {label} (parsed)"), |b| {
            b.iter(|| schemas.is_valid(id, black_box(&value)));
        });
    }
    group.finish();
}

fn whole_flow(c: &mut Criterion) {
    let compiled = Rc::new(compile(config().as_bytes()).unwrap());
    let mut group = c.benchmark_group("schema");
    for (size, label) in [(1024, "1 KiB"), (64 * 1024, "64 KiB")] {
        let body = order_body(size);
        let fresh_host = || {
            let mut host = MockHost::new().with_body(Body::Request, &body);
            for (name, value) in api_request_headers(None) {
                let value = if name == "content-length" {
                    body.len().to_string()
                } else {
                    value
                };
                host = host.with_request_header(&name, &value);
            }
            host
        };
        group.throughput(Throughput::Bytes(u64::try_from(size).unwrap()));
        group.bench_function(format!("flow {label} (headers + buffered body)"), |b| {
            b.iter_batched(
                fresh_host,
                |host| {
                    let mut flow = RequestFlow::new(1, Rc::clone(&compiled), Stats::default());
                    flow.on_request_headers(&host, false);
                    let decision = flow.on_request_body(&host, body.len(), true);
                    debug_assert_eq!(decision, Decision::Continue);
                    decision
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

/// Issue 10, bounded work: a path parameter followed by a literal, worst input (a long segment
/// without the literal) vs a normal one.
fn path_templates(c: &mut Criterion) {
    let file = PathTemplate::parse("/files/{name}.json").unwrap();
    let three = PathTemplate::parse("/x/{a}-{b}-{c}.txt").unwrap();
    let long = format!("/files/{}", "a".repeat(4096));
    let dashes = format!("/x/{}", "-".repeat(4096));
    let mut group = c.benchmark_group("schema path template");
    group.bench_function("/files/{name}.json, normal path", |b| {
        b.iter(|| file.matches(black_box("/files/report.json")));
    });
    group.bench_function("/files/{name}.json, 4 KiB segment without .json", |b| {
        b.iter(|| file.matches(black_box(&long)));
    });
    group.bench_function("/x/{a}-{b}-{c}.txt, 4 KiB of dashes", |b| {
        b.iter(|| three.matches(black_box(&dashes)));
    });
    group.finish();
}

/// Issue 10, bounded work: a 1 MiB array of bad items, with the answer's cap of violations vs
/// all of them, and a normal 1 KiB body with one bad item.
fn capped_violations(c: &mut Criterion) {
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, true);
    let url = "urn:bench:numbers";
    builder
        .add_resource(
            url,
            json!({"type": "array", "items": {"type": "integer", "minimum": 0}}),
        )
        .unwrap();
    let id = builder.compile(url).unwrap();
    let schemas = builder.finish();
    let body = |bytes: usize| {
        let mut items = vec![json!(-1)];
        items.extend(std::iter::repeat_n(json!(1), bytes / 2));
        Value::Array(items)
    };
    let all_bad = |bytes: usize| Value::Array(vec![json!(-1); bytes / 3]);
    let worst = all_bad(1 << 20);
    let normal = body(1024);
    let mut group = c.benchmark_group("schema violations");
    group.sample_size(10);
    group.bench_function("1 KiB, one bad item, cap 10", |b| {
        b.iter(|| schemas.validate_capped(id, black_box(&normal), 10));
    });
    group.bench_function("1 MiB of bad items, cap 10", |b| {
        b.iter(|| schemas.validate_capped(id, black_box(&worst), 10));
    });
    let all_good = Value::Array(vec![json!(1); (1 << 20) / 2]);
    group.bench_function("1 MiB of good items (the floor: one walk)", |b| {
        b.iter(|| schemas.validate_capped(id, black_box(&all_good), 10));
    });
    group.bench_function("1 MiB of bad items, all formatted (before)", |b| {
        b.iter(|| schemas.validate(id, black_box(&worst)));
    });
    group.finish();
}

/// Issue 13, large descriptions: compiling a ~1,000-operation description (what `on_configure`
/// does), then a GET matched among all its templates and a POST validated against a resource
/// schema built from shared components.
fn large_description(c: &mut Criterion) {
    let config = json!({"openapi": large_api()}).to_string();
    eprintln!("large description: {} bytes of config", config.len());
    let mut group = c.benchmark_group("schema large description");
    group.sample_size(10);
    group.bench_function("compile (on_configure)", |b| {
        b.iter(|| compile(black_box(config.as_bytes())).is_ok());
    });
    let compiled = Rc::new(compile(config.as_bytes()).unwrap());
    let last = LARGE_API_RESOURCES - 1;
    let get_path = format!("/resources{last}/abc-1");
    let post_path = format!("/resources{last}");
    let body = large_api_body().to_string().into_bytes();
    let request = |method: &str, path: &str, body: Option<&[u8]>| {
        let mut host = MockHost::new()
            .with_request_header(":method", method)
            .with_request_header(":path", path)
            .with_request_header(":authority", "api.example.com");
        if let Some(body) = body {
            host = host
                .with_request_header("content-type", "application/json")
                .with_request_header("content-length", &body.len().to_string())
                .with_body(Body::Request, body);
        }
        host
    };
    group.bench_function("GET, last of 400 templates", |b| {
        b.iter_batched(
            || request("GET", &get_path, None),
            |host| {
                let mut flow = RequestFlow::new(1, Rc::clone(&compiled), Stats::default());
                let decision = flow.on_request_headers(&host, true);
                debug_assert_eq!(decision, Decision::Continue);
                decision
            },
            BatchSize::SmallInput,
        );
    });
    group.bench_function("POST, resource body", |b| {
        b.iter_batched(
            || request("POST", &post_path, Some(&body)),
            |host| {
                let mut flow = RequestFlow::new(1, Rc::clone(&compiled), Stats::default());
                flow.on_request_headers(&host, false);
                let decision = flow.on_request_body(&host, body.len(), true);
                debug_assert_eq!(decision, Decision::Continue);
                decision
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(
    benches,
    large_description,
    parse_and_validate,
    whole_flow,
    path_templates,
    capped_violations
);
criterion_main!(benches);
