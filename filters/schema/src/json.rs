//! JSON bodies parsed with limits against hostile input: nesting depth and number length are
//! checked on the raw bytes before parsing (so serde never recurses or parses past them), and
//! duplicate object keys, which serde_json silently resolves to the last one, can be refused.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// What to do with an object that repeats a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateKeys {
    /// Refuse the body: parsers disagree on which value counts (JSON smuggling).
    #[default]
    Reject,
    /// Keep the last value, as serde_json and most parsers do.
    LastWins,
}

/// Limits on a JSON body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonLimits {
    /// Deepest nesting of arrays and objects (the top-level value is depth 1).
    pub max_depth: usize,
    /// Longest number literal, in characters.
    pub max_number_length: usize,
    /// Duplicate key policy.
    pub duplicate_keys: DuplicateKeys,
}

/// Why a body is not acceptable JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// JSON pointer where it went wrong, when known.
    pub pointer: String,
    /// `syntax`, `maxDepth`, `maxNumberLength` or `duplicateKey`.
    pub keyword: &'static str,
    /// What is wrong.
    pub detail: String,
}

/// Parses a body within `limits`.
pub fn parse(bytes: &[u8], limits: &JsonLimits) -> Result<Value, JsonError> {
    check_shape(bytes, limits)?;
    match limits.duplicate_keys {
        DuplicateKeys::LastWins => serde_json::from_slice(bytes).map_err(syntax_error),
        DuplicateKeys::Reject => parse_rejecting_duplicates(bytes),
    }
}

fn syntax_error(e: serde_json::Error) -> JsonError {
    JsonError {
        pointer: String::new(),
        keyword: "syntax",
        detail: e.to_string(),
    }
}

/// One pass over the bytes: nesting depth and number lengths, outside strings.
fn check_shape(bytes: &[u8], limits: &JsonLimits) -> Result<(), JsonError> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut number_run = 0usize;
    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
            continue;
        }
        if matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
            number_run += 1;
            if number_run > limits.max_number_length {
                return Err(JsonError {
                    pointer: String::new(),
                    keyword: "maxNumberLength",
                    detail: format!(
                        "a number is longer than {} characters",
                        limits.max_number_length
                    ),
                });
            }
            continue;
        }
        number_run = 0;
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limits.max_depth {
                    return Err(JsonError {
                        pointer: String::new(),
                        keyword: "maxDepth",
                        detail: format!("nesting is deeper than {}", limits.max_depth),
                    });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// The path being parsed, and the duplicate found (serde errors are strings; this keeps the kind).
#[derive(Default)]
struct Trail {
    path: RefCell<Vec<String>>,
    duplicate: RefCell<Option<String>>,
}

impl Trail {
    fn pointer_with(&self, last: &str) -> String {
        let path = self.path.borrow();
        let mut pointer = String::new();
        for token in path.iter().map(String::as_str).chain(std::iter::once(last)) {
            pointer.push('/');
            pointer.push_str(&token.replace('~', "~0").replace('/', "~1"));
        }
        pointer
    }
}

fn parse_rejecting_duplicates(bytes: &[u8]) -> Result<Value, JsonError> {
    let trail = Trail::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { trail: &trail }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| match trail.duplicate.borrow_mut().take() {
        Some(pointer) => JsonError {
            detail: format!("the key at `{pointer}` appears more than once"),
            pointer,
            keyword: "duplicateKey",
        },
        None => syntax_error(e),
    })
}

struct ValueSeed<'t> {
    trail: &'t Trail,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
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

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        loop {
            self.trail.path.borrow_mut().push(items.len().to_string());
            let next = seq.next_element_seed(ValueSeed { trail: self.trail });
            self.trail.path.borrow_mut().pop();
            match next? {
                Some(v) => items.push(v),
                None => return Ok(Value::Array(items)),
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.trail.duplicate.borrow_mut() = Some(self.trail.pointer_with(&key));
                return Err(de::Error::custom("duplicate key"));
            }
            self.trail.path.borrow_mut().push(key.clone());
            let value = map.next_value_seed(ValueSeed { trail: self.trail });
            self.trail.path.borrow_mut().pop();
            object.insert(key, value?);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
