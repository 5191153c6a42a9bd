//! Parameters arrive as strings; their schema says what they are. A [`TypeHint`] is read from
//! the schema once (following local `$ref`s), and each string is turned into the JSON value
//! the schema expects (`"42"` → `42` for an integer) before validation.

use serde_json::{Number, Value};

/// A JSON type named by `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonType {
    /// `string`
    String,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `boolean`
    Boolean,
    /// `null`
    Null,
    /// `array`
    Array,
    /// `object`
    Object,
}

impl JsonType {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "integer" => Self::Integer,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "null" => Self::Null,
            "array" => Self::Array,
            "object" => Self::Object,
            _ => return None,
        })
    }
}

/// What a schema says about the type of a value, its items and its properties.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TypeHint {
    /// Allowed types (empty: the schema does not say).
    pub types: Vec<JsonType>,
    /// The items' hint, for arrays.
    pub items: Option<Box<TypeHint>>,
    /// The properties' hints, for objects.
    pub properties: Vec<(String, TypeHint)>,
}

/// How deep hints follow `$ref`s and nested schemas (cycles end here).
const MAX_HINT_DEPTH: usize = 8;

impl TypeHint {
    /// Reads the hint of `schema`; `$ref`s of the form `#/...` resolve in `document`.
    pub fn from_schema(schema: &Value, document: &Value) -> Self {
        hint_at(schema, document, 0)
    }

    /// Whether the schema allows type `t`.
    pub fn allows(&self, t: JsonType) -> bool {
        self.types.contains(&t)
    }

    /// The hint of a property.
    pub fn property(&self, name: &str) -> Option<&TypeHint> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, h)| h)
    }

    /// Whether the value is an array (when the schema allows arrays).
    pub fn is_array(&self) -> bool {
        self.allows(JsonType::Array)
    }

    /// Whether the value is an object (when the schema allows objects and not arrays).
    pub fn is_object(&self) -> bool {
        self.allows(JsonType::Object) && !self.is_array()
    }
}

fn hint_at(schema: &Value, document: &Value, depth: usize) -> TypeHint {
    let mut hint = TypeHint::default();
    if depth > MAX_HINT_DEPTH {
        return hint;
    }
    let Some(obj) = schema.as_object() else {
        return hint;
    };
    if let Some(target) = obj
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| document.pointer(&decode_fragment(pointer)))
    {
        merge(&mut hint, hint_at(target, document, depth + 1));
    }
    match obj.get("type") {
        Some(Value::String(t)) => hint.types.extend(JsonType::parse(t)),
        Some(Value::Array(ts)) => hint.types.extend(
            ts.iter()
                .filter_map(Value::as_str)
                .filter_map(JsonType::parse),
        ),
        _ => {}
    }
    for combinator in ["allOf", "oneOf", "anyOf"] {
        for sub in obj
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            merge(&mut hint, hint_at(sub, document, depth + 1));
        }
    }
    if let Some(items) = obj.get("items").filter(|i| i.is_object()) {
        hint.items = Some(Box::new(hint_at(items, document, depth + 1)));
    }
    if let Some(props) = obj.get("properties").and_then(Value::as_object) {
        for (name, sub) in props {
            hint.properties
                .push((name.clone(), hint_at(sub, document, depth + 1)));
        }
    }
    hint
}

fn merge(into: &mut TypeHint, from: TypeHint) {
    for t in from.types {
        if !into.types.contains(&t) {
            into.types.push(t);
        }
    }
    if into.items.is_none() {
        into.items = from.items;
    }
    for (name, h) in from.properties {
        if into.property(&name).is_none() {
            into.properties.push((name, h));
        }
    }
}

/// `#/components/schemas/a%20b` → `/components/schemas/a b` (URI fragments are percent-encoded).
fn decode_fragment(fragment: &str) -> String {
    percent_encoding::percent_decode_str(fragment)
        .decode_utf8_lossy()
        .into_owned()
}

