//! The schema filter's quick path ([`palisade_schema::quick`]) against the full way (parse within
//! limits, then boon). The quick path may only ever answer "valid": properties,
//!
//! - whenever it accepts a body, the full way accepts it too (the body is JSON within the limits,
//!   without a refused duplicate key, and boon finds no failure);
//! - the filter's decision on a request with that body is the same with the quick path on and
//!   off (plain routes, or the schema inside an OpenAPI 3.0 or 3.1 document);
//! - boon's short-circuit check and its full error list agree.
//!
//! Input: byte 0 picks a schema of [`SCHEMAS`] (one past the end: the schema is the input's text
//! up to the first 0xFF, the body after it); byte 1 the dialect, `assert_formats` and the mode;
//! byte 2 the JSON limits and (bit 5) whether the body is generated from the schema, the rest of
//! the input then being the generator's choices (bodies near valid instances, in the spellings
//! serde_json also reads); the rest is the body.

use palisade_core::decision::Decision;
use palisade_core::host::{Body, HeaderMap};
use palisade_core::testing::MockHost;
use palisade_schema::config::{compile, Compiled};
use palisade_schema::flow::RequestFlow;
use palisade_schema::json::{parse, DuplicateKeys, JsonLimits};
use palisade_schema::stats::Stats;
use palisade_schema::validator::{Dialect, SchemaId, SchemaSet, SchemaSetBuilder};
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// A document the schemas `$ref` by absolute URL (given in config under `schemas`).
pub const DEFS_URL: &str = "urn:palisade:fuzz:defs";

const DEFS: &str = r##"{
  "$defs": {
    "pos": {"type": "integer", "minimum": 1},
    "small": {"maximum": 5},
    "name": {"type": "string", "minLength": 1, "maxLength": 4, "pattern": "^[a-z]"},
    "point": {"type": "object", "required": ["x", "y"], "additionalProperties": false,
              "properties": {"x": {"type": "number"}, "y": {"type": "number"}}},
    "chain": {"allOf": [{"$ref": "#/$defs/pos"}, {"$ref": "#/$defs/small"}]},
    "list": {"type": "array", "items": {"$ref": "urn:palisade:fuzz:defs#/$defs/name"}, "maxItems": 3}
  }
}"##;

