//! `envoy/envoy-gateway/`: every `EnvoyExtensionPolicy` attaches to a Gateway or HTTPRoute, pulls
//! this version's compat image (a single layer, as Envoy Gateway requires) pinned by a sha256,
//! fails closed, and hands each filter a configuration its own parser accepts.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use serde::Deserialize;
use serde_json::Value;
use std::path::PathBuf;
use support::manifests::check_extension_policy;

fn documents() -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../envoy/envoy-gateway");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let doc = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            if !doc.is_null() {
                docs.push((name.clone(), doc));
            }
        }
    }
    docs
}

#[test]
fn every_extension_policy_has_the_fields_the_docs_promise() {
    let docs = documents();
    let mut filters = Vec::new();
    let mut kinds = Vec::new();
    for (file, doc) in &docs {
        let name = doc["metadata"]["name"].as_str().unwrap_or("?");
        filters.extend(check_extension_policy(&format!("{file}: {name}"), doc));
        for t in doc["spec"]["targetRefs"].as_array().into_iter().flatten() {
            kinds.push(t["kind"].as_str().unwrap_or_default().to_string());
        }
    }
    // The bundle (palisade.yaml), then one module per filter (single-filter.yaml): both
    // attachments are shown, and the API policy keeps the gateway order.
    assert!(kinds.iter().any(|k| k == "Gateway") && kinds.iter().any(|k| k == "HTTPRoute"));
    assert_eq!(filters, ["palisade", "headers", "jwt", "ratelimit"]);
}

#[test]
fn a_policy_that_fails_open_or_is_unpinned_is_refused_by_the_check() {
    let (file, doc) = documents().remove(0);
    let mut open = doc.clone();
    open["spec"]["wasm"][0]["failOpen"] = true.into();
    let open = std::panic::catch_unwind(|| check_extension_policy(&file, &open));
    assert!(open.is_err(), "failOpen: true passed the check");
    let mut unpinned = doc;
    unpinned["spec"]["wasm"][0]["code"]["sha256"] = Value::Null;
    let unpinned = std::panic::catch_unwind(|| check_extension_policy(&file, &unpinned));
    assert!(unpinned.is_err(), "a missing sha256 passed the check");
}

#[test]
fn the_compat_image_envoy_gateway_pulls_has_a_single_layer() {
    let module = support::fixture_module(b"envoy-gateway");
    let artifact = xtask::oci::pack(
        xtask::oci::Format::Compat,
        &module,
        &support::metadata("headers"),
    )
    .unwrap();
    assert_eq!(
        artifact.layers.len(),
        1,
        "Envoy Gateway reads single-layer images"
    );
    let plugin = support::istio::plugin_from_tar_gz(&artifact.layers[0].bytes).unwrap();
    assert_eq!(plugin, module);
}
