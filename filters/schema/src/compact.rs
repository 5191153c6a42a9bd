//! The part of an OpenAPI document that request validation reads, for the validator to keep:
//! the schemas of parameters and request bodies and what their `$ref`s reach (shared components
//! once, whatever the number of operations naming them), at their pointers in the document, with
//! the annotations the validator ignores (`description`, `example`, ...) left out. Responses,
//! prose and unused components (most of a real description's bytes) are not kept.
//!
//! A document with `$id`, `$anchor` or `$dynamicAnchor` anywhere (a `$ref` may then name a schema
//! by a URL rather than a pointer) is kept whole.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Annotations: keywords that never change whether a value is valid.
const ANNOTATIONS: [&str; 7] = [
    "description",
    "title",
    "example",
    "examples",
    "externalDocs",
    "xml",
    "$comment",
];

/// Keywords whose value is a map of schemas.
const SCHEMA_MAPS: [&str; 6] = [
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
    "dependencies",
];

/// Keywords whose value is a schema (or, for `items`, an array of schemas).
const SCHEMA_VALUES: [&str; 12] = [
    "items",
    "additionalItems",
    "additionalProperties",
    "not",
    "if",
    "then",
    "else",
    "contains",
    "propertyNames",
    "unevaluatedItems",
    "unevaluatedProperties",
    "contentSchema",
];

/// Keywords whose value is an array of schemas.
const SCHEMA_ARRAYS: [&str; 4] = ["allOf", "anyOf", "oneOf", "prefixItems"];

/// Keys that let a `$ref` name a schema by something other than its pointer.
const BASE_KEYS: [&str; 5] = ["$id", "id", "$anchor", "$dynamicAnchor", "$recursiveAnchor"];

/// The document reduced to the schemas at `roots` (JSON pointers) and what their local `$ref`s
/// reach, each at its pointer, annotations left out; `$schema` at the root is kept. Pointers that
/// do not resolve are left for the validator to report.
///
/// The kept schemas are moved out of `doc` (`null` is left in their place), not copied: a
/// description's schemas are most of what is left of it once read, and a Wasm VM keeps the most
/// memory it ever used. A document kept whole is copied.
pub fn request_document(doc: &mut Value, roots: &[String], doc_url: &str) -> Value {
    if has_base_keys(doc) {
        return doc.clone();
    }
    let mut out = Map::new();
    if let Some(schema) = doc.get("$schema") {
        out.insert("$schema".into(), schema.clone());
    }
    let mut out = Value::Object(out);
    each_kept(doc, roots, doc_url, |pointer, schema| {
        insert_at(&mut out, pointer, schema);
    });
    out
}

/// Moves the outermost schemas [`request_document`] keeps out of `doc`, annotations left out,
/// and hands each to `f` with its pointer.
fn each_kept(doc: &mut Value, roots: &[String], doc_url: &str, f: impl FnMut(&str, Value)) {
    let mut kept: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = roots.to_vec();
    while let Some(pointer) = todo.pop() {
        if kept.contains(&pointer) {
            continue;
        }
        let Some(value) = doc.pointer(&pointer) else {
            continue;
        };
        local_refs(value, doc_url, &mut todo);
        kept.insert(pointer);
    }
    move_outermost(doc, &kept, f);
}

/// The texts by component name again (for [`Pieces::take_split`]'s `Err`).
fn names_back(texts: BTreeMap<String, Box<str>>) -> BTreeMap<String, Box<str>> {
    texts
        .into_iter()
        .map(|(pointer, text)| {
            let name = pointer
                .strip_prefix("/components/schemas/")
                .unwrap_or(&pointer)
                .replace("~1", "/")
                .replace("~0", "~");
            (name, text)
        })
        .collect()
}

/// The entry of `texts` (by pointer) holding `pointer`: its own pointer and text.
fn piece_in<'t>(
    texts: &'t BTreeMap<String, Box<str>>,
    pointer: &str,
) -> Option<(&'t str, &'t str)> {
    let mut at = pointer;
    loop {
        if let Some((p, text)) = texts.get_key_value(at) {
            return Some((p.as_str(), text));
        }
        let i = at.rfind('/')?;
        at = at.get(..i)?;
    }
}

