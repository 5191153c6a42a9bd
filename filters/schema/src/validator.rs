//! JSON Schema validation over `boon`: schemas are checked once (in `on_configure`: each one
//! compiles) into a [`SchemaSet`], which compiles them again on first use and keeps a bounded
//! number compiled; each request value is checked against one of them and every failure becomes
//! a [`SchemaError`] with its JSON pointer, keyword and message.
//!
//! Nothing is ever fetched: every `$ref` resolves to a resource given in config, a standard
//! meta-schema embedded in boon, or fails at compile time.

use crate::compact::Pieces;
use crate::json::JsonLimits;
use crate::quick::{Planner, Plans, MAX_NODES, PLAN_BATCH};
use boon::{
    CompileError, Compiler, Draft, ErrorKind, Format, SchemaIndex, Schemas, UrlLoader,
    ValidationError,
};
use serde_json::{Map, Value};
use std::cell::RefCell;
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

/// A schema of a [`SchemaSet`]: checked at configure time, compiled on first use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaId(usize);

impl SchemaId {
    /// Stands for a schema whose place was only noted (no set has it).
    pub(crate) const RECORDED: SchemaId = SchemaId(usize::MAX);
}

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

/// Most compiled schemas (boon's, every sub-schema counted) kept at once. Beyond it the compiled
/// forms are dropped and compiled again on use, so a description of thousands of operations costs
/// its (compact) documents plus at most this many compiled schemas, per VM. A boon schema is about
/// 1 KiB in Wasm (it has a field for every keyword), so this bounds them to a few MiB.
pub const MAX_COMPILED_SCHEMAS: usize = 2048;

/// Limits for the text of a parameter's reading ([`SchemaSet::accepts_value`]): it was built from
/// the request within the parameter's own limits, so these only bound the quick path's walk; a
/// value beyond them is simply decided the full way.
const VALUE_LIMITS: JsonLimits = JsonLimits {
    max_depth: 32,
    max_number_length: 64,
    duplicate_keys: crate::json::DuplicateKeys::Reject,
};

/// The URL of the negation wrapper of schema `id` (see [`Entry::negation`]).
fn negation_url(id: usize) -> String {
    format!("urn:palisade:negation:{id}")
}

/// A compiler set up as every one of a set is (dialect, no fetching, formats).
fn new_compiler(default: Dialect, assert_formats: bool) -> Compiler {
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
    compiler
}

/// The documents (owned by boon's compiler, or kept as [`Pieces`]) and the schemas compiled from
/// them so far.
struct Lazy {
    compiler: Compiler,
    schemas: Schemas,
    entries: HashMap<usize, Entry>,
    /// Schemas whose negation wrapper `compiler` has (added on first use: a wrapper per schema
    /// was about 1 KiB each in Wasm, most never used).
    wrapped: HashSet<usize>,
    /// A document kept as text, by URL: a schema in it is compiled by a compiler of its own
    /// given only the pieces the schema reaches ([`Pieces::closure`]).
    pieces: Option<(String, Pieces)>,
    dialect: Dialect,
    assert_formats: bool,
}

/// A schema compiled in the current [`Lazy::schemas`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    schema: SchemaIndex,
    /// `{"not": {"$ref": S}}`: boon checks a `not` subschema in its short-circuit mode, so
    /// validating against it answers "is S invalid?" without an error tree (compiled on first
    /// use by [`SchemaSet::is_valid`]; `None` also when it did not compile).
    negation: Option<SchemaIndex>,
}

