//! The part of an OpenAPI document that request validation reads, for the validator to keep:
//! the schemas of parameters and request bodies and what their `$ref`s reach (shared components
//! once, whatever the number of operations naming them), at their pointers in the document, with
//! the annotations the validator ignores (`description`, `example`, ...) left out. Responses,
//! prose and unused components (most of a real description's bytes) are not kept.
//!
//! A document with `$id`, `$anchor` or `$dynamicAnchor` anywhere (a `$ref` may then name a schema
//! by a URL rather than a pointer) is kept whole.

use serde_json::{Map, Value};
use std::collections::BTreeSet;

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
    let mut out = Map::new();
    if let Some(schema) = doc.get("$schema") {
        out.insert("$schema".into(), schema.clone());
    }
    let mut out = Value::Object(out);
    let mut last: Option<&str> = None;
    // Sorted, a pointer comes right after its ancestors: only outermost ones are copied.
    for pointer in &kept {
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
            insert_at(&mut out, pointer, schema);
        }
    }
    out
}

/// Whether any object in `v` has a key that changes how `$ref`s resolve.
fn has_base_keys(v: &Value) -> bool {
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
    fn walk(v: &Value, doc_url: &str, root: bool) -> bool {
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
                    && map.values().all(|m| walk(m, doc_url, false))
            }
            Value::Array(items) => items.iter().all(|i| walk(i, doc_url, false)),
            _ => true,
        }
    }
    !has_base_keys(kept) && walk(kept, doc_url, true)
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
fn strip_annotations(schema: &mut Value) {
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
