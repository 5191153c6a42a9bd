//! Parameters: reading a value out of the request by its `in`, `style` and `explode`
//! (RFC 6570-like serialisations of OpenAPI), turning strings into typed JSON, and validating
//! it against the parameter's schema.

use crate::coerce::{coerce, TypeHint};
use crate::request_parts::{decode, RequestParts};
use crate::validator::{SchemaId, SchemaSet};
use crate::violation::{pointer_token, Location, Violation, Violations};
use serde_json::{Map, Value};

/// How a parameter is serialised (OpenAPI `style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// `a,b` (path, header).
    Simple,
    /// `.a.b` (path).
    Label,
    /// `;id=a,b` (path).
    Matrix,
    /// `id=a&id=b` or `id=a,b` (query, cookie).
    Form,
    /// `id=a%20b` (query arrays).
    SpaceDelimited,
    /// `id=a|b` (query arrays).
    PipeDelimited,
    /// `id[key]=v` (query objects).
    DeepObject,
}

impl Style {
    /// Parses an OpenAPI style name allowed for `location`.
    pub fn parse(name: &str, location: Location) -> Result<Self, String> {
        let style = match name {
            "simple" => Style::Simple,
            "label" => Style::Label,
            "matrix" => Style::Matrix,
            "form" => Style::Form,
            "spaceDelimited" => Style::SpaceDelimited,
            "pipeDelimited" => Style::PipeDelimited,
            "deepObject" => Style::DeepObject,
            other => return Err(format!("unknown style `{other}`")),
        };
        let allowed = match location {
            Location::Path => matches!(style, Style::Simple | Style::Label | Style::Matrix),
            Location::Query => matches!(
                style,
                Style::Form | Style::SpaceDelimited | Style::PipeDelimited | Style::DeepObject
            ),
            Location::Header => style == Style::Simple,
            Location::Cookie => style == Style::Form,
            Location::Body => false,
        };
        if allowed {
            Ok(style)
        } else {
            Err(format!(
                "style `{name}` is not allowed in {}",
                location.as_str()
            ))
        }
    }

    /// The default style of a location.
    pub fn default_for(location: Location) -> Self {
        match location {
            Location::Query | Location::Cookie => Style::Form,
            _ => Style::Simple,
        }
    }
}

/// How a parameter's value is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum ParamCheck {
    /// Serialised by `style`/`explode`, typed by the hint, validated by the schema.
    Styled {
        /// The schema (none: only presence is checked).
        schema: Option<SchemaId>,
        /// Types for coercion.
        hint: TypeHint,
        /// Serialisation.
        style: Style,
        /// `explode`.
        explode: bool,
    },
    /// The value is a JSON document (`content: {application/json: {schema}}`).
    Json {
        /// The schema.
        schema: Option<SchemaId>,
    },
}

/// A compiled parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name (header names lower-case).
    pub name: String,
    /// Where it is.
    pub location: Location,
    /// Whether it must be present.
    pub required: bool,
    /// How its value is read and checked.
    pub check: ParamCheck,
}

impl ParamSpec {
    /// The schema its readings are checked against, if any.
    pub fn schema(&self) -> Option<SchemaId> {
        match &self.check {
            ParamCheck::Styled { schema, .. } | ParamCheck::Json { schema } => *schema,
        }
    }

