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
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
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
    /// For each compiled schema S, `{"not": {"$ref": S}}`: boon checks a `not` subschema in its
    /// short-circuit mode, so validating against it answers "is S invalid?" without an error tree.
    negations: HashMap<SchemaIndex, SchemaIndex>,
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
            negations: HashMap::new(),
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
        let id = self
            .compiler
            .compile(location, &mut self.schemas)
            .map_err(|e| compile_message(&e))?;
        if !self.negations.contains_key(&id) {
            // Without it (it cannot fail where the schema compiled) validation walks the whole value.
            let url = format!("urn:palisade:negation:{}", self.negations.len());
            let wrapper = serde_json::json!({"not": {"$ref": location}});
            if self.compiler.add_resource(&url, wrapper).is_ok() {
                if let Ok(negation) = self.compiler.compile(&url, &mut self.schemas) {
                    self.negations.insert(id, negation);
                }
            }
        }
        Ok(SchemaId(id))
    }

    /// The compiled set.
    pub fn finish(self) -> SchemaSet {
        SchemaSet {
            schemas: self.schemas,
            negations: self.negations,
        }
    }
}

/// Compiled schemas, immutable and shared by every request.
pub struct SchemaSet {
    schemas: Schemas,
    negations: HashMap<SchemaIndex, SchemaIndex>,
}

/// The failures of a value: at most a cap of them kept, and how many there are.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Failures {
    /// The first failures, formatted.
    pub kept: Vec<SchemaError>,
    /// How many there are in all, or (when `at_least`) at least.
    pub total: usize,
    /// `total` is a lower bound: a huge array or object was searched only far enough to fill
    /// the cap, so the work is bounded by the cap rather than by the number of bad elements.
    pub at_least: bool,
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
        if !self.schemas.contains(id.0) {
            return false;
        }
        match self.negations.get(&id.0) {
            // The negation fails exactly when the schema holds; boon stops at its first failure.
            Some(negation) => self.schemas.validate(value, *negation).is_err(),
            None => self.schemas.validate(value, id.0).is_ok(),
        }
    }

    /// Every failure of `value` against schema `id` (empty when valid). An id from another set
    /// is reported as one failure rather than a panic.
    pub fn validate(&self, id: SchemaId, value: &Value) -> Vec<SchemaError> {
        self.validate_capped(id, value, usize::MAX).kept
    }

    /// At most `cap` failures of `value` against schema `id`, and how many there are.
    ///
    /// A value with an array or object of more than [`WIDE`]`×cap` elements (anywhere in it) is
    /// decided on the whole value with boon's short-circuit check ([`Self::is_valid`]); if it is
    /// invalid, the failures are looked for in copies of it whose arrays and objects are cut to
    /// their first `k` elements (`k = cap, 2·cap, 4·cap, ...`), until `cap` are found or nothing
    /// is cut any more. So a body of a million bad items costs one pass plus about `cap` items of
    /// error building, and its total is then reported as a lower bound (`at_least`).
    pub fn validate_capped(&self, id: SchemaId, value: &Value, cap: usize) -> Failures {
        if !self.schemas.contains(id.0) {
            let error = SchemaError {
                pointer: String::new(),
                keyword: "$ref".into(),
                detail: "schema not compiled".into(),
                schema_location: String::new(),
            };
            return Failures {
                kept: vec![error].into_iter().take(cap).collect(),
                total: 1,
                at_least: false,
            };
        }
        let wanted = cap.max(1);
        if widest(value) > wanted.saturating_mul(WIDE) {
            if self.is_valid(id, value) {
                return Failures::default();
            }
            let mut k = wanted;
            loop {
                let mut cut = Cut::default();
                let copy = truncated(value, k, &mut String::new(), &mut cut);
                if cut.ancestors.is_empty() {
                    break;
                }
                let found = self.failures(id, &copy, cap, Some(&cut.ancestors));
                if found.total >= wanted {
                    return Failures {
                        kept: found.kept,
                        total: found.total,
                        at_least: true,
                    };
                }
                k = k.saturating_mul(2);
            }
        }
        let found = self.failures(id, value, cap, None);
        Failures {
            kept: found.kept,
            total: found.total,
            at_least: false,
        }
    }

    /// The failures of `value` from boon's full error tree, but none at a pointer in `blocked`
    /// (in a cut copy: a cut container and its ancestors, whose failures may be artefacts of the
    /// cut, like `minItems`, `required` or `const`).
    fn failures<'b>(
        &self,
        id: SchemaId,
        value: &Value,
        cap: usize,
        blocked: Option<&'b HashSet<String>>,
    ) -> Found<'b> {
        let mut found = Found {
            kept: Vec::new(),
            total: 0,
            cap,
            blocked,
        };
        if let Err(e) = self.schemas.validate(value, id.0) {
            collect(&e, &mut found);
            if found.total == 0 && blocked.is_none() {
                found.keep(|| to_error(&e, "schema"));
            }
        }
        found
    }
}

/// Values whose widest array or object has at most this many times `cap` elements are validated
/// whole, as they always were: building their error tree is cheap enough.
const WIDE: usize = 64;

/// The most elements of any array or object in `value`.
fn widest(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.iter().map(widest).fold(items.len(), usize::max),
        Value::Object(members) => members.values().map(widest).fold(members.len(), usize::max),
        _ => 0,
    }
}

/// The pointers of the containers a cut shortened, and of all their ancestors.
#[derive(Default)]
struct Cut {
    ancestors: HashSet<String>,
}

impl Cut {
    fn shortened(&mut self, pointer: &str) {
        let mut at = pointer;
        loop {
            if !self.ancestors.insert(at.to_string()) {
                return;
            }
            match at.rfind('/') {
                Some(i) => at = at.get(..i).unwrap_or_default(),
                None => return,
            }
        }
    }
}

/// A copy of `value` with every array and object cut to its first `k` elements; `pointer` is
/// where `value` is (a JSON pointer, as boon writes instance locations).
fn truncated(value: &Value, k: usize, pointer: &mut String, cut: &mut Cut) -> Value {
    let len = pointer.len();
    let copy = match value {
        Value::Array(items) => {
            if items.len() > k {
                cut.shortened(pointer);
            }
            let mut copy = Vec::with_capacity(items.len().min(k));
            for (i, item) in items.iter().take(k).enumerate() {
                pointer.push('/');
                pointer.push_str(&i.to_string());
                copy.push(truncated(item, k, pointer, cut));
                pointer.truncate(len);
            }
            Value::Array(copy)
        }
        Value::Object(members) => {
            if members.len() > k {
                cut.shortened(pointer);
            }
            let mut copy = Map::new();
            for (name, member) in members.iter().take(k) {
                pointer.push('/');
                pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
                copy.insert(name.clone(), truncated(member, k, pointer, cut));
                pointer.truncate(len);
            }
            Value::Object(copy)
        }
        other => other.clone(),
    };
    copy
}

/// Failures kept (at most `cap`) and counted.
struct Found<'b> {
    kept: Vec<SchemaError>,
    total: usize,
    cap: usize,
    /// Failures at these pointers are not counted.
    blocked: Option<&'b HashSet<String>>,
}

impl Found<'_> {
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
fn collect(e: &ValidationError<'_, '_>, out: &mut Found<'_>) {
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
            let blocked = out
                .blocked
                .is_some_and(|b| b.contains(&e.instance_location.to_string()));
            if !blocked {
                out.keep(|| to_error(e, keyword));
            }
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
