use super::*;
use crate::config::compile;
use palisade_core::decision::Denial;
use palisade_core::testing::MockHost;
use serde_json::{json, Value};

/// The shop API of `tests/fixtures/README.md`.
const SHOP: &str = include_str!("../tests/fixtures/shop-openapi-3.1.json");

fn shop_config(extra: Value) -> Rc<Compiled> {
    let mut cfg = json!({"openapi": serde_json::from_str::<Value>(SHOP).unwrap()});
    for (k, v) in extra.as_object().unwrap() {
        cfg[k] = v.clone();
    }
    Rc::new(compile(cfg.to_string().as_bytes()).unwrap())
}

struct Req {
    host: MockHost,
    flow: RequestFlow,
}

fn request(config: &Rc<Compiled>, method: &str, path: &str, headers: &[(&str, &str)]) -> Req {
    let host = MockHost::new();
    let mut all = vec![
        (":method", method),
        (":path", path),
        (":authority", "shop.example.com"),
    ];
    all.extend_from_slice(headers);
    host.set_headers(HeaderMap::Request, &all);
    let stats = Stats::define(&host);
    Req {
        flow: RequestFlow::new(7, Rc::clone(config), stats),
        host,
    }
}

impl Req {
    fn headers(&mut self, end_of_stream: bool) -> Decision {
        self.flow.on_request_headers(&self.host, end_of_stream)
    }

    /// Sends a body in chunks as Envoy does: while the filter pauses, the buffer grows and
    /// `body_size` is its size; after `Continue` the buffer is flushed.
    fn body(&mut self, body: &[u8], chunk: usize) -> Decision {
        let chunks: Vec<&[u8]> = body.chunks(chunk.max(1)).collect();
        let mut buffered = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            buffered.extend_from_slice(c);
            let eos = i + 1 == chunks.len();
            self.host.set_body(Body::Request, &buffered);
            match self.flow.on_request_body(&self.host, buffered.len(), eos) {
                Decision::Pause if !eos => {}
                Decision::Continue if !eos => buffered.clear(),
                other => return other,
            }
        }
        Decision::Continue
    }

    fn metric(&self, name: &str) -> i64 {
        self.host
            .metric(&format!("palisade_schema_{name}"))
            .unwrap()
    }
}

fn denial(d: Decision) -> (Denial, Value) {
    match d {
        Decision::Deny(d) => {
            let body = serde_json::from_slice(&d.problem.to_body()).unwrap();
            (d, body)
        }
        other => panic!("expected a denial, got {other:?}"),
    }
}