/// Moves the outermost of the `kept` pointers' schemas out of `doc`, annotations left out, and
/// hands each to `f` with its pointer.
fn move_outermost(doc: &mut Value, kept: &BTreeSet<String>, mut f: impl FnMut(&str, Value)) {
    let mut last: Option<&str> = None;
    // Sorted, a pointer comes right after its ancestors: only outermost ones are moved.
    for pointer in kept {
        let inside = |a: &str| {
            pointer
                .strip_prefix(a)
                .is_some_and(|rest| rest.starts_with('/'))
        };
        if last.is_some_and(inside) {
            continue;
        }
        last = Some(pointer);
        if let Some(value) = doc.pointer_mut(pointer) {
            let mut schema = std::mem::take(value);
            strip_annotations(&mut schema);
            f(pointer, schema);
        }
    }
}

/// What [`request_document`] keeps, as JSON text: one piece per outermost kept schema, by its
/// pointer (issue 13). A large description's request schemas are thousands of small objects,
/// which as `serde_json::Value`s cost several times their text (the large bench description's:
/// 9.4 MiB in a Wasm VM, against about 1 MB of text). A validator or a plan reads a schema from
/// [`Pieces::closure`]: the pieces it reaches, parsed into a document of their own.
#[derive(Debug, Default)]
pub struct Pieces {
    /// `$schema` at the document's root.
    schema: Option<Value>,
    /// Each kept schema's text, by its JSON pointer.
    texts: BTreeMap<String, Box<str>>,
    /// Every reference in the pieces is a plain `$ref` into the document (see
    /// [`refs_are_local`]).
    local: bool,
}

impl Pieces {
    /// The pieces of `doc` (see [`request_document`]), or `None` for a document that is kept
    /// whole (it has keys that change how a `$ref` resolves); `doc` is then untouched.
    pub fn take(doc: &mut Value, roots: &[String], doc_url: &str) -> Option<Self> {
        if has_base_keys(doc) {
            return None;
        }
        let mut pieces = Pieces {
            schema: doc.get("$schema").cloned(),
            texts: BTreeMap::new(),
            local: true,
        };
        each_kept(doc, roots, doc_url, |pointer, schema| {
            pieces.local = pieces.local && refs_walk(&schema, doc_url, false);
            // Writing a `Value` as JSON cannot fail (its keys are strings).
            let text = serde_json::to_string(&schema).unwrap_or_default();
            pieces.texts.insert(pointer.to_string(), text.into());
        });
        Some(pieces)
    }

