//! JSON bodies parsed with limits against hostile input: nesting depth and number length are
//! checked on the raw bytes before parsing (so serde never recurses or parses past them), and
//! duplicate object keys, which serde_json silently resolves to the last one, can be refused.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

/// What to do with an object that repeats a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
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

/// Where the duplicate key is: found at the innermost object, then each enclosing array or
/// object adds its token while the error travels out, so the happy path allocates nothing extra.
#[derive(Default)]
struct Trail {
    /// Pointer tokens of the duplicate, innermost first; `None` while none was found.
    duplicate: RefCell<Option<Vec<String>>>,
}

impl Trail {
    fn found(&self, key: String) {
        *self.duplicate.borrow_mut() = Some(vec![key]);
    }

    /// Adds an enclosing token on the way out (only when the error is a duplicate).
    fn enclose(&self, token: impl FnOnce() -> String) {
        if let Some(tokens) = self.duplicate.borrow_mut().as_mut() {
            tokens.push(token());
        }
    }

    fn pointer(tokens: &[String]) -> String {
        tokens
            .iter()
            .rev()
            .map(|t| format!("/{}", t.replace('~', "~0").replace('/', "~1")))
            .collect()
    }
}

fn parse_rejecting_duplicates(bytes: &[u8]) -> Result<Value, JsonError> {
    let trail = Trail::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = ValueSeed { trail: &trail }
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| match trail.duplicate.borrow_mut().take() {
        Some(tokens) => {
            let pointer = Trail::pointer(&tokens);
            JsonError {
                detail: format!("the key at `{pointer}` appears more than once"),
                pointer,
                keyword: "duplicateKey",
            }
        }
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
            match seq.next_element_seed(ValueSeed { trail: self.trail }) {
                Ok(Some(v)) => items.push(v),
                Ok(None) => return Ok(Value::Array(items)),
                Err(e) => {
                    self.trail.enclose(|| items.len().to_string());
                    return Err(e);
                }
            }
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // One search of the object per key: the vacant entry is filled after the value.
            let slot = match object.entry(key) {
                Entry::Occupied(taken) => {
                    self.trail.found(taken.key().clone());
                    return Err(de::Error::custom("duplicate key"));
                }
                Entry::Vacant(slot) => slot,
            };
            match map.next_value_seed(ValueSeed { trail: self.trail }) {
                Ok(value) => {
                    slot.insert(value);
                }
                Err(e) => {
                    self.trail.enclose(|| slot.key().clone());
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
