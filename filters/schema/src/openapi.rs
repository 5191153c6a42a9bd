//! An OpenAPI 3.0 or 3.1 document (JSON) compiled into [`ApiRoutes`]: every operation with its
//! parameters and request body, their schemas compiled from the document itself (so
//! `#/components/...` references resolve as written).

use crate::coerce::TypeHint;
use crate::compact;
use crate::dialect30;
use crate::form::FormSpec;
use crate::lean::LeanDocument;
use crate::media::{is_json_essence, MediaRange};
use crate::operation::{ApiRoutes, BodySpec, Operation, PathItem, FORM_URLENCODED};
use crate::params::{ParamCheck, ParamSpec, Style};
use crate::path_template::PathTemplate;
use crate::validator::{Dialect, SchemaId, SchemaSetBuilder};
use crate::violation::Location;
use palisade_core::config::ConfigError;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashSet};
use std::rc::Rc;

/// The URL the document is known by to the validator.
pub const DOC_URL: &str = "urn:palisade:openapi";

/// The OpenAPI 3.1 base dialect: 2020-12 plus annotations the validator ignores.
const OAS_31_DIALECT: &str = "https://spec.openapis.org/oas/3.1/dialect/base";

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// JSON-pointer tokens go into a URL fragment: keep `/` and unreserved characters.
const FRAGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// How the document is compiled.
#[derive(Debug, Clone, Copy)]
pub struct ApiOptions<'a> {
    /// Base path; `None` takes it from the first `servers` entry.
    pub base_path: Option<&'a str>,
    /// Body limit of operations without their own.
    pub default_max_body: usize,
    /// Body limits by `operationId`.
    pub max_body_by_operation: &'a BTreeMap<String, usize>,
}

/// Compiles a document; errors name the field under `openapi`.
pub fn compile(
    doc: Value,
    builder: &mut SchemaSetBuilder,
    options: ApiOptions<'_>,
) -> Result<ApiRoutes, ConfigError> {
    compile_lean(LeanDocument::from(doc), builder, options)
}

