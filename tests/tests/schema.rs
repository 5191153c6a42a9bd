//! The schema filter through a real Envoy, with the shop API of
//! `filters/schema/tests/fixtures/shop-openapi-3.1.json` (see the README beside it): valid
//! requests reach the upstream byte for byte; each kind of violation gets its status and
//! problem body; oversized bodies are refused without being read (`Content-Length`) or cut off
//! at the limit (chunked); report-only mode; counters; config errors; the example config.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::Engine;
use palisade_e2e::envoy::{validate_example, wasm_filter_json};
use palisade_e2e::paths::{wasm_module, workspace_root};
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn shop() -> Value {
    let path = workspace_root().join("filters/schema/tests/fixtures/shop-openapi-3.1.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The schema filter with `config`; `stop_iteration` sets Envoy's
/// `allow_on_headers_stop_iteration` in its plugin config (a header-phase pause then leaves the
/// body callbacks running).
fn schema_filter(config: Value, stop_iteration: bool) -> Filter {
    let mut entry = wasm_filter_json("schema", &wasm_module("schema"), &config);
    if stop_iteration {
        entry["typed_config"]["config"]["allow_on_headers_stop_iteration"] = json!(true);
    }
    Filter::native(entry)
}

/// The shop API config with `extra` merged in.
fn shop_config(extra: Value) -> Value {
    let mut config = json!({"openapi": shop()});
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    config
}

/// Envoy with the schema filter over the shop API as a gateway runs it: request headers held
/// while a JSON body is validated (`hold_headers` with Envoy's stop-iteration switch); `extra` is
/// merged into the config.
fn start(extra: Value) -> (Upstream, Envoy) {
    let mut config = shop_config(extra);
    if config.get("hold_headers").is_none() {
        config["hold_headers"] = json!(true);
    }
    start_with(schema_filter(config, true))
}

fn start_with(filter: Filter) -> (Upstream, Envoy) {
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(filter)
        // Room in Envoy's own buffer well above every limit under test, so the answer to an
        // oversized body is always the filter's (one socket read can bring megabytes at once).
        .patch(|b| {
            b["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytes"] =
                json!(16 * 1024 * 1024)
        })
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    (upstream, envoy)
}

const REQUEST_ID: &str = "0b9f3c1e-8d4a-4c55-9a9e-1f0c2b7d6e5a";

/// A valid order with `n` items (about 90 bytes each; at most 1000 are allowed).
fn order(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| json!({"sku": format!("ABC-{:04}", i % 10_000), "qty": 1 + i % 100, "price": 0.5 + i as f64, "tags": ["gift", "fragile"]}))
        .collect();
    json!({
        "customer": {"id": "c1", "email": "ann@example.com"},
        "items": items,
        "payment": {"type": "card", "number": "4111111111111111"},
        "note": null
    })
}

fn post_order(envoy: &Envoy, body: &[u8]) -> palisade_e2e::RequestBuilder {
    envoy
        .request("POST", "/v1/orders?dry_run=false")
        .header("content-type", "application/json; charset=utf-8")
        .header("x-request-id", REQUEST_ID)
        .body(body.to_vec())
}

fn echoed_body(resp: &Response) -> Vec<u8> {
    let b64 = resp.json()["body_b64"].as_str().unwrap().to_string();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
}

/// Asserts a problem answer; returns its body.
fn problem(resp: &Response, status: u16) -> Value {
    assert_eq!(resp.status, status, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    let body = resp.json();
    assert_eq!(body["status"], status);
    body
}

fn violations(body: &Value) -> Vec<String> {
    body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {} {}",
                v["in"].as_str().unwrap(),
                v["pointer"].as_str().unwrap(),
                v["keyword"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn valid_requests_reach_the_upstream_byte_for_byte() {
    let (upstream, envoy) = start(json!({}));
    let resp = envoy
        .request("GET", "/v1/products?limit=10&tags=red,blue&sort=-price")
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(
        resp.json()["path"],
        "/v1/products?limit=10&tags=red,blue&sort=-price"
    );

    // Odd but valid JSON formatting must arrive exactly as sent.
    let body = format!(
        "{{ \"customer\" : {{\"id\":\"c1\",\"email\":\"ann@example.com\"}},\n\t\"items\":[{{\"sku\":\"ABC-0001\",\"qty\":1,\"price\":1.50}}],\"payment\":{}, \"note\":\"caf\\u00e9 ✓\" }}",
        r#"{"type":"iban","iban":"DE89370400440532013000"}"#
    );
    let resp = post_order(&envoy, body.as_bytes()).send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), body.as_bytes());
    assert_eq!(
        resp.upstream_header("x-request-id").as_deref(),
        Some(REQUEST_ID)
    );

    // A 64 KiB body, sent chunked: buffered across many body callbacks, then passed on whole.
    let big = serde_json::to_vec(&order(1000)).unwrap();
    assert!(big.len() > 64 * 1024, "{}", big.len());
    let resp = post_order(&envoy, &big).chunked().send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), big);

    let resp = envoy
        .request("PUT", "/v1/orders/3/items/0")
        .header("content-type", "application/json")
        .body(br#"{"sku":"XYZ-0009","qty":3,"price":2}"#.to_vec())
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = envoy
        .request("GET", "/v1/orders/3")
        .header("cookie", "session=0123456789")
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    let png = vec![0x89u8; 3000];
    let resp = envoy
        .request("PUT", "/v1/products/P0001/image")
        .header("content-type", "image/png")
        .body(png.clone())
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), png);
    assert_eq!(upstream.hits(), 6);
    assert_eq!(envoy.stat("wasmcustom.palisade_schema_validated"), Some(6));
}

