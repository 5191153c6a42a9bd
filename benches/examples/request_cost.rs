//! Issue 11: what one request costs inside the module, apart from Envoy: the bench's GET through
//! the bundle's driver over the mock host, for instruction counts under callgrind
//! (`valgrind --tool=callgrind target/release/examples/request_cost STAGES N`, run with N and 0
//! and subtract). STAGES is a comma list of `headers`, `ratelimit` (one `client_ip` rule),
//! `schema` (the bench's order schema; the request then carries the bench's 1 KiB order body).
// A measuring tool: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_benches::{api_request_headers, origin_response_headers};
use palisade_core::driver::{Flow, Pipeline};
use palisade_core::host::{Body, HeaderMap};
use palisade_core::testing::MockHost;
use serde_json::{json, Value};
use std::rc::Rc;

fn stage(name: &str) -> Value {
    match name {
        "headers" => json!({
            "preset": "strict-api",
            "response": {"remove": ["x-backend-*"]},
            "request": {"strip": ["x-internal-*"]}
        }),
        "ratelimit" => json!({"rules": [{"name": "bench", "key": ["client_ip"],
                              "limits": [{"requests": 1_000_000_000u32, "per": "1s"}]}]}),
        "schema" => json!({"routes": [{
            "match": {"prefix": "/api/orders", "methods": ["POST"]},
            "body": {"schema": palisade_benches::order_schema(), "required": true}
        }]}),
        other => panic!("no stage {other}"),
    }
}

fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = args
        .first()
        .map_or("headers", String::as_str)
        .split(',')
        .collect();
    let n: u32 = args.get(1).map_or(1000, |s| s.parse().unwrap());
    let config = json!({
        "stages": names.iter().map(|s| ((*s).to_string(), stage(s))).collect::<serde_json::Map<_, _>>(),
        "routes": [{"match": {"prefix": "/"}, "stages": names}]
    });
    let host = MockHost::new().with_property("source.address", b"10.1.2.3:40000");
    let module = Rc::new(palisade::module::module(&host, config.to_string().as_bytes()).unwrap());
    let request = api_request_headers(None);
    let response = origin_response_headers();
    let body = names
        .contains(&"schema")
        .then(|| palisade_benches::order_body(1024));
    for context_id in 0..n {
        host.set_headers(HeaderMap::Request, &pairs(&request));
        host.set_headers(HeaderMap::Response, &pairs(&response));
        let mut pipeline = Pipeline::new(Rc::clone(&module), context_id + 2);
        match &body {
            Some(body) => {
                // Headers go on (Envoy buffers the body for the body callback).
                pipeline.on_request_headers(&host, false);
                host.set_body(Body::Request, body);
                assert_eq!(
                    pipeline.on_request_body(&host, body.len(), true),
                    Flow::Continue
                );
            }
            None => assert_eq!(pipeline.on_request_headers(&host, true), Flow::Continue),
        }
        assert_eq!(pipeline.on_response_headers(&host), Flow::Continue);
        pipeline.on_log(&host);
    }
}