/// [`compile`] of a document as [`crate::lean`] reads it (its component schemas apart, as text).
pub fn compile_lean(
    lean: LeanDocument,
    builder: &mut SchemaSetBuilder,
    options: ApiOptions<'_>,
) -> Result<ApiRoutes, ConfigError> {
    let at = |path: &str, reason: String| ConfigError::at(path, reason).within("openapi");
    let LeanDocument {
        mut doc,
        schemas: mut texts,
        base_keys,
    } = lean;
    let version = doc
        .get("openapi")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let dialect = if version.starts_with("3.0.") {
        dialect30::translate_document(&mut doc);
        for text in texts.values_mut() {
            // Each was written from a `Value` (`crate::lean`).
            if let Ok(mut schema) = serde_json::from_str::<Value>(text) {
                dialect30::translate_schema(&mut schema);
                *text = serde_json::to_string(&schema).unwrap_or_default().into();
            }
        }
        Dialect::Draft7
    } else if version.starts_with("3.1.") {
        match doc.get("jsonSchemaDialect").and_then(Value::as_str) {
            None | Some(OAS_31_DIALECT) => Dialect::Draft2020,
            Some(url) if url.starts_with("https://json-schema.org/draft/2020-12/schema") => {
                Dialect::Draft2020
            }
            Some(url) if url.starts_with("http://json-schema.org/draft-07/schema") => {
                Dialect::Draft7
            }
            Some(url) => {
                return Err(at(
                    "jsonSchemaDialect",
                    format!("unsupported dialect `{url}`"),
                ))
            }
        }
    } else {
        return Err(at(
            "openapi",
            format!("version `{version}` is not 3.0.x or 3.1.x"),
        ));
    };
    if let Some(obj) = doc.as_object_mut() {
        // The document's schemas take their dialect from its root.
        obj.insert("$schema".into(), json!(dialect.meta_schema()));
    }
    // First the schemas' pointers, then only what they need is given to the validator.
    let mut recorder = DocCompiler {
        doc: &doc,
        schemas: Schemas::Whole(&doc),
        builder: None,
        check: None,
        options,
        seen_ids: Vec::new(),
        pointers: Vec::new(),
    };
    walk_paths(&mut recorder)?;
    let pointers = std::mem::take(&mut recorder.pointers);
    // Resources given in config (`schemas`) may name the document's schemas: the validator then
    // has it whole, as a `Value`.
    let alone = builder.is_empty();
    // The schemas move out of the document, as text where their references are all local (the
    // validator and the plans read the few each schema reaches, when they need them), else into
    // one `Value` the validator compiles whole.
    let mut split = None;
    if alone && !base_keys && !texts.is_empty() {
        match compact::Pieces::take_split(&mut doc, std::mem::take(&mut texts), &pointers, DOC_URL)
        {
            Ok(pieces) => split = Some(pieces),
            Err(back) => texts = back,
        }
    }
    let (kept, pieces) = match split {
        Some(pieces) if pieces.refs_are_local() => (None, Some(pieces)),
        Some(pieces) => (Some(pieces.document(DOC_URL)), None),
        None => {
            let mut doc_whole = LeanDocument {
                doc: std::mem::take(&mut doc),
                schemas: std::mem::take(&mut texts),
                base_keys,
            }
            .whole();
            let out = match compact::Pieces::take(&mut doc_whole, &pointers, DOC_URL) {
                Some(pieces) if alone && pieces.refs_are_local() => (None, Some(pieces)),
                Some(pieces) => (Some(pieces.document(DOC_URL)), None),
                None => (
                    Some(compact::request_document(
                        &mut doc_whole,
                        &pointers,
                        DOC_URL,
                    )),
                    None,
                ),
            };
            doc = doc_whole;
            out
        }
    };
    drop(pointers);
    builder
        .add_resource(OAS_31_DIALECT, oas_dialect_meta_schema())
        .map_err(|e| at("", e))?;
    // Compiling every schema to find the bad ones took most of configure (and twice: Envoy
    // configures a canary VM first); where references are plain, checking is much cheaper.
    let cheap = kept
        .as_ref()
        .is_none_or(|kept| compact::refs_are_local(kept, DOC_URL));
    if let (Some(kept), false) = (&kept, cheap) {
        builder
            .add_resource(DOC_URL, kept.clone())
            .map_err(|e| at("", e))?;
    }
    let base_path = match options.base_path {
        Some(p) => p.trim_end_matches('/').to_string(),
        None => server_base_path(&doc),
    };
    let schemas = match (&kept, &pieces) {
        (Some(kept), _) => Schemas::Whole(kept),
        (None, Some(pieces)) => Schemas::Pieces(pieces),
        (None, None) => Schemas::Whole(&doc),
    };
    let mut compiler = DocCompiler {
        doc: &doc,
        schemas,
        builder: Some(builder),
        check: cheap.then(|| Check {
            schemas,
            dialect,
            checked: HashSet::new(),
        }),
        options,
        seen_ids: Vec::new(),
        pointers: Vec::new(),
    };
    let paths = walk_paths(&mut compiler)?;
    for id in options.max_body_by_operation.keys() {
        if !compiler.seen_ids.contains(id) {
            return Err(
                ConfigError::at(id.as_str(), "no operation has this operationId")
                    .within("operations"),
            );
        }
    }
    drop(compiler);
    drop(doc);
    match (kept, pieces) {
        (Some(kept), _) if cheap => builder.add_resource(DOC_URL, kept).map_err(|e| at("", e))?,
        (None, Some(pieces)) => builder.add_pieces(DOC_URL, pieces).map_err(|e| at("", e))?,
        _ => {}
    }
    Ok(ApiRoutes::new(base_path, paths))
}

/// The path items of the document, in its order.
fn walk_paths(compiler: &mut DocCompiler<'_, '_>) -> Result<Vec<PathItem>, ConfigError> {
    let at = |path: &str, reason: String| ConfigError::at(path, reason).within("openapi");
    let mut paths = Vec::new();
    let items = compiler.doc.get("paths").and_then(Value::as_object);
    for (template, item) in items.into_iter().flatten() {
        let field = format!("paths.{template}");
        let template_parsed = PathTemplate::parse(template).map_err(|e| at(&field, e))?;
        let pointer = format!("/paths/{}", escape_token(template));
        paths.push(
            compiler
                .path_item(template_parsed, &pointer, item)
                .map_err(|e| e.within(&field).within("openapi"))?,
        );
    }
    Ok(paths)
}

