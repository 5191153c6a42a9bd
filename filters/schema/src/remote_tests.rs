use super::*;
use crate::config::{compile, prepare, Pending, Setup};
use crate::stage::{SchemaRoot, FILTER_NAME};
use palisade_core::driver::{Flow, Module, Pipeline};
use palisade_core::testing::MockHost;
use palisade_core::Clock;
use serde_json::{json, Value};

/// The shop API of `tests/fixtures/README.md`.
const SHOP: &str = include_str!("../tests/fixtures/shop-openapi-3.1.json");

fn remote_config(extra: Value) -> Value {
    let mut cfg = json!({
        "openapi_remote": {
            "http_uri": {"uri": "http://api.internal:8080/openapi.json", "cluster": "docs", "timeout": "2s"},
            "max_wait": "3s"
        },
        "verbose": true
    });
    for (k, v) in extra.as_object().unwrap() {
        cfg["openapi_remote"][k] = v.clone();
    }
    cfg
}

fn pending(extra: Value) -> Pending {
    match prepare(remote_config(extra).to_string().as_bytes()).unwrap() {
        Setup::Remote(p) => p,
        Setup::Ready(_) => panic!("not remote"),
    }
}

fn document(pending: Pending) -> RemoteDocument {
    RemoteDocument::new(pending.spec, pending.config)
}

/// Answers the last call the host saw with `status` and `body`.
fn answer(host: &MockHost, status: &str, body: &[u8]) -> u32 {
    host.set_headers(HeaderMap::HttpCallResponse, &[(":status", status)]);
    host.set_body(Body::HttpCallResponse, body);
    host.calls().last().unwrap().token
}

fn order() -> Value {
    json!({
        "customer": {"id": "c1", "email": "ann@example.com"},
        "items": [{"sku": "ABC-0001", "qty": 2, "price": 9.5, "tags": ["gift"]}],
        "payment": {"type": "iban", "iban": "DE89370400440532013000"},
        "note": null
    })
}

#[test]
fn the_remote_is_checked_at_configure_time_with_field_paths() {
    let spec = pending(json!({})).spec;
    assert_eq!(spec.cluster, "docs");
    assert_eq!(spec.target.authority, "api.internal:8080");
    assert_eq!(spec.target.path, "/openapi.json");
    assert_eq!(spec.timeout, Duration::from_secs(2));
    assert_eq!(spec.max_wait, Duration::from_secs(3));
    assert_eq!(spec.refresh, None);
    assert_eq!(spec.max_bytes, 32 << 20);
    let cases = [
        (
            json!({"http_uri": {"uri": "ftp://x/y", "cluster": "docs"}}),
            "openapi_remote.http_uri.uri",
        ),
        (
            json!({"http_uri": {"uri": "http://x/y", "cluster": " "}}),
            "openapi_remote.http_uri.cluster",
        ),
        (
            json!({"refresh_interval": "100ms"}),
            "openapi_remote.refresh_interval",
        ),
        (json!({"max_bytes": 0}), "openapi_remote.max_bytes"),
    ];
    for (extra, field) in cases {
        let e = prepare(remote_config(extra).to_string().as_bytes()).unwrap_err();
        assert_eq!(e.path, field, "{e}");
    }
    // One source of operations only; settings are checked before any document arrives.
    let mut both = remote_config(json!({}));
    both["openapi"] = serde_json::from_str(SHOP).unwrap();
    assert_eq!(
        prepare(both.to_string().as_bytes()).unwrap_err().path,
        "openapi_remote"
    );
    let mut bad = remote_config(json!({}));
    bad["max_violations"] = json!(0);
    assert_eq!(
        prepare(bad.to_string().as_bytes()).unwrap_err().path,
        "max_violations"
    );
    // `compile` (what needs a document now) refuses a remote one.
    assert!(compile(remote_config(json!({})).to_string().as_bytes()).is_err());
}

