//! The harness itself: Envoy starts, proxies to the echo upstream, and reports bad configs.

use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::json;

#[test]
fn envoy_proxies_to_the_echo_upstream() {
    let upstream = Upstream::start();
    let envoy = Envoy::builder().start(&upstream).unwrap();
    let resp = envoy
        .request("POST", "/echo?x=1")
        .header("x-test", "yes")
        .body("hello")
        .send();
    assert_eq!(resp.status, 200);
    let echoed = resp.json();
    assert_eq!(echoed["method"], "POST");
    assert_eq!(echoed["path"], "/echo?x=1");
    assert_eq!(echoed["body"], "hello");
    assert_eq!(resp.upstream_header("x-test").as_deref(), Some("yes"));
    assert_eq!(resp.header("server"), Some("palisade-echo"));
    assert_eq!(upstream.hits(), 1);
}

#[test]
fn chunked_bodies_reach_the_upstream_whole() {
    let upstream = Upstream::start();
    let envoy = Envoy::builder().start(&upstream).unwrap();
    let body = vec![b'a'; 40_000];
    let resp = envoy.request("PUT", "/").body(body).chunked().send();
    assert_eq!(resp.json()["body_len"], 40_000);
}

#[test]
fn a_broken_native_filter_config_is_reported() {
    let upstream = Upstream::start();
    let err = Envoy::builder()
        .filter(Filter::native(json!({
            "name": "envoy.filters.http.local_ratelimit",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
                "no_such_field": 1
            }
        })))
        .start(&upstream)
        .err()
        .expect("envoy must refuse the config");
    assert!(err.log.contains("no_such_field"), "{}", err.log);
}
