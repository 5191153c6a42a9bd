//! The schema filter with `openapi_remote` through a real Envoy: the shop API's description is
//! served by a local HTTP server behind cluster `docs`, fetched by every worker, and requests are
//! validated against it; a request that arrives before the document waits for it; one that waits
//! in vain gets a 503 problem; a bad remote config is refused with its field named.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::paths::workspace_root;
use palisade_e2e::server::{HttpServer, Reply};
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const REQUEST_ID: &str = "0b9f3c1e-8d4a-4c55-9a9e-1f0c2b7d6e5a";

fn shop() -> String {
    std::fs::read_to_string(
        workspace_root().join("filters/schema/tests/fixtures/shop-openapi-3.1.json"),
    )
    .unwrap()
}

/// Serves the shop description at `/openapi.json` once `serving` is set (503 before).
fn description_server(serving: Arc<AtomicBool>) -> HttpServer {
    let doc: Value = serde_json::from_str(&shop()).unwrap();
    HttpServer::start(move |req| {
        if req.path != "/openapi.json" {
            return Reply::text(404, "no such document");
        }
        if serving.load(Ordering::SeqCst) {
            Reply::json(200, &doc)
        } else {
            Reply::text(503, "not yet")
        }
    })
}

fn start(server: &HttpServer, upstream: &Upstream, max_wait: &str) -> Envoy {
    let config = json!({
        "openapi_remote": {
            "http_uri": {"uri": format!("http://127.0.0.1:{}/openapi.json", server.port()), "cluster": "docs", "timeout": "2s"},
            "max_wait": max_wait
        }
    });
    Envoy::builder()
        .filter(Filter::wasm("schema", config))
        .cluster("docs", server.port())
        .concurrency(2)
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn post_order(envoy: &Envoy, body: &Value) -> Response {
    envoy
        .request("POST", "/v1/orders")
        .header("content-type", "application/json")
        .header("x-request-id", REQUEST_ID)
        .body(serde_json::to_vec(body).unwrap())
        .send()
}

fn order(qty: u32) -> Value {
    json!({
        "customer": {"id": "c1", "email": "ann@example.com"},
        "items": [{"sku": "ABC-0001", "qty": qty, "price": 9.5}],
        "payment": {"type": "card", "number": "4111111111111111"},
        "note": null
    })
}

#[test]
fn requests_wait_for_the_fetched_document_and_are_validated_against_it() {
    let serving = Arc::new(AtomicBool::new(false));
    let server = description_server(Arc::clone(&serving));
    let upstream = Upstream::start();
    let envoy = start(&server, &upstream, "10s");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        server.hits(),
        0,
        "nothing is fetched before a request needs it"
    );
    // The first fetch fails (503): the request waits; the document arrives on the retry (1 s).
    let client = {
        let addr = envoy.addr();
        std::thread::spawn(move || {
            let started = Instant::now();
            let resp = palisade_e2e::RequestBuilder::new(addr, "POST", "/v1/orders")
                .header("content-type", "application/json")
                .header("x-request-id", REQUEST_ID)
                .body(serde_json::to_vec(&order(0)).unwrap())
                .send();
            (resp, started.elapsed())
        })
    };
    // Until then no worker has fetched (the first request starts it) and the first fetch fails.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.hits() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        server.hits(),
        1,
        "one fetch, by the worker the request reached"
    );
    serving.store(true, Ordering::SeqCst);
    let (resp, waited) = client.join().unwrap();
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert_eq!(
        resp.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(resp.json()["violations"][0]["pointer"], "/items/0/qty");
    assert!(waited < Duration::from_secs(8), "waited {waited:?}");
    assert_eq!(upstream.hits(), 0);
    // Later requests are checked at once; a valid one reaches the upstream.
    let resp = post_order(&envoy, &order(2));
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(upstream.hits(), 1);
    let resp = envoy.request("GET", "/v1/products?limit=1000").send();
    assert_eq!(resp.status, 400, "{}", resp.text());
    // Every worker that served a request fetched and compiled the document (at most two).
    let loaded = envoy.log_with("bytes compiled");
    assert!(loaded.contains("openapi_remote 127.0.0.1"), "{loaded}");
    assert!(
        envoy.log().contains("HTTP 503"),
        "the failed fetch is logged"
    );
    assert!(
        (2..=3).contains(&server.hits()),
        "{} fetches",
        server.hits()
    );
}

#[test]
fn a_request_that_waits_in_vain_gets_a_503_problem() {
    let server = description_server(Arc::new(AtomicBool::new(false)));
    let upstream = Upstream::start();
    let envoy = start(&server, &upstream, "1s");
    let started = Instant::now();
    let resp = post_order(&envoy, &order(1));
    assert_eq!(resp.status, 503, "{}", resp.text());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(resp.header("retry-after"), Some("5"));
    assert_eq!(
        resp.json()["type"],
        "https://palisade.dev/problems/schema-description-unavailable"
    );
    assert_eq!(upstream.hits(), 0);
    let stat = "wasmcustom.palisade_schema_rejected_description_unavailable";
    let deadline = Instant::now() + Duration::from_secs(3);
    while envoy.stat(stat) != Some(1) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(envoy.stat(stat), Some(1));
}

#[test]
fn a_bad_remote_is_refused_with_the_field_named() {
    let upstream = Upstream::start();
    for (remote, line) in [
        (
            json!({"http_uri": {"uri": "docs/openapi.json", "cluster": "docs"}}),
            "invalid configuration at `openapi_remote.http_uri.uri`",
        ),
        (
            json!({"http_uri": {"uri": "http://docs/openapi.json", "cluster": "docs"}, "refresh_interval": "10ms"}),
            "invalid configuration at `openapi_remote.refresh_interval`",
        ),
    ] {
        let config = json!({"openapi_remote": remote});
        let err = Envoy::builder()
            .filter(Filter::wasm("schema", config.clone()))
            .start(&upstream)
            .err()
            .unwrap_or_else(|| panic!("envoy accepted {config}"));
        assert!(err.log.contains(line), "no `{line}` in\n{}", err.log);
    }
}
