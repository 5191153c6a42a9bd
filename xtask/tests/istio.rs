//! `envoy/istio/`: every `WasmPlugin`'s `pluginConfig` is accepted by its filter's own
//! `check_config` (the parse and compile its `on_configure` runs), the plugins pull the compat
//! image that `cargo xtask oci --push` publishes for this version, and their phases and
//! priorities put the filters in gateway order.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde::Deserialize;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The filters, in gateway order.
const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// Runs a filter's own config check (parse and compile, as its `on_configure` does) on a JSON
/// configuration, as Envoy would hand it over.
fn check_config(filter: &str, json: &[u8]) -> Result<(), String> {
    let result = match filter {
        "headers" => palisade_headers::check_config(json),
        "jwt" => palisade_jwt::check_config(json),
        "ratelimit" => palisade_ratelimit::check_config(json),
        "schema" => palisade_schema::check_config(json),
        "palisade" => palisade::check_config(json),
        other => panic!("no filter {other}"),
    };
    result.map_err(|e| e.to_string())
}

fn istio_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../envoy/istio")
}

/// Every `envoy/istio/*.yaml` with its documents (Kubernetes multi-document YAML).
fn manifests() -> Vec<(String, Vec<Value>)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(istio_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let docs = serde_norway::Deserializer::from_str(&text)
                .map(|doc| {
                    Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                })
                .filter(|doc| !doc.is_null())
                .collect();
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                docs,
            )
        })
        .collect()
}

/// Every `WasmPlugin` document, with its file and the filter its `pluginName` names.
fn wasm_plugins() -> Vec<(String, String, Value)> {
    manifests()
        .into_iter()
        .flat_map(|(file, docs)| docs.into_iter().map(move |d| (file.clone(), d)))
        .filter(|(_, doc)| doc["kind"] == "WasmPlugin")
        .map(|(file, doc)| {
            let plugin = doc["spec"]["pluginName"].as_str().unwrap_or_default();
            // `palisade_<filter>` for one filter's module, `palisade` for the bundle.
            let filter = plugin
                .strip_prefix("palisade_")
                .or((plugin == "palisade").then_some("palisade"))
                .unwrap_or_else(|| {
                    panic!("{file}: pluginName {plugin} is not palisade_<filter> or palisade")
                })
                .to_string();
            (file, filter, doc)
        })
        .collect()
}

/// Istio hands `pluginConfig` (a protobuf Struct) to the filter as its JSON.
fn plugin_config_json(doc: &Value) -> Vec<u8> {
    serde_json::to_vec(&doc["spec"]["pluginConfig"]).unwrap()
}

#[test]
fn every_wasm_plugin_config_is_accepted_by_its_filters_own_parser() {
    let plugins = wasm_plugins();
    assert!(
        plugins.len() >= FILTERS.len(),
        "{} WasmPlugins",
        plugins.len()
    );
    for (file, filter, doc) in &plugins {
        assert!(
            doc["spec"]["pluginConfig"].is_object(),
            "{file}: no pluginConfig"
        );
        check_config(filter, &plugin_config_json(doc))
            .unwrap_or_else(|e| panic!("{file}: palisade-{filter} refuses its pluginConfig: {e}"));
    }
}

#[test]
fn a_plugin_config_with_an_unknown_field_is_refused_by_name() {
    // The check above can fail: each parser refuses what it does not know, naming the field.
    for (file, filter, doc) in wasm_plugins() {
        let mut config = doc["spec"]["pluginConfig"].clone();
        config["no_such_field"] = json!(1);
        let err = check_config(&filter, &serde_json::to_vec(&config).unwrap())
            .expect_err(&format!("{file}: an unknown field was accepted"));
        assert!(err.contains("no_such_field"), "{file}: {err}");
    }
}

#[test]
fn every_istio_file_is_a_checked_wasm_plugin_with_its_supporting_resources() {
    let known_kinds = ["WasmPlugin", "ServiceEntry", "DestinationRule"];
    for (file, docs) in manifests() {
        assert!(
            docs.iter().any(|d| d["kind"] == "WasmPlugin"),
            "{file} has no WasmPlugin, so no test reads it"
        );
        for doc in docs {
            let kind = doc["kind"].as_str().unwrap_or_default();
            assert!(
                known_kinds.contains(&kind),
                "{file}: unexpected kind {kind}"
            );
            assert!(
                doc["apiVersion"].is_string() && doc["metadata"]["name"].is_string(),
                "{file}: {doc}"
            );
        }
    }
    let files: Vec<String> = manifests().into_iter().map(|(f, _)| f).collect();
    for filter in FILTERS {
        assert!(
            files.contains(&format!("{filter}.yaml")),
            "envoy/istio/{filter}.yaml is missing"
        );
    }
    assert!(files.contains(&"request-authentication.yaml".to_string()));
    assert!(
        files.contains(&"palisade.yaml".to_string()),
        "envoy/istio/palisade.yaml (the bundle) is missing"
    );
}

