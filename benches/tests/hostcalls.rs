//! Host calls per request of each filter, on the request `cargo xtask bench` sends: every call
//! is a crossing out of the Wasm VM, so these counts are pinned here and a regression fails a
//! test without timing anything. Each filter's adapter calls are replayed beside its logic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use jwt_simple::prelude::*;
use palisade_benches::{api_request_headers, order_body, order_schema, origin_response_headers};
use palisade_core::counting::{log_records, CountingHost, HostCall, HostCalls};
use palisade_core::host::{Body, HeaderMap, Host};
use palisade_core::testing::MockHost;
use palisade_core::Decision;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;

use HostCall::*;

/// What one request cost: host calls, and log records (each one a `proxy_log` crossing when the
/// module's log level lets it through; every filter sets `Trace` today).
struct Cost {
    calls: HostCalls,
    logs: BTreeMap<log::Level, u32>,
}

impl Cost {
    fn take(host: &CountingHost<MockHost>) -> Self {
        Self {
            calls: host.take(),
            logs: log_records::take(),
        }
    }

    /// One markdown row per call kind, for the notes (`--nocapture`).
    fn print(&self, filter: &str) {
        for (kind, n) in &self.calls.0 {
            println!("| {filter} | {} | {n} |", kind.name());
        }
        let logs: u32 = self.logs.values().sum();
        println!("| {filter} | log records (all levels) | {logs} |");
        println!(
            "| {filter} | **total host calls** | **{}** |",
            self.calls.total()
        );
    }
}

fn host_with(request: Vec<(String, String)>) -> CountingHost<MockHost> {
    log_records::install();
    let host = MockHost::new().at_seconds(1_800_000_000);
    let pairs: Vec<(&str, &str)> = request
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    host.set_headers(HeaderMap::Request, &pairs);
    let response: Vec<(String, String)> = origin_response_headers();
    let pairs: Vec<(&str, &str)> = response
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    host.set_headers(HeaderMap::Response, &pairs);
    CountingHost::new(host)
}

/// A GET of `/api/orders` as the bench's API client sends it.
fn api_get(token: Option<&str>) -> Vec<(String, String)> {
    let mut headers = api_request_headers(token);
    for (name, value) in &mut headers {
        match name.as_str() {
            ":method" => *value = "GET".into(),
            ":path" => *value = "/api/orders".into(),
            _ => {}
        }
    }
    headers.retain(|(n, _)| n != "content-type" && n != "content-length");
    headers
}

/// headers, strict-api preset (the bench's config): request then response.
fn headers_cost() -> Cost {
    use palisade_headers::{config::compile, exchange::Exchange, stats::Stats};
    let config = json!({
        "preset": "strict-api",
        "response": {"remove": ["x-backend-*"]},
        "request": {"strip": ["x-internal-*"]}
    });
    let host = host_with(api_get(None));
    let compiled = Rc::new(compile(config.to_string().as_bytes()).unwrap());
    let mut exchange = Exchange::new(7, compiled, Stats::define(&host));
    let _ = Cost::take(&host);
    // The adapter logs once per callback (`#7 on_http_request_headers`).
    log::trace!("#7 on_http_request_headers");
    assert_eq!(exchange.on_request_headers(&host), Decision::Continue);
    log::trace!("#7 on_http_response_headers");
    assert_eq!(exchange.on_response_headers(&host), Decision::Continue);
    let cost = Cost::take(&host);
    let done = host.inner();
    assert!(done.header(HeaderMap::Response, "x-powered-by").is_none());
    assert!(done
        .header(HeaderMap::Request, "x-internal-debug")
        .is_none());
    cost
}

const ISSUER: &str = "https://issuer.bench.palisade";