fn pointers(problem: &Value) -> Vec<String> {
    problem["violations"]
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

fn order() -> Value {
    json!({
        "customer": {"id": "c1", "email": "ann@example.com"},
        "items": [{"sku": "ABC-0001", "qty": 2, "price": 9.5, "tags": ["gift"]}],
        "payment": {"type": "iban", "iban": "DE89370400440532013000"},
        "note": null
    })
}

const ORDER_HEADERS: [(&str, &str); 2] = [
    ("content-type", "application/json; charset=utf-8"),
    ("x-request-id", "0b9f3c1e-8d4a-4c55-9a9e-1f0c2b7d6e5a"),
];

#[test]
fn a_valid_get_passes_in_the_header_phase() {
    let cfg = shop_config(json!({}));
    let mut r = request(
        &cfg,
        "GET",
        "/v1/products?limit=10&tags=red,blue&sort=-price",
        &[],
    );
    assert_eq!(r.headers(true), Decision::Continue);
    assert_eq!(r.metric("validated"), 1);
    assert!(r.host.sent().is_empty());
}

#[test]
fn invalid_parameters_are_listed_with_pointers() {
    let cfg = shop_config(json!({}));
    let mut r = request(
        &cfg,
        "GET",
        "/v1/products?limit=0&tags=red,Blue&sort=size",
        &[],
    );
    let (d, p) = denial(r.headers(true));
    assert_eq!(d.status, 400);
    assert_eq!(
        pointers(&p),
        vec![
            "query /limit minimum",
            "query /tags/1 pattern",
            "query /sort enum"
        ]
    );
    assert_eq!(r.metric("rejected_invalid_parameters"), 1);
    let mut r = request(&cfg, "GET", "/v1/products/X1", &[]);
    assert_eq!(
        pointers(&denial(r.headers(true)).1),
        vec!["path /productId pattern"]
    );
    let mut r = request(&cfg, "GET", "/v1/orders/5", &[("cookie", "session=short")]);
    assert_eq!(
        pointers(&denial(r.headers(true)).1),
        vec!["cookie /session minLength"]
    );
    let mut r = request(
        &cfg,
        "GET",
        "/v1/orders/5",
        &[("cookie", "theme=dark; session=long-enough")],
    );
    assert_eq!(r.headers(true), Decision::Continue);
}

#[test]
fn unknown_paths_and_methods_get_404_and_405_or_pass() {
    let cfg = shop_config(json!({}));
    let mut r = request(&cfg, "GET", "/v1/customers", &[]);
    assert_eq!(denial(r.headers(true)).0.status, 404);
    assert_eq!(r.metric("unmatched_operation"), 1);
    assert_eq!(r.metric("rejected_unknown_path"), 1);
    let mut r = request(&cfg, "PATCH", "/v1/orders/5", &[]);
    let (d, _) = denial(r.headers(true));
    assert_eq!(d.status, 405);
    assert!(
        d.headers.contains(&("allow".into(), "GET, DELETE".into())),
        "{:?}",
        d.headers
    );

    let cfg = shop_config(json!({"unmatched_path": "pass", "unmatched_method": "pass"}));
    let mut r = request(&cfg, "GET", "/v1/customers", &[]);
    assert_eq!(r.headers(true), Decision::Continue);
    let mut r = request(&cfg, "PATCH", "/v1/orders/5", &[]);
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(
        r.body(b"anything", 3),
        Decision::Continue,
        "unchecked bodies pass"
    );
    assert_eq!(r.metric("unmatched_operation"), 1);
    assert_eq!(r.metric("validated"), 0);
}

#[test]
fn by_default_json_bodies_are_buffered_in_the_body_phase_not_the_header_phase() {
    let cfg = shop_config(json!({}));
    let mut r = request(&cfg, "POST", "/v1/orders?dry_run=true", &ORDER_HEADERS);
    assert_eq!(
        r.headers(false),
        Decision::Continue,
        "without hold_headers the header phase must not pause"
    );
    let body = serde_json::to_vec(&order()).unwrap();
    // A first chunk short of the end pauses (buffers); the last one validates.
    assert_eq!(r.flow.on_request_body(&r.host, 10, false), Decision::Pause);
    assert_eq!(r.body(&body, 7), Decision::Continue);
    assert_eq!(r.metric("validated"), 1);
    assert!(r.host.sent().is_empty());
}

#[test]
fn held_headers_pause_only_for_a_body_that_will_be_validated() {
    let cfg = shop_config(json!({"hold_headers": true}));
    let body = serde_json::to_vec(&order()).unwrap();
    // A JSON body to validate: held in the header phase, released whole at the end.
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Pause);
    assert_eq!(r.body(&body, 9), Decision::Continue);
    assert_eq!(r.metric("validated"), 1);
    assert!(r.host.sent().is_empty());
    // Refused at the end (400) or as soon as it passes the limit (413), while still held.
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Pause);
    assert_eq!(denial(r.body(b"{\"items\":[]}", 4)).0.status, 400);
    let small = shop_config(json!({"hold_headers": true, "max_body_bytes": 100}));
    let mut r = request(&small, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Pause);
    assert_eq!(denial(r.body(&body, 60)).0.status, 413);
    // Trailers end a held body too.
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Pause);
    r.host.set_body(Body::Request, &body);
    assert_eq!(
        r.flow.on_request_body(&r.host, body.len(), false),
        Decision::Pause
    );
    assert_eq!(r.flow.on_request_trailers(&r.host), Decision::Continue);

    // Nothing is held without a body, for a body that only streams, or for one refused at once.
    let mut r = request(&cfg, "GET", "/v1/products?limit=2", &[]);
    assert_eq!(r.headers(true), Decision::Continue);
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert!(
        matches!(r.headers(true), Decision::Deny(_)),
        "required body missing"
    );
    let png = [("content-type", "image/png")];
    let mut r = request(&cfg, "PUT", "/v1/products/P0001/image", &png);
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(r.body(&[0u8; 64], 16), Decision::Continue);
    let mut r = request(
        &cfg,
        "POST",
        "/v1/orders",
        &[("content-type", "text/plain")],
    );
    assert_eq!(denial(r.headers(false)).0.status, 415);
    // Report-only: held while validated, then let through.
    let report = shop_config(json!({"hold_headers": true, "report_only": true}));
    let mut r = request(&report, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Pause);
    assert_eq!(r.body(b"{\"items\":[]}", 4), Decision::Continue);
}