#[test]
fn the_first_tick_fetches_and_a_good_answer_compiles_and_wakes_every_waiter() {
    let host = MockHost::new().at_seconds(1000);
    let mut doc = document(pending(json!({})));
    doc.wait(5, host.unix_nanos());
    doc.wait(6, host.unix_nanos());
    assert!(doc.tick(&host).is_empty());
    let calls = host.calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].cluster, "docs");
    assert_eq!(calls[0].timeout, Duration::from_secs(2));
    let header = |n: &str| {
        calls[0]
            .headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header(":path").as_deref(), Some("/openapi.json"));
    assert_eq!(header(":authority").as_deref(), Some("api.internal:8080"));
    // No second call while one is under way.
    doc.tick(&host);
    assert_eq!(host.calls().len(), 1);
    let token = answer(&host, "200", SHOP.as_bytes());
    // A foreign token changes nothing.
    assert_eq!(
        doc.on_response(&host, token + 9, SHOP.len()).0,
        Outcome::Ignored
    );
    let (outcome, mut woken) = doc.on_response(&host, token, SHOP.len());
    assert_eq!(outcome, Outcome::Loaded);
    woken.sort();
    assert_eq!(woken, [5, 6]);
    assert_eq!(doc.waiting(), 0);
    assert!(doc.current().is_some());
    // Without `refresh_interval` it is never fetched again.
    host.advance(Duration::from_secs(100_000));
    doc.tick(&host);
    assert_eq!(host.calls().len(), 1);
}

#[test]
fn nothing_is_fetched_before_a_request_asks_for_the_document() {
    let host = MockHost::new().at_seconds(1000);
    let mut doc = document(pending(json!({})));
    for _ in 0..5 {
        doc.tick(&host);
        host.advance(Duration::from_secs(10));
    }
    assert!(host.calls().is_empty());
    doc.wait(1, host.unix_nanos());
    doc.tick(&host);
    assert_eq!(host.calls().len(), 1);
}

#[test]
fn failures_back_off_and_waiters_expire_while_no_document_arrived() {
    let host = MockHost::new().at_seconds(1000);
    let mut doc = document(pending(json!({})));
    doc.wait(5, host.unix_nanos());
    doc.tick(&host);
    let token = answer(&host, "503", b"");
    let (outcome, woken) = doc.on_response(&host, token, 0);
    assert_eq!(outcome, Outcome::Failed("HTTP 503".into()));
    assert!(woken.is_empty(), "a waiter keeps waiting for a later fetch");
    assert_eq!(doc.last_error(), Some("HTTP 503"));
    // Retried after 1 s, then 2 s.
    host.advance(Duration::from_millis(900));
    doc.tick(&host);
    assert_eq!(host.calls().len(), 1);
    host.advance(Duration::from_millis(100));
    doc.tick(&host);
    assert_eq!(host.calls().len(), 2);
    let token = answer(
        &host,
        "200",
        b"{\"openapi\": \"3.1.0\", \"paths\": {\"x\": 1}}",
    );
    let (outcome, _) = doc.on_response(&host, token, 40);
    assert!(
        matches!(&outcome, Outcome::Failed(why) if why.contains("does not compile")),
        "{outcome:?}"
    );
    host.advance(Duration::from_millis(1900));
    assert_eq!(doc.tick(&host), Vec::<u32>::new());
    assert_eq!(host.calls().len(), 2);
    // The waiter's 3 s are over.
    host.advance(Duration::from_millis(100));
    assert_eq!(doc.tick(&host), vec![5]);
    assert_eq!(host.calls().len(), 3);
    assert!(doc.current().is_none());
    // Too large: refused before reading.
    let token = answer(&host, "200", SHOP.as_bytes());
    let (outcome, _) = doc.on_response(&host, token, (32 << 20) + 1);
    assert!(matches!(outcome, Outcome::Failed(why) if why.contains("max_bytes")));
}

