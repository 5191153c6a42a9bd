//! Form bodies. `application/x-www-form-urlencoded` is read as the object its schema describes
//! (OpenAPI: each property serialised like a query parameter, `style: form, explode: true` unless
//! the media type's `encoding` says otherwise) and then validated like a JSON body.
//! `multipart/form-data` is only bounded: its size by the body limit, its parts by a count.

use crate::coerce::TypeHint;
use crate::params::{read_query, Shape, Style};
use crate::request_parts::{decode, parse_pairs, RequestParts};
use serde_json::{Map, Value};

/// How an operation's form body is read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FormSpec {
    /// The body schema's types, for the properties.
    pub hint: TypeHint,
    /// `encoding` by property: style and explode (the rest: form, exploded).
    pub encoding: Vec<(String, Style, bool)>,
}

/// A form body that cannot be read: keyword and detail.
pub type FormProblem = (&'static str, String);

impl FormSpec {
    fn encoding_of(&self, name: &str) -> (Style, bool) {
        self.encoding
            .iter()
            .find(|(n, _, _)| n == name)
            .map_or((Style::Form, true), |(_, s, e)| (*s, *e))
    }

    /// The object a urlencoded body stands for. Names the schema does not list are kept as text
    /// (an array of texts when repeated), for `additionalProperties` to judge.
    pub fn read(&self, body: &[u8]) -> Result<Value, FormProblem> {
        let text = std::str::from_utf8(body)
            .map_err(|_| ("syntax", "the form body is not UTF-8".to_string()))?;
        let parts = RequestParts {
            query: parse_pairs(text),
            ..RequestParts::default()
        };
        let mut object = Map::new();
        for (name, hint) in &self.hint.properties {
            let (style, explode) = self.encoding_of(name);
            if let Some(value) = read_query(&parts, name, style, explode, hint, Shape::of(hint))? {
                object.insert(name.clone(), value);
            }
        }
        for (name, raw) in &parts.query {
            let listed = |n: &str| self.hint.property(n).is_some();
            let deep_object = name.split_once('[').is_some_and(|(n, _)| listed(n));
            if listed(name) || deep_object {
                continue;
            }
            let value = Value::String(decode(raw, true));
            match object.get_mut(name) {
                Some(Value::Array(values)) => values.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
                None => {
                    object.insert(name.clone(), value);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// The `boundary` parameter of a `multipart/*` content type.
pub fn multipart_boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|p| {
        let (name, value) = p.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (name.trim().eq_ignore_ascii_case("boundary") && !value.is_empty())
            .then(|| value.to_string())
    })
}

/// How many parts a multipart body has: delimiter lines (`--boundary` at the start of the body
/// or of a line) up to the closing one (`--boundary--`).
pub fn multipart_parts(body: &[u8], boundary: &str) -> usize {
    let delimiter = format!("--{boundary}");
    let delimiter = delimiter.as_bytes();
    let mut count = 0usize;
    let mut at = 0usize;
    while let Some(rest) = body.get(at..) {
        let Some(found) = find(rest, delimiter) else {
            break;
        };
        let start = at + found;
        let line_start = start == 0 || body.get(start - 1) == Some(&b'\n');
        let end = start + delimiter.len();
        if line_start {
            if body.get(end..end + 2) == Some(b"--") {
                break;
            }
            count += 1;
        }
        at = end;
    }
    count
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coerce::JsonType;

    fn hint(types: &[JsonType]) -> TypeHint {
        TypeHint {
            types: types.to_vec(),
            ..TypeHint::default()
        }
    }

    fn spec() -> FormSpec {
        let array = TypeHint {
            types: vec![JsonType::Array],
            items: Some(Box::new(hint(&[JsonType::Integer]))),
            properties: Vec::new(),
        };
        FormSpec {
            hint: TypeHint {
                types: vec![JsonType::Object],
                items: None,
                properties: vec![
                    ("name".into(), hint(&[JsonType::String])),
                    ("age".into(), hint(&[JsonType::Integer])),
                    ("tags".into(), array.clone()),
                    ("ids".into(), array),
                ],
            },
            encoding: vec![("ids".into(), Style::Form, false)],
        }
    }

    #[test]
    fn urlencoded_bodies_read_as_typed_objects() {
        let v = spec()
            .read(b"name=Ada+Lovelace&age=36&tags=1&tags=2&ids=3,4&x=%C3%A9&y=1&y=2")
            .unwrap();
        assert_eq!(
            v,
            serde_json::json!({"name":"Ada Lovelace","age":36,"tags":[1,2],"ids":[3,4],
                "x":"é","y":["1","2"]})
        );
    }

    #[test]
    fn unreadable_form_bodies_are_problems() {
        assert_eq!(spec().read(b"age=1&age=2").unwrap_err().0, "duplicate");
        assert_eq!(spec().read(b"name=\xff").unwrap_err().0, "syntax");
        assert_eq!(spec().read(b"").unwrap(), serde_json::json!({}));
    }

    #[test]
    fn multipart_parts_are_counted_by_delimiter_lines() {
        assert_eq!(
            multipart_boundary("multipart/form-data; boundary=\"abc\""),
            Some("abc".into())
        );
        assert_eq!(multipart_boundary("multipart/form-data"), None);
        let body = b"--abc\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1 --abc\r\n--abc\r\n\r\n2\r\n--abc--\r\n";
        assert_eq!(multipart_parts(body, "abc"), 2);
        assert_eq!(multipart_parts(b"--abc\r\n\r\nx", "abc"), 1, "unclosed");
        assert_eq!(multipart_parts(b"no delimiter", "abc"), 0);
    }
}
