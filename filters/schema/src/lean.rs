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

/// `deserialize_with` for the `openapi` field.
pub fn document<'de, D: Deserializer<'de>>(de: D) -> Result<Option<Value>, D::Error> {
    let doc = Lean { literal: false }.deserialize(de)?;
    Ok((!doc.is_null()).then_some(doc))
}

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

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
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
        document(&mut de).unwrap().unwrap()
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