/// Schemas covering every keyword of the quick path's plans, their combinations, and keywords
/// outside them (which must leave the body to boon).
pub const SCHEMAS: &[&str] = &[
    // 0: an order, as the bench sends.
    r##"{"type": "object", "required": ["customer", "items"], "additionalProperties": false,
      "properties": {
        "customer": {"type": "string", "minLength": 1, "maxLength": 8},
        "comment": {"type": "string", "maxLength": 20},
        "kind": {"enum": ["a", "b"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
        "items": {"type": "array", "minItems": 1, "items": {
          "type": "object", "required": ["sku", "qty"], "additionalProperties": false,
          "properties": {
            "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{6}$"},
            "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
            "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5}}}}}}"##,
    // 1: draft-07: `$ref` siblings are ignored.
    r##"{"$schema": "http://json-schema.org/draft-07/schema#",
      "definitions": {"pos": {"type": "integer", "minimum": 1}, "s": {"type": "string"}},
      "type": "object",
      "properties": {"a": {"$ref": "#/definitions/pos", "maximum": 3},
                     "b": {"$ref": "#/definitions/s", "maxLength": 1}}}"##,
    // 2: the same in 2020-12: siblings apply.
    r##"{"$schema": "https://json-schema.org/draft/2020-12/schema",
      "$defs": {"pos": {"type": "integer", "minimum": 1}, "s": {"type": "string"}},
      "type": "object",
      "properties": {"a": {"$ref": "#/$defs/pos", "maximum": 3},
                     "b": {"$ref": "#/$defs/s", "maxLength": 1}}}"##,
    // 3: type lists.
    r##"{"type": ["string", "null", "integer"], "minLength": 2, "maximum": 10}"##,
    // 4: number bounds and fractions.
    r##"{"type": "number", "minimum": -1.5, "maximum": 1e3, "multipleOf": 0.1}"##,
    // 5: bounds near the edges of f64 and of the integers.
    r##"{"type": "integer", "exclusiveMinimum": -9223372036854775808,
      "exclusiveMaximum": 9007199254740993}"##,
    // 6
    r##"{"items": {"multipleOf": 0.01, "maximum": 18446744073709551615, "minimum": -1e308}}"##,
    // 7
    r##"{"type": "array", "items": {"type": "integer", "multipleOf": 3, "maximum": 1e20}}"##,
    // 8: lengths in characters, patterns on decoded strings.
    r##"{"type": "string", "minLength": 2, "maxLength": 3, "pattern": "^[a-zé-ü]+$"}"##,
    // 9
    r##"{"type": "array", "items": {"type": "string", "pattern": "^.{2}$|^(?i)abc$|^[^<>]*x$"}}"##,
    // 10: string enums (other enums leave the body to boon).
    r##"{"type": "array", "items": {"enum": ["a", "b", "é", "", "a\"b", "\n"]}}"##,
    // 11
    r##"{"enum": ["a", 1, null, [1], {"a": 1}]}"##,
    // 12: boolean schemas.
    r##"{"properties": {"t": true, "f": false}, "additionalProperties": false}"##,
    // 13: additionalProperties as a schema, counts.
    r##"{"type": "object", "additionalProperties": {"type": "integer"},
      "properties": {"s": {"type": "string"}}, "minProperties": 1, "maxProperties": 3}"##,
    // 14: nested arrays.
    r##"{"type": "array", "minItems": 1, "maxItems": 4,
      "items": {"type": "array", "maxItems": 2, "items": {"type": "number"}}}"##,
    // 15: allOf, each part on its own.
    r##"{"allOf": [{"required": ["a"]}, {"properties": {"a": {"type": "string"}}},
      {"maxProperties": 2}, {"additionalProperties": {"type": "boolean"},
      "properties": {"a": true}}]}"##,
    // 16: references to another document.
    r##"{"type": "object", "properties": {
      "p": {"$ref": "urn:palisade:fuzz:defs#/$defs/point"},
      "c": {"$ref": "urn:palisade:fuzz:defs#/$defs/chain"},
      "l": {"$ref": "urn:palisade:fuzz:defs#/$defs/list"},
      "n": {"$ref": "urn:palisade:fuzz:defs#/$defs/name", "minLength": 2}}}"##,
    // 17: a recursive tree.
    r##"{"$defs": {"node": {"type": "object", "additionalProperties": false,
      "properties": {"v": {"type": ["integer", "null"]},
                     "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
      "$ref": "#/$defs/node"}"##,
    // 18: the root by reference.
    r##"{"type": "object", "required": ["b"], "properties": {"a": {"$ref": "#"}, "b": {"type": "null"}}}"##,
    // 19: formats (asserted when `assert_formats`; annotations in 2020-12 otherwise).
    r##"{"type": "object", "properties": {"d": {"type": "string", "format": "date-time"},
      "i": {"type": "integer", "format": "int32"}, "e": {"format": "email"},
      "u": {"format": "uuid"}, "l": {"type": "integer", "format": "int64"}}}"##,
    // 20: draft-07 formats are assertions.
    r##"{"$schema": "http://json-schema.org/draft-07/schema#", "items": {"format": "ipv4"}}"##,
    // 21: OpenAPI 3.0 `nullable` (translated in the 3.0 modes; unknown elsewhere).
    r##"{"type": "object", "properties": {"n": {"type": "string", "nullable": true, "maxLength": 3},
      "m": {"type": "integer", "minimum": 0, "exclusiveMinimum": true}}}"##,
    // 22: names that need escaping in a JSON pointer.
    r##"{"type": "object", "required": ["a/b", ""], "properties": {"a/b": {"type": "integer"},
      "c~d": {"type": "string"}, "": {"type": "null"}, "é": {"type": "boolean"},
      "%25": {"type": "string"}}}"##,
    // 23: keywords outside the plans.
    r##"{"type": "object", "properties": {
      "u": {"uniqueItems": true}, "c": {"contains": {"type": "string"}},
      "pp": {"patternProperties": {"^a": {"type": "integer"}}},
      "pn": {"propertyNames": {"maxLength": 2}}, "k": {"const": "a"},
      "o": {"oneOf": [{"type": "integer"}, {"minimum": 2}]},
      "a": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
      "x": {"not": {"type": "string"}},
      "i": {"if": {"type": "string"}, "then": {"maxLength": 2}, "else": {"type": "integer"}},
      "pi": {"prefixItems": [{"type": "string"}], "items": {"type": "integer"}},
      "d": {"dependentRequired": {"a": ["b"]}}}, "unevaluatedProperties": false}"##,
    // 24: annotations.
    r##"{"title": "t", "description": "d", "default": 1, "examples": [1], "deprecated": true,
      "readOnly": false, "writeOnly": false, "$comment": "c", "x-vendor": {"type": "string"},
      "type": "object", "properties": {"a": {"type": "integer", "example": "x", "title": "a"}}}"##,
    // 25: identifiers change how references resolve: left to boon.
    r##"{"$id": "urn:palisade:fuzz:other", "$defs": {"s": {"$anchor": "s", "type": "string"}},
      "properties": {"a": {"$ref": "#s"}}}"##,
    // 26: draft-07 tuples.
    r##"{"$schema": "http://json-schema.org/draft-07/schema#", "type": "array",
      "items": [{"type": "string"}], "additionalItems": false}"##,
    // 27: an ECMA escape.
    r##"{"type": "string", "pattern": "^\\d+$"}"##,
    // 28
    r##"{}"##,
    // 29
    r##"false"##,
    // 30: a reference cycle.
    r##"{"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"allOf": [{"$ref": "#/$defs/a"}]}},
      "properties": {"c": {"$ref": "#/$defs/a"}}}"##,
    // 31: zero lengths and counts.
    r##"{"type": "object", "maxProperties": 0, "additionalProperties": {"maxLength": 0}}"##,
    // 32: `items: false`, empty arrays.
    r##"{"type": "array", "items": false, "minItems": 0, "maxItems": 0}"##,
    // 33: integers, any size.
    r##"{"type": "array", "items": {"type": "integer"}}"##,
    // 34: numbers with tiny multiples.
    r##"{"type": "array", "items": {"type": "number", "multipleOf": 1e-9,
      "exclusiveMaximum": 1.7976931348623157e308}}"##,
    // 35: deep nesting with refs.
    r##"{"$defs": {"d": {"type": ["array", "object"], "items": {"$ref": "#/$defs/d"},
      "additionalProperties": {"$ref": "#/$defs/d"}, "maxItems": 2}}, "$ref": "#/$defs/d"}"##,
    // 36: OpenAPI 3.0 `nullable` beside `allOf`/`$ref` (as written, and as the 3.0 mode
    // translates it), and a nullable enum.
    r##"{"type": "object", "properties": {
      "n": {"nullable": true, "allOf": [{"$ref": "urn:palisade:fuzz:defs#/$defs/point"}]},
      "a": {"anyOf": [{"type": "null"}, {"allOf": [{"$ref": "urn:palisade:fuzz:defs#/$defs/point"}]}]},
      "r": {"anyOf": [{"type": "null"}, {"$ref": "urn:palisade:fuzz:defs#/$defs/name"}]},
      "s": {"type": ["string", "null"], "enum": ["a", "b", null]}}}"##,
    // 37: alternatives told apart by the kind of value (nested, recursive through a member),
    // and one that is not.
    r##"{"type": "array", "items": {"oneOf": [{"type": "integer", "minimum": 1},
      {"type": "string", "pattern": "^[a-c]{1,2}$"},
      {"anyOf": [{"type": "null"}, {"type": "object", "required": ["k"], "properties": {"k": {"$ref": "#/items"}}}]},
      {"type": "array", "maxItems": 1}, {"type": "array", "minItems": 1}]}}"##,
    // 38: patterns the quick path matches itself, and one it leaves to the regex crate.
    r##"{"type": "object", "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{6}$"},
      "id": {"pattern": "^[a-z0-9-]{1,36}$"}, "g": {"pattern": "^a*b?[ab]$"},
      "x": {"type": "string", "pattern": "^[a-b]{1,2}-?[0-9]$"}, "e": {"pattern": "^[a-z]+[0-9]?-$"}}}"##,
];

