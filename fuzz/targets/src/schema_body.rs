//! JSON bodies: the pre-scan (depth and number-length limits, duplicate keys) and validation
//! against a fixed schema. Properties: what the pre-scan lets through is within its limits and
//! parses as serde_json parses it; a duplicate key's pointer names the key.

use crate::input::selector;
use palisade_schema::json::{parse, DuplicateKeys, JsonLimits};
use palisade_schema::validator::{Dialect, SchemaId, SchemaSet, SchemaSetBuilder};
use serde_json::Value;

/// An order-like document: nested objects and arrays, formats, patterns, combinators.
const SCHEMA: &str = r##"{
  "type": "object",
  "required": ["id", "items"],
  "additionalProperties": false,
  "properties": {
    "id": {"type": "string", "format": "uuid"},
    "email": {"type": "string", "format": "email"},
    "created": {"type": "string", "format": "date-time"},
    "note": {"type": "string", "maxLength": 64, "pattern": "^[^<>]*$"},
    "count": {"type": "integer", "format": "int32", "minimum": 0},
    "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.01},
    "tags": {"type": "array", "uniqueItems": true, "maxItems": 8, "items": {"enum": ["a", "b", "c"]}},
    "items": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/item"}},
    "meta": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"}, "maxProperties": 4,
             "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
    "payment": {"anyOf": [
      {"type": "object", "required": ["card"], "properties": {"card": {"type": "string", "pattern": "^[0-9]{12,19}$"}}},
      {"type": "object", "required": ["iban"], "properties": {"iban": {"type": "string", "minLength": 15}}}
    ]},
    "tree": {"$ref": "#/$defs/node"}
  },
  "$defs": {
    "item": {"type": "object", "required": ["sku", "qty"],
             "properties": {"sku": {"type": "string", "minLength": 1}, "qty": {"type": "integer", "minimum": 1, "maximum": 1000}},
             "dependentRequired": {"discount": ["coupon"]}},
    "node": {"type": "object", "properties": {"value": {"type": ["integer", "null"]},
             "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}
  }
}"##;

thread_local! {
    static COMPILED: (SchemaSet, SchemaId) = compile();
}

fn compile() -> (SchemaSet, SchemaId) {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, true);
    let schema: Value = serde_json::from_str(SCHEMA).expect("the fixed schema is JSON");
    b.add_resource("urn:palisade:fuzz:body", schema)
        .expect("the fixed schema loads");
    let id = b
        .compile("urn:palisade:fuzz:body")
        .expect("the fixed schema compiles");
    (b.finish(), id)
}

/// The depth of a value: a scalar is 0, `[]` and `{}` are 1.
fn depth(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// First byte: the limits; the rest: the body.
pub fn run(data: &[u8]) {
    let (knobs, body) = selector(data);
    let max_depth = usize::from(knobs & 0x0f) * 4 + 1;
    let max_number_length = usize::from(knobs >> 4) * 8 + 1;
    let limits = |duplicate_keys| JsonLimits {
        max_depth,
        max_number_length,
        duplicate_keys,
    };
    let strict = parse(body, &limits(DuplicateKeys::Reject));
    let lenient = parse(body, &limits(DuplicateKeys::LastWins));
    if let Ok(v) = &lenient {
        assert!(depth(v) <= max_depth, "depth {} > {max_depth}", depth(v));
        let plain: Value = serde_json::from_slice(body).expect("serde_json agrees it is JSON");
        assert_eq!(&plain, v);
    }
    match &strict {
        Ok(v) => assert_eq!(Some(v), lenient.as_ref().ok(), "strict and lenient differ"),
        // The strict parser stops at the first duplicate, so the rest may be malformed too.
        Err(e) if e.keyword == "duplicateKey" => {
            if let Ok(v) = &lenient {
                assert!(
                    v.pointer(&e.pointer).is_some(),
                    "duplicate key pointer `{}` names nothing",
                    e.pointer
                );
            }
        }
        Err(_) => {}
    }
    if let Ok(v) = lenient {
        COMPILED.with(|(set, id)| {
            let errors = set.validate(*id, &v);
            assert_eq!(errors.is_empty(), set.is_valid(*id, &v));
            for e in errors {
                assert!(!e.keyword.is_empty());
                assert!(
                    e.pointer.is_empty() || v.pointer(&e.pointer).is_some(),
                    "violation pointer `{}` names nothing",
                    e.pointer
                );
            }
        });
    }
}