#[test]
fn invalid_bodies_list_each_violation() {
    let cfg = shop_config(json!({"verbose": true}));
    let mut bad = order();
    bad["items"] = json!([
        {"sku": "ABC-0001", "qty": 1, "price": 1},
        {"sku": "ABC-0002", "qty": 1, "price": 0},
        {"sku": "abc", "qty": 101, "price": 1, "color": "red"}
    ]);
    bad["payment"] = json!({"type": "card", "number": "123"});
    bad["customer"]["email"] = json!("not-an-email");
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Continue);
    let (d, p) = denial(r.body(&serde_json::to_vec(&bad).unwrap(), 1000));
    assert_eq!(d.status, 400);
    let mut got = pointers(&p);
    got.sort();
    assert_eq!(
        got,
        vec![
            "body /customer/email format",
            "body /items/1/price exclusiveMinimum",
            "body /items/2 additionalProperties",
            "body /items/2/qty maximum",
            "body /items/2/sku pattern",
            "body /payment oneOf",
        ]
    );
    assert_eq!(p["operation"], "createOrder");
    assert_eq!(r.metric("rejected_invalid_body"), 1);
}

#[test]
fn missing_required_body_and_header_are_violations() {
    let cfg = shop_config(json!({}));
    let mut r = request(&cfg, "POST", "/v1/orders", &[]);
    let (_, p) = denial(r.headers(true));
    assert_eq!(
        pointers(&p),
        vec!["header /x-request-id required", "body  required"]
    );
}

#[test]
fn header_violations_are_refused_before_the_body() {
    let cfg = shop_config(json!({}));
    let mut r = request(
        &cfg,
        "POST",
        "/v1/orders",
        &[
            ("x-request-id", "nope"),
            ("content-type", "application/json"),
        ],
    );
    let (_, p) = denial(r.headers(false));
    assert_eq!(pointers(&p), vec!["header /x-request-id format"]);
}

#[test]
fn content_length_over_the_limit_is_refused_before_the_body() {
    let cfg = shop_config(json!({"max_body_bytes": 100, "verbose": true}));
    let mut r = request(
        &cfg,
        "POST",
        "/v1/orders",
        &[
            ORDER_HEADERS[0],
            ORDER_HEADERS[1],
            ("content-length", "101"),
        ],
    );
    let (d, p) = denial(r.headers(false));
    assert_eq!(d.status, 413);
    assert_eq!(p["max_body_bytes"], 100);
    assert_eq!(r.metric("body_too_large"), 1);
    assert_eq!(
        r.flow.on_request_body(&r.host, 101, true),
        Decision::Continue,
        "nothing more after the answer"
    );
    let mut r = request(
        &cfg,
        "POST",
        "/v1/orders",
        &[
            ORDER_HEADERS[0],
            ORDER_HEADERS[1],
            ("content-length", "100"),
        ],
    );
    assert_eq!(r.headers(false), Decision::Continue);
}

#[test]
fn chunked_bodies_are_cut_off_as_soon_as_they_pass_the_limit() {
    let cfg = shop_config(json!({"max_body_bytes": 100}));
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(r.flow.on_request_body(&r.host, 60, false), Decision::Pause);
    assert_eq!(
        denial(r.flow.on_request_body(&r.host, 120, false)).0.status,
        413,
        "before the end of the stream"
    );
    assert_eq!(r.metric("body_too_large"), 1);
}