#[test]
fn each_kind_of_violation_gets_its_status_and_problem() {
    let (upstream, envoy) = start(json!({}));
    let p = problem(
        &envoy.request("GET", "/v1/products?limit=0&tags=Red").send(),
        400,
    );
    assert_eq!(p["type"], "https://palisade.dev/problems/invalid-request");
    assert_eq!(
        violations(&p),
        vec!["query /limit minimum", "query /tags/0 pattern"]
    );
    assert_eq!(
        p["violations"][0]["message"], "is too small",
        "terse by default"
    );
    let p = problem(&envoy.request("GET", "/v1/products/nope").send(), 400);
    assert_eq!(violations(&p), vec!["path /productId pattern"]);
    let p = problem(&envoy.request("GET", "/v1/orders/7").send(), 400);
    assert_eq!(violations(&p), vec!["cookie /session required"]);
    let p = problem(
        &envoy.request("GET", "/v1/products?limit=1&limit=2").send(),
        400,
    );
    assert_eq!(violations(&p), vec!["query /limit duplicate"]);

    let resp = envoy.request("GET", "/v1/customers").send();
    assert_eq!(
        problem(&resp, 404)["type"],
        "https://palisade.dev/problems/unknown-path"
    );
    let resp = envoy
        .request("PATCH", "/v1/orders/7")
        .body(b"{}".to_vec())
        .send();
    problem(&resp, 405);
    assert_eq!(resp.header("allow"), Some("GET, DELETE"));

    let resp = envoy
        .request("POST", "/v1/orders")
        .header("x-request-id", REQUEST_ID)
        .header("content-type", "text/plain")
        .body(b"hello".to_vec())
        .send();
    problem(&resp, 415);
    assert_eq!(
        upstream.hits(),
        0,
        "refused in the header phase: nothing reached the upstream"
    );

    let mut bad = order(3);
    bad["items"][1]["price"] = json!(-1);
    bad["items"][2]["sku"] = json!("lower-case");
    bad["payment"] = json!({"type": "card", "number": "4111111111111111", "iban": "x"});
    let p = problem(
        &post_order(&envoy, &serde_json::to_vec(&bad).unwrap()).send(),
        400,
    );
    let mut got = violations(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            "body /items/1/price exclusiveMinimum",
            "body /items/2/sku pattern",
            "body /payment oneOf"
        ]
    );

    let p = problem(
        &post_order(&envoy, br#"{"customer":{"id":"a","id":"b"}}"#).send(),
        400,
    );
    assert_eq!(violations(&p), vec!["body /customer/id duplicateKey"]);
    let p = problem(&post_order(&envoy, b"{\"customer\":").send(), 400);
    assert_eq!(violations(&p), vec!["body  syntax"]);
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let p = problem(&post_order(&envoy, deep.as_bytes()).send(), 400);
    assert_eq!(violations(&p), vec!["body  maxDepth"]);
    let resp = envoy
        .request("POST", "/v1/orders")
        .header("x-request-id", REQUEST_ID)
        .send();
    assert_eq!(violations(&problem(&resp, 400)), vec!["body  required"]);
    // `content-length: 0` is no body either.
    let resp = post_order(&envoy, b"").send();
    assert_eq!(violations(&problem(&resp, 400)), vec!["body  required"]);

    let stat = |name: &str| envoy.stat(&format!("wasmcustom.palisade_schema_{name}"));
    assert_eq!(stat("rejected_invalid_parameters"), Some(4));
    // A missing required body counts as a body violation.
    assert_eq!(stat("rejected_invalid_body"), Some(6));
    assert_eq!(stat("rejected_unknown_path"), Some(1));
    assert_eq!(stat("rejected_method_not_allowed"), Some(1));
    assert_eq!(stat("rejected_unsupported_media_type"), Some(1));
    assert_eq!(stat("unmatched_operation"), Some(2));
    assert_eq!(stat("validated"), Some(0));
}