const BODY_URL: &str = "urn:palisade:fuzz:body";

/// How the schema reaches the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mode {
    Plain,
    OpenApi30,
    OpenApi31,
}

/// The knobs of byte 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Knobs {
    draft7: bool,
    assert_formats: bool,
    mode: Mode,
    limits: (usize, usize, bool),
}

impl Knobs {
    fn read(b1: u8, b2: u8) -> Self {
        let mode = match (b1 >> 2) & 3 {
            2 => Mode::OpenApi30,
            3 => Mode::OpenApi31,
            _ => Mode::Plain,
        };
        let depth = match b2 & 3 {
            0 => 64,
            1 => 1,
            2 => 3,
            _ => 6,
        };
        let number = match (b2 >> 2) & 3 {
            0 => 100,
            1 => 1,
            2 => 5,
            _ => 20,
        };
        Self {
            draft7: b1 & 1 != 0,
            assert_formats: b1 & 2 != 0,
            mode,
            limits: (depth, number, b2 & 16 != 0),
        }
    }

    fn limits(&self) -> JsonLimits {
        JsonLimits {
            max_depth: self.limits.0,
            max_number_length: self.limits.1,
            duplicate_keys: if self.limits.2 {
                DuplicateKeys::LastWins
            } else {
                DuplicateKeys::Reject
            },
        }
    }