    /// Checks the parameter in a request, adding what is wrong to `out`.
    pub fn check(&self, parts: &RequestParts, schemas: &SchemaSet, out: &mut Violations) {
        let prefix = pointer_token(&self.name);
        let violation = |keyword: &str, detail: String| {
            Violation::new(self.location, prefix.clone(), keyword, detail)
        };
        let extracted = match &self.check {
            ParamCheck::Styled {
                hint,
                style,
                explode,
                ..
            } => self.extract(parts, hint, *style, *explode),
            ParamCheck::Json { .. } => self.raw_text(parts).and_then(|raw| {
                raw.map(|text| {
                    serde_json::from_str::<Value>(&text)
                        .map(|v| vec![v])
                        .map_err(|e| ("syntax", format!("not JSON: {e}")))
                })
                .transpose()
            }),
        };
        let candidates = match extracted {
            Err((keyword, detail)) => {
                out.push(violation(keyword, detail));
                return;
            }
            Ok(None) => {
                if self.required {
                    out.push(violation(
                        "required",
                        format!(
                            "{} parameter `{}` is required",
                            self.location.as_str(),
                            self.name
                        ),
                    ));
                }
                return;
            }
            Ok(Some(candidates)) => candidates,
        };
        let Some(schema) = self.schema() else { return };
        // The first reading that validates wins; otherwise report against the first. Most
        // readings are plain strings and numbers the quick path decides without boon.
        if candidates.iter().any(|c| schemas.accepts_value(schema, c)) {
            return;
        }
        if candidates
            .iter()
            .skip(1)
            .any(|c| schemas.is_valid(schema, c))
        {
            return;
        }
        if let Some(first) = candidates.first() {
            out.add_schema_errors(
                self.location,
                &prefix,
                schemas.validate_capped(schema, first, out.room()),
            );
        }
    }

    /// The parameter's raw text, decoded (for JSON-content parameters).
    fn raw_text(&self, parts: &RequestParts) -> Result<Option<String>, Problem> {
        Ok(match self.location {
            Location::Path => parts
                .path
                .iter()
                .find(|(n, _)| *n == self.name)
                .map(|(_, v)| decode(v, false)),
            Location::Query => single(parts.query_values(&self.name))?.map(|v| decode(v, true)),
            Location::Header => parts.header(&self.name),
            Location::Cookie => first_cookie(parts, &self.name).map(|v| decode(v, false)),
            Location::Body => None,
        })
    }

    /// The candidate readings of a styled parameter (`None` when absent).
    fn extract(
        &self,
        parts: &RequestParts,
        hint: &TypeHint,
        style: Style,
        explode: bool,
    ) -> Result<Option<Vec<Value>>, Problem> {
        let shape = Shape::of(hint);
        let value = match self.location {
            Location::Path => parts
                .path
                .iter()
                .find(|(n, _)| *n == self.name)
                .map(|(_, raw)| read_path(raw, &self.name, style, explode, hint, shape))
                .transpose()?,
            Location::Query => read_query(parts, &self.name, style, explode, hint, shape)?,
            Location::Header => parts
                .header(&self.name)
                .map(|raw| read_delimited(&raw, ',', explode, hint, shape, Decode::Trim)),
            Location::Cookie => read_cookie(parts, &self.name, explode, hint, shape),
            Location::Body => None,
        };
        Ok(value.map(|v| {
            // Without a declared type a guessed number or boolean may have been meant as text.
            if hint.types.is_empty() && matches!(v, Value::Number(_) | Value::Bool(_)) {
                let text = v.to_string();
                vec![v, Value::String(text)]
            } else {
                vec![v]
            }
        }))
    }
}

/// A style problem: keyword and detail.
pub(crate) type Problem = (&'static str, String);

/// What the value is, by its schema: decides how a serialisation is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Primitive,
    Array,
    Object,
}

impl Shape {
    pub(crate) fn of(hint: &TypeHint) -> Self {
        if hint.is_array() {
            Shape::Array
        } else if hint.is_object() {
            Shape::Object
        } else {
            Shape::Primitive
        }
    }
}

/// How pieces are turned into text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decode {
    /// Percent-decoding (path).
    Percent,
    /// Percent-decoding with `+` as space (query, form).
    Form,
    /// Header values: trimmed, no decoding.
    Trim,
}

impl Decode {
    fn apply(self, raw: &str) -> String {
        match self {
            Decode::Percent => decode(raw, false),
            Decode::Form => decode(raw, true),
            Decode::Trim => raw.trim().to_string(),
        }
    }
}

