//! The published config schemas and `cargo xtask check-config`:
//! - `envoy/schemas/<filter>.schema.json` are what the filters' config types generate (no drift),
//!   are valid draft 2020-12 schemas, and follow the serde attributes (renames, defaults, no
//!   unknown fields);
//! - every example configuration users copy (`envoy/*.yaml`, `envoy/demo/*.json`,
//!   `envoy/istio/*.yaml`) passes the filter's own parser AND its published schema;
//! - every broken configuration under `tests/fixtures/broken/` fails the parser at exactly the
//!   expected field path, and the schema refuses the shape mistakes among them;
//! - the command prints `FILE: invalid configuration at `path`: ...` and exits with 1.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::check_config::check;
use xtask::configs::{configs_in, FoundConfig, FILTERS};
use xtask::schemas::{rendered, schema, schema_path, workspace_root, SCHEMAS};

/// The published schemas, compiled by the validator the schema filter uses.
struct Validators {
    schemas: boon::Schemas,
    index: BTreeMap<&'static str, boon::SchemaIndex>,
}

impl Validators {
    fn published() -> Self {
        let mut schemas = boon::Schemas::new();
        let mut compiler = boon::Compiler::new();
        let mut index = BTreeMap::new();
        for filter in SCHEMAS {
            let path = schema_path(&workspace_root(), filter);
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}; run `cargo xtask schemas`", path.display()));
            let url = format!("urn:palisade:schemas:{filter}");
            compiler
                .add_resource(&url, serde_json::from_str(&text).unwrap())
                .unwrap();
            // Compiling checks the schema against the draft 2020-12 meta-schema.
            let i = compiler
                .compile(&url, &mut schemas)
                .unwrap_or_else(|e| panic!("{filter}: {e:#}"));
            index.insert(filter, i);
        }
        Self { schemas, index }
    }

    /// The schema's complaint about a configuration (as bytes Envoy hands over), if any.
    fn errors(&self, filter: &str, json: &[u8]) -> Option<String> {
        let text = std::str::from_utf8(json).unwrap();
        let value: Value = if text.trim().is_empty() {
            serde_json::json!({})
        } else {
            serde_json::from_str(text).unwrap()
        };
        self.schemas
            .validate(&value, self.index[filter])
            .err()
            .map(|e| format!("{e}"))
    }
}

#[test]
fn published_schemas_match_the_config_types() {
    for filter in SCHEMAS {
        let path = schema_path(&workspace_root(), filter);
        let published = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            Some(published) == rendered(filter),
            "{} differs from the config types: run `cargo xtask schemas` and commit it",
            path.display()
        );
    }
}

#[test]
fn published_schemas_are_valid_draft_2020_12() {
    let validators = Validators::published();
    assert_eq!(validators.index.len(), SCHEMAS.len());
}

#[test]
fn schemas_follow_the_serde_attributes() {
    for filter in SCHEMAS {
        let s = schema(filter).unwrap();
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
        // deny_unknown_fields
        assert_eq!(s["additionalProperties"], false, "{filter}");
    }
    let headers = schema("headers").unwrap();
    // rename = "match"; `match` required, the rest default.
    let route = &headers["$defs"]["RouteConfig"];
    assert!(route["properties"]["match"].is_object());
    assert!(route["properties"].get("route_match").is_none());
    assert_eq!(route["required"], serde_json::json!(["match"]));
    // rename_all = "kebab-case"
    let presets: Vec<&str> = headers["$defs"]["Preset"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["const"].as_str().unwrap())
        .collect();
    assert_eq!(presets, ["owasp", "strict-api", "browser", "none"]);
    // The hand-written deserialiser of `response.headers`: null, a value, or the object form.
    let setting = &headers["$defs"]["HeaderSetting"]["anyOf"];
    assert_eq!(setting.as_array().unwrap().len(), 3);

    let ratelimit = schema("ratelimit").unwrap();
    // default = "default_slots"
    assert_eq!(ratelimit["properties"]["slots"]["default"], 65_536);
    assert_eq!(
        ratelimit["$defs"]["RuleConfig"]["required"],
        serde_json::json!(["name"])
    );
    // ConfigDuration: seconds or text with a unit.
    let duration = &ratelimit["$defs"]["Duration"]["oneOf"];
    assert_eq!(duration[0]["type"], "number");
    assert_eq!(duration[1]["type"], "string");
    // untagged: `"client_ip"` or `{"part", "descriptor_key"}`.
    assert_eq!(
        ratelimit["$defs"]["KeyPartConfig"]["anyOf"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let schema_filter = schema("schema").unwrap();
    assert_eq!(
        schema_filter["properties"]["assert_formats"]["default"],
        true
    );
    let dialects: Vec<&str> = schema_filter["$defs"]["Dialect"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["const"].as_str().unwrap())
        .collect();
    assert_eq!(dialects, ["draft-07", "2020-12"]);

    let jwt = schema("jwt").unwrap();
    // Externally tagged, snake_case: exactly one of `provider_name`, `requires_any`, ...
    let requirement = jwt["$defs"]["RequirementConfig"]["oneOf"]
        .as_array()
        .unwrap();
    assert!(requirement
        .iter()
        .any(|v| v["required"] == serde_json::json!(["provider_name"])));
}

/// Every example configuration users copy, with the file it is in.
fn examples() -> Vec<(PathBuf, FoundConfig)> {
    let root = workspace_root();
    let mut files = Vec::new();
    for (dir, ext) in [
        ("envoy", "yaml"),
        ("envoy/demo", "json"),
        ("envoy/istio", "yaml"),
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        files.extend(
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == ext)),
        );
    }
    files.sort();
    files
        .into_iter()
        .flat_map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            let found = configs_in(&path, &bytes, None)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            found.into_iter().map(move |c| (path.clone(), c))
        })
        .collect()
}