    fn dialect(&self) -> Dialect {
        if self.draft7 {
            Dialect::Draft7
        } else {
            Dialect::Draft2020
        }
    }
}

/// The schema set of the direct check: the defs document and the schema.
fn schema_set(schema: &Value, knobs: &Knobs) -> Option<(SchemaSet, SchemaId)> {
    let mut b = SchemaSetBuilder::new(knobs.dialect(), knobs.assert_formats);
    let defs: Value = serde_json::from_str(DEFS).expect("the defs are JSON");
    b.add_resource(DEFS_URL, defs).ok()?;
    b.add_resource(BODY_URL, schema.clone()).ok()?;
    let id = b.compile(BODY_URL).ok()?;
    Some((b.finish(), id))
}

/// The filter config with `schema` as the body schema of `POST /t`.
fn config(schema: &Value, knobs: &Knobs) -> Value {
    let defs: Value = serde_json::from_str(DEFS).expect("the defs are JSON");
    let (depth, number, last_wins) = knobs.limits;
    let mut config = json!({
        "schemas": {DEFS_URL: defs},
        "default_dialect": if knobs.draft7 { "draft-07" } else { "2020-12" },
        "assert_formats": knobs.assert_formats,
        "json": {
            "max_depth": depth,
            "max_number_length": number,
            "duplicate_keys": if last_wins { "last_wins" } else { "reject" },
        },
    });
    let (field, value) = match knobs.mode {
        Mode::Plain => (
            "routes",
            json!([{
                "match": {"path": "/t"},
                "body": {"schema": schema, "content_types": ["application/json"]},
            }]),
        ),
        Mode::OpenApi30 | Mode::OpenApi31 => {
            // Local references point into the schema, which is now deep in the document.
            let text = schema
                .to_string()
                .replace("\"#/", "\"#/components/schemas/Body/")
                .replace("\"#\"", "\"#/components/schemas/Body\"");
            let schema: Value = serde_json::from_str(&text).expect("still JSON");
            let version = if knobs.mode == Mode::OpenApi30 {
                "3.0.3"
            } else {
                "3.1.0"
            };
            let doc = json!({
                "openapi": version,
                "info": {"title": "fuzz", "version": "1"},
                "paths": {"/t": {"post": {
                    "operationId": "t",
                    "requestBody": {"required": true, "content": {"application/json": {
                        "schema": {"$ref": "#/components/schemas/Body"}}}},
                    "responses": {"200": {"description": "ok"}}}}},
                "components": {"schemas": {"Body": schema}},
            });
            ("openapi", doc)
        }
    };
    if let Some(map) = config.as_object_mut() {
        map.insert(field.to_string(), value);
    }
    config
}