impl Lazy {
    /// The compiled schema `id` at `location`, compiled now if it is not (with its negation
    /// when `negate`), after dropping every compiled schema if there are too many.
    fn entry(&mut self, id: usize, location: &str, negate: bool) -> Result<Entry, String> {
        let known = self.entries.get(&id).copied();
        if let Some(entry) = known.filter(|e| e.negation.is_some() || !negate) {
            return Ok(entry);
        }
        if known.is_none() && self.schemas.size() >= MAX_COMPILED_SCHEMAS {
            self.schemas = Schemas::new();
            self.entries.clear();
        }
        // A schema of the document kept as pieces gets a compiler of its own, given the pieces
        // it reaches; compiled schemas of the same pointers in `schemas` are reused (the same
        // text). Any other schema is compiled by the set's compiler.
        let (url, fragment) = location.split_once('#').unwrap_or((location, ""));
        let mut own = None;
        if let Some((doc_url, pieces)) = self.pieces.as_ref().filter(|(u, _)| u == url) {
            let pointer = crate::quick::pointer_of(fragment)
                .ok_or_else(|| format!("`{location}` names no JSON pointer"))?;
            let mut compiler = new_compiler(self.dialect, self.assert_formats);
            compiler
                .add_resource(doc_url, pieces.closure([pointer.as_ref()], doc_url))
                .map_err(|e| compile_message(&e))?;
            own = Some(compiler);
        }
        let schema = match known {
            Some(entry) => entry.schema,
            None => own
                .as_mut()
                .unwrap_or(&mut self.compiler)
                .compile(location, &mut self.schemas)
                .map_err(|e| compile_message(&e))?,
        };
        let negation = if negate {
            let url = negation_url(id);
            // The set's compiler keeps a wrapper once added; an own compiler never has one.
            let add = own.is_some() || self.wrapped.insert(id);
            let compiler = own.as_mut().unwrap_or(&mut self.compiler);
            if add {
                // Failing only loses the short-circuit check (see `Entry::negation`).
                let _ = compiler.add_resource(&url, serde_json::json!({"not": {"$ref": location}}));
            }
            // It cannot fail where the schema compiled; without it validation walks the whole
            // value.
            compiler.compile(&url, &mut self.schemas).ok()
        } else {
            None
        };
        let entry = Entry { schema, negation };
        self.entries.insert(id, entry);
        Ok(entry)
    }
}