#[test]
fn streamed_bodies_are_counted_against_per_operation_limits() {
    let cfg = shop_config(json!({"operations": {"uploadImage": {"max_body_bytes": 16}}}));
    let mut r = request(
        &cfg,
        "PUT",
        "/v1/products/P0001/image",
        &[("content-type", "image/png")],
    );
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(
        r.body(&[0u8; 16], 5),
        Decision::Continue,
        "streamed, never paused"
    );
    assert_eq!(r.metric("validated"), 1);
    let mut r = request(
        &cfg,
        "PUT",
        "/v1/products/P0001/image",
        &[("content-type", "image/png")],
    );
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(denial(r.body(&[0u8; 17], 5)).0.status, 413);
}

#[test]
fn unaccepted_media_types_get_415() {
    let cfg = shop_config(json!({"verbose": true}));
    for ct in [
        Some("text/plain"),
        Some("application/json; charset=iso-8859-1"),
        None,
    ] {
        let mut headers = vec![ORDER_HEADERS[1]];
        headers.extend(ct.map(|c| ("content-type", c)));
        let mut r = request(&cfg, "POST", "/v1/orders", &headers);
        let (d, p) = denial(r.headers(false));
        assert_eq!(d.status, 415, "{ct:?}");
        assert_eq!(p["accepted"], json!(["application/json"]));
    }
    let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r.headers(false), Decision::Continue);
}