#[test]
fn the_deepest_allowed_nesting_through_a_recursive_schema_fits_the_wasm_stack() {
    let upstream = Upstream::start();
    let tree = json!({"$defs": {"node": {"type": "array", "maxItems": 2, "items": {"$ref": "#/$defs/node"}}}, "$ref": "#/$defs/node"});
    let config = json!({"routes": [{"body": {"schema": tree}}], "json": {"max_depth": 120}});
    let envoy = Envoy::builder()
        .filter(Filter::wasm("schema", config))
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    let send = |depth: usize, leaf: &str| {
        let body = format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth));
        envoy
            .request("POST", "/tree")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(send(120, "").status, 200);
    let p = problem(&send(119, "[1]"), 400);
    assert_eq!(p["violations"][0]["keyword"], "type");
    assert_eq!(
        p["violations"][0]["pointer"].as_str().unwrap().len(),
        2 * 120,
        "/0 per level"
    );
    assert_eq!(
        violations(&problem(&send(121, ""), 400)),
        vec!["body  maxDepth"]
    );
    assert_eq!(send(3, "").status, 200, "the VM is still alive");
}

#[test]
fn verbose_answers_carry_schema_details() {
    let (_upstream, envoy) = start(json!({"verbose": true, "max_violations": 1}));
    let p = problem(
        &envoy.request("GET", "/v1/products?limit=0&sort=x").send(),
        400,
    );
    assert_eq!(p["operation"], "listProducts");
    assert_eq!(p["violations"].as_array().unwrap().len(), 1);
    assert_eq!(p["violations_total"], 2);
    assert_eq!(
        p["violations"][0]["schema"],
        "#/paths/~1products/get/parameters/0/schema/minimum"
    );
    assert!(
        p["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains(">=1"),
        "{p}"
    );
}

#[test]
fn an_oversized_content_length_is_refused_before_the_body_is_sent() {
    let (upstream, envoy) =
        start(json!({"operations": {"createOrder": {"max_body_bytes": 65536}}}));
    // Headers only: the answer must come without a byte of the body.
    let head = format!(
        "POST /v1/orders HTTP/1.1\r\nhost: shop\r\ncontent-type: application/json\r\nx-request-id: {REQUEST_ID}\r\ncontent-length: 65537\r\n\r\n"
    );
    let resp = envoy.send_raw(head.as_bytes());
    assert_eq!(
        problem(&resp, 413)["type"],
        "https://palisade.dev/problems/body-too-large"
    );
    assert_eq!(upstream.hits(), 0);
    assert_eq!(
        envoy.stat("wasmcustom.palisade_schema_body_too_large"),
        Some(1)
    );
    // Exactly at the limit is fine (the body is invalid, but it is read and validated).
    let resp = post_order(&envoy, &vec![b' '; 65536]).send();
    assert_eq!(violations(&problem(&resp, 400)), vec!["body  syntax"]);
}

#[test]
fn a_chunked_oversized_body_is_cut_off_at_the_limit() {
    let (upstream, envoy) =
        start(json!({"operations": {"createOrder": {"max_body_bytes": 65536}}}));
    // Valid JSON far over the limit: 8 MiB (an order padded with whitespace).
    let mut big = serde_json::to_vec(&order(1000)).unwrap();
    big.resize(8 * 1024 * 1024, b' ');
    let resp = post_order(&envoy, &big).chunked().send();
    problem(&resp, 413);
    // The headers were held with the body: the upstream saw nothing.
    assert_eq!(upstream.hits(), 0);
    // Refused at the limit, once. (How much of the rest Envoy read off the socket before it
    // closed the connection depends on timing and socket buffers, so it is not asserted.)
    assert_eq!(
        envoy.stat("wasmcustom.palisade_schema_body_too_large"),
        Some(1)
    );
    // The streaming (unvalidated) image upload is held to its limit too.
    let resp = envoy
        .request("PUT", "/v1/products/P0001/image")
        .header("content-type", "image/png")
        .body(vec![0u8; 2 * 1024 * 1024])
        .chunked()
        .send();
    problem(&resp, 413);
    assert_eq!(
        envoy.stat("wasmcustom.palisade_schema_body_too_large"),
        Some(2)
    );
}

#[test]
fn report_only_lets_violations_through_and_counts_them() {
    let (upstream, envoy) = start(json!({"report_only": true}));
    let resp = envoy.request("GET", "/v1/products?limit=0").send();
    assert_eq!(resp.status, 200);
    let resp = post_order(&envoy, br#"{"items": []}"#).send();
    assert_eq!(resp.status, 200);
    assert_eq!(echoed_body(&resp), br#"{"items": []}"#);
    assert_eq!(upstream.hits(), 2);
    assert_eq!(envoy.stat("wasmcustom.palisade_schema_reported"), Some(2));
    let line = "report-only: listProducts: invalid_parameters query /limit minimum";
    let log = envoy.log_with(line);
    assert!(log.contains(line), "no `{line}` in\n{log}");
}

#[test]
fn bad_configs_are_refused_with_the_field_named() {
    let upstream = Upstream::start();
    let mut doc = shop();
    doc["paths"]["/products"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/Nope"});
    for (config, line) in [
        (
            json!({"openapi": shop(), "max_violations": 0}),
            "invalid configuration at `max_violations`",
        ),
        (
            json!({"openapi": doc}),
            "invalid configuration at `openapi.paths./products.get.parameters[0].schema`",
        ),
        (
            json!({"routes": [{"body": {"schema": {"$ref": "https://example.com/s.json"}}}]}),
            "never fetched",
        ),
    ] {
        let err = Envoy::builder()
            .filter(Filter::wasm("schema", config.clone()))
            .start(&upstream)
            .err()
            .unwrap_or_else(|| panic!("envoy accepted {config}"));
        assert!(err.log.contains(line), "no `{line}` in\n{}", err.log);
    }
}

#[test]
fn the_example_envoy_config_validates() {
    validate_example("schema", str::to_string)
        .unwrap_or_else(|out| panic!("envoy/schema.yaml does not validate:\n{out}"));
    // Validation runs the filter's on_configure: the same file with a bad value is refused.
    let setting = r#""max_violations": 20"#;
    let out = validate_example("schema", |yaml| {
        assert!(yaml.contains(setting), "the example sets {setting}");
        yaml.replace(setting, r#""max_violations": 0"#)
    })
    .expect_err("max_violations 0 must be refused");
    assert!(out.contains("`max_violations`"), "{out}");
}

#[test]
fn the_default_limit_is_one_mebibyte_given_room_in_envoys_buffer() {
    // Envoy answers a plain-text 413 itself once a buffering filter holds more than the
    // listener's buffer limit (1 MiB by default): give it room, as envoy/schema.yaml does.
    let upstream = Upstream::start();
    let config = shop_config(json!({"hold_headers": true}));
    let envoy = Envoy::builder()
        .filter(schema_filter(config, true))
        .patch(|b| {
            b["static_resources"]["listeners"][0]["per_connection_buffer_limit_bytes"] =
                json!(2 * 1024 * 1024)
        })
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    let mut body = serde_json::to_vec(&order(1000)).unwrap();
    body.resize(1024 * 1024, b' ');
    let resp = post_order(&envoy, &body).chunked().send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["body_len"], 1024 * 1024);
    body.push(b' ');
    problem(&post_order(&envoy, &body).chunked().send(), 413);
    problem(&post_order(&envoy, &body).send(), 413);
    assert_eq!(upstream.hits(), 1);

    // Without the room, Envoy's own plain-text 413 comes first (still before the upstream).
    let upstream = Upstream::start();
    let config = shop_config(json!({"hold_headers": true, "max_body_bytes": 2 * 1024 * 1024}));
    let envoy = Envoy::builder()
        .filter(schema_filter(config, true))
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    body.resize(1536 * 1024, b' ');
    let resp = post_order(&envoy, &body).chunked().send();
    assert_eq!(resp.status, 413, "{}", resp.text());
    assert_ne!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(upstream.hits(), 0);
}

/// Sends a request head, waits until `upstream` has seen a request or `wait` has passed, then
/// sends the body; returns the status and how many requests the upstream received meanwhile.
/// The body is over 1 KiB: the echo upstream (tiny_http) reads smaller bodies before it counts
/// the request, so a forwarded head alone would not show.
fn head_then_body(
    envoy: &Envoy,
    upstream: &Upstream,
    head: &str,
    body: &[u8],
    wait: Duration,
) -> (u16, u64) {
    assert!(body.len() > 1024, "{}", body.len());
    let mut stream = TcpStream::connect(envoy.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    // Counted before the head is sent: a fast Envoy can forward it before the next line runs.
    let before = upstream.hits();
    stream.write_all(head.as_bytes()).unwrap();
    let deadline = Instant::now() + wait;
    while upstream.hits() == before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let seen = upstream.hits() - before;
    let _ = stream.write_all(body);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no answer: {text:?}"));
    (status, seen)
}

fn order_head(body_len: usize) -> String {
    format!(
        "POST /v1/orders HTTP/1.1\r\nhost: shop\r\ncontent-type: application/json\r\nx-request-id: {REQUEST_ID}\r\ncontent-length: {body_len}\r\nconnection: close\r\n\r\n"
    )
}

#[test]
fn held_headers_keep_refused_bodies_from_the_upstream() {
    let (upstream, envoy) =
        start(json!({"operations": {"createOrder": {"max_body_bytes": 65536}}}));
    // Invalid bodies of every kind, sent with content-length and chunked, small and large.
    let mut bad = order(20);
    bad["items"][1]["price"] = json!(-1);
    let bad = serde_json::to_vec(&bad).unwrap();
    let mut big_bad = order(600);
    big_bad["items"][599]["qty"] = json!(0);
    let big_bad = serde_json::to_vec(&big_bad).unwrap();
    assert!(
        big_bad.len() > 32 * 1024 && big_bad.len() < 65536,
        "{}",
        big_bad.len()
    );
    for body in [&bad, &big_bad] {
        problem(&post_order(&envoy, body).send(), 400);
        problem(&post_order(&envoy, body).chunked().send(), 400);
    }
    problem(&post_order(&envoy, b"{\"customer\":").send(), 400);
    let mut huge = serde_json::to_vec(&order(1000)).unwrap();
    // Under Envoy's 1 MiB per-connection buffer, so the filter's 413 always comes first (one
    // read can hand over a large slab at once, and Envoy answers 413 itself past its buffer).
    huge.resize(900 * 1024, b' ');
    problem(&post_order(&envoy, &huge).chunked().send(), 413);
    // The head alone, with time for the router to act on it, then an invalid body.
    let (status, seen) = head_then_body(
        &envoy,
        &upstream,
        &order_head(bad.len()),
        &bad,
        Duration::from_secs(1),
    );
    assert_eq!((status, seen), (400, 0));
    assert_eq!(
        upstream.hits(),
        0,
        "no refused request reached the upstream, not even its head"
    );
    assert_eq!(
        envoy.stat("wasmcustom.palisade_schema_rejected_invalid_body"),
        Some(6)
    );

    // Valid bodies are released whole, headers and body unchanged, however they were sent.
    let good = serde_json::to_vec(&order(600)).unwrap();
    let resp = post_order(&envoy, &good).send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), good);
    assert_eq!(
        resp.upstream_header("x-request-id").as_deref(),
        Some(REQUEST_ID)
    );
    let resp = post_order(&envoy, &good).chunked().send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), good);
    let slow = serde_json::to_vec(&order(20)).unwrap();
    let (status, seen) = head_then_body(
        &envoy,
        &upstream,
        &order_head(slow.len()),
        &slow,
        Duration::from_millis(300),
    );
    assert_eq!((status, seen), (200, 0), "held until the body came");
    // Requests without a validated body are not held: no body, and a streamed (png) body.
    assert_eq!(
        envoy.request("GET", "/v1/products?limit=3").send().status,
        200
    );
    let resp = envoy
        .request("PUT", "/v1/products/P0001/image")
        .header("content-type", "image/png")
        .body(vec![0x89u8; 40_000])
        .chunked()
        .send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json()["body_len"], 40_000);
    assert_eq!(upstream.hits(), 5);
    assert_eq!(envoy.stat("wasmcustom.palisade_schema_validated"), Some(5));
}