/// The value a parameter string stands for. A string stays a string when the schema allows
/// strings or when nothing else fits, so validation reports the mismatch.
pub fn coerce(raw: &str, hint: &TypeHint) -> Value {
    if hint.allows(JsonType::String) {
        return Value::String(raw.to_string());
    }
    let unknown = hint.types.is_empty();
    if unknown || hint.allows(JsonType::Integer) || hint.allows(JsonType::Number) {
        // serde_json skips surrounding whitespace; a parameter with it is not a number.
        if raw.trim() == raw {
            if let Ok(n) = serde_json::from_str::<Number>(raw) {
                return Value::Number(n);
            }
        }
    }
    if unknown || hint.allows(JsonType::Boolean) {
        match raw {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    if hint.allows(JsonType::Null) && (raw.is_empty() || raw == "null") {
        return Value::Null;
    }
    Value::String(raw.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hint(schema: Value) -> TypeHint {
        TypeHint::from_schema(&schema, &json!({}))
    }

    #[test]
    fn strings_become_the_declared_type() {
        assert_eq!(coerce("42", &hint(json!({"type":"integer"}))), json!(42));
        assert_eq!(
            coerce("-1.5e2", &hint(json!({"type":"number"}))),
            json!(-150.0)
        );
        assert_eq!(
            coerce("true", &hint(json!({"type":"boolean"}))),
            json!(true)
        );
        assert_eq!(coerce("42", &hint(json!({"type":"string"}))), json!("42"));
        assert_eq!(
            coerce("", &hint(json!({"type":["integer","null"]}))),
            json!(null)
        );
        assert_eq!(
            coerce("42", &hint(json!({"type":["string","integer"]}))),
            json!("42"),
            "strings stay strings when allowed"
        );
    }

    #[test]
    fn what_does_not_parse_stays_a_string_for_validation_to_report() {
        for raw in ["abc", "inf", "NaN", "0x10", "+1", "1_000", " 1"] {
            assert_eq!(
                coerce(raw, &hint(json!({"type":"integer"}))),
                json!(raw),
                "{raw}"
            );
        }
        assert_eq!(
            coerce("yes", &hint(json!({"type":"boolean"}))),
            json!("yes")
        );
    }

    #[test]
    fn without_a_type_numbers_and_booleans_are_guessed() {
        assert_eq!(coerce("7", &hint(json!({"enum":[7, 8]}))), json!(7));
        assert_eq!(coerce("false", &hint(json!({}))), json!(false));
        assert_eq!(coerce("x", &hint(json!({}))), json!("x"));
    }

    #[test]
    fn hints_follow_local_refs_combinators_items_and_properties() {
        let doc = json!({"components":{"schemas":{
            "Id":{"type":"integer"},
            "Filter":{"type":"object","properties":{"min":{"$ref":"#/components/schemas/Id"},"tag":{"type":"string"}}}
        }}});
        let h = TypeHint::from_schema(
            &json!({"type":"array","items":{"$ref":"#/components/schemas/Id"}}),
            &doc,
        );
        assert!(h.is_array());
        assert_eq!(h.items.as_deref().unwrap().types, vec![JsonType::Integer]);
        let h = TypeHint::from_schema(
            &json!({"allOf":[{"$ref":"#/components/schemas/Filter"}]}),
            &doc,
        );
        assert!(h.is_object());
        assert_eq!(h.property("min").unwrap().types, vec![JsonType::Integer]);
        assert_eq!(h.property("tag").unwrap().types, vec![JsonType::String]);
        let h = TypeHint::from_schema(
            &json!({"oneOf":[{"type":"integer"},{"type":"boolean"}]}),
            &doc,
        );
        assert_eq!(h.types, vec![JsonType::Integer, JsonType::Boolean]);
    }

    #[test]
    fn ref_cycles_end() {
        let doc = json!({"a":{"$ref":"#/b"},"b":{"$ref":"#/a"}});
        assert_eq!(
            TypeHint::from_schema(&json!({"$ref":"#/a"}), &doc),
            TypeHint::default()
        );
    }
}
