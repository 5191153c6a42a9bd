//! Compact JSON text of a [`serde_json::Value`], written as serde_json writes it, without its
//! serializer: problem bodies ([`crate::Problem::to_body`]), claim key texts
//! ([`crate::identity::VerifiedIdentity::claim_text`]) and the numbers of config error messages.
//!
//! Why (issue 13, module size): serde_json writes a float with zmij, whose code and tables are
//! about 20 KB of Wasm, in every module that writes a `Value` or words a config error about a
//! float, though only a schema violation's instance or a claim can hold one. A float is written
//! by [`palisade_json_text::write_f64`] (compiled for size: it only runs for a float), with the
//! same digits, in serde_json's notation.

use serde_json::{Map, Value};

/// Appends the compact JSON text of `value` (object members in the map's order).
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                write_integer(out, false, u);
            } else if let Some(i) = n.as_i64() {
                write_integer(out, i < 0, i.unsigned_abs());
            } else if let Some(f) = n.as_f64() {
                palisade_json_text::write_f64(out, f);
            }
        }
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(out, map),
    }
}

/// Appends the compact JSON text of an object (members in the map's order).
pub fn write_object(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(out, key);
        out.push(':');
        write_value(out, item);
    }
    out.push('}');
}

/// The compact JSON text of `value`.
pub fn value_to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

/// Appends `s` as a JSON string: `"` and `\` escaped, control characters as `\b \t \n \f \r`
/// or `\u00xx`; everything else (`/`, DEL, non-ASCII) as it is.
pub fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut plain = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        // One load per byte, as serde_json's table: this runs over every problem body.
        let escape = ESCAPES.get(usize::from(b)).copied().unwrap_or(0);
        if escape == 0 {
            continue;
        }
        // `i` is at an ASCII byte, so both slices end on character boundaries.
        out.push_str(s.get(plain..i).unwrap_or_default());
        plain = i + 1;
        out.push('\\');
        out.push(char::from(escape));
        if escape == b'u' {
            out.push_str("00");
            for nibble in [b >> 4, b & 0xf] {
                let digit = b"0123456789abcdef".get(usize::from(nibble)).copied();
                out.push(char::from(digit.unwrap_or(b'0')));
            }
        }
    }
    out.push_str(s.get(plain..).unwrap_or_default());
    out.push('"');
}

/// What follows the `\` of a byte's escape; 0: the byte is written as it is.
// Indexing in a constant's evaluation: out of bounds would fail the build, never a request.
#[allow(clippy::indexing_slicing)]
const ESCAPES: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

/// Appends the decimal digits of `n` (an `i64` as its sign and magnitude).
pub fn write_integer(out: &mut String, negative: bool, mut n: u64) {
    if negative {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    for slot in digits.iter_mut().rev() {
        // Truncation intended: a single digit.
        *slot = b'0' + (n % 10) as u8;
        start -= 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in digits.get(start..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn values_are_written_as_serde_json_writes_them() {
        let samples = [
            json!(null),
            json!(true),
            json!([1, -2, 3.5, "x", null, false, [], {}]),
            json!({"b": {"z": 1, "a": [0.1]}, "a": "", "c": u64::MAX, "d": i64::MIN}),
            json!("quote \" backslash \\ slash / tab \t nl \n cr \r bs \u{8} ff \u{c}"),
            json!("\u{0}\u{1}\u{1f} del \u{7f} é ☃ 😀 \u{2028}"),
            json!({"\u{1}key\"": "v"}),
        ];
        for value in samples {
            let text = value_to_string(&value);
            assert_eq!(text, serde_json::to_string(&value).unwrap());
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), value);
        }
    }
}
