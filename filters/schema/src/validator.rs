//! JSON Schema validation over `boon`: schemas are compiled once (in `on_configure`) into a
//! [`SchemaSet`]; each request value is checked against one of them and every failure becomes a
//! [`SchemaError`] with its JSON pointer, keyword and message.
//!
//! Nothing is ever fetched: every `$ref` resolves to a resource given in config, a standard
//! meta-schema embedded in boon, or fails at compile time.

use boon::{
    CompileError, Compiler, Draft, ErrorKind, Format, SchemaIndex, Schemas, UrlLoader,
    ValidationError,
};
use serde_json::Value;
use std::error::Error;
use std::fmt;

/// The JSON Schema dialect of schemas that name none with `$schema`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub enum Dialect {
    /// Draft-07 (`http://json-schema.org/draft-07/schema#`).
    #[serde(rename = "draft-07")]
    Draft7,
    /// Draft 2020-12 (`https://json-schema.org/draft/2020-12/schema`).
    #[default]
    #[serde(rename = "2020-12")]
    Draft2020,
}

impl Dialect {
    /// The meta-schema URL of the dialect, for `$schema`.
    pub fn meta_schema(self) -> &'static str {
        match self {
            Dialect::Draft7 => "http://json-schema.org/draft-07/schema#",
            Dialect::Draft2020 => "https://json-schema.org/draft/2020-12/schema",
        }
    }

    fn draft(self) -> Draft {
        match self {
            Dialect::Draft7 => Draft::V7,
            Dialect::Draft2020 => Draft::V2020_12,
        }
    }
}

/// A compiled schema in a [`SchemaSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaId(SchemaIndex);

/// One way a value fails its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaError {
    /// JSON pointer into the value (`/items/3/price`; empty for the value itself).
    pub pointer: String,
    /// The failing keyword (`minimum`, `required`, `oneOf`, ...).
    pub keyword: String,
    /// What is wrong, with the schema's details (`must be >=0, but got -1`).
    pub detail: String,
    /// Where the keyword is in the schema (`urn:...#/properties/price/minimum`).
    pub schema_location: String,
}

/// Refuses every URL: schemas are never fetched, from the network or the file system.
struct NoFetch;

impl UrlLoader for NoFetch {
    fn load(&self, url: &str) -> Result<Value, Box<dyn Error>> {
        Err(format!("`{url}` is not given in config (schemas are never fetched)").into())
    }
}

/// Whether a number is an integer within `min..=max` (other types are not this format's concern).
fn fits(v: &Value, min: i64, max: i64) -> Result<(), Box<dyn Error>> {
    let Value::Number(n) = v else { return Ok(()) };
    if n.as_i64().is_some_and(|i| (min..=max).contains(&i)) {
        Ok(())
    } else {
        Err(format!("{n} is out of range").into())
    }
}

/// Compiles schemas into a [`SchemaSet`].
pub struct SchemaSetBuilder {
    compiler: Compiler,
    schemas: Schemas,
}

impl fmt::Debug for SchemaSetBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSetBuilder").finish_non_exhaustive()
    }
}

impl SchemaSetBuilder {
    /// A builder whose schemas without `$schema` use `default`; `assert_formats` makes `format`
    /// an assertion in every draft (2019-09 and later treat it as an annotation otherwise).
    pub fn new(default: Dialect, assert_formats: bool) -> Self {
        let mut compiler = Compiler::new();
        compiler.set_default_draft(default.draft());
        compiler.use_loader(Box::new(NoFetch));
        if assert_formats {
            compiler.enable_format_assertions();
        }
        // OpenAPI's integer formats: the value must fit.
        compiler.register_format(Format {
            name: "int32",
            func: |v| fits(v, i64::from(i32::MIN), i64::from(i32::MAX)),
        });
        compiler.register_format(Format {
            name: "int64",
            func: |v| fits(v, i64::MIN, i64::MAX),
        });
        Self {
            compiler,
            schemas: Schemas::new(),
        }
    }

    /// Makes a document available to `$ref` (and to [`Self::compile`]) under `url`.
    pub fn add_resource(&mut self, url: &str, document: Value) -> Result<(), String> {
        self.compiler
            .add_resource(url, document)
            .map_err(|e| compile_message(&e))
    }