/// A config compiled twice: with the quick path, and without.
struct Pair {
    quick: Rc<Compiled>,
    full: Rc<Compiled>,
}

type Key = (String, Knobs);

/// A schema compiled alone, with its id.
type Direct = Option<Rc<(SchemaSet, SchemaId)>>;

thread_local! {
    static DIRECT: RefCell<HashMap<Key, Direct>> = RefCell::new(HashMap::new());
    static FLOWS: RefCell<HashMap<Key, Option<Rc<Pair>>>> = RefCell::new(HashMap::new());
}

/// Memoized per schema text and knobs (schemas from input bytes fill it: it is emptied when big).
fn memo<T: Clone>(
    cache: &'static std::thread::LocalKey<RefCell<HashMap<Key, T>>>,
    key: Key,
    make: impl FnOnce() -> T,
) -> T {
    if let Some(v) = cache.with(|c| c.borrow().get(&key).cloned()) {
        return v;
    }
    let v = make();
    cache.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() > 512 {
            c.clear();
        }
        c.insert(key, v.clone());
    });
    v
}

/// The filter's decision on `POST /t` with `body`.
fn decide(config: &Rc<Compiled>, body: &[u8]) -> Decision {
    let host = MockHost::new();
    let length = body.len().to_string();
    host.set_headers(
        HeaderMap::Request,
        &[
            (":method", "POST"),
            (":path", "/t"),
            (":authority", "fuzz.example.com"),
            ("content-type", "application/json"),
            ("content-length", &length),
        ],
    );
    let mut flow = RequestFlow::new(1, Rc::clone(config), Stats::define(&host));
    match flow.on_request_headers(&host, false) {
        Decision::Continue | Decision::Pause => {}
        other => return other,
    }
    host.set_body(Body::Request, body);
    flow.on_request_body(&host, body.len(), true)
}

/// What the full way decides on its own: `Ok` for a valid body.
fn full_way(set: &SchemaSet, id: SchemaId, body: &[u8], limits: &JsonLimits) -> Result<(), String> {
    let value = parse(body, limits).map_err(|e| format!("{} {}", e.keyword, e.detail))?;
    let errors = set.validate(id, &value);
    assert_eq!(
        errors.is_empty(),
        set.is_valid(id, &value),
        "boon's short-circuit check and its error list disagree"
    );
    match errors.first() {
        None => Ok(()),
        Some(e) => Err(format!("{} at `{}`: {}", e.keyword, e.pointer, e.detail)),
    }
}

/// How far an input got (for the tests that keep the seeds useful).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reached {
    /// The schema compiled alone: whether the quick path accepted the body.
    pub quick: Option<bool>,
    /// The full way accepted the body.
    pub full: bool,
    /// The filter config compiled: whether the request passed.
    pub passed: Option<bool>,
}