/// Where the schemas are read (type hints, checks): the document, the compact document they
/// were moved to, or its pieces of text.
#[derive(Clone, Copy)]
enum Schemas<'d> {
    Whole(&'d Value),
    Pieces(&'d compact::Pieces),
}

impl Schemas<'_> {
    /// `f` over the schema at `pointer` (`None` where there is none) and the document it is in.
    fn with<R>(self, pointer: &str, f: impl FnOnce(Option<&Value>, &Value) -> R) -> R {
        match self {
            Schemas::Whole(doc) => f(doc.pointer(pointer), doc),
            Schemas::Pieces(pieces) => {
                let doc = pieces.closure([pointer], DOC_URL);
                f(doc.pointer(pointer), &doc)
            }
        }
    }
}

struct DocCompiler<'d, 'b> {
    doc: &'d Value,
    /// Where the schemas are read (for type hints).
    schemas: Schemas<'d>,
    /// `None`: only record the schemas' pointers (in `pointers`).
    builder: Option<&'b mut SchemaSetBuilder>,
    /// `Some`: schemas are checked (not compiled) against the document the validator gets.
    check: Option<Check<'d>>,
    options: ApiOptions<'d>,
    seen_ids: Vec<String>,
    pointers: Vec<String>,
}

impl DocCompiler<'_, '_> {
    fn path_item(
        &mut self,
        template: PathTemplate,
        pointer: &str,
        item: &Value,
    ) -> Result<PathItem, ConfigError> {
        let (pointer, item) =
            resolve(self.doc, pointer.to_string(), item).map_err(|e| ConfigError::at("", e))?;
        let shared = self
            .parameters(&pointer, item)
            .map_err(|e| e.within("parameters"))?;
        let mut operations = Vec::new();
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let op_pointer = format!("{pointer}/{method}");
            let operation = self
                .operation(&template, method, &op_pointer, op, &shared)
                .map_err(|e| e.within(method))?;
            operations.push((method.to_ascii_uppercase(), operation));
        }
        Ok(PathItem {
            template,
            operations,
        })
    }

    fn operation(
        &mut self,
        template: &PathTemplate,
        method: &str,
        pointer: &str,
        op: &Value,
        shared: &[ParamSpec],
    ) -> Result<Operation, ConfigError> {
        let id = match op.get("operationId").and_then(Value::as_str) {
            Some(id) => {
                self.seen_ids.push(id.to_string());
                id.to_string()
            }
            None => format!("{} {}", method.to_ascii_uppercase(), template.as_str()),
        };
        let own = self
            .parameters(pointer, op)
            .map_err(|e| e.within("parameters"))?;
        // Operation parameters override path-level ones of the same name and location.
        let mut params: Vec<ParamSpec> = shared
            .iter()
            .filter(|s| {
                !own.iter()
                    .any(|o| o.name == s.name && o.location == s.location)
            })
            .cloned()
            .collect();
        params.extend(own);
        let body = match op.get("requestBody") {
            Some(b) => Some(
                self.body(&format!("{pointer}/requestBody"), b)
                    .map_err(|e| e.within("requestBody"))?,
            ),
            None => None,
        };
        let max_body_bytes = self
            .options
            .max_body_by_operation
            .get(&id)
            .copied()
            .unwrap_or(self.options.default_max_body);
        Ok(Operation {
            id,
            params,
            body,
            max_body_bytes,
        })
    }

    fn parameters(&mut self, pointer: &str, owner: &Value) -> Result<Vec<ParamSpec>, ConfigError> {
        let mut specs = Vec::new();
        let list = owner.get("parameters").and_then(Value::as_array);
        for (i, param) in list.into_iter().flatten().enumerate() {
            let p = format!("{pointer}/parameters/{i}");
            if let Some(spec) = self
                .parameter(p, param)
                .map_err(|e| e.within(&format!("[{i}]")))?
            {
                specs.push(spec);
            }
        }
        Ok(specs)
    }

    fn parameter(
        &mut self,
        pointer: String,
        param: &Value,
    ) -> Result<Option<ParamSpec>, ConfigError> {
        let (pointer, param) =
            resolve(self.doc, pointer, param).map_err(|e| ConfigError::at("", e))?;
        let name = param
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| ConfigError::at("name", "a parameter needs a name"))?;
        let location = match param.get("in").and_then(Value::as_str) {
            Some("path") => Location::Path,
            Some("query") => Location::Query,
            Some("header") => Location::Header,
            Some("cookie") => Location::Cookie,
            other => {
                return Err(ConfigError::at(
                    "in",
                    format!(
                        "`{}` is not path, query, header or cookie",
                        other.unwrap_or("")
                    ),
                ))
            }
        };
        let name = if location == Location::Header {
            let lower = name.to_ascii_lowercase();
            // OpenAPI: these header parameters are ignored (they are described elsewhere).
            if matches!(lower.as_str(), "accept" | "content-type" | "authorization") {
                return Ok(None);
            }
            lower
        } else {
            name.to_string()
        };
        let required = location == Location::Path
            || param
                .get("required")
                .and_then(Value::as_bool)
                .unwrap_or(false);
        let check = if let Some(content) = param.get("content").and_then(Value::as_object) {
            let (media, media_obj) = content
                .iter()
                .next()
                .ok_or_else(|| ConfigError::at("content", "`content` needs one media type"))?;
            if !is_json_essence(media.split(';').next().unwrap_or("").trim()) {
                return Err(ConfigError::at(
                    "content",
                    format!("only JSON parameter content is supported, not `{media}`"),
                ));
            }
            let schema = match media_obj.get("schema") {
                Some(_) => Some(self.compile_at(
                    &format!("{pointer}/content/{}/schema", escape_token(media)),
                    "content",
                )?),
                None => None,
            };
            ParamCheck::Json { schema }
        } else {
            let style = match param.get("style").and_then(Value::as_str) {
                Some(s) => Style::parse(s, location).map_err(|e| ConfigError::at("style", e))?,
                None => Style::default_for(location),
            };
            let explode = param
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(style == Style::Form);
            let (schema, hint) = match param.get("schema") {
                Some(_) => {
                    let at = format!("{pointer}/schema");
                    let hint = self.hint_at(&at);
                    (Some(self.compile_at(&at, "schema")?), hint)
                }
                None => (None, TypeHint::default()),
            };
            ParamCheck::Styled {
                schema,
                hint,
                style,
                explode,
            }
        };
        Ok(Some(ParamSpec {
            name,
            location,
            required,
            check,
        }))
    }

    fn body(&mut self, pointer: &str, body: &Value) -> Result<BodySpec, ConfigError> {
        let (pointer, body) =
            resolve(self.doc, pointer.to_string(), body).map_err(|e| ConfigError::at("", e))?;
        let required = body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut media = Vec::new();
        let mut form = None;
        for (key, media_obj) in body
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let field = format!("content.{key}");
            let range = MediaRange::parse(key).map_err(|e| ConfigError::at(&field, e))?;
            let at = format!("{pointer}/content/{}/schema", escape_token(key));
            if range.essence() == FORM_URLENCODED && media_obj.get("schema").is_some() {
                form = Some(Rc::new(self.form_spec(&at, media_obj, &field)?));
            }
            let schema = match media_obj.get("schema") {
                Some(_) => Some(self.compile_at(&at, &format!("{field}.schema"))?),
                None => None,
            };
            media.push((range, schema));
        }
        Ok(BodySpec {
            required,
            media,
            form,
        })
    }

    /// A urlencoded body's reading: its schema's types and `encoding` (style, explode).
    fn form_spec(
        &self,
        schema: &str,
        media_obj: &Value,
        field: &str,
    ) -> Result<FormSpec, ConfigError> {
        let mut encoding = Vec::new();
        for (name, enc) in media_obj
            .get("encoding")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let at = format!("{field}.encoding.{name}");
            let style = match enc.get("style").and_then(Value::as_str) {
                Some(s) => Style::parse(s, Location::Query)
                    .map_err(|e| ConfigError::at(format!("{at}.style"), e))?,
                None => Style::Form,
            };
            let explode = enc
                .get("explode")
                .and_then(Value::as_bool)
                .unwrap_or(style == Style::Form);
            encoding.push((name.clone(), style, explode));
        }
        Ok(FormSpec {
            hint: self.hint_at(schema),
            encoding,
        })
    }

    /// The type hint of the schema at `pointer`.
    fn hint_at(&self, pointer: &str) -> TypeHint {
        self.schemas.with(pointer, |schema, doc| match schema {
            Some(schema) => TypeHint::from_schema(schema, doc),
            None => TypeHint::default(),
        })
    }

    fn compile_at(&mut self, pointer: &str, field: &str) -> Result<SchemaId, ConfigError> {
        let Some(builder) = self.builder.as_deref_mut() else {
            self.pointers.push(pointer.to_string());
            return Ok(SchemaId::RECORDED);
        };
        let location = format!("{DOC_URL}#{}", utf8_percent_encode(pointer, FRAGMENT));
        match self.check.as_mut() {
            Some(check) => {
                check
                    .reach(builder, pointer)
                    .map_err(|e| ConfigError::at(field, e))?;
                Ok(builder.register(&location))
            }
            None => builder
                .compile(&location)
                .map_err(|e| ConfigError::at(field, e)),
        }
    }
}