#[test]
fn a_refresh_compiles_only_a_changed_document_and_a_bad_one_keeps_the_old() {
    let host = MockHost::new().at_seconds(1000);
    let mut doc = document(pending(json!({"refresh_interval": "60s"})));
    doc.wait(1, host.unix_nanos());
    doc.tick(&host);
    let token = answer(&host, "200", SHOP.as_bytes());
    assert_eq!(doc.on_response(&host, token, SHOP.len()).0, Outcome::Loaded);
    let first = doc.current().unwrap();
    host.advance(Duration::from_secs(59));
    doc.tick(&host);
    assert_eq!(host.calls().len(), 1);
    host.advance(Duration::from_secs(1));
    doc.tick(&host);
    assert_eq!(host.calls().len(), 2);
    let token = answer(&host, "200", SHOP.as_bytes());
    assert_eq!(
        doc.on_response(&host, token, SHOP.len()).0,
        Outcome::Unchanged
    );
    assert!(Rc::ptr_eq(&first, &doc.current().unwrap()));
    host.advance(Duration::from_secs(60));
    doc.tick(&host);
    let token = answer(&host, "200", b"[1]");
    assert!(matches!(
        doc.on_response(&host, token, 3).0,
        Outcome::Failed(_)
    ));
    assert!(Rc::ptr_eq(&first, &doc.current().unwrap()));
    // A changed document replaces it.
    host.advance(Duration::from_secs(1));
    doc.tick(&host);
    let mut changed: Value = serde_json::from_str(SHOP).unwrap();
    changed["info"]["version"] = json!("2");
    let changed = changed.to_string();
    let token = answer(&host, "200", changed.as_bytes());
    assert_eq!(
        doc.on_response(&host, token, changed.len()).0,
        Outcome::Loaded
    );
    assert!(!Rc::ptr_eq(&first, &doc.current().unwrap()));
}

#[test]
fn a_document_of_many_chunks_is_read_whole_and_a_change_past_the_first_chunk_is_seen() {
    // The document is read from the host a chunk at a time (never whole in the VM's memory):
    // the digest and the parse must both see every chunk (here the JSON itself starts in the
    // fourth).
    let host = MockHost::new().at_seconds(1000);
    let mut doc = document(pending(json!({"refresh_interval": "60s"})));
    doc.wait(1, host.unix_nanos());
    doc.tick(&host);
    let mut shop: Value = serde_json::from_str(SHOP).unwrap();
    let padded = |shop: &Value| {
        let text = serde_json::to_string_pretty(shop).unwrap();
        format!("{}{text}", " ".repeat(3 * CHUNK + 17))
    };
    let first_text = padded(&shop);
    assert!(first_text.len() > 3 * CHUNK + 1000);
    let token = answer(&host, "200", first_text.as_bytes());
    assert_eq!(
        doc.on_response(&host, token, first_text.len()).0,
        Outcome::Loaded
    );
    let first = doc.current().unwrap();
    // The same bytes again: unchanged.
    host.advance(Duration::from_secs(60));
    doc.tick(&host);
    let token = answer(&host, "200", first_text.as_bytes());
    assert_eq!(
        doc.on_response(&host, token, first_text.len()).0,
        Outcome::Unchanged
    );
    // A change past the first chunk: compiled again.
    shop["info"]["version"] = json!("2");
    let changed = padded(&shop);
    host.advance(Duration::from_secs(60));
    doc.tick(&host);
    let token = answer(&host, "200", changed.as_bytes());
    assert_eq!(
        doc.on_response(&host, token, changed.len()).0,
        Outcome::Loaded
    );
    assert!(!Rc::ptr_eq(&first, &doc.current().unwrap()));
    // Cut short (the announced size is less than the document): not JSON, the old one stays.
    let second = doc.current().unwrap();
    host.advance(Duration::from_secs(60));
    doc.tick(&host);
    let token = answer(&host, "200", first_text.as_bytes());
    assert!(matches!(
        doc.on_response(&host, token, first_text.len() - 10).0,
        Outcome::Failed(why) if why.contains("not JSON")
    ));
    assert!(Rc::ptr_eq(&second, &doc.current().unwrap()));
}