#[test]
fn hostile_json_is_refused() {
    let cfg = shop_config(json!({"json": {"max_depth": 5}}));
    let cases: [(&[u8], &str); 4] = [
        (b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "body  maxDepth"),
        (br#"{"customer":{"id":"a","id":"b"}}"#, "body /customer/id duplicateKey"),
        (b"{\"note\": 1", "body  syntax"),
        (b"{\"qty\": 1000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000}", "body  maxNumberLength"),
    ];
    for (body, expected) in cases {
        let mut r = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
        assert_eq!(r.headers(false), Decision::Continue);
        let (d, p) = denial(r.body(body, 1000));
        assert_eq!(d.status, 400);
        assert_eq!(pointers(&p), vec![expected]);
    }
}

#[test]
fn report_only_logs_counts_and_lets_through() {
    let cfg = shop_config(json!({"report_only": true, "max_body_bytes": 1000}));
    let mut r = request(&cfg, "GET", "/v1/products?limit=0", &[]);
    assert_eq!(r.headers(true), Decision::Continue);
    let mut r2 = request(&cfg, "POST", "/v1/orders", &ORDER_HEADERS);
    assert_eq!(r2.headers(false), Decision::Continue);
    assert_eq!(r2.body(br#"{"items":[]}"#, 4), Decision::Continue);
    let mut r3 = request(&cfg, "GET", "/v1/nowhere", &[]);
    assert_eq!(r3.headers(true), Decision::Continue);
    let mut r4 = request(
        &cfg,
        "POST",
        "/v1/orders",
        &[
            ORDER_HEADERS[0],
            ORDER_HEADERS[1],
            ("content-length", "5000"),
        ],
    );
    assert_eq!(r4.headers(false), Decision::Continue);
    assert_eq!(
        r4.flow.on_request_body(&r4.host, 5000, true),
        Decision::Continue,
        "not buffered past the limit"
    );
    for r in [&r, &r2, &r3, &r4] {
        assert!(r.host.sent().is_empty());
        assert_eq!(r.metric("reported"), 1);
    }
    assert_eq!(r4.metric("body_too_large"), 1);
    assert_eq!(r.metric("rejected_invalid_parameters"), 0);
}

#[test]
fn trailers_end_a_buffered_body() {
    let cfg = shop_config(json!({}));
    let mut r = request(
        &cfg,
        "PUT",
        "/v1/orders/3/items/0",
        &[("content-type", "application/json")],
    );
    assert_eq!(r.headers(false), Decision::Continue);
    let body = br#"{"sku":"ABC-0001","qty":1,"price":2}"#;
    r.host.set_body(Body::Request, body);
    assert_eq!(
        r.flow.on_request_body(&r.host, body.len(), false),
        Decision::Pause
    );
    assert_eq!(r.flow.on_request_trailers(&r.host), Decision::Continue);
    assert_eq!(r.metric("validated"), 1);
}

#[test]
fn plain_mode_validates_matching_routes_and_passes_others() {
    let cfg = Rc::new(
        compile(
            json!({
                "schemas": {"https://schemas.example.com/money.json": {"type": "object", "required": ["amount"], "properties": {"amount": {"type": "number", "minimum": 0}}}},
                "routes": [{
                    "match": {"prefix": "/pay", "methods": ["POST"]},
                    "body": {"schema": {"type": "object", "properties": {"total": {"$ref": "https://schemas.example.com/money.json"}}}, "required": true},
                    "query": [{"name": "page", "schema": {"type": "integer"}}],
                    "headers": [{"name": "X-Tenant", "required": true, "schema": {"type": "string", "pattern": "^[a-z]+$"}}],
                    "max_body_bytes": 64
                }]
            })
            .to_string()
            .as_bytes(),
        )
        .unwrap(),
    );
    let json_ct = ("content-type", "application/json");
    let mut r = request(
        &cfg,
        "POST",
        "/pay?page=2",
        &[json_ct, ("x-tenant", "acme")],
    );
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(r.body(br#"{"total":{"amount":5}}"#, 5), Decision::Continue);
    let mut r = request(&cfg, "POST", "/pay?page=x", &[json_ct]);
    assert_eq!(
        pointers(&denial(r.headers(false)).1),
        vec!["query /page type", "header /x-tenant required"]
    );
    let mut r = request(&cfg, "POST", "/pay", &[json_ct, ("x-tenant", "acme")]);
    assert_eq!(r.headers(false), Decision::Continue);
    assert_eq!(
        pointers(&denial(r.body(br#"{"total":{"amount":-1}}"#, 100)).1),
        vec!["body /total/amount minimum"]
    );
    let mut r = request(
        &cfg,
        "POST",
        "/pay",
        &[json_ct, ("x-tenant", "acme"), ("content-length", "65")],
    );
    assert_eq!(denial(r.headers(false)).0.status, 413);
    let mut r = request(&cfg, "GET", "/elsewhere", &[]);
    assert_eq!(r.headers(true), Decision::Continue, "no route: pass");
}

#[test]
fn terse_answers_by_default() {
    let cfg = shop_config(json!({}));
    let mut r = request(&cfg, "GET", "/v1/products?limit=1000", &[]);
    let (_, p) = denial(r.headers(true));
    assert_eq!(p["violations"][0]["message"], "is too large");
    assert!(p.get("operation").is_none());
    assert!(p["violations"][0].get("schema").is_none());
}

#[test]
fn operations_are_looked_up_on_the_canonical_path() {
    let cfg = shop_config(json!({"unmatched_path": "pass"}));
    for path in [
        "//v1/products/X1",
        "/v1/%70roducts/X1",
        "/v1/x/../products/X1",
    ] {
        let mut r = request(&cfg, "GET", path, &[]);
        let (d, p) = denial(r.headers(true));
        assert_eq!(d.status, 400, "{path}");
        assert_eq!(
            p["type"], "https://palisade.dev/problems/non-canonical-path",
            "{path}"
        );
        assert_eq!(r.metric("rejected_non_canonical_path"), 1);
    }
    let cfg =
        shop_config(json!({"unmatched_path": "pass", "path_normalization": {"action": "rewrite"}}));
    let mut r = request(&cfg, "GET", "//v1/%70roducts/./X1;a=b?x=1", &[]);
    assert_eq!(
        pointers(&denial(r.headers(true)).1),
        vec!["path /productId pattern"],
        "the operation was found, not skipped"
    );
    assert_eq!(
        r.host.header(HeaderMap::Request, ":path").as_deref(),
        Some("/v1/products/X1?x=1")
    );
}

#[test]
fn case_insensitive_is_refused_with_openapi() {
    let mut cfg = json!({"openapi": serde_json::from_str::<Value>(SHOP).unwrap()});
    cfg["path_normalization"] = json!({"case_insensitive": true});
    let err = compile(cfg.to_string().as_bytes()).unwrap_err();
    assert_eq!(err.path, "path_normalization.case_insensitive");
}