/// jwt, ES256, token from the verified-token cache, `sub` forwarded as a header.
fn jwt_cost() -> Cost {
    use palisade_jwt::compile::compile;
    use palisade_jwt::request::Verdict;
    use palisade_jwt::worker::{RequestState, StateCell, Worker};
    let pair = ES256KeyPair::generate().with_key_id("es256");
    let claims = Claims::create(Duration::from_hours(1))
        .with_issuer(ISSUER)
        .with_audience("palisade-bench")
        .with_subject("bench-user");
    let token = pair.sign(claims).unwrap();
    let jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    let config = json!({
        "providers": {"bench": {
            "issuer": ISSUER,
            "audiences": ["palisade-bench"],
            "local_jwks": {"inline_string": json!({"keys": [jwk]}).to_string()},
            "claim_to_headers": [{"header_name": "x-jwt-claim-sub", "claim_name": "sub"}],
            "jwt_cache_config": {"jwt_cache_size": 100}
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
    });
    let now = jwt_simple::prelude::Clock::now_since_epoch().as_secs();
    let sent = api_get(Some(&token));
    let host = host_with(sent.clone());
    host.inner().set_nanos(now * 1_000_000_000);
    let compiled = Rc::new(compile(config.to_string().as_bytes()).unwrap());
    let mut worker = Worker::new(&host, compiled);
    // Today's adapter (filter.rs), replayed call for call: clear the headers it sets, read the
    // request, decide, then apply the mutations one call each.
    let request = |host: &CountingHost<MockHost>, worker: &mut Worker| {
        let pairs: Vec<(&str, &str)> = sent.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        host.inner().set_headers(HeaderMap::Request, &pairs);
        let state: StateCell = Rc::new(Cell::new(RequestState::Init));
        for name in &worker.compiled().headers_to_clear {
            host.set_header(HeaderMap::Request, name, None);
        }
        let headers = host.headers(HeaderMap::Request);
        let verdict = worker.decide(host, 9, &headers, &state, None);
        let Verdict::Allow(m) = verdict else {
            panic!("not allowed: {verdict:?}");
        };
        for name in &m.remove {
            host.set_header(HeaderMap::Request, name, None);
        }
        if let Some(path) = &m.path {
            host.set_header(HeaderMap::Request, ":path", Some(path));
        }
        if let Some(cookie) = &m.cookie {
            host.set_header(HeaderMap::Request, "cookie", cookie.as_deref());
        }
        for (name, value) in &m.set {
            host.set_header(HeaderMap::Request, name, Some(value));
        }
        if let Some(identity) = &m.identity {
            host.set_property(
                &[palisade_core::identity::VERIFIED_CLAIMS_PROPERTY],
                identity,
            )
            .unwrap();
        }
    };
    // The first request verifies and fills the cache; the second is the one measured.
    request(&host, &mut worker);
    let _ = Cost::take(&host);
    request(&host, &mut worker);
    let cost = Cost::take(&host);
    let done = host.inner();
    assert_eq!(
        done.header(HeaderMap::Request, "x-jwt-claim-sub")
            .as_deref(),
        Some("bench-user")
    );
    // Not forwarded: the token is removed before the request goes upstream.
    assert!(done.header(HeaderMap::Request, "authorization").is_none());
    cost
}

/// ratelimit, local mode, one rule keyed by client address, admitted.
fn ratelimit_cost() -> Cost {
    use palisade_ratelimit::config::compile;
    use palisade_ratelimit::limiter::{Limiter, RequestLimiter};
    let config = json!({
        "rules": [{"name": "per-client", "key": ["client_ip"],
                   "limits": [{"requests": 1_000_000_000u32, "per": "1s"}]}]
    });
    let host = host_with(api_get(None));
    host.inner()
        .set_property(&["source", "address"], b"10.1.2.3:40000")
        .unwrap();
    let limiter = Rc::new(Limiter::new(
        &host,
        compile(config.to_string().as_bytes()).unwrap(),
    ));
    let mut flow = RequestLimiter::new(Rc::clone(&limiter), 3);
    assert_eq!(flow.on_request_headers(&host), Decision::Continue);
    let _ = Cost::take(&host);
    let mut flow = RequestLimiter::new(limiter, 4);
    assert_eq!(flow.on_request_headers(&host), Decision::Continue);
    flow.on_response_headers(&host);
    Cost::take(&host)
}

/// schema, plain mode, `POST /api/orders` with a valid 1 KiB JSON body in one chunk.
fn schema_cost() -> Cost {
    use palisade_schema::{config::compile, flow::RequestFlow, stats::Stats};
    let config = json!({
        "routes": [{
            "match": {"prefix": "/api/orders", "methods": ["POST"]},
            "body": {"schema": order_schema(), "required": true}
        }]
    });
    let body = order_body(1024);
    let mut request = api_request_headers(None);
    for (name, value) in &mut request {
        if name == ":path" {
            *value = "/api/orders".into();
        }
        if name == "content-length" {
            *value = body.len().to_string();
        }
    }
    let host = host_with(request);
    host.inner().set_body(Body::Request, &body);
    let compiled = Rc::new(compile(config.to_string().as_bytes()).unwrap());
    let mut flow = RequestFlow::new(5, compiled, Stats::define(&host));
    let _ = Cost::take(&host);
    log::trace!("#5 on_http_request_headers eos=false");
    assert_eq!(flow.on_request_headers(&host, false), Decision::Continue);
    log::trace!("#5 on_http_request_body size=1024 eos=true");
    assert_eq!(
        flow.on_request_body(&host, body.len(), true),
        Decision::Continue
    );
    Cost::take(&host)
}

fn pin(filter: &str, cost: &Cost, expected: &[(HostCall, u32)]) {
    cost.print(filter);
    assert_eq!(
        cost.calls,
        HostCalls::from_pairs(expected),
        "{filter}: host calls per request changed: now {}",
        cost.calls
    );
}

#[test]
fn headers_strict_api_request_and_response() {
    pin(
        "headers",
        &headers_cost(),
        &[
            (Headers, 2),
            (SetHeader, 9),
            (Property, 1),
            (IncrementMetric, 5),
        ],
    );
}

#[test]
fn jwt_es256_cached_token_with_a_claim_forwarded() {
    pin(
        "jwt",
        &jwt_cost(),
        &[
            (CurrentTime, 1),
            (Headers, 1),
            (SetHeader, 3),
            (SetProperty, 1),
            (IncrementMetric, 2),
        ],
    );
}

#[test]
fn ratelimit_one_rule_admitted() {
    pin(
        "ratelimit",
        &ratelimit_cost(),
        &[
            (CurrentTime, 1),
            (Headers, 1),
            (Property, 1),
            (SharedData, 1),
            (SetSharedData, 1),
            (IncrementMetric, 1),
        ],
    );
}

#[test]
fn schema_1k_json_body() {
    pin(
        "schema",
        &schema_cost(),
        &[(Headers, 1), (Body, 1), (IncrementMetric, 1)],
    );
}
