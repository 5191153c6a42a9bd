//! The filter's JSON configuration, parsed (serde, unknown fields refused) and compiled into an
//! immutable [`Compiled`] shared by every request.
//!
//! ```json
//! {
//!   "openapi": { "openapi": "3.1.0", "paths": { ... }, "components": { ... } },
//!   "operations": { "uploadAvatar": { "max_body_bytes": 65536 } },
//!   "schemas": { "https://schemas.example.com/money.json": { ... } },
//!   "max_body_bytes": 1048576,
//!   "json": { "max_depth": 64, "max_number_length": 100, "duplicate_keys": "reject" },
//!   "max_multipart_parts": 100,
//!   "unmatched_path": "reject", "unmatched_method": "reject",
//!   "max_violations": 10, "verbose": false, "report_only": false,
//!   "hold_headers": false
//! }
//! ```
//! Plain mode replaces `openapi` with `routes` (see [`crate::plain`]).

use crate::json::{DuplicateKeys, JsonLimits};
use crate::openapi;
use crate::operation::Routes;
use crate::plain::{self, RouteConfig};
use crate::remote::RemoteSpec;
use crate::validator::{Dialect, SchemaSet, SchemaSetBuilder};
use crate::violation::AnswerStyle;
use palisade_core::config::{parse, ConfigDuration, ConfigError};
use palisade_core::PathNormalization;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Default body limit: 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

/// serde_json refuses nesting beyond 128; stay clear of it (and of the Wasm stack).
const DEPTH_CEILING: usize = 120;

/// The configuration as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// An OpenAPI 3.0 or 3.1 document (JSON).
    #[serde(default, deserialize_with = "crate::lean::document")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<Value>", extend("default" = null)))]
    pub openapi: Option<crate::lean::LeanDocument>,
    /// The OpenAPI document fetched through an Envoy cluster instead of given inline (a large
    /// description then stays out of Envoy's own configuration; see [`crate::remote`]).
    #[serde(default)]
    pub openapi_remote: Option<RemoteConfig>,
    /// Path prefix of the API; default: the path of the document's first `servers` URL.
    #[serde(default)]
    pub base_path: Option<String>,
    /// Per-operation settings, by `operationId`.
    #[serde(default)]
    pub operations: BTreeMap<String, OperationConfig>,
    /// Plain mode: per-route rules instead of an OpenAPI document.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Schemas that `$ref`s may name, by URL (nothing is ever fetched).
    #[serde(default)]
    pub schemas: BTreeMap<String, Value>,
    /// Dialect of schemas without `$schema` (plain mode and `schemas`): `2020-12` or `draft-07`.
    #[serde(default)]
    pub default_dialect: Dialect,
    /// Whether `format` (`uuid`, `email`, `date-time`, `int32`, ...) is checked.
    #[serde(default = "yes")]
    pub assert_formats: bool,
    /// A path no operation has: `reject` (404) or `pass`.
    #[serde(default)]
    pub unmatched_path: Unmatched,
    /// A known path without an operation for the method: `reject` (405) or `pass`.
    #[serde(default)]
    pub unmatched_method: Unmatched,
    /// Largest request body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Limits on JSON bodies.
    #[serde(default)]
    pub json: JsonConfig,
    /// Most parts a `multipart/form-data` body may have (its size is bounded by the body limit).
    #[serde(default = "default_max_multipart_parts")]
    pub max_multipart_parts: usize,
    /// At most this many violations are listed in an answer.
    #[serde(default = "default_max_violations")]
    pub max_violations: usize,
    /// Answers include schema details (messages with values, schema locations, limits).
    #[serde(default)]
    pub verbose: bool,
    /// Log and count violations, but let requests through.
    #[serde(default)]
    pub report_only: bool,
    /// Hold the request headers while a JSON body is buffered and validated, so a refused body
    /// never reaches the upstream. Needs `allow_on_headers_stop_iteration: true` in Envoy's Wasm
    /// plugin config (Envoy >= 1.35; see [`crate::flow`]): without it Envoy stops the body
    /// callbacks of a request whose headers are held, and the request hangs.
    #[serde(default)]
    pub hold_headers: bool,
    /// What a request whose path is not canonical gets (before any operation is looked up; also
    /// in `report_only`). `case_insensitive` is for plain `routes` only: OpenAPI templates are exact.
    #[serde(default)]
    pub path_normalization: PathNormalization,
}

/// Settings of one operation.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct OperationConfig {
    /// Its body limit.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// Limits on JSON bodies, as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct JsonConfig {
    /// Deepest nesting of arrays and objects.
    #[serde(default = "default_max_depth")]
    pub max_depth: usize,
    /// Longest number literal.
    #[serde(default = "default_max_number_length")]
    pub max_number_length: usize,
    /// `reject` or `last_wins`.
    #[serde(default)]
    pub duplicate_keys: DuplicateKeys,
}