/// What compiling a schema of a document whose references are all local checks, without
/// compiling it: each schema it reaches (itself and its `$ref`s' targets, each once per
/// document) is valid against the dialect's meta-schema, every `$ref` resolves, and every
/// regular expression compiles. The validator then compiles schemas on first use only.
struct Check<'d> {
    /// What the validator gets ([`compact::request_document`] or [`compact::Pieces`]).
    schemas: Schemas<'d>,
    dialect: Dialect,
    /// Pointers already checked.
    checked: HashSet<String>,
}

impl Check<'_> {
    fn reach(&mut self, builder: &mut SchemaSetBuilder, pointer: &str) -> Result<(), String> {
        if self.checked.contains(pointer) {
            return Ok(());
        }
        match self.schemas {
            Schemas::Whole(kept) => self.reach_in(kept, builder, pointer),
            Schemas::Pieces(pieces) => {
                // Only the pieces of pointers not checked yet (the shared components once).
                let checked = &self.checked;
                let kept = pieces.closure_except([pointer], DOC_URL, |p| checked.contains(p));
                self.reach_in(&kept, builder, pointer)
            }
        }
    }

    /// [`Self::reach`] in `kept` (the document, or the pieces `pointer` reaches).
    fn reach_in(
        &mut self,
        kept: &Value,
        builder: &mut SchemaSetBuilder,
        pointer: &str,
    ) -> Result<(), String> {
        let mut todo = vec![pointer.to_string()];
        while let Some(pointer) = todo.pop() {
            if self.checked.contains(&pointer) {
                continue;
            }
            let location = format!("{DOC_URL}#{}", utf8_percent_encode(&pointer, FRAGMENT));
            let schema = kept
                .pointer(&pointer)
                .ok_or_else(|| format!("`$ref` to `{location}`: it does not exist"))?;
            builder
                .check_schema(self.dialect, schema)
                .map_err(|e| format!("`{location}` is not a valid schema: {e}"))?;
            compact::each_pattern(schema, &mut |p| {
                builder
                    .check_pattern(p)
                    .map_err(|e| format!("`{location}`: {e}"))
            })?;
            compact::local_refs(schema, DOC_URL, &mut todo);
            self.checked.insert(pointer);
        }
        Ok(())
    }
}

