//! A filter without a configuration never passes traffic silently and never panics: every
//! request is answered 503 problem+json, for each of the four filters, whether Envoy's
//! `configuration` is absent or empty.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::envoy::wasm_filter_json;
use palisade_e2e::paths::wasm_module;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::json;

/// The filter's `http_filters` entry with `configuration` removed, or set to an empty string.
fn unconfigured(filter: &str, absent: bool) -> Filter {
    let mut entry = wasm_filter_json(filter, &wasm_module(filter), &json!({}));
    let config = &mut entry["typed_config"]["config"];
    if absent {
        config.as_object_mut().unwrap().remove("configuration");
    } else {
        config["configuration"]["value"] = json!("");
    }
    Filter::native(entry)
}

#[test]
fn every_filter_without_a_configuration_answers_503() {
    for filter in ["headers", "jwt", "schema", "ratelimit"] {
        for absent in [true, false] {
            let upstream = Upstream::start();
            let envoy = Envoy::builder()
                .filter(unconfigured(filter, absent))
                .start(&upstream)
                .unwrap_or_else(|e| panic!("{filter}: envoy did not start:\n{}", e.log));
            for _ in 0..3 {
                let r = envoy.request("GET", "/anything").send();
                assert_eq!(r.status, 503, "{filter} (absent: {absent}): {}", r.text());
                assert_eq!(
                    r.header("content-type"),
                    Some("application/problem+json"),
                    "{filter}"
                );
                assert_eq!(
                    r.json()["type"],
                    "https://palisade.dev/problems/filter-not-configured",
                    "{filter}"
                );
            }
            let r = envoy.request("POST", "/anything").body("{}").send();
            assert_eq!(r.status, 503, "{filter}");
            assert_eq!(upstream.hits(), 0, "{filter}: a request got through");
            let log = envoy.log_with("no configuration");
            assert!(!log.contains("panic"), "{filter}: {log}");
            assert!(log.contains("no configuration"), "{filter}: {log}");
        }
    }
}
