//! Plain mode: per-route rules without an OpenAPI document. The first route whose `match`
//! (the core route matcher) fits the request applies; a request no route fits passes.
//!
//! ```json
//! {"routes": [{
//!   "match": {"prefix": "/orders", "methods": ["POST"]},
//!   "body": {"schema": {"$ref": "https://schemas.example.com/order.json"}, "required": true},
//!   "query": [{"name": "dry_run", "schema": {"type": "boolean"}}],
//!   "headers": [{"name": "x-tenant", "required": true, "schema": {"type": "string", "pattern": "^[a-z]+$"}}],
//!   "max_body_bytes": 65536
//! }]}
//! ```

use crate::coerce::TypeHint;
use crate::media::MediaRange;
use crate::operation::{BodySpec, Operation};
use crate::params::{ParamCheck, ParamSpec, Style};
use crate::validator::{SchemaId, SchemaSetBuilder};
use crate::violation::Location;
use palisade_core::config::ConfigError;
use palisade_core::route::{RouteMatch, RouteMatcher, Routed};
use serde::Deserialize;
use serde_json::Value;

/// A route as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// When it applies (every request when absent).
    #[serde(rename = "match", default)]
    pub route: Option<RouteMatch>,
    /// The body it accepts (absent: any body passes unchecked).
    #[serde(default)]
    pub body: Option<BodyConfig>,
    /// Query parameter rules.
    #[serde(default)]
    pub query: Vec<ParamConfig>,
    /// Header rules.
    #[serde(default)]
    pub headers: Vec<ParamConfig>,
    /// Body limit of this route.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// A body rule.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct BodyConfig {
    /// The JSON Schema of the body.
    pub schema: Value,
    /// Accepted media types (default `application/json`); JSON ones are validated.
    #[serde(default = "json_only")]
    pub content_types: Vec<String>,
    /// Whether a body must be sent.
    #[serde(default)]
    pub required: bool,
}

fn json_only() -> Vec<String> {
    vec!["application/json".into()]
}

/// A query or header rule.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ParamConfig {
    /// Parameter or header name.
    pub name: String,
    /// Whether it must be present.
    #[serde(default)]
    pub required: bool,
    /// Its JSON Schema (the string value is coerced to the schema's type first).
    #[serde(default)]
    pub schema: Option<Value>,
    /// OpenAPI style (`form`, `spaceDelimited`, `pipeDelimited`, `deepObject`; headers: `simple`).
    #[serde(default)]
    pub style: Option<String>,
    /// OpenAPI explode (default: true for `form`).
    #[serde(default)]
    pub explode: Option<bool>,
}

/// Compiles the routes; schemas become resources `urn:palisade:routes/<i>/...`.
pub fn compile(
    routes: &[RouteConfig],
    builder: &mut SchemaSetBuilder,
    default_max_body: usize,
) -> Result<Vec<Routed<Operation>>, ConfigError> {
    routes
        .iter()
        .enumerate()
        .map(|(i, r)| {
            compile_route(i, r, builder, default_max_body)
                .map_err(|e| e.within(&format!("routes[{i}]")))
        })
        .collect()
}

fn compile_route(
    i: usize,
    route: &RouteConfig,
    builder: &mut SchemaSetBuilder,
    default_max_body: usize,
) -> Result<Routed<Operation>, ConfigError> {
    let matcher = match &route.route {
        Some(m) => RouteMatcher::compile(m).map_err(|e| e.within("match"))?,
        None => RouteMatcher::any(),
    };
    let base = format!("urn:palisade:routes/{i}");
    let body = match &route.body {
        Some(b) => {
            let schema = compile_schema(builder, &format!("{base}/body"), &b.schema)
                .map_err(|e| ConfigError::at("body.schema", e))?;
            let mut media = Vec::new();
            for (j, ct) in b.content_types.iter().enumerate() {
                let range = MediaRange::parse(ct)
                    .map_err(|e| ConfigError::at(format!("body.content_types[{j}]"), e))?;
                media.push((range, Some(schema)));
            }
            Some(BodySpec {
                form: None,
                required: b.required,
                media,
            })
        }
        None => None,
    };
    let mut params = Vec::new();
    for (field, location, list) in [
        ("query", Location::Query, &route.query),
        ("headers", Location::Header, &route.headers),
    ] {
        for (j, p) in list.iter().enumerate() {
            let url = format!("{base}/{field}/{j}");
            params.push(
                compile_param(p, location, &url, builder)
                    .map_err(|e| e.within(&format!("{field}[{j}]")))?,
            );
        }
    }
    Ok(Routed {
        matcher,
        value: Operation {
            id: format!("routes[{i}]"),
            params,
            body,
            max_body_bytes: route.max_body_bytes.unwrap_or(default_max_body),
        },
    })
}

fn compile_param(
    p: &ParamConfig,
    location: Location,
    url: &str,
    builder: &mut SchemaSetBuilder,
) -> Result<ParamSpec, ConfigError> {
    if p.name.is_empty() {
        return Err(ConfigError::at("name", "empty name"));
    }
    let style = match &p.style {
        Some(s) => Style::parse(s, location).map_err(|e| ConfigError::at("style", e))?,
        None => Style::default_for(location),
    };
    let (schema, hint) = match &p.schema {
        Some(s) => (
            Some(compile_schema(builder, url, s).map_err(|e| ConfigError::at("schema", e))?),
            TypeHint::from_schema(s, s),
        ),
        None => (None, TypeHint::default()),
    };
    let name = if location == Location::Header {
        p.name.to_ascii_lowercase()
    } else {
        p.name.clone()
    };
    Ok(ParamSpec {
        name,
        location,
        required: p.required,
        check: ParamCheck::Styled {
            schema,
            hint,
            style,
            explode: p.explode.unwrap_or(style == Style::Form),
        },
    })
}

fn compile_schema(
    builder: &mut SchemaSetBuilder,
    url: &str,
    schema: &Value,
) -> Result<SchemaId, String> {
    builder.add_resource(url, schema.clone())?;
    builder.compile(url)
}