/// Checks one schema (text) and body under `knobs` (bytes 1 and 2 of an input).
pub fn check(schema_text: &str, knobs_bytes: (u8, u8), body: &[u8]) -> Reached {
    let mut reached = Reached::default();
    let Ok(schema) = serde_json::from_str::<Value>(schema_text) else {
        return reached;
    };
    let knobs = Knobs::read(knobs_bytes.0, knobs_bytes.1);
    let limits = knobs.limits();
    let generated;
    let body = if knobs_bytes.1 & 0x20 != 0 {
        let mut out = String::new();
        let defs: Value = serde_json::from_str(DEFS).expect("the defs are JSON");
        let mut g = Generator {
            choices: body,
            at: 0,
            root: &schema,
            defs: &defs,
        };
        g.value(&schema, 0, &mut out);
        generated = out.into_bytes();
        &generated
    } else {
        body
    };
    let shown = || {
        format!(
            "schema {schema}\nknobs {knobs:?}\nbody {:?}",
            String::from_utf8_lossy(body)
        )
    };
    let plain_knobs = Knobs {
        mode: Mode::Plain,
        ..knobs
    };
    let direct = memo(&DIRECT, (schema_text.to_string(), plain_knobs), || {
        schema_set(&schema, &plain_knobs).map(Rc::new)
    });
    if let Some(direct) = direct {
        let (set, id) = &*direct;
        let accepted = set.accepts_json(*id, body, &limits);
        let full = full_way(set, *id, body, &limits);
        if accepted {
            if let Err(why) = full {
                panic!(
                    "the quick path accepts what the full way refuses ({why})\n{}",
                    shown()
                );
            }
        }
        reached.quick = Some(accepted);
        reached.full = full.is_ok();
    }
    let pair = memo(&FLOWS, (schema_text.to_string(), knobs), || {
        let text = config(&schema, &knobs).to_string();
        let quick = compile(text.as_bytes()).ok()?;
        let mut full = compile(text.as_bytes()).ok()?;
        full.schemas.disable_quick_path();
        Some(Rc::new(Pair {
            quick: Rc::new(quick),
            full: Rc::new(full),
        }))
    });
    if let Some(pair) = pair {
        let with = decide(&pair.quick, body);
        let without = decide(&pair.full, body);
        assert_eq!(
            with,
            without,
            "the decision changes with the quick path\n{}",
            shown()
        );
        if knobs.mode == Mode::Plain && reached.quick == Some(true) {
            assert_eq!(with, Decision::Continue, "{}", shown());
        }
        reached.passed = Some(with == Decision::Continue);
    }
    reached
}

/// Writes JSON text near an instance of a schema, each choice taken from the input's bytes.
struct Generator<'a> {
    choices: &'a [u8],
    at: usize,
    root: &'a Value,
    defs: &'a Value,
}

const STRINGS: [&str; 16] = [
    "",
    "a",
    "ab",
    "abc",
    "é",
    "aé",
    "x",
    "12",
    "ABC-000001",
    "1.2.3.4",
    "2024-01-01T00:00:00Z",
    "a@b.c",
    "123e4567-e89b-12d3-a456-426614174000",
    "<x>",
    "ABC",
    "a\"b\n",
];
const NUMBERS: [&str; 22] = [
    "0",
    "-0",
    "1",
    "-1",
    "2",
    "3",
    "0.5",
    "0.1",
    "0.3",
    "1.5",
    "-2.5",
    "1e2",
    "1E-2",
    "6.0",
    "9007199254740993",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "1e308",
    "0.0000001",
    "123456789.123456789",
];

