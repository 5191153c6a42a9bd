//! Reading an OpenAPI document without its prose: a string-valued `description` or `summary` is
//! left out as the document is parsed, so a large description never sits whole in memory (prose
//! is most of a real description's bytes, and a Wasm VM keeps the memory it ever used).
//!
//! Both are annotations wherever OpenAPI or JSON Schema puts them. A property, parameter or
//! header *named* `description` has an object as its value, so it stays; literal values
//! (`enum`, `const`, `default`, `example(s)`, `x-` extensions, a discriminator's `mapping`) are
//! kept exactly as written.

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::collections::BTreeMap;
use std::fmt;

/// Keys left out when their value is a string (outside literal values).
const PROSE: [&str; 2] = ["description", "summary"];

/// Keys whose value is taken literally.
const LITERAL: [&str; 6] = [
    "enum",
    "const",
    "default",
    "example",
    "examples",
    "discriminator",
];

/// A description as read: without prose, and its component schemas (`components.schemas`) apart,
/// each as JSON text with its annotations left out (issue 13: thousands of small schema objects
/// as `serde_json::Value`s cost several times their text in a Wasm VM, which keeps the most
/// memory it ever used; read this way, the large bench description's schemas never are all
/// `Value`s at once). [`LeanDocument::whole`] puts them back.
#[derive(Debug, Default)]
pub struct LeanDocument {
    /// The document; `components.schemas` is an empty object where `schemas` has its entries.
    pub doc: Value,
    /// `components.schemas`, by name (valid JSON: written from a `Value`).
    pub schemas: BTreeMap<String, Box<str>>,
    /// One of `schemas` has a key that changes how `$ref`s resolve (`$id`, `$anchor`, ...): the
    /// document is then compiled whole.
    pub base_keys: bool,
}

impl LeanDocument {
    /// The document with its component schemas in place.
    pub fn whole(self) -> Value {
        let LeanDocument {
            mut doc, schemas, ..
        } = self;
        if schemas.is_empty() {
            return doc;
        }
        if let Some(Value::Object(map)) = doc.pointer_mut("/components/schemas") {
            for (name, text) in schemas {
                // Written by `Top` from a `Value`.
                let value = serde_json::from_str(&text).unwrap_or(Value::Null);
                map.insert(name, value);
            }
        }
        doc
    }
}

impl From<Value> for LeanDocument {
    fn from(doc: Value) -> Self {
        LeanDocument {
            doc,
            schemas: BTreeMap::new(),
            base_keys: false,
        }
    }
}

/// `deserialize_with` for the `openapi` field.
pub fn document<'de, D: Deserializer<'de>>(de: D) -> Result<Option<LeanDocument>, D::Error> {
    let mut texts = Texts::default();
    let doc = Top {
        texts: &mut texts,
        level: Level::Root,
    }
    .deserialize(de)?;
    if doc.is_null() {
        return Ok(None);
    }
    Ok(Some(LeanDocument {
        doc,
        schemas: texts.schemas,
        base_keys: texts.base_keys,
    }))
}

/// What [`Top`] reads from `components.schemas`.
#[derive(Default)]
struct Texts {
    schemas: BTreeMap<String, Box<str>>,
    base_keys: bool,
}

/// Where [`Top`] reads in the document.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Level {
    /// The document's root, read as [`Lean`] reads it but for `components`.
    Root,
    /// `components`, read as [`Lean`] reads it but for `schemas`.
    Components,
    /// `components.schemas`: each entry read by [`Lean`], its annotations left out
    /// ([`crate::compact`]), then written as text into [`Texts`]; an empty object is left in the
    /// document. Anything but an object is read by [`Lean`].
    Schemas,
}

/// The document's top levels ([`Level`]): one visitor for the three, so the JSON reader is
/// compiled for one more visitor, not three (a module's size).
struct Top<'a> {
    texts: &'a mut Texts,
    level: Level,
}