/// Follows local `$ref`s (`#/components/...`) to the object they name, with its pointer.
fn resolve<'d>(
    doc: &'d Value,
    mut pointer: String,
    mut value: &'d Value,
) -> Result<(String, &'d Value), String> {
    for _ in 0..16 {
        let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
            return Ok((pointer, value));
        };
        let target = reference.strip_prefix('#').ok_or_else(|| {
            format!("`{reference}`: only references inside the document are supported here")
        })?;
        pointer = percent_encoding::percent_decode_str(target)
            .decode_utf8_lossy()
            .into_owned();
        value = doc
            .pointer(&pointer)
            .ok_or_else(|| format!("`{reference}` does not exist"))?;
    }
    Err("`$ref` chain too long (or a cycle)".into())
}

fn escape_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The path of the first server URL (`https://api.example.com/v1/` → `/v1`), variables set to
/// their defaults.
fn server_base_path(doc: &Value) -> String {
    let Some(server) = doc.pointer("/servers/0") else {
        return String::new();
    };
    let mut url = server
        .get("url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    for (name, var) in server
        .get("variables")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let default = var.get("default").and_then(Value::as_str).unwrap_or("");
        url = url.replace(&format!("{{{name}}}"), default);
    }
    let path = match url.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or(""),
        None => url.as_str(),
    };
    path.trim_end_matches('/').to_string()
}

/// A stand-in for the OAS 3.1 base dialect meta-schema, so schemas that name it need no fetch.
fn oas_dialect_meta_schema() -> Value {
    json!({
        "$id": OAS_31_DIALECT,
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$dynamicAnchor": "meta",
        "allOf": [{"$ref": "https://json-schema.org/draft/2020-12/schema"}]
    })
}

#[cfg(test)]
#[path = "openapi_tests.rs"]
mod tests;