impl Generator<'_> {
    fn next(&mut self) -> u8 {
        let b = self.choices.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.next()) % n.max(1)
    }

    fn space(&mut self, out: &mut String) {
        if self.next() & 7 == 0 {
            let spaces = [" ", "\n", "\t ", "\r\n"];
            out.push_str(spaces.get(self.below(spaces.len())).copied().unwrap_or(" "));
        }
    }

    fn value(&mut self, schema: &Value, depth: usize, out: &mut String) {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) if self.next() & 3 != 0 => {
                let (url, pointer) = r.split_once('#').unwrap_or((r, ""));
                let doc = if url.is_empty() { self.root } else { self.defs };
                doc.pointer(pointer).unwrap_or(schema).clone()
            }
            _ => schema.clone(),
        };
        let schema = match schema.get("allOf").and_then(Value::as_array) {
            Some(parts) if !parts.is_empty() && self.next() & 1 == 0 => {
                let part = parts
                    .get(self.below(parts.len()))
                    .cloned()
                    .unwrap_or_default();
                match (part, schema.clone()) {
                    (Value::Object(mut p), Value::Object(s)) => {
                        for (k, v) in s {
                            p.entry(k).or_insert(v);
                        }
                        Value::Object(p)
                    }
                    (_, s) => s,
                }
            }
            _ => schema,
        };
        let schema = match ["anyOf", "oneOf"]
            .iter()
            .find_map(|k| schema.get(*k).and_then(Value::as_array))
        {
            Some(parts) if !parts.is_empty() && self.next() & 3 != 0 => {
                let part = parts
                    .get(self.below(parts.len()))
                    .cloned()
                    .unwrap_or_default();
                match part.get("$ref").and_then(Value::as_str) {
                    Some(r) if r.starts_with("#/") => r
                        .get(1..)
                        .and_then(|at| self.root.pointer(at))
                        .cloned()
                        .unwrap_or(part),
                    _ => part,
                }
            }
            _ => schema,
        };
        if depth > 6 || self.next() == 0xFF {
            self.scalar(&schema, out);
            return;
        }
        for list in ["enum", "examples"] {
            if let Some(values) = schema.get(list).and_then(Value::as_array) {
                if !values.is_empty() && self.next() & 3 != 0 {
                    let v = values
                        .get(self.below(values.len()))
                        .cloned()
                        .unwrap_or_default();
                    self.literal(&v, out);
                    return;
                }
            }
        }
        if let Some(v) = schema.get("const") {
            if self.next() & 3 != 0 {
                self.literal(&v.clone(), out);
                return;
            }
        }
        let ty = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) if !ts.is_empty() => ts
                .get(self.below(ts.len()))
                .and_then(Value::as_str)
                .unwrap_or("null")
                .to_string(),
            _ if schema.get("properties").is_some() || schema.get("required").is_some() => {
                "object".into()
            }
            _ if schema.get("items").is_some() || schema.get("prefixItems").is_some() => {
                "array".into()
            }
            _ => {
                let all = [
                    "object", "array", "string", "number", "integer", "null", "boolean",
                ];
                all.get(self.below(all.len()))
                    .copied()
                    .unwrap_or("null")
                    .into()
            }
        };
        self.space(out);
        match ty.as_str() {
            "object" => self.object(&schema, depth, out),
            "array" => self.array(&schema, depth, out),
            _ => {
                let mut s = schema.clone();
                if let Some(map) = s.as_object_mut() {
                    map.insert("type".into(), Value::String(ty));
                }
                self.scalar(&s, out);
            }
        }
        self.space(out);
    }

    fn object(&mut self, schema: &Value, depth: usize, out: &mut String) {
        let required: Vec<String> = schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|k| k.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let mut members: Vec<(String, Value)> = Vec::new();
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let keep = if required.contains(k) {
                    self.next() != 1
                } else {
                    self.next() & 3 != 0
                };
                if keep {
                    members.push((k.clone(), v.clone()));
                }
            }
        }
        for k in &required {
            if !members.iter().any(|(m, _)| m == k) && self.next() != 1 {
                members.push((k.clone(), Value::Bool(true)));
            }
        }
        for _ in 0..self.below(4).saturating_sub(2) {
            let extra = schema
                .get("additionalProperties")
                .cloned()
                .unwrap_or(Value::Bool(true));
            let key = STRINGS
                .get(self.below(STRINGS.len()))
                .copied()
                .unwrap_or("k");
            members.push((key.to_string(), extra));
        }
        if !members.is_empty() && self.next() == 2 {
            // A repeated key.
            if let Some(first) = members.first().cloned() {
                members.push(first);
            }
        }
        let order = self.next();
        if order & 1 == 1 {
            members.reverse();
        }
        out.push('{');
        for (i, (k, v)) in members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.space(out);
            self.string(k, out);
            self.space(out);
            out.push(':');
            self.value(v, depth + 1, out);
        }
        out.push('}');
    }

    fn array(&mut self, schema: &Value, depth: usize, out: &mut String) {
        let min = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let n = usize::try_from(min).unwrap_or(0).min(4) + self.below(3);
        let prefix = schema
            .get("prefixItems")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let items = schema.get("items").cloned().unwrap_or(Value::Bool(true));
        out.push('[');
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            let item = prefix.get(i).cloned().unwrap_or_else(|| items.clone());
            let item = match item {
                // draft-07 tuples
                Value::Array(list) => list.get(i).cloned().unwrap_or(Value::Bool(true)),
                other => other,
            };
            self.value(&item, depth + 1, out);
        }
        out.push(']');
    }

    fn scalar(&mut self, schema: &Value, out: &mut String) {
        match schema.get("type").and_then(Value::as_str) {
            Some("null") => out.push_str("null"),
            Some("boolean") => out.push_str(if self.next() & 1 == 0 {
                "true"
            } else {
                "false"
            }),
            Some("string") => {
                let s = STRINGS
                    .get(self.below(STRINGS.len()))
                    .copied()
                    .unwrap_or("");
                let n = schema.get("minLength").and_then(Value::as_u64).unwrap_or(0);
                let s = if self.next() & 3 == 0 {
                    "é".repeat(usize::try_from(n).unwrap_or(0).min(8))
                } else {
                    s.to_string()
                };
                self.string(&s, out);
            }
            Some("integer" | "number") | None => self.number(schema, out),
            Some(_) => out.push_str("null"),
        }
    }

    /// A number near the schema's bounds and multiples, spelled one of the ways JSON allows.
    fn number(&mut self, schema: &Value, out: &mut String) {
        let bounds = [
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ];
        let bound = bounds
            .get(self.below(bounds.len()))
            .and_then(|b| schema.get(*b))
            .and_then(Value::as_f64);
        let text = match bound {
            Some(b) if self.next() & 1 == 0 => {
                let k = [1.0, -1.0, 2.0, 3.0, 10.0, 0.5];
                let k = k.get(self.below(k.len())).copied().unwrap_or(1.0);
                let delta = [0.0, 1.0, -1.0, 0.1, -0.1, 1e-9];
                let delta = delta.get(self.below(delta.len())).copied().unwrap_or(0.0);
                let mut v = b * k + delta;
                if !v.is_finite() {
                    v = b;
                }
                serde_json::Number::from_f64(v).map_or("0".into(), |n| n.to_string())
            }
            _ => NUMBERS
                .get(self.below(NUMBERS.len()))
                .copied()
                .unwrap_or("0")
                .to_string(),
        };
        let spelled = match self.below(8) {
            1 if !text.contains(['.', 'e', 'E']) => format!("{text}.0"),
            2 if !text.contains(['e', 'E']) => format!("{text}e0"),
            3 if !text.contains(['e', 'E']) => format!("{text}E+00"),
            4 if !text.contains(['.', 'e', 'E']) => format!("{text}0e-1"),
            _ => text,
        };
        out.push_str(&spelled);
    }

    fn string(&mut self, s: &str, out: &mut String) {
        out.push('"');
        for c in s.chars() {
            match (c, self.next() & 15) {
                ('"', _) => out.push_str("\\\""),
                ('\\', _) => out.push_str("\\\\"),
                (c, _) if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                (c, 0) => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                ('/', 1) => out.push_str("\\/"),
                (c, _) => out.push(c),
            }
        }
        out.push('"');
    }

    fn literal(&mut self, v: &Value, out: &mut String) {
        match v {
            Value::String(s) => self.string(s, out),
            other => out.push_str(&other.to_string()),
        }
    }
}