/// Collects schemas and checks that they compile, into a [`SchemaSet`].
pub struct SchemaSetBuilder {
    lazy: Lazy,
    locations: Vec<String>,
    ids: HashMap<String, usize>,
    /// The meta-schemas [`Self::check_schema`] validates against, compiled on first use.
    meta: Schemas,
    meta_ids: HashMap<&'static str, SchemaIndex>,
    /// Regular expressions already found to compile.
    patterns: HashSet<String>,
    /// The documents, by URL: the quick path's plans are built from them in [`Self::finish`],
    /// which then moves them into the compiler. Only a schema compiled before that (see
    /// [`Self::compile`]) makes the compiler get copies sooner.
    docs: HashMap<String, Value>,
    /// URLs of the documents the compiler has.
    given: HashSet<String>,
    dialect: Dialect,
    assert_formats: bool,
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
        Self {
            lazy: Lazy {
                compiler: new_compiler(default, assert_formats),
                schemas: Schemas::new(),
                entries: HashMap::new(),
                wrapped: HashSet::new(),
                pieces: None,
                dialect: default,
                assert_formats,
            },
            locations: Vec::new(),
            ids: HashMap::new(),
            meta: Schemas::new(),
            meta_ids: HashMap::new(),
            patterns: HashSet::new(),
            docs: HashMap::new(),
            given: HashSet::new(),
            dialect: default,
            assert_formats,
        }
    }

    /// Whether no document was added yet.
    pub fn is_empty(&self) -> bool {
        self.docs.is_empty() && self.lazy.pieces.is_none()
    }

    /// Makes a document kept as [`Pieces`] available under `url` (one per set): each schema in
    /// it is compiled from the pieces it reaches, by a compiler of its own. Its references must
    /// all be local ([`Pieces::refs_are_local`]) and no other document may refer to it: only
    /// schemas of it checked without compiling ([`Self::register`]) may be in it.
    pub fn add_pieces(&mut self, url: &str, pieces: Pieces) -> Result<(), String> {
        Compiler::new()
            .add_resource(url, Value::Null)
            .map_err(|e| compile_message(&e))?;
        if self.lazy.pieces.is_some() {
            return Err("one document as pieces per set".into());
        }
        self.lazy.pieces = Some((url.to_string(), pieces));
        Ok(())
    }

    /// Makes a document available to `$ref` (and to [`Self::compile`]) under `url`. The URL is
    /// checked now; the document is held once (issue 13: a copy for the compiler beside the
    /// planner's was 12 MiB of the large bench description's peak natively, and a Wasm VM keeps its
    /// peak).
    pub fn add_resource(&mut self, url: &str, document: Value) -> Result<(), String> {
        Compiler::new()
            .add_resource(url, Value::Null)
            .map_err(|e| compile_message(&e))?;
        self.docs.insert(url.to_string(), document);
        Ok(())
    }

    /// Gives the compiler a copy of every document it lacks (for a schema compiled before
    /// [`Self::finish`]).
    fn give_copies(&mut self) {
        for (url, doc) in &self.docs {
            if self.given.insert(url.clone()) {
                // The URL was checked in `add_resource`.
                let _ = self.lazy.compiler.add_resource(url, doc.clone());
            }
        }
    }

    /// Checks that the schema at `location` (a URL, with a JSON-pointer fragment for a
    /// sub-schema) compiles, so every error shows at configure time; the compiled form may be
    /// dropped (see [`MAX_COMPILED_SCHEMAS`]) and compiled again on use. The same location twice
    /// gives the same id.
    pub fn compile(&mut self, location: &str) -> Result<SchemaId, String> {
        if let Some(&id) = self.ids.get(location) {
            return Ok(SchemaId(id));
        }
        self.give_copies();
        self.lazy.entry(self.locations.len(), location, false)?;
        Ok(self.register(location))
    }

    /// Adds the schema at `location` without compiling it (compiled on first use): for a caller
    /// that checked it more cheaply ([`Self::check_schema`], [`Self::check_pattern`]), so it
    /// cannot fail to compile later. The same location twice gives the same id.
    pub fn register(&mut self, location: &str) -> SchemaId {
        if let Some(&id) = self.ids.get(location) {
            return SchemaId(id);
        }
        let id = self.locations.len();
        self.locations.push(location.to_string());
        self.ids.insert(location.to_string(), id);
        SchemaId(id)
    }

    /// Whether `schema` is valid against the meta-schema of `dialect` (what compiling checks of
    /// each schema, besides its `$ref`s and regular expressions): one validation, no compiled
    /// schema kept. Sub-schemas are checked with it; a `$ref`'d one is not.
    pub fn check_schema(&mut self, dialect: Dialect, schema: &Value) -> Result<(), String> {
        let url = dialect.meta_schema();
        let meta = match self.meta_ids.get(url) {
            Some(&meta) => meta,
            None => {
                let meta = self
                    .lazy
                    .compiler
                    .compile(url, &mut self.meta)
                    .map_err(|e| compile_message(&e))?;
                self.meta_ids.insert(url, meta);
                meta
            }
        };
        self.meta.validate(schema, meta).map_err(|e| e.to_string())
    }

    /// Whether `pattern` compiles as the validator compiles `pattern` and `patternProperties`
    /// (ECMA-262 syntax, then the regex engine's limits); each distinct pattern is compiled once.
    pub fn check_pattern(&mut self, pattern: &str) -> Result<(), String> {
        if self.patterns.contains(pattern) {
            return Ok(());
        }
        let url = format!("urn:palisade:pattern:{}", self.patterns.len());
        // Straight to the compiler: it is no document of the set, and the planner never reads it.
        self.lazy
            .compiler
            .add_resource(&url, serde_json::json!({"pattern": pattern}))
            .map_err(|e| compile_message(&e))?;
        self.lazy
            .compiler
            .compile(&url, &mut Schemas::new())
            .map_err(|e| compile_message(&e))?;
        self.patterns.insert(pattern.to_string());
        Ok(())
    }

    /// The checked set.
    pub fn finish(mut self) -> SchemaSet {
        let mut plans = Plans::default();
        let mut nodes = 0;
        for batch in self.locations.chunks(PLAN_BATCH) {
            // The batch's schemas in the pieces document, with what they reach, for the planner.
            let closure = self.lazy.pieces.as_ref().map(|(url, pieces)| {
                let pointers: Vec<String> = batch
                    .iter()
                    .filter_map(|l| l.split_once('#'))
                    .filter(|(u, _)| u == url)
                    .filter_map(|(_, f)| crate::quick::pointer_of(f).map(|p| p.into_owned()))
                    .collect();
                (
                    url.clone(),
                    pieces.closure(pointers.iter().map(String::as_str), url),
                )
            });
            if let Some((url, doc)) = closure {
                self.docs.insert(url, doc);
            }
            let mut planner = Planner::new(
                &self.docs,
                self.dialect == Dialect::Draft2020,
                self.assert_formats,
            );
            planner.limit_nodes(MAX_NODES.saturating_sub(nodes));
            for location in batch {
                planner.add(location);
            }
            nodes = nodes.saturating_add(planner.nodes());
            plans.append(planner.finish());
            if let Some((url, _)) = &self.lazy.pieces {
                self.docs.remove(url);
            }
        }
        for (url, doc) in std::mem::take(&mut self.docs) {
            if !self.given.contains(&url) {
                // The URL was checked in `add_resource`.
                let _ = self.lazy.compiler.add_resource(&url, doc);
            }
        }
        SchemaSet {
            lazy: RefCell::new(self.lazy),
            locations: self.locations,
            plans,
        }
    }
}