    /// Compiles the schema at `location` (a URL, with a JSON-pointer fragment for a sub-schema).
    /// Compiling the same location twice gives the same id.
    pub fn compile(&mut self, location: &str) -> Result<SchemaId, String> {
        self.compiler
            .compile(location, &mut self.schemas)
            .map(SchemaId)
            .map_err(|e| compile_message(&e))
    }

    /// The compiled set.
    pub fn finish(self) -> SchemaSet {
        SchemaSet {
            schemas: self.schemas,
        }
    }
}

/// Compiled schemas, immutable and shared by every request.
pub struct SchemaSet {
    schemas: Schemas,
}

impl fmt::Debug for SchemaSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaSet")
            .field("size", &self.schemas.size())
            .finish()
    }
}

impl SchemaSet {
    /// Whether `value` is valid against schema `id`.
    pub fn is_valid(&self, id: SchemaId, value: &Value) -> bool {
        self.schemas.contains(id.0) && self.schemas.validate(value, id.0).is_ok()
    }

    /// Every failure of `value` against schema `id` (empty when valid). An id from another set
    /// is reported as one failure rather than a panic.
    pub fn validate(&self, id: SchemaId, value: &Value) -> Vec<SchemaError> {
        self.validate_capped(id, value, usize::MAX).0
    }

    /// At most `cap` failures of `value` against schema `id`, and how many there are in all.
    /// Only the failures kept are formatted (pointers, messages): the rest are only counted.
    pub fn validate_capped(
        &self,
        id: SchemaId,
        value: &Value,
        cap: usize,
    ) -> (Vec<SchemaError>, usize) {
        if !self.schemas.contains(id.0) {
            let error = SchemaError {
                pointer: String::new(),
                keyword: "$ref".into(),
                detail: "schema not compiled".into(),
                schema_location: String::new(),
            };
            return (vec![error].into_iter().take(cap).collect(), 1);
        }
        match self.schemas.validate(value, id.0) {
            Ok(()) => (Vec::new(), 0),
            Err(e) => {
                let mut found = Found {
                    kept: Vec::new(),
                    total: 0,
                    cap,
                };
                collect(&e, &mut found);
                if found.total == 0 {
                    found.keep(|| to_error(&e, "schema"));
                }
                (found.kept, found.total)
            }
        }
    }
}

/// Failures kept (at most `cap`) and counted.
struct Found {
    kept: Vec<SchemaError>,
    total: usize,
    cap: usize,
}

impl Found {
    fn keep(&mut self, make: impl FnOnce() -> SchemaError) {
        self.total = self.total.saturating_add(1);
        if self.kept.len() < self.cap {
            self.kept.push(make());
        }
    }
}

/// Flattens boon's error tree into the failures a client can act on. `oneOf`/`anyOf`/`not` are
/// reported as themselves: listing why each alternative failed says more about the schema than
/// about the request.
fn collect(e: &ValidationError<'_, '_>, out: &mut Found) {
    match &e.kind {
        ErrorKind::Group
        | ErrorKind::Schema { .. }
        | ErrorKind::Reference { .. }
        | ErrorKind::AllOf => {
            for cause in &e.causes {
                collect(cause, out);
            }
        }
        kind => {
            let keyword = match kind.keyword_path() {
                Some(path) => match path.keyword {
                    // boon names it in the singular.
                    "additionalProperty" => "additionalProperties",
                    k => k,
                },
                None => match kind {
                    ErrorKind::FalseSchema => "false",
                    ErrorKind::RefCycle { .. } => "$ref",
                    _ => "schema",
                },
            };
            out.keep(|| to_error(e, keyword));
        }
    }
}

fn to_error(e: &ValidationError<'_, '_>, keyword: &str) -> SchemaError {
    SchemaError {
        pointer: e.instance_location.to_string(),
        keyword: keyword.to_string(),
        detail: e.kind.to_string(),
        schema_location: match e.kind.keyword_path() {
            Some(path) => format!("{}/{}", e.schema_url, path),
            None => e.schema_url.to_string(),
        },
    }
}

/// boon's compile errors, with the cause of a failed load (which names the missing URL).
fn compile_message(e: &CompileError) -> String {
    match e {
        CompileError::LoadUrlError { url, src } => format!("cannot load `{url}`: {src}"),
        CompileError::ValidationError { url, src } => {
            format!("`{url}` is not a valid schema: {src}")
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "validator_tests.rs"]
mod tests;