    /// [`Self::take`] of a document whose `components.schemas` are apart, as text by name
    /// ([`crate::lean::LeanDocument`]): the texts the roots reach become pieces as they are.
    /// `Err` gives `texts` back, `doc` untouched, where that cannot be (a key that changes how
    /// `$ref`s resolve, or a root or reference that holds component schemas, such as
    /// `#/components/schemas` itself): put them back and [`Self::take`] the whole.
    pub fn take_split(
        doc: &mut Value,
        texts: BTreeMap<String, Box<str>>,
        roots: &[String],
        doc_url: &str,
    ) -> Result<Self, BTreeMap<String, Box<str>>> {
        if has_base_keys(doc) {
            return Err(texts);
        }
        let mut texts: BTreeMap<String, Box<str>> = texts
            .into_iter()
            .map(|(name, text)| {
                let pointer = format!(
                    "/components/schemas/{}",
                    name.replace('~', "~0").replace('/', "~1")
                );
                (pointer, text)
            })
            .collect();
        let holds_texts = |pointer: &str| {
            texts.keys().any(|t| {
                pointer.is_empty()
                    || t.strip_prefix(pointer)
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        let mut local = true;
        let mut kept: BTreeSet<String> = BTreeSet::new();
        let mut kept_texts: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = roots.to_vec();
        while let Some(pointer) = todo.pop() {
            if kept.contains(&pointer) {
                continue;
            }
            if let Some((at, text)) = piece_in(&texts, &pointer) {
                if kept_texts.insert(at.to_string()) {
                    // Written from a `Value` (`crate::lean`).
                    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
                    if has_base_keys(&value) {
                        return Err(names_back(texts));
                    }
                    local = local && refs_walk(&value, doc_url, false);
                    local_refs(&value, doc_url, &mut todo);
                }
                continue;
            }
            let Some(value) = doc.pointer(&pointer) else {
                continue;
            };
            if holds_texts(&pointer) {
                return Err(names_back(texts));
            }
            local_refs(value, doc_url, &mut todo);
            kept.insert(pointer);
        }
        let mut pieces = Pieces {
            schema: doc.get("$schema").cloned(),
            texts: BTreeMap::new(),
            local,
        };
        move_outermost(doc, &kept, |pointer, schema| {
            pieces.local = pieces.local && refs_walk(&schema, doc_url, false);
            let text = serde_json::to_string(&schema).unwrap_or_default();
            pieces.texts.insert(pointer.to_string(), text.into());
        });
        for at in kept_texts {
            if let Some(text) = texts.remove(&at) {
                pieces.texts.insert(at, text);
            }
        }
        Ok(pieces)
    }

    /// Whether every reference is a plain `$ref` into the document (see [`refs_are_local`]).
    pub fn refs_are_local(&self) -> bool {
        self.local
    }

    /// The bytes of text kept.
    pub fn text_bytes(&self) -> usize {
        self.texts.values().map(|t| t.len()).sum()
    }

    /// The piece holding `pointer`: its own pointer and text.
    fn piece_of(&self, pointer: &str) -> Option<(&str, &str)> {
        piece_in(&self.texts, pointer)
    }

    /// A document with the pieces holding `roots` (JSON pointers) and every piece their local
    /// `$ref`s reach, each at its pointer, and the root's `$schema`: what validating or planning
    /// those schemas reads (equal there to [`request_document`]'s).
    pub fn closure<'a>(&self, roots: impl IntoIterator<Item = &'a str>, doc_url: &str) -> Value {
        self.closure_except(roots, doc_url, |_| false)
    }

    /// [`Self::closure`] without following the pointers `done` tells (a caller that has read
    /// them, and what they reach, before).
    pub fn closure_except<'a>(
        &self,
        roots: impl IntoIterator<Item = &'a str>,
        doc_url: &str,
        done: impl Fn(&str) -> bool,
    ) -> Value {
        let mut out = Map::new();
        if let Some(schema) = &self.schema {
            out.insert("$schema".into(), schema.clone());
        }
        let mut out = Value::Object(out);
        let mut added: BTreeSet<&str> = BTreeSet::new();
        let mut todo: Vec<String> = roots.into_iter().map(str::to_string).collect();
        while let Some(pointer) = todo.pop() {
            if done(&pointer) {
                continue;
            }
            let Some((at, text)) = self.piece_of(&pointer) else {
                continue;
            };
            if !added.insert(at) {
                continue;
            }
            // The text was written from a `Value` by `take`.
            let Ok(value) = serde_json::from_str::<Value>(text) else {
                continue;
            };
            local_refs(&value, doc_url, &mut todo);
            insert_at(&mut out, at, value);
        }
        out
    }

    /// Every piece, as [`request_document`] would have kept them.
    pub fn document(&self, doc_url: &str) -> Value {
        self.closure(self.texts.keys().map(String::as_str), doc_url)
    }
}

/// Whether any object in `v` has a key that changes how `$ref`s resolve.
pub(crate) fn has_base_keys(v: &Value) -> bool {
    match v {
        Value::Object(map) => {
            BASE_KEYS
                .iter()
                .any(|k| map.get(*k).is_some_and(Value::is_string))
                || map.values().any(has_base_keys)
        }
        Value::Array(items) => items.iter().any(has_base_keys),
        _ => false,
    }
}

/// Whether every reference in `kept` (a [`request_document`]) is a plain `$ref` into the document
/// itself: no `$id`/`$anchor` (which change how references resolve), no `$ref` to another
/// resource, no `$dynamicRef`/`$recursiveRef`, no `$schema` below the root. Then what compiling
/// a schema checks is its meta-schema, its local `$ref`s and its regular expressions, which can
/// be checked without compiling it (see `openapi`). Literal values may make this `false` where
/// it need not be; that only costs a full compile.
pub fn refs_are_local(kept: &Value, doc_url: &str) -> bool {
    !has_base_keys(kept) && refs_walk(kept, doc_url, true)
}

/// [`refs_are_local`] but for keys that change how references resolve; `root`: `v` is the
/// document's root (where `$schema` may be).
fn refs_walk(v: &Value, doc_url: &str, root: bool) -> bool {
    match v {
        Value::Object(map) => {
            let local = match map.get("$ref") {
                Some(Value::String(r)) => {
                    r.starts_with('#')
                        || r.strip_prefix(doc_url).is_some_and(|f| f.starts_with('#'))
                }
                _ => true,
            };
            local
                && !(["$dynamicRef", "$recursiveRef"]
                    .iter()
                    .any(|k| map.contains_key(*k)))
                && (root || !map.contains_key("$schema"))
                && map.values().all(|m| refs_walk(m, doc_url, false))
        }
        Value::Array(items) => items.iter().all(|i| refs_walk(i, doc_url, false)),
        _ => true,
    }
}

/// Calls `f` with every regular expression of `schema` and of its sub-schemas (`pattern` values
/// and `patternProperties` names; only where schemas are, so a property called `pattern` is
/// not one).
pub fn each_pattern<E>(schema: &Value, f: &mut impl FnMut(&str) -> Result<(), E>) -> Result<(), E> {
    let Value::Object(obj) = schema else {
        return Ok(());
    };
    if let Some(Value::String(pattern)) = obj.get("pattern") {
        f(pattern)?;
    }
    if let Some(Value::Object(subs)) = obj.get("patternProperties") {
        for name in subs.keys() {
            f(name)?;
        }
    }
    for key in SCHEMA_MAPS {
        if let Some(Value::Object(subs)) = obj.get(key) {
            for sub in subs.values() {
                each_pattern(sub, f)?;
            }
        }
    }
    for key in SCHEMA_VALUES {
        match obj.get(key) {
            Some(Value::Array(subs)) => {
                for sub in subs {
                    each_pattern(sub, f)?;
                }
            }
            Some(sub) => each_pattern(sub, f)?,
            None => {}
        }
    }
    for key in SCHEMA_ARRAYS {
        if let Some(Value::Array(subs)) = obj.get(key) {
            for sub in subs {
                each_pattern(sub, f)?;
            }
        }
    }
    Ok(())
}

/// Every `$ref` in `v` that points into the document, as a JSON pointer (anywhere in `v`: a
/// `$ref`-named property only adds a pointer to keep).
pub fn local_refs(v: &Value, doc_url: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::String(r)) = map.get("$ref") {
                let fragment = r
                    .strip_prefix('#')
                    .or_else(|| r.strip_prefix(doc_url).and_then(|f| f.strip_prefix('#')));
                if let Some(fragment) = fragment {
                    let pointer =
                        percent_encoding::percent_decode_str(fragment).decode_utf8_lossy();
                    out.push(pointer.into_owned());
                }
            }
            map.values().for_each(|m| local_refs(m, doc_url, out));
        }
        Value::Array(items) => items.iter().for_each(|i| local_refs(i, doc_url, out)),
        _ => {}
    }
}

