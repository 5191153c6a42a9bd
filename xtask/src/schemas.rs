//! `cargo xtask schemas [--check]`: the JSON Schema (draft 2020-12) of each filter's
//! configuration, generated from the filter's own serde types with schemars (feature `schema`),
//! published as `envoy/schemas/<filter>.schema.json`. `--check` fails when a published file
//! differs from what the types give, so the schemas cannot drift from the parsers.
//!
//! The schemas describe the configuration's shape (fields, types, enums, defaults, no unknown
//! fields); the filter's compiler checks more (regexes, ranges, references between fields),
//! which `cargo xtask check-config` runs.

use crate::configs::BUNDLE;

/// Every published schema: one per filter, and the bundle's.
pub const SCHEMAS: [&str; 5] = ["headers", "jwt", "ratelimit", "schema", BUNDLE];
use schemars::generate::SchemaSettings;
use schemars::JsonSchema;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Where the schemas are published, relative to the workspace root.
pub const SCHEMA_DIR: &str = "envoy/schemas";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// `envoy/schemas/<filter>.schema.json` below `root`.
pub fn schema_path(root: &Path, filter: &str) -> PathBuf {
    root.join(SCHEMA_DIR).join(format!("{filter}.schema.json"))
}

/// The JSON Schema of a filter's configuration; `None` for an unknown filter.
pub fn schema(filter: &str) -> Option<Value> {
    match filter {
        "headers" => Some(generate::<palisade_headers::config::FilterConfig>(filter)),
        "jwt" => Some(generate::<palisade_jwt::config::Config>(filter)),
        "ratelimit" => Some(generate::<palisade_ratelimit::config::Config>(filter)),
        "schema" => Some(generate::<palisade_schema::config::Config>(filter)),
        BUNDLE => Some(generate::<palisade::config::Config>(filter)),
        _ => None,
    }
}

/// The schema of what `T` deserialises, with a title naming the filter.
fn generate<T: JsonSchema>(filter: &str) -> Value {
    let generator = SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Some(root) = schema.as_object_mut() {
        root.insert(
            "title".into(),
            Value::String(if filter == BUNDLE {
                "Palisade bundle configuration (palisade.wasm)".to_string()
            } else {
                format!("Palisade {filter} filter configuration")
            }),
        );
    }
    schema
}

/// A filter's schema as published: pretty JSON with a final newline.
pub fn rendered(filter: &str) -> Option<String> {
    let schema = schema(filter)?;
    serde_json::to_string_pretty(&schema)
        .ok()
        .map(|text| text + "\n")
}

/// The filters whose published schema under `root` is missing or differs from the generated one.
pub fn stale(root: &Path) -> Vec<&'static str> {
    SCHEMAS
        .into_iter()
        .filter(|f| std::fs::read_to_string(schema_path(root, f)).ok() != rendered(f))
        .collect()
}

/// Writes every filter's schema under `root`; returns the files written.
pub fn write_all(root: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = root.join(SCHEMA_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut written = Vec::new();
    for filter in SCHEMAS {
        let text = rendered(filter).ok_or_else(|| format!("no schema for {filter}"))?;
        let path = schema_path(root, filter);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

/// `cargo xtask schemas [--check]`.
pub fn cli(args: &[String]) -> Result<(), String> {
    let root = workspace_root();
    match args {
        [] => {
            for path in write_all(&root)? {
                println!("wrote {}", path.display());
            }
            Ok(())
        }
        [flag] if flag == "--check" => match stale(&root).as_slice() {
            [] => {
                println!("{SCHEMA_DIR}/*.schema.json match the config types");
                Ok(())
            }
            stale => Err(format!(
                "out of date in {SCHEMA_DIR}: {}; run `cargo xtask schemas`",
                stale.join(", ")
            )),
        },
        _ => Err("usage: cargo xtask schemas [--check]".into()),
    }
}