impl Default for JsonConfig {
    fn default() -> Self {
        Self {
            max_depth: default_max_depth(),
            max_number_length: default_max_number_length(),
            duplicate_keys: DuplicateKeys::default(),
        }
    }
}

/// Where and how the OpenAPI document is fetched, as written.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RemoteConfig {
    /// The document's URL and the cluster that serves it.
    pub http_uri: HttpUriConfig,
    /// Fetch the document again this often; a changed one is compiled and replaces the old one
    /// (default: fetched once).
    #[serde(default)]
    pub refresh_interval: Option<ConfigDuration>,
    /// How long a request that arrives before the document waits for it before a 503 (default 10s).
    #[serde(default)]
    pub max_wait: Option<ConfigDuration>,
    /// Largest document accepted, in bytes (default 32 MiB).
    #[serde(default = "default_max_document_bytes")]
    pub max_bytes: usize,
}

/// An HTTP URL served by an Envoy cluster, as written.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HttpUriConfig {
    /// `http(s)://authority/path`: `:authority` and `:path` of the call.
    pub uri: String,
    /// The Envoy cluster the call goes to.
    pub cluster: String,
    /// Per-call timeout (default 5s).
    #[serde(default)]
    pub timeout: Option<ConfigDuration>,
}

/// What to do with a request no operation describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Unmatched {
    /// Answer 404 / 405.
    #[default]
    Reject,
    /// Let it through unchecked.
    Pass,
}

fn yes() -> bool {
    true
}
fn default_max_body() -> usize {
    DEFAULT_MAX_BODY_BYTES
}
fn default_max_multipart_parts() -> usize {
    100
}
fn default_max_violations() -> usize {
    10
}
fn default_max_depth() -> usize {
    64
}
fn default_max_number_length() -> usize {
    100
}
fn default_max_document_bytes() -> usize {
    32 << 20
}

/// The compiled configuration.
#[derive(Debug)]
pub struct Compiled {
    /// Every schema, compiled.
    pub schemas: SchemaSet,
    /// Where operations come from.
    pub routes: Routes,
    /// Unknown path policy.
    pub unmatched_path: Unmatched,
    /// Unknown method policy.
    pub unmatched_method: Unmatched,
    /// Limits on JSON bodies.
    pub json: JsonLimits,
    /// Most parts of a multipart body.
    pub max_multipart_parts: usize,
    /// How answers are written.
    pub answers: AnswerStyle,
    /// Let violating requests through (logged and counted).
    pub report_only: bool,
    /// Hold the headers of a request whose body is validated until the body is (needs Envoy's
    /// `allow_on_headers_stop_iteration`).
    pub hold_headers: bool,
    /// What a path not in canonical form gets.
    pub paths: PathNormalization,
}

/// A configuration ready for requests, or one whose document is still to be fetched.
#[derive(Debug)]
pub enum Setup {
    /// Compiled: the document (or the routes) came with the configuration.
    Ready(Box<Compiled>),
    /// `openapi_remote`: every setting checked; the document is compiled when it arrives.
    Remote(Pending),
}

/// A configuration waiting for its document.
#[derive(Debug, Clone)]
pub struct Pending {
    /// Where the document comes from.
    pub spec: RemoteSpec,
    /// The configuration as given, compiled again with each document that arrives.
    pub config: Vec<u8>,
}

/// Parses and compiles the plugin configuration (one with `openapi_remote` is refused: see
/// [`prepare`]).
pub fn compile(bytes: &[u8]) -> Result<Compiled, ConfigError> {
    match prepare(bytes)? {
        Setup::Ready(compiled) => Ok(*compiled),
        Setup::Remote(_) => Err(ConfigError::at(
            "openapi_remote",
            "not supported here: give the document inline",
        )),
    }
}

/// Parses the plugin configuration and compiles it, or, with `openapi_remote`, checks every
/// setting and leaves the document for [`compile_with_reader`].
pub fn prepare(bytes: &[u8]) -> Result<Setup, ConfigError> {
    let config = read(bytes)?;
    let Some(remote) = &config.openapi_remote else {
        return compile_config(config).map(|c| Setup::Ready(Box::new(c)));
    };
    if config.openapi.is_some() || !config.routes.is_empty() {
        return Err(ConfigError::at(
            "openapi_remote",
            "give one of `openapi`, `openapi_remote` and `routes`",
        ));
    }
    let spec = RemoteSpec::compile(remote).map_err(|e| e.within("openapi_remote"))?;
    check_settings(&config)?;
    Ok(Setup::Remote(Pending {
        spec,
        config: bytes.to_vec(),
    }))
}

