//! Issue 13: where the schema filter's body work goes, phase by phase, on the bench's valid
//! orders (`order_body`), for instruction counts under callgrind and timings under a Wasm engine:
//! `cargo run --release -p palisade-benches --example body_cost -- PHASE SIZE_KIB ROUNDS`, PHASE one
//! of `copy` (the body from the host), `parse`, `validate` (boon, as the flow drives it), `quick` (the one-pass path), `flow` (headers + buffered body
//! through the mock host), `all` (each in turn, timed).
// A measuring tool: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_benches::{api_request_headers, order_body, order_schema};
use palisade_core::decision::Decision;
use palisade_core::host::Body;
use palisade_core::host::Host;
use palisade_core::testing::MockHost;
use palisade_schema::config::compile;
use palisade_schema::flow::RequestFlow;
use palisade_schema::json;
use palisade_schema::stats::Stats;
use palisade_schema::validator::{Dialect, SchemaSetBuilder};
use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let phase = args.first().map_or("all", String::as_str);
    let kib: usize = args.get(1).map_or(64, |s| s.parse().unwrap());
    let rounds: usize = args.get(2).map_or(100, |s| s.parse().unwrap());
    let config = serde_json::json!({"routes": [{
        "match": {"prefix": "/api/orders", "methods": ["POST"]},
        "body": {"schema": order_schema(), "required": true}
    }]})
    .to_string();
    let compiled = Rc::new(compile(config.as_bytes()).unwrap());
    let body = order_body(kib * 1024);
    let host = {
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
    let value = json::parse(&body, &compiled.json).unwrap();
    // The order schema as the criterion bench compiles it (the flow's own set is not public).
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, true);
    builder
        .add_resource("https://schemas.bench.palisade/order.json", order_schema())
        .unwrap();
    let schema = builder
        .compile("https://schemas.bench.palisade/order.json")
        .unwrap();
    let schemas = builder.finish();
    assert!(schemas.is_valid(schema, &value));
    assert!(schemas.accepts_json(schema, &body, &compiled.json));
    let mut flow = RequestFlow::new(1, Rc::clone(&compiled), Stats::default());
    flow.on_request_headers(&host, false);
    assert_eq!(
        flow.on_request_body(&host, body.len(), true),
        Decision::Continue
    );
    let run = |phase: &str| {
        for _ in 0..rounds {
            match phase {
                "copy" => {
                    black_box(host.body(Body::Request, 0, body.len()));
                }
                "parse" => {
                    black_box(json::parse(black_box(&body), &compiled.json).is_ok());
                }
                "validate" => {
                    black_box(schemas.validate_capped(schema, black_box(&value), 10));
                }
                "quick" => {
                    black_box(schemas.accepts_json(schema, black_box(&body), &compiled.json));
                }
                "flow" => {
                    let mut flow = RequestFlow::new(1, Rc::clone(&compiled), Stats::default());
                    flow.on_request_headers(&host, false);
                    black_box(flow.on_request_body(&host, body.len(), true));
                }
                other => panic!("unknown phase {other}"),
            }
        }
    };
    if phase == "all" {
        for p in ["copy", "parse", "validate", "quick", "flow"] {
            run(p);
            let start = Instant::now();
            run(p);
            let per = start.elapsed().as_secs_f64() * 1e6 / rounds as f64;
            println!("{kib:>3} KiB {p:<9} {per:>9.1} µs");
        }
    } else {
        run(phase);
    }
}