/// Checked schemas, shared by every request, compiled on first use (at most
/// [`MAX_COMPILED_SCHEMAS`] kept compiled).
pub struct SchemaSet {
    lazy: RefCell<Lazy>,
    locations: Vec<String>,
    /// The quick path's plans ([`crate::quick`]).
    plans: Plans,
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
            .field("schemas", &self.locations.len())
            .field(
                "compiled",
                &self.lazy.try_borrow().map(|l| l.schemas.size()).ok(),
            )
            .finish()
    }
}

impl SchemaSet {
    /// Whether `bytes` is JSON within `limits` that schema `id` accepts, decided in one pass over
    /// the bytes ([`crate::quick`]). `false` means "take the full way" ([`crate::json::parse`],
    /// then [`Self::validate_capped`]), which decides: the body may still be valid.
    pub fn accepts_json(&self, id: SchemaId, bytes: &[u8], limits: &JsonLimits) -> bool {
        self.plans.accepts(id.0, bytes, limits)
    }

    /// Whether `value` (a parameter's reading, not a body) is valid against schema `id`, decided
    /// by the quick path over its JSON text; `false` means "ask [`Self::is_valid`]". The text
    /// serde_json writes for a value reads back as the same value, so this decides as the full
    /// way would (the quick path's differential tests compare exactly that).
    pub fn accepts_value(&self, id: SchemaId, value: &Value) -> bool {
        if !self.plans.covers(id.0) {
            return false;
        }
        let Ok(text) = serde_json::to_vec(value) else {
            return false;
        };
        self.plans.accepts(id.0, &text, &VALUE_LIMITS)
    }

    /// Turns the quick path off: [`Self::accepts_json`] answers `false` from now on, so every
    /// body takes the full way (for the differential fuzz target and tests; nothing is checked
    /// per request for it, the plans are simply dropped).
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn disable_quick_path(&mut self) {
        self.plans = Plans::default();
    }

    /// Whether `value` is valid against schema `id`.
    pub fn is_valid(&self, id: SchemaId, value: &Value) -> bool {
        self.with_compiled(id, true, |schemas, entry| match entry.negation {
            // The negation fails exactly when the schema holds; boon stops at its first failure.
            Some(negation) => schemas.validate(value, negation).is_err(),
            None => schemas.validate(value, entry.schema).is_ok(),
        })
        .unwrap_or(false)
    }

    /// `f` over schema `id`, compiled; `None` for an id of another set (or a schema that no
    /// longer compiles, which cannot be: every one compiled at configure time).
    fn with_compiled<R>(
        &self,
        id: SchemaId,
        negate: bool,
        f: impl FnOnce(&Schemas, Entry) -> R,
    ) -> Option<R> {
        let location = self.locations.get(id.0)?;
        let mut lazy = self.lazy.try_borrow_mut().ok()?;
        let entry = lazy.entry(id.0, location, negate).ok()?;
        Some(f(&lazy.schemas, entry))
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
        if self.with_compiled(id, false, |_, _| ()).is_none() {
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
        self.with_compiled(id, false, |schemas, entry| {
            if let Err(e) = schemas.validate(value, entry.schema) {
                collect(&e, &mut found);
                if found.total == 0 && blocked.is_none() {
                    found.keep(|| to_error(&e, "schema"));
                }
            }
        });
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
