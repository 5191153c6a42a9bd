//! Every JSON and YAML block in the docs (README.md, filters/*/README.md, envoy/*/README.md) is
//! classified by its info string and checked the way a user would use it: filter
//! configurations through the filter's own `check_config`, refused ones with the exact log line
//! the filter prints, Istio and Envoy Gateway manifests for the fields the docs promise, Envoy
//! fragments against the example they belong to (the e2e test `doc_snippets` then runs each
//! completed one through `envoy --mode validate`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use palisade_e2e::snippets::{self, Class, Snippet};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use support::manifests::{check_extension_policy, check_wasm_plugin};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn all() -> Vec<Snippet> {
    snippets::all(&root())
}

/// JSON or YAML text as JSON (YAML is a superset); every document of a multi-document YAML.
fn documents(s: &Snippet) -> Vec<Value> {
    serde_norway::Deserializer::from_str(&s.text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", s.at())))
        .filter(|d| !d.is_null())
        .collect()
}

/// A filter configuration as bytes for its parser: JSON blocks byte for byte.
fn config_bytes(s: &Snippet) -> Vec<u8> {
    if s.lang == "json" {
        s.text.clone().into_bytes()
    } else {
        serde_json::to_vec(&documents(s)[0]).unwrap()
    }
}

fn check(filter: &str, json: &[u8]) -> Result<(), String> {
    xtask::check_config::check(filter, json).map_err(|e| e.to_string())
}

/// The line the filter logs when it refuses a configuration (`load_config` in the core).
fn log_line(filter: &str, error: &str) -> String {
    format!("palisade-{filter}: {error}")
}

#[test]
fn every_json_and_yaml_block_in_the_docs_is_classified() {
    let all = all();
    assert!(all.len() > 10, "only {} blocks found", all.len());
    let mut problems = Vec::new();
    for s in &all {
        match &s.class {
            Err(e) => problems.push(format!("{}: {e}", s.at())),
            Ok(None) if s.is_data() => problems.push(format!(
                "{}: a `{}` block without a `palisade:` class (see tests/src/snippets.rs)",
                s.at(),
                s.lang
            )),
            _ => {}
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_filter_configuration_in_the_docs_is_accepted_by_its_filter() {
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for s in all() {
        let Ok(Some(class)) = &s.class else { continue };
        *by_kind.entry(class.kind()).or_default() += 1;
        if let Class::Config(filter) = class {
            let json = config_bytes(&s);
            check(filter, &json)
                .unwrap_or_else(|e| panic!("{}: palisade-{filter} refuses it: {e}", s.at()));
            // The check can fail: the same block with an unknown field is refused by name.
            let mut broken: Value = serde_json::from_slice(&json).unwrap();
            broken["no_such_field"] = json!(1);
            let err = check(filter, &serde_json::to_vec(&broken).unwrap()).unwrap_err();
            assert!(err.contains("no_such_field"), "{}: {err}", s.at());
        }
    }
    eprintln!("doc snippets by kind: {by_kind:?}");
    assert!(by_kind.get("filter config").copied().unwrap_or(0) >= 3);
}

#[test]
fn every_refused_configuration_is_followed_by_the_line_the_filter_prints() {
    let all = all();
    let mut seen = 0;
    for (i, s) in all.iter().enumerate() {
        let Ok(Some(Class::Refused(filter))) = &s.class else {
            continue;
        };
        seen += 1;
        let err = check(filter, &config_bytes(s))
            .expect_err(&format!("{}: palisade-{filter} accepts it", s.at()));
        let log = all
            .get(i + 1)
            .filter(|n| n.class == Ok(Some(Class::Log)) && n.file == s.file)
            .unwrap_or_else(|| panic!("{}: no `palisade:log` block follows", s.at()));
        assert_eq!(
            log.text.trim(),
            log_line(filter, &err),
            "{}: the quoted log line is not what the filter prints",
            log.at()
        );
    }
    let logs = all
        .iter()
        .filter(|s| s.class == Ok(Some(Class::Log)))
        .count();
    assert_eq!(
        logs, seen,
        "a `palisade:log` block follows no refused config"
    );
    assert!(seen >= 1, "README.md shows no refused configuration");
}

#[test]
fn manifests_in_the_docs_have_the_fields_the_docs_promise() {
    let mut checked = 0;
    for s in all() {
        let Ok(Some(class)) = &s.class else { continue };
        for doc in match class {
            Class::Istio | Class::EnvoyGateway => documents(&s),
            _ => continue,
        } {
            match (class, doc["kind"].as_str().unwrap_or_default()) {
                (Class::Istio, "WasmPlugin") => check_wasm_plugin(&s.at(), &doc),
                (Class::EnvoyGateway, "EnvoyExtensionPolicy") => {
                    check_extension_policy(&s.at(), &doc);
                }
                (_, kind) => panic!("{}: unexpected kind {kind}", s.at()),
            }
            checked += 1;
        }
    }
    assert!(checked >= 1, "no manifest in the docs");
}

#[test]
fn every_envoy_fragment_replaces_a_key_its_example_has() {
    let mut checked = 0;
    for s in all() {
        let Ok(Some(Class::EnvoyFragment(example))) = &s.class else {
            continue;
        };
        let path = root().join("envoy").join(example);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: envoy/{example}: {e}", s.at()));
        let example: Value = serde_norway::from_str(&text).unwrap();
        let fragment = documents(&s).remove(0);
        let keys: Vec<&String> = fragment.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 1, "{}: one top-level key", s.at());
        assert!(
            has_key(&example, keys[0]),
            "{}: envoy/{} has no `{}` to replace",
            s.at(),
            path.display(),
            keys[0]
        );
        checked += 1;
    }
    assert!(checked >= 1);
}

fn has_key(v: &Value, key: &str) -> bool {
    match v {
        Value::Object(m) => m.contains_key(key) || m.values().any(|c| has_key(c, key)),
        Value::Array(a) => a.iter().any(|c| has_key(c, key)),
        _ => false,
    }
}

#[test]
fn an_unclassified_or_broken_block_is_caught() {
    // The checks above can fail: on a doc with an unclassified JSON block and a bad config.
    let md = "```json\n{\"preset\": \"owasp\"}\n```\n```json palisade:headers\n{\"response\": {\"preset\": \"owasp\"}}\n```\n";
    let s = snippets::parse(Path::new("X.md"), md);
    assert!(s[0].is_data() && s[0].class == Ok(None));
    let err = check("headers", &config_bytes(&s[1])).unwrap_err();
    assert!(err.contains("response"), "{err}");
}