/// Leaves out the annotations of a schema and of its sub-schemas (only where schemas are, so a
/// property called `description` stays).
pub(crate) fn strip_annotations(schema: &mut Value) {
    let Value::Object(obj) = schema else {
        return;
    };
    for key in ANNOTATIONS {
        obj.remove(key);
    }
    for key in SCHEMA_MAPS {
        if let Some(Value::Object(subs)) = obj.get_mut(key) {
            subs.values_mut().for_each(strip_annotations);
        }
    }
    for key in SCHEMA_VALUES {
        match obj.get_mut(key) {
            Some(Value::Array(subs)) => subs.iter_mut().for_each(strip_annotations),
            Some(sub) => strip_annotations(sub),
            None => {}
        }
    }
    for key in SCHEMA_ARRAYS {
        if let Some(Value::Array(subs)) = obj.get_mut(key) {
            subs.iter_mut().for_each(strip_annotations);
        }
    }
}

/// Puts `value` at `pointer` in `root`, making the objects on the way (an array index becomes an
/// object key, which a JSON pointer resolves the same way).
fn insert_at(root: &mut Value, pointer: &str, value: Value) {
    let tokens: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect();
    let Some((last, path)) = tokens.split_last() else {
        *root = value;
        return;
    };
    let mut at = root;
    for token in path {
        let Value::Object(map) = at else { return };
        at = map
            .entry(token.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if let Value::Object(map) = at {
        map.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const URL: &str = "urn:test:doc";

    #[test]
    fn keeps_the_roots_and_what_they_reach_at_their_pointers() {
        let doc = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "info": {"title": "t", "description": "long prose"},
            "paths": {"/a/{id}": {"post": {
                "parameters": [{"name": "id", "in": "path", "schema": {"type": "string", "description": "d"}}],
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Unused"}}}}}
            }}},
            "components": {"schemas": {
                "A": {"type": "object", "description": "an A", "example": {"b": 1},
                      "properties": {"description": {"type": "string", "title": "x"},
                                     "b": {"$ref": "urn:test:doc#/components/schemas/B"}},
                      "enum": [{"description": "kept: a value"}]},
                "B": {"type": "integer", "minimum": 1, "examples": [1]},
                "Unused": {"type": "string"}
            }}
        });
        let roots = [
            "/paths/~1a~1{id}/post/parameters/0/schema".to_string(),
            "/paths/~1a~1{id}/post/requestBody/content/application~1json/schema".to_string(),
        ];
        let out = request_document(&mut doc.clone(), &roots, URL);
        assert_eq!(
            out,
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "paths": {"/a/{id}": {"post": {
                    "parameters": {"0": {"schema": {"type": "string"}}},
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}}
                }}},
                "components": {"schemas": {
                    "A": {"type": "object",
                          "properties": {"description": {"type": "string"},
                                         "b": {"$ref": "urn:test:doc#/components/schemas/B"}},
                          "enum": [{"description": "kept: a value"}]},
                    "B": {"type": "integer", "minimum": 1}
                }}
            })
        );
        for root in &roots {
            assert!(out.pointer(root).is_some(), "{root}");
        }
    }

    #[test]
    fn pieces_hold_what_the_compact_document_holds_and_a_closure_only_what_its_roots_reach() {
        let doc = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "paths": {"/a": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/A"}}}},
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string", "description": "d"}}]
            }}},
            "components": {"schemas": {
                "A": {"type": "object", "description": "an A",
                      "properties": {"b": {"$ref": "urn:test:doc#/components/schemas/B"},
                                     "n": {"type": "number", "multipleOf": 0.1, "maximum": 1e300}}},
                "B": {"type": "integer", "minimum": -9007199254740993_i64, "enum": [{"description": "v"}]},
                "C": {"type": "string"}
            }}
        });
        let body = "/paths/~1a/post/requestBody/content/application~1json/schema";
        let param = "/paths/~1a/post/parameters/0/schema";
        let roots = [body.to_string(), param.to_string()];
        let whole = request_document(&mut doc.clone(), &roots, URL);
        let pieces = Pieces::take(&mut doc.clone(), &roots, URL).unwrap();
        assert!(pieces.refs_are_local());
        assert_eq!(pieces.document(URL), whole);
        // The body's closure: its piece, A and B (the text read back as it was), not the parameter.
        let closure = pieces.closure([body], URL);
        assert_eq!(closure.pointer(body), whole.pointer(body));
        assert_eq!(
            closure.pointer("/components/schemas"),
            Some(&json!({"A": whole["components"]["schemas"]["A"],
                         "B": whole["components"]["schemas"]["B"]}))
        );
        assert_eq!(closure.pointer(param), None);
        assert_eq!(closure["$schema"], doc["$schema"]);
        // A pointer inside a piece finds it.
        let inner = pieces.closure(["/components/schemas/A/properties/n"], URL);
        assert_eq!(
            inner.pointer("/components/schemas/A/properties/n"),
            Some(&json!({"type": "number", "multipleOf": 0.1, "maximum": 1e300}))
        );
        // A document naming schemas by `$id` has no pieces; one with a foreign `$ref` is not local.
        let mut with_id = doc.clone();
        with_id["components"]["schemas"]["C"]["$id"] = json!("https://x/c.json");
        assert!(Pieces::take(&mut with_id.clone(), &roots, URL).is_none());
        let mut foreign = doc.clone();
        foreign["components"]["schemas"]["B"]["$ref"] = json!("https://x/b.json");
        assert!(!Pieces::take(&mut foreign, &roots, URL)
            .unwrap()
            .refs_are_local());
    }

    #[test]
    fn nested_and_cyclic_refs_are_kept_once_and_missing_ones_left_out() {
        let doc = json!({"components": {"schemas": {
            "Node": {"properties": {"next": {"$ref": "#/components/schemas/Node"},
                                    "leaf": {"$ref": "#/components/schemas/Node/properties/next"},
                                    "gone": {"$ref": "#/components/schemas/Missing"}}}
        }}});
        let out = request_document(&mut doc.clone(), &["/components/schemas/Node".into()], URL);
        assert_eq!(out, doc);
    }

    #[test]
    fn documents_naming_schemas_by_id_are_kept_whole() {
        let doc = json!({"components": {"schemas": {"A": {"$id": "https://x/a.json"}}},
                         "paths": {}, "info": {"description": "d"}});
        assert_eq!(request_document(&mut doc.clone(), &[], URL), doc);
    }
}