#[test]
fn without_hold_headers_the_upstream_sees_the_head_of_a_refused_body() {
    // The default, for Envoys without the stop-iteration switch (Istio's WasmPlugin cannot set
    // it): the headers pass on at once, so the router opens the upstream request before the body
    // is read; the refused body itself is never forwarded.
    let (upstream, envoy) = start_with(schema_filter(shop_config(json!({})), false));
    let mut bad = order(20);
    bad["items"][0]["sku"] = json!("lower");
    let bad = serde_json::to_vec(&bad).unwrap();
    let (status, seen) = head_then_body(
        &envoy,
        &upstream,
        &order_head(bad.len()),
        &bad,
        Duration::from_secs(10),
    );
    assert_eq!(
        (status, seen),
        (400, 1),
        "the upstream saw the head before the body was refused"
    );
    // Valid bodies still pass byte for byte.
    let good = serde_json::to_vec(&order(50)).unwrap();
    let resp = post_order(&envoy, &good).chunked().send();
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(echoed_body(&resp), good);
}

#[test]
fn without_envoys_stop_iteration_switch_held_headers_stop_the_body_callbacks() {
    // Why `hold_headers` is off by default: Envoy turns a header-phase pause into
    // StopAllIterationAndWatermark unless `allow_on_headers_stop_iteration` is set, and then the
    // filter is never given the body. The request waits until Envoy's idle timeout answers it.
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(schema_filter(
            shop_config(json!({"hold_headers": true})),
            false,
        ))
        .patch(|b| {
            b["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]
                ["typed_config"]["stream_idle_timeout"] = json!("2s")
        })
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    let good = serde_json::to_vec(&order(1)).unwrap();
    let resp = post_order(&envoy, &good).send();
    // 504 `stream timeout`: Envoy holds the whole request; the filter never answered it.
    assert_eq!((resp.status, resp.text().as_str()), (504, "stream timeout"));
    assert_eq!(upstream.hits(), 0);
    assert_eq!(envoy.stat("wasmcustom.palisade_schema_validated"), Some(0));
    // Without a body nothing is held, and the request passes.
    assert_eq!(envoy.request("GET", "/v1/products").send().status, 200);
}