fn item_hint(hint: &TypeHint) -> TypeHint {
    hint.items.as_deref().cloned().unwrap_or_default()
}

fn property_hint(hint: &TypeHint, name: &str) -> TypeHint {
    hint.property(name).cloned().unwrap_or_default()
}

fn array_of<'a>(pieces: impl Iterator<Item = &'a str>, hint: &TypeHint, how: Decode) -> Value {
    let items = item_hint(hint);
    Value::Array(pieces.map(|p| coerce(&how.apply(p), &items)).collect())
}

/// `k,v,k2,v2` (explode off) or `k=v,k2=v2` (explode on) split by `sep`.
fn object_of<'a>(
    mut pieces: impl Iterator<Item = &'a str>,
    explode: bool,
    hint: &TypeHint,
    how: Decode,
) -> Result<Value, Problem> {
    let mut object = Map::new();
    if explode {
        for piece in pieces {
            let (k, v) = piece
                .split_once('=')
                .ok_or_else(|| ("style", format!("`{piece}` is not `key=value`")))?;
            let key = how.apply(k);
            let value = coerce(&how.apply(v), &property_hint(hint, &key));
            object.insert(key, value);
        }
    } else {
        while let Some(k) = pieces.next() {
            let v = pieces
                .next()
                .ok_or_else(|| ("style", "an object needs key,value pairs".to_string()))?;
            let key = how.apply(k);
            let value = coerce(&how.apply(v), &property_hint(hint, &key));
            object.insert(key, value);
        }
    }
    Ok(Value::Object(object))
}

/// A value split by `sep` into array items or object pairs, or taken whole.
fn read_delimited(
    raw: &str,
    sep: char,
    explode: bool,
    hint: &TypeHint,
    shape: Shape,
    how: Decode,
) -> Value {
    match shape {
        Shape::Primitive => coerce(&how.apply(raw), hint),
        Shape::Array => array_of(raw.split(sep), hint, how),
        // A malformed object reads as the raw string, which the schema then refuses.
        Shape::Object => object_of(raw.split(sep), explode, hint, how)
            .unwrap_or_else(|_| Value::String(how.apply(raw))),
    }
}

fn read_path(
    raw: &str,
    name: &str,
    style: Style,
    explode: bool,
    hint: &TypeHint,
    shape: Shape,
) -> Result<Value, Problem> {
    let how = Decode::Percent;
    match style {
        Style::Label => {
            let rest = raw
                .strip_prefix('.')
                .ok_or_else(|| ("style", "a label-style value starts with `.`".to_string()))?;
            let sep = if explode { '.' } else { ',' };
            match shape {
                Shape::Object if !explode => object_of(rest.split(','), false, hint, how),
                Shape::Object => object_of(rest.split('.'), true, hint, how),
                _ => Ok(read_delimited(rest, sep, explode, hint, shape, how)),
            }
        }
        Style::Matrix => {
            let head = format!(";{name}");
            if explode && shape != Shape::Primitive {
                let rest = raw
                    .strip_prefix(';')
                    .ok_or_else(|| ("style", "a matrix-style value starts with `;`".to_string()))?;
                return match shape {
                    Shape::Object => object_of(rest.split(';'), true, hint, how),
                    _ => {
                        let prefix = format!("{name}=");
                        let items: Option<Vec<&str>> = rest
                            .split(';')
                            .map(|p| p.strip_prefix(prefix.as_str()))
                            .collect();
                        let items = items
                            .ok_or_else(|| ("style", format!("each item is `;{name}=value`")))?;
                        Ok(array_of(items.into_iter(), hint, how))
                    }
                };
            }
            let rest = raw.strip_prefix(head.as_str()).ok_or_else(|| {
                (
                    "style",
                    format!("a matrix-style value starts with `;{name}`"),
                )
            })?;
            let rest = match rest.strip_prefix('=') {
                Some(r) => r,
                None if rest.is_empty() => "",
                None => {
                    return Err((
                        "style",
                        format!("a matrix-style value starts with `;{name}=`"),
                    ))
                }
            };
            match shape {
                Shape::Object => object_of(rest.split(','), false, hint, how),
                _ => Ok(read_delimited(rest, ',', false, hint, shape, how)),
            }
        }
        _ => match shape {
            Shape::Object => object_of(raw.split(','), explode, hint, how),
            _ => Ok(read_delimited(raw, ',', explode, hint, shape, how)),
        },
    }
}

