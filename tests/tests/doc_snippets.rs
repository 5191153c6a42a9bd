//! The Envoy YAML in the docs, completed the way the docs say, is accepted by the real Envoy
//! (`--mode validate`, modules loaded and configured): each `palisade:envoy-fragment:<example>`
//! block replaces the same key in `envoy/<example>`. Each refused configuration the docs show is
//! refused by Envoy too, with the log line the docs quote. (xtask's `doc_snippets` test checks
//! every block's class, the filter configurations and the manifests without Envoy.)
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::envoy::validate_config;
use palisade_e2e::paths::{scratch_dir, wasm_dir, workspace_root};
use palisade_e2e::snippets::{self, Class, Snippet};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Where the docs say modules are: the build's output, relative to the repository root, or a
/// deployment's mount.
const MODULE_DIRS: [&str; 3] = [
    "target/wasm32-wasip1/release/",
    "/etc/palisade/",
    "/etc/envoy/",
];
/// The placeholder the docs use for a module's digest.
const SHA256_PLACEHOLDER: &str = "<sha256sum of the module>";

fn example(name: &str) -> Value {
    let text = std::fs::read_to_string(workspace_root().join("envoy").join(name)).unwrap();
    serde_norway::from_str(&text).unwrap()
}

fn fragment(s: &Snippet) -> Value {
    let doc = serde_norway::Deserializer::from_str(&s.text)
        .next()
        .unwrap_or_else(|| panic!("{}: empty", s.at()));
    Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", s.at()))
}

/// Replaces the first `key` found (depth first) with `value`; false when there is none.
fn replace_key(v: &mut Value, key: &str, value: &Value) -> bool {
    match v {
        Value::Object(m) => {
            if let Some(slot) = m.get_mut(key) {
                *slot = value.clone();
                return true;
            }
            m.values_mut().any(|c| replace_key(c, key, value))
        }
        Value::Array(a) => a.iter_mut().any(|c| replace_key(c, key, value)),
        _ => false,
    }
}

/// The bootstrap text with module paths at the built modules and digests filled in.
fn with_built_modules(bootstrap: &Value) -> String {
    let mut text = serde_json::to_string_pretty(bootstrap).unwrap();
    let dir = format!("{}/", wasm_dir().display());
    for from in MODULE_DIRS {
        text = text.replace(from, &dir);
    }
    if text.contains(SHA256_PLACEHOLDER) {
        let module = std::fs::read(wasm_dir().join("palisade_headers.wasm")).unwrap();
        let hex: String = Sha256::digest(&module)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        text = text.replace(SHA256_PLACEHOLDER, &hex);
    }
    text
}

fn validate(label: &str, bootstrap: &Value) -> Result<(), String> {
    let dir = scratch_dir(label);
    let file = dir.join("bootstrap.yaml");
    std::fs::write(&file, with_built_modules(bootstrap)).unwrap();
    let result = validate_config(&file);
    let _ = std::fs::remove_dir_all(dir);
    result
}

fn modules_built() -> bool {
    let built = ["headers", "jwt", "ratelimit", "schema"]
        .iter()
        .all(|f| wasm_dir().join(format!("palisade_{f}.wasm")).exists());
    if !built {
        let why = format!("modules not built in {}", wasm_dir().display());
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "{why}");
        eprintln!("SKIPPING: {why}");
    }
    built
}

#[test]
fn every_envoy_fragment_in_the_docs_completes_to_a_config_envoy_accepts() {
    if !modules_built() {
        return;
    }
    let mut validated = 0;
    for s in snippets::all(&workspace_root()) {
        let Ok(Some(Class::EnvoyFragment(name))) = &s.class else {
            continue;
        };
        let fragment = fragment(&s);
        let (key, value) = fragment.as_object().unwrap().iter().next().unwrap();
        let mut bootstrap = example(name);
        assert!(
            replace_key(&mut bootstrap, key, value),
            "{}: envoy/{name} has no {key}",
            s.at()
        );
        validate("doc-fragment", &bootstrap).unwrap_or_else(|log| {
            panic!("{}: completed into envoy/{name}, refused:\n{log}", s.at())
        });
        validated += 1;
    }
    eprintln!("Envoy fragments validated: {validated}");
    assert!(validated >= 2);
}

#[test]
fn every_refused_configuration_in_the_docs_is_refused_by_envoy_with_the_quoted_line() {
    if !modules_built() {
        return;
    }
    let all = snippets::all(&workspace_root());
    let mut checked = 0;
    for (i, s) in all.iter().enumerate() {
        let Ok(Some(Class::Refused(filter))) = &s.class else {
            continue;
        };
        let quoted = all[i + 1].text.trim().to_string();
        let mut bootstrap = example(&format!("{filter}.yaml"));
        let configuration = json!({
            "@type": "type.googleapis.com/google.protobuf.StringValue",
            "value": s.text,
        });
        assert!(replace_key(&mut bootstrap, "configuration", &configuration));
        let log = validate("doc-refused", &bootstrap)
            .expect_err(&format!("{}: Envoy accepted it", s.at()));
        assert!(
            log.contains(&quoted),
            "{}: Envoy's log does not say `{quoted}`:\n{log}",
            s.at()
        );
        checked += 1;
    }
    assert!(checked >= 1);
}