impl<'de> DeserializeSeed<'de> for Top<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        LEAN.visit_bool(v)
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        LEAN.visit_i64(v)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        LEAN.visit_u64(v)
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        LEAN.visit_f64(v)
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        LEAN.visit_str(v)
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        LEAN.visit_string(v)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        LEAN.visit_unit()
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        LEAN.visit_none()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        self.deserialize(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        LEAN.visit_seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.level == Level::Schemas {
            while let Some(name) = map.next_key::<String>()? {
                let mut schema = map.next_value_seed(LEAN)?;
                crate::compact::strip_annotations(&mut schema);
                self.texts.base_keys =
                    self.texts.base_keys || crate::compact::has_base_keys(&schema);
                // Writing a `Value` as JSON cannot fail (its keys are strings).
                let text = serde_json::to_string(&schema).unwrap_or_default();
                self.texts.schemas.insert(name, text.into());
            }
            return Ok(Value::Object(Map::new()));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = match (self.level, key.as_str()) {
                (Level::Root, "components") => map.next_value_seed(Top {
                    texts: &mut *self.texts,
                    level: Level::Components,
                })?,
                (Level::Components, "schemas") => {
                    // A later `schemas` replaces an earlier one, as in a `Value`.
                    *self.texts = Texts::default();
                    map.next_value_seed(Top {
                        texts: &mut *self.texts,
                        level: Level::Schemas,
                    })?
                }
                _ => {
                    let literal = LITERAL.contains(&key.as_str()) || key.starts_with("x-");
                    map.next_value_seed(Lean { literal })?
                }
            };
            if value.is_string() && PROSE.contains(&key.as_str()) {
                continue;
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

const LEAN: Lean = Lean { literal: false };

/// A JSON value; prose left out unless `literal`.
#[derive(Clone, Copy)]
struct Lean {
    literal: bool,
}

impl<'de> DeserializeSeed<'de> for Lean {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lean {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Value, D::Error> {
        self.deserialize(de)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let literal = self.literal || LITERAL.contains(&key.as_str()) || key.starts_with("x-");
            let value = map.next_value_seed(Lean { literal })?;
            if !self.literal && value.is_string() && PROSE.contains(&key.as_str()) {
                continue;
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> Value {
        let mut de = serde_json::Deserializer::from_str(text);
        document(&mut de).unwrap().unwrap().whole()
    }

    #[test]
    fn prose_is_left_out_and_everything_else_kept() {
        let doc = read(
            r#"{"openapi": "3.0.3", "info": {"title": "t", "description": "long"},
                "paths": {"/x": {"summary": "s", "get": {"description": "d", "responses": {}}}},
                "components": {"schemas": {"A": {"type": "object", "description": "an A",
                    "properties": {"description": {"type": "string", "description": "its text"},
                                   "summary": {"type": "number", "minimum": 1.5}},
                    "required": ["description"]}}}}"#,
        );
        assert_eq!(
            doc,
            json!({"openapi": "3.0.3", "info": {"title": "t"},
                   "paths": {"/x": {"get": {"responses": {}}}},
                   "components": {"schemas": {"A": {"type": "object",
                       "properties": {"description": {"type": "string"},
                                      "summary": {"type": "number", "minimum": 1.5}},
                       "required": ["description"]}}}})
        );
    }

    #[test]
    fn literal_values_are_kept_as_written() {
        let text = r##"{"enum": [{"description": "a"}], "const": {"summary": "b"},
            "default": {"description": "c"}, "example": {"description": "d"},
            "examples": {"e": {"summary": "e", "value": {"description": "f"}}},
            "x-extra": {"description": "g"},
            "discriminator": {"propertyName": "kind", "mapping": {"description": "#/x"}},
            "n": [null, true, -1, 2, 0.5]}"##;
        assert_eq!(read(text), serde_json::from_str::<Value>(text).unwrap());
    }
}