/// Byte 0: the schema; bytes 1 and 2: the knobs; then the body (see the module doc).
pub fn run(data: &[u8]) {
    reach(data);
}

/// [`run`], saying how far the input got.
pub fn reach(data: &[u8]) -> Reached {
    let [pick, b1, b2, rest @ ..] = data else {
        return Reached::default();
    };
    match SCHEMAS.get(usize::from(*pick) % (SCHEMAS.len() + 1)) {
        Some(schema) => check(schema, (*b1, *b2), rest),
        None => {
            let mut parts = rest.splitn(2, |b| *b == 0xFF);
            let schema = parts.next().unwrap_or_default();
            let body = parts.next().unwrap_or_default();
            match std::str::from_utf8(schema) {
                Ok(schema) => check(schema, (*b1, *b2), body),
                Err(_) => Reached::default(),
            }
        }
    }
}

/// A seed input: schema `pick` (or `None` with `schema` text), knobs, body.
pub fn seed(pick: Option<usize>, schema: &str, knobs: (u8, u8), body: &str) -> Vec<u8> {
    let mut out = vec![
        u8::try_from(pick.unwrap_or(SCHEMAS.len())).expect("few schemas"),
        knobs.0,
        knobs.1,
    ];
    if pick.is_none() {
        out.extend_from_slice(schema.as_bytes());
        out.push(0xFF);
    }
    out.extend_from_slice(body.as_bytes());
    out
}