/// Compiles a configuration with `openapi_remote` (checked by [`prepare`]) with the fetched
/// document (OpenAPI JSON) in place of the remote, read from `document` as it is parsed, so its
/// bytes are never all in memory at once (the filter reads a fetched one from the host a chunk
/// at a time: issue 13, 5.8 MiB less at the peak of a worker compiling the large bench
/// description). `document` should be buffered (serde_json reads it a byte at a time).
pub fn compile_with_reader(
    config: &[u8],
    document: impl std::io::Read,
) -> Result<Compiled, ConfigError> {
    let mut config = read(config)?;
    let mut de = serde_json::Deserializer::from_reader(document);
    let doc = crate::lean::document(&mut de)
        .and_then(|doc| de.end().map(|()| doc))
        .map_err(|e| ConfigError::at("openapi_remote", format!("the document is not JSON: {e}")))?;
    let Some(doc) = doc else {
        return Err(ConfigError::at("openapi_remote", "the document is `null`"));
    };
    config.openapi = Some(doc);
    config.openapi_remote = None;
    compile_config(config)
}

fn read(bytes: &[u8]) -> Result<Config, ConfigError> {
    // Tracking the field path costs about a third of reading a large OpenAPI document: it is
    // only needed to name the field of a config that does not parse, so that one is read again.
    // serde would fill the top-level struct from an array by position: only an object is a config.
    let is_object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    match serde_json::from_slice::<Config>(bytes) {
        Ok(config) if is_object => Ok(config),
        _ => parse::<Config>(bytes),
    }
}

/// Checks the settings that do not depend on the document or the routes.
fn check_settings(config: &Config) -> Result<(), ConfigError> {
    if config.path_normalization.case_insensitive
        && (config.openapi.is_some() || config.openapi_remote.is_some())
    {
        return Err(ConfigError::at(
            "path_normalization.case_insensitive",
            "OpenAPI path templates match exactly; use plain `routes` to ignore case",
        ));
    }
    if config.max_violations == 0 {
        return Err(ConfigError::at(
            "max_violations",
            "list at least one violation",
        ));
    }
    if config.json.max_depth == 0 || config.json.max_depth > DEPTH_CEILING {
        return Err(ConfigError::at(
            "json.max_depth",
            format!("must be 1 to {DEPTH_CEILING}"),
        ));
    }
    if config.max_multipart_parts == 0 {
        return Err(ConfigError::at("max_multipart_parts", "must be at least 1"));
    }
    if config.json.max_number_length == 0 {
        return Err(ConfigError::at(
            "json.max_number_length",
            "must be at least 1",
        ));
    }
    Ok(())
}

/// Compiles a parsed configuration.
pub fn compile_config(config: Config) -> Result<Compiled, ConfigError> {
    if config.openapi_remote.is_some() {
        return Err(ConfigError::at(
            "openapi_remote",
            "the document is fetched: compile it with `compile_with_reader`",
        ));
    }
    check_settings(&config)?;
    let mut builder = SchemaSetBuilder::new(config.default_dialect, config.assert_formats);
    for (url, schema) in &config.schemas {
        builder
            .add_resource(url, schema.clone())
            .map_err(|e| ConfigError::at(url.as_str(), e).within("schemas"))?;
    }
    let routes = match (config.openapi, config.routes.is_empty()) {
        (Some(_), false) => {
            return Err(ConfigError::at(
                "routes",
                "give either `openapi` or `routes`, not both",
            ));
        }
        (None, true) => {
            return Err(ConfigError::at(
                ".",
                "give `openapi` (a document) or `routes`",
            ))
        }
        (Some(doc), true) => {
            let limits: BTreeMap<String, usize> = config
                .operations
                .iter()
                .filter_map(|(id, op)| op.max_body_bytes.map(|n| (id.clone(), n)))
                .collect();
            let options = openapi::ApiOptions {
                base_path: config.base_path.as_deref(),
                default_max_body: config.max_body_bytes,
                max_body_by_operation: &limits,
            };
            Routes::Api(openapi::compile_lean(doc, &mut builder, options)?)
        }
        (None, false) => {
            if !config.operations.is_empty() {
                return Err(ConfigError::at(
                    "operations",
                    "`operations` apply to an OpenAPI document",
                ));
            }
            if config.base_path.is_some() {
                return Err(ConfigError::at(
                    "base_path",
                    "`base_path` applies to an OpenAPI document",
                ));
            }
            Routes::Plain(plain::compile(
                &config.routes,
                &mut builder,
                config.max_body_bytes,
            )?)
        }
    };
    // Schemas given in config are compiled now even when unreferenced, so mistakes show at start.
    for url in config.schemas.keys() {
        builder
            .compile(url)
            .map_err(|e| ConfigError::at(url.as_str(), e).within("schemas"))?;
    }
    let schemas = builder.finish();
    Ok(Compiled {
        schemas,
        routes,
        unmatched_path: config.unmatched_path,
        unmatched_method: config.unmatched_method,
        json: JsonLimits {
            max_depth: config.json.max_depth,
            max_number_length: config.json.max_number_length,
            duplicate_keys: config.json.duplicate_keys,
        },
        max_multipart_parts: config.max_multipart_parts,
        answers: AnswerStyle {
            verbose: config.verbose,
            max_violations: config.max_violations,
        },
        report_only: config.report_only,
        hold_headers: config.hold_headers,
        paths: config.path_normalization,
    })
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