/// At most one value: a repeated scalar is ambiguous (parsers disagree on which one counts).
fn single<'a>(mut values: impl Iterator<Item = &'a str>) -> Result<Option<&'a str>, Problem> {
    let first = values.next();
    if values.next().is_some() {
        return Err(("duplicate", "given more than once".to_string()));
    }
    Ok(first)
}

/// A query-style value (also a urlencoded form body's property) by style and explode.
pub(crate) fn read_query(
    parts: &RequestParts,
    name: &str,
    style: Style,
    explode: bool,
    hint: &TypeHint,
    shape: Shape,
) -> Result<Option<Value>, Problem> {
    let how = Decode::Form;
    Ok(match (style, shape) {
        (Style::DeepObject, _) => {
            let prefix = format!("{name}[");
            let mut object = Map::new();
            for (n, raw) in &parts.query {
                let Some(key) = n
                    .strip_prefix(prefix.as_str())
                    .and_then(|k| k.strip_suffix(']'))
                else {
                    continue;
                };
                if object.contains_key(key) {
                    return Err(("duplicate", format!("`{n}` given more than once")));
                }
                object.insert(
                    key.to_string(),
                    coerce(&how.apply(raw), &property_hint(hint, key)),
                );
            }
            (!object.is_empty()).then_some(Value::Object(object))
        }
        (Style::Form, Shape::Array)
        | (Style::SpaceDelimited | Style::PipeDelimited, Shape::Array)
            if explode =>
        {
            let values: Vec<&str> = parts.query_values(name).collect();
            (!values.is_empty()).then(|| array_of(values.into_iter(), hint, how))
        }
        (Style::Form, Shape::Object) if explode => {
            let mut object = Map::new();
            for (prop, prop_hint) in &hint.properties {
                if let Some(raw) = single(parts.query_values(prop))? {
                    object.insert(prop.clone(), coerce(&how.apply(raw), prop_hint));
                }
            }
            (!object.is_empty()).then_some(Value::Object(object))
        }
        (Style::SpaceDelimited | Style::PipeDelimited, Shape::Array) => {
            let sep = if style == Style::SpaceDelimited {
                ' '
            } else {
                '|'
            };
            single(parts.query_values(name))?.map(|raw| {
                let text = how.apply(raw);
                let items = item_hint(hint);
                Value::Array(text.split(sep).map(|p| coerce(p, &items)).collect())
            })
        }
        _ => single(parts.query_values(name))?
            .map(|raw| read_delimited(raw, ',', false, hint, shape, how)),
    })
}

fn first_cookie<'a>(parts: &'a RequestParts, name: &str) -> Option<&'a str> {
    parts
        .cookies
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn read_cookie(
    parts: &RequestParts,
    name: &str,
    explode: bool,
    hint: &TypeHint,
    shape: Shape,
) -> Option<Value> {
    let how = Decode::Percent;
    if explode && shape == Shape::Array {
        let values: Vec<&str> = parts
            .cookies
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect();
        return (!values.is_empty()).then(|| array_of(values.into_iter(), hint, how));
    }
    // Browsers may send a name twice (cookies of different paths); the first is the most specific.
    first_cookie(parts, name).map(|raw| read_delimited(raw, ',', false, hint, shape, how))
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