#[test]
fn wasm_plugins_pull_this_versions_compat_image_and_fail_closed() {
    let version = env!("CARGO_PKG_VERSION");
    for (file, filter, doc) in wasm_plugins() {
        let spec = &doc["spec"];
        assert_eq!(doc["apiVersion"], "extensions.istio.io/v1alpha1", "{file}");
        let url = spec["url"].as_str().unwrap_or_default();
        // `cargo xtask oci --push REGISTRY/REPO:TAG` publishes the compat image at REGISTRY/REPO/<filter>:TAG.
        assert!(
            url.starts_with("oci://") && url.ends_with(&format!("/{filter}:{version}")),
            "{file}: url {url} is not oci://REGISTRY/REPO/{filter}:{version}"
        );
        assert_eq!(
            spec["failStrategy"], "FAIL_CLOSE",
            "{file}: a security filter must fail closed"
        );
        assert!(spec["priority"].is_i64(), "{file}: no priority");
        assert_eq!(spec["type"], "HTTP", "{file}: an HTTP filter");
        assert!(
            ["IfNotPresent", "Always"].contains(&spec["imagePullPolicy"].as_str().unwrap_or("")),
            "{file}: imagePullPolicy {}",
            spec["imagePullPolicy"]
        );
        for m in spec["match"].as_array().into_iter().flatten() {
            assert!(
                ["CLIENT", "SERVER", "CLIENT_AND_SERVER"]
                    .contains(&m["mode"].as_str().unwrap_or("")),
                "{file}: match {m}"
            );
        }
        // Istio refuses both at once; a waypoint reads only targetRefs.
        let selected = spec["selector"]["matchLabels"].is_object();
        let targets = spec["targetRefs"].as_array().cloned().unwrap_or_default();
        assert!(
            selected == targets.is_empty(),
            "{file}: exactly one of selector and targetRefs"
        );
        for t in &targets {
            let allowed = match t["kind"].as_str().unwrap_or_default() {
                "Gateway" | "GatewayClass" => t["group"] == "gateway.networking.k8s.io",
                "Service" => t["group"] == "" || t["group"] == "core",
                "ServiceEntry" => t["group"] == "networking.istio.io",
                _ => false,
            };
            assert!(allowed && t["name"].is_string(), "{file}: targetRef {t}");
        }
    }
}

#[test]
fn failstrategy_choices_are_explained_where_they_are_set() {
    let text = std::fs::read_to_string(istio_dir().join("headers.yaml")).unwrap();
    for word in ["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD", "1.27"] {
        assert!(text.contains(word), "headers.yaml does not explain {word}");
    }
}

#[test]
fn the_waypoint_plugins_use_target_refs() {
    let waypoint: Vec<Value> = wasm_plugins()
        .into_iter()
        .filter(|(file, _, _)| file == "waypoint.yaml")
        .map(|(_, _, doc)| doc)
        .collect();
    assert!(
        !waypoint.is_empty(),
        "envoy/istio/waypoint.yaml has no WasmPlugin"
    );
    for doc in waypoint {
        assert!(doc["spec"]["targetRefs"].is_array(), "{doc}");
        assert!(doc["spec"].get("selector").is_none(), "{doc}");
    }
}

#[test]
fn phases_and_priorities_run_the_filters_in_gateway_order() {
    // Istio inserts AUTHN plugins before its authentication, AUTHZ before authorization, STATS
    // before stats; within a phase the higher priority runs first.
    let phase_rank = |phase: &str| match phase {
        "AUTHN" => 0,
        "AUTHZ" => 1,
        "STATS" => 2,
        other => panic!("phase {other} has no place relative to the others"),
    };
    let mut plugins: Vec<(i32, i64, String)> = wasm_plugins()
        .into_iter()
        .filter(|(file, filter, _)| *file == format!("{filter}.yaml") && filter != "palisade")
        .map(|(_, filter, doc)| {
            let spec = &doc["spec"];
            (
                phase_rank(spec["phase"].as_str().unwrap_or_default()),
                -spec["priority"].as_i64().unwrap(),
                filter,
            )
        })
        .collect();
    plugins.sort();
    let order: Vec<&str> = plugins.iter().map(|(_, _, f)| f.as_str()).collect();
    assert_eq!(order, FILTERS);
}