fn module(host: &MockHost) -> Rc<Module> {
    let setup = prepare(remote_config(json!({})).to_string().as_bytes()).unwrap();
    Rc::new(Module::single(
        FILTER_NAME,
        Box::new(SchemaRoot::new(host, setup)),
    ))
}

fn order_request(host: &MockHost, body: &[u8]) {
    host.set_headers(
        HeaderMap::Request,
        &[
            (":method", "POST"),
            (":path", "/v1/orders"),
            (":authority", "shop.example.com"),
            ("content-type", "application/json"),
            ("x-request-id", "0b9f3c1e-8d4a-4c55-9a9e-1f0c2b7d6e5a"),
        ],
    );
    host.set_body(Body::Request, body);
}

#[test]
fn a_request_before_the_document_waits_for_it_and_is_then_validated() {
    let host = MockHost::new().at_seconds(1000);
    let m = module(&host);
    let root = m.roots.first().unwrap();
    let mut bad = order();
    bad["items"][0]["qty"] = json!(0);
    let bad = serde_json::to_vec(&bad).unwrap();
    order_request(&host, &bad);
    let mut p = Pipeline::new(Rc::clone(&m), 3);
    assert_eq!(p.on_request_headers(&host, false), Flow::Pause);
    assert!(p.waiting());
    // The body arrives while the request waits: held.
    assert_eq!(p.on_request_body(&host, bad.len(), true), Flow::Pause);
    assert!(root.on_tick(&host).is_empty());
    let token = answer(&host, "200", SHOP.as_bytes());
    assert_eq!(root.on_http_call_response(&host, token, SHOP.len()), [3]);
    p.wake(&host, 0);
    let sent = host.last_response().expect("answered");
    assert_eq!(sent.status, 400);
    assert!(String::from_utf8_lossy(&sent.body).contains("/items/0/qty"));
    m.flush_counts(&host);
    assert_eq!(host.metric("palisade_schema_description_loaded"), Some(1));
    // Later requests are checked at once.
    let good = serde_json::to_vec(&order()).unwrap();
    order_request(&host, &good);
    let mut p = Pipeline::new(Rc::clone(&m), 4);
    assert_eq!(p.on_request_headers(&host, false), Flow::Continue);
    assert!(!p.waiting());
    assert_eq!(p.on_request_body(&host, good.len(), true), Flow::Continue);
}

#[test]
fn a_request_that_waits_in_vain_gets_a_503_problem() {
    let host = MockHost::new().at_seconds(1000);
    let m = module(&host);
    let root = m.roots.first().unwrap();
    order_request(&host, b"{}");
    assert!(root.on_tick(&host).is_empty());
    assert!(host.calls().is_empty(), "no request, no fetch");
    let mut p = Pipeline::new(Rc::clone(&m), 3);
    assert_eq!(p.on_request_headers(&host, false), Flow::Pause);
    root.on_tick(&host);
    let token = answer(&host, "404", b"");
    assert!(root.on_http_call_response(&host, token, 0).is_empty());
    host.advance(Duration::from_secs(3));
    assert_eq!(root.on_tick(&host), [3]);
    p.wake(&host, 0);
    let sent = host.last_response().expect("answered");
    assert_eq!(sent.status, 503);
    assert_eq!(sent.header("retry-after"), Some("5"));
    assert_eq!(
        sent.header("content-type"),
        Some("application/problem+json")
    );
    assert!(!String::from_utf8_lossy(&sent.body).contains("api.internal"));
    m.flush_counts(&host);
    assert_eq!(host.metric("palisade_schema_description_failed"), Some(1));
    assert_eq!(
        host.metric("palisade_schema_rejected_description_unavailable"),
        Some(1)
    );
    // A request that ends while waiting is forgotten.
    let mut p = Pipeline::new(Rc::clone(&m), 8);
    assert_eq!(p.on_request_headers(&host, true), Flow::Pause);
    p.on_log(&host);
    host.advance(Duration::from_secs(3));
    assert!(root.on_tick(&host).is_empty());
}
