//! The required JSON-Schema-Test-Suite (draft2020-12 and draft7) through the filter's
//! validation layer ([`palisade_schema::validator`]), with the suite's `remotes/` preloaded by
//! their `http://localhost:1234/...` URLs: nothing is fetched.
//!
//! Data: `$PALISADE_CONFORMANCE_DIR/json-schema-test-suite` (default `../shared/conformance`
//! beside the workspace). Missing data fails under `CI=true` and is a loud skip elsewhere.
// Test code: malformed suite data should fail the test loudly.
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use palisade_schema::json::{DuplicateKeys, JsonLimits};
use palisade_schema::validator::{Dialect, SchemaSetBuilder};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn suite_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_CONFORMANCE_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance"),
        PathBuf::from,
    );
    let suite = dir.join("json-schema-test-suite");
    if suite.is_dir() {
        return Some(suite);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("conformance data missing at {} (CI=true)", suite.display());
    }
    eprintln!(
        "SKIPPING: conformance data missing at {} (set PALISADE_CONFORMANCE_DIR)",
        suite.display()
    );
    None
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file under `remotes/`, keyed by the URL the suite's schemas use for it.
fn remotes(suite: &Path) -> Vec<(String, Value)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Value)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().collect();
        entries.sort_by_key(std::fs::DirEntry::path);
        for entry in entries {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((format!("http://localhost:1234/{rel}"), read_json(&path)));
            }
        }
    }
    let mut out = Vec::new();
    let root = suite.join("remotes");
    walk(&root, &root, &mut out);
    out
}

/// Limits on the instances' JSON as bodies, far above what the suite needs.
const LIMITS: JsonLimits = JsonLimits {
    max_depth: 64,
    max_number_length: 400,
    duplicate_keys: DuplicateKeys::Reject,
};

struct Outcome {
    passed: usize,
    /// Instances the quick path accepted (all of them valid).
    quick: usize,
    failures: Vec<String>,
}

fn run_draft(suite: &Path, draft: &str, dialect: Dialect) -> Outcome {
    let remotes = remotes(suite);
    let mut files: Vec<PathBuf> = std::fs::read_dir(suite.join(draft))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let mut outcome = Outcome {
        passed: 0,
        quick: 0,
        failures: Vec::new(),
    };
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let cases = read_json(&file);
        for (n, case) in cases.as_array().unwrap().iter().enumerate() {
            let description = case["description"].as_str().unwrap_or("?");
            let mut builder = SchemaSetBuilder::new(dialect, false);
            for (url, doc) in &remotes {
                builder.add_resource(url, doc.clone()).unwrap();
            }
            // A base URL of our own, as implementations do, so relative `$id`s resolve.
            let url = format!("http://conformance.palisade.test/{draft}/{name}/{n}.json");
            let compiled = builder
                .add_resource(&url, case["schema"].clone())
                .and_then(|()| builder.compile(&url));
            let tests = case["tests"].as_array().unwrap();
            let id = match compiled {
                Ok(id) => id,
                Err(e) => {
                    for t in tests {
                        let what = t["description"].as_str().unwrap_or("?");
                        outcome
                            .failures
                            .push(format!("{name} / {description} / {what}: compile: {e}"));
                    }
                    continue;
                }
            };
            let set = builder.finish();
            for t in tests {
                let want = t["valid"].as_bool().unwrap();
                let errors = set.validate(id, &t["data"]);
                // Both deciders: the full error tree and the short-circuit check of huge bodies.
                let quick = set.is_valid(id, &t["data"]);
                // The one-pass path over the bytes (issue 13): it only ever accepts, never
                // where the suite says invalid; what it does not accept goes the full way.
                let bytes = t["data"].to_string();
                let accepted = set.accepts_json(id, bytes.as_bytes(), &LIMITS);
                outcome.quick += usize::from(accepted);
                if accepted && !want {
                    let what = t["description"].as_str().unwrap_or("?");
                    outcome.failures.push(format!(
                        "{name} / {description} / {what}: the quick path accepted an invalid instance"
                    ));
                    continue;
                }
                if errors.is_empty() == want && quick == want {
                    outcome.passed += 1;
                } else {
                    let what = t["description"].as_str().unwrap_or("?");
                    outcome.failures.push(format!(
                        "{name} / {description} / {what}: want valid={want}, is_valid={quick}, errors {errors:?}"
                    ));
                }
            }
        }
    }
    outcome
}

fn check(draft: &str, dialect: Dialect, expected_total: usize) {
    let Some(suite) = suite_dir() else { return };
    let outcome = run_draft(&suite, draft, dialect);
    let total = outcome.passed + outcome.failures.len();
    eprintln!(
        "JSON-Schema-Test-Suite {draft}: {} / {total} passed ({} valid instances accepted by the quick path)",
        outcome.passed, outcome.quick
    );
    for f in &outcome.failures {
        eprintln!("  FAIL {f}");
    }
    assert_eq!(total, expected_total, "the suite's size changed");
    assert!(
        outcome.failures.is_empty(),
        "{} failures",
        outcome.failures.len()
    );
}

#[test]
fn draft2020_12_required_suite_passes() {
    check("draft2020-12", Dialect::Draft2020, 1299);
}

#[test]
fn draft7_required_suite_passes() {
    check("draft7", Dialect::Draft7, 927);
}