#[test]
fn every_example_passes_the_parser_and_the_schema() {
    let validators = Validators::published();
    let examples = examples();
    for filter in FILTERS {
        let count = examples.iter().filter(|(_, c)| c.filter == filter).count();
        assert!(
            count >= 2,
            "{filter}: {count} examples (its own Envoy example and the gateway's at least)"
        );
    }
    for (path, config) in &examples {
        let place = format!(
            "{}: {} ({})",
            path.display(),
            config.location,
            config.filter
        );
        if let Err(e) = check(&config.filter, &config.json) {
            panic!("{place}: {e}");
        }
        if let Some(e) = validators.errors(&config.filter, &config.json) {
            panic!("{place}: the parser accepts it, the published schema does not:\n{e}");
        }
    }
}

/// What `fixtures/broken/<filter>/expected.json` says of one case.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    path: String,
    reason: String,
    schema_also_rejects: bool,
}

fn broken_dir(filter: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/broken")
        .join(filter)
}

/// Every broken case of a filter: file name, configuration, expectation.
fn broken_cases(filter: &str) -> Vec<(String, Vec<u8>, Expected)> {
    let dir = broken_dir(filter);
    let expected: BTreeMap<String, Expected> =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap())
            .unwrap_or_else(|e| panic!("{}/expected.json: {e}", dir.display()));
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && n != "expected.json")
        .collect();
    files.sort();
    let listed: Vec<&String> = expected.keys().collect();
    assert_eq!(
        files.iter().collect::<Vec<_>>(),
        listed,
        "{}: every case needs an entry in expected.json and every entry a file",
        dir.display()
    );
    expected
        .into_iter()
        .map(|(name, e)| (name.clone(), std::fs::read(dir.join(&name)).unwrap(), e))
        .collect()
}

#[test]
fn every_broken_config_fails_at_its_expected_path() {
    let validators = Validators::published();
    for filter in FILTERS {
        let cases = broken_cases(filter);
        assert!(
            cases.len() >= 8,
            "{filter}: only {} broken cases",
            cases.len()
        );
        let mut shape_mistakes = 0;
        for (name, json, expected) in cases {
            let case = format!("{filter}/{name}");
            let found = configs_in(&broken_dir(filter).join(&name), &json, None).unwrap();
            assert_eq!(found.len(), 1, "{case}");
            assert_eq!(
                found[0].filter, filter,
                "{case}: filter from the folder name"
            );
            let error = check(filter, &json).expect_err(&case);
            assert_eq!(error.path, expected.path, "{case}: {error}");
            assert!(
                error.reason.contains(&expected.reason),
                "{case}: `{}` does not say `{}`",
                error.reason,
                expected.reason
            );
            let schema_error = validators.errors(filter, &json);
            assert_eq!(
                schema_error.is_some(),
                expected.schema_also_rejects,
                "{case}: the schema {}",
                schema_error.as_deref().unwrap_or("accepts it")
            );
            shape_mistakes += usize::from(expected.schema_also_rejects);
        }
        assert!(shape_mistakes >= 3, "{filter}: too few shape mistakes");
    }
}

fn xtask(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(workspace_root())
        .output()
        .unwrap()
}

#[test]
fn check_config_prints_the_field_path_and_exits_with_1() {
    let file = "xtask/tests/fixtures/broken/ratelimit/zero-window.json";
    let out = xtask(&["check-config", file]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{file}: invalid configuration at `rules[0].limits[0].per`: must be more than zero"
        )),
        "{stderr}"
    );
    // The filter named by hand wins over the folder's: headers knows no `rules`.
    let out = xtask(&["check-config", file, "--filter", "headers"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at `rules`: unknown field"));
}

#[test]
fn check_config_passes_the_envoy_examples_and_names_each_filter() {
    let out = xtask(&["check-config", "envoy/gateway.yaml", "envoy/istio/jwt.yaml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The gateway runs the bundle: one configuration per listener, checked by its parser.
    for listener in 0..2 {
        let prefix = format!("envoy/gateway.yaml: static_resources.listeners[{listener}].");
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&prefix) && l.ends_with("(palisade): ok")),
            "no bundle line for listener {listener} in\n{stdout}"
        );
    }
    assert!(
        stdout
            .contains("envoy/istio/jwt.yaml: WasmPlugin palisade-jwt: spec.pluginConfig (jwt): ok"),
        "{stdout}"
    );
}
