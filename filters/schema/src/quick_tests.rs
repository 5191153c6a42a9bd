// Test code: a broken fixture should fail loudly.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use crate::json::{self, DuplicateKeys, JsonLimits};
use crate::validator::{Dialect, SchemaId, SchemaSet, SchemaSetBuilder};
use serde_json::{json, Value};

const LIMITS: JsonLimits = JsonLimits {
    max_depth: 32,
    max_number_length: 40,
    duplicate_keys: DuplicateKeys::Reject,
};

fn set(dialect: Dialect, schema: Value) -> (SchemaSet, SchemaId) {
    let mut builder = SchemaSetBuilder::new(dialect, false);
    builder.add_resource("urn:test:s", schema).unwrap();
    let id = builder.compile("urn:test:s").unwrap();
    (builder.finish(), id)
}

/// What the full way decides: parse within limits, then boon.
fn full(set: &SchemaSet, id: SchemaId, body: &[u8], limits: &JsonLimits) -> bool {
    json::parse(body, limits).is_ok_and(|v| set.is_valid(id, &v) && set.validate(id, &v).is_empty())
}

/// The quick path never accepts what the full way refuses; returns whether it decided.
fn agrees(set: &SchemaSet, id: SchemaId, body: &[u8], limits: &JsonLimits) -> bool {
    let quick = set.accepts_json(id, body, limits);
    if quick {
        assert!(
            full(set, id, body, limits),
            "quick path accepted what the full way refuses: {}",
            String::from_utf8_lossy(body)
        );
    }
    quick
}

fn order() -> Value {
    json!({
        "type": "object",
        "required": ["customer", "items"],
        "additionalProperties": false,
        "properties": {
            "customer": {"type": "string", "minLength": 1, "maxLength": 8},
            "comment": {"type": "string", "maxLength": 20},
            "kind": {"enum": ["a", "b"]},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "items": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["sku", "qty"],
                    "additionalProperties": false,
                    "properties": {
                        "sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{6}$"},
                        "qty": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "price": {"type": "number", "exclusiveMinimum": 0, "multipleOf": 0.5}
                    }
                }
            }
        }
    })
}

#[test]
fn a_valid_order_is_accepted_quickly() {
    let (mut set, id) = set(Dialect::Draft2020, order());
    let body = br#" {"customer": "c-1", "items": [{"sku": "ABC-000001", "qty": 3, "price": 9.5}],
        "comment": "caf\u00e9 \"x\"", "kind": "b", "tags": []} "#;
    assert!(agrees(&set, id, body, &LIMITS));
    // The fuzz target's switch: every body takes the full way.
    set.disable_quick_path();
    assert!(!set.accepts_json(id, body, &LIMITS));
    assert!(full(&set, id, body, &LIMITS));
}

#[test]
fn invalid_or_unusual_bodies_take_the_full_way() {
    let (set, id) = set(Dialect::Draft2020, order());
    let refused: [&[u8]; 22] = [
        br#"{"customer": "", "items": [{"sku": "ABC-000001", "qty": 3}]}"#,
        br#"{"customer": "c", "items": []}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-00001", "qty": 3}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 3.5}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 0}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1, "price": 0}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1, "price": 0.25}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1, "x": 1}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001"}]}"#,
        br#"{"customer": "c", "customer": "d", "items": [{"sku": "ABC-000001", "qty": 1}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}], "kind": "c"}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}], "kind": 1}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}], "tags": [1]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}], "tags": ["a","b","c","d"]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}], "comment": "123456789012345678901"}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 01}]}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}],}"#,
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1}]} x"#,
        br#"{"customer": "c\ud800", "items": [{"sku": "ABC-000001", "qty": 1}]}"#,
        br#"{"cust\u006fmer": "c", "items": [{"sku": "ABC-000001", "qty": 1}]}"#,
        b"{\"customer\": \"c\x01\", \"items\": [{\"sku\": \"ABC-000001\", \"qty\": 1}]}",
        br#"{"customer": "c", "items": [{"sku": "ABC-000001", "qty": 1e400}]}"#,
    ];
    for body in refused {
        assert!(
            !agrees(&set, id, body, &LIMITS),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn text_that_is_not_utf8_is_never_passed_quickly() {
    // The body is not checked as a whole: each string or key with a byte above ASCII is.
    let (set, id) = set(
        Dialect::Draft2020,
        json!({"type": "object", "properties": {"a": {"type": "string"},
               "b": {"type": "string", "maxLength": 100}, "c": {"type": "string", "minLength": 1}}}),
    );
    for (good, bad) in [
        (
            &b"{\"a\": \"caf\xc3\xa9\"}"[..],
            &b"{\"a\": \"caf\xc3\"}"[..],
        ),
        (
            b"{\"b\": \"\xc3\xa9\xc3\xa9xxxxxxxxxxx\"}",
            b"{\"b\": \"\xff\xfexxxxxxxxxxx\"}",
        ),
        (b"{\"c\": \"\xe2\x82\xac\"}", b"{\"c\": \"\xe2\x82\"}"),
        (b"{\"\xc3\xa9\": 1}", b"{\"\xc3\": 1}"),
        (b"{\"\xc3\xa9abcdefgh\": 1}", b"{\"\xc3abcdefgh\": 1}"),
        (b"{\"a\": \"x\\n\xc3\xa9\"}", b"{\"a\": \"x\\n\xc3\"}"),
        (
            b"{\"a\": \"xxxxxxxxxxxxxxxx\xc3\xa9\"}",
            b"{\"a\": \"xxxxxxxxxxxxxxxx\xed\xa0\x80\"}",
        ),
    ] {
        assert!(
            agrees(&set, id, good, &LIMITS),
            "{}",
            String::from_utf8_lossy(good)
        );
        assert!(
            !agrees(&set, id, bad, &LIMITS),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(!agrees(&set, id, b"{\"a\": \"x\"}\xc3\xa9", &LIMITS));
    assert!(!agrees(&set, id, b"\xef\xbb\xbf{}", &LIMITS));
}

#[test]
fn limits_are_never_passed_quickly() {
    let (set, id) = set(Dialect::Draft2020, json!({}));
    let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
    assert!(!agrees(&set, id, deep.as_bytes(), &LIMITS));
    let ok = format!("{}{}", "[".repeat(32), "]".repeat(32));
    assert!(agrees(&set, id, ok.as_bytes(), &LIMITS));
    let long = format!("[{}]", "1".repeat(41));
    assert!(!agrees(&set, id, long.as_bytes(), &LIMITS));
    assert!(agrees(
        &set,
        id,
        format!("[{}]", "1".repeat(40)).as_bytes(),
        &LIMITS
    ));
    assert!(!agrees(&set, id, b"", &LIMITS));
    assert!(!agrees(&set, id, b"{\"a\":1,\"a\":1}", &LIMITS));
}

#[test]
fn refs_all_of_and_drafts_decide_as_boon_does() {
    let defs = |at: &str| {
        json!({
            at: {"pos": {"type": "integer", "minimum": 1}, "small": {"maximum": 5}},
            "type": "object",
            "properties": {
                "a": {"$ref": format!("#/{at}/pos"), "maximum": 3},
                "b": {"allOf": [{"$ref": format!("#/{at}/pos")}, {"$ref": format!("#/{at}/small")}]}
            }
        })
    };
    let (set20, id20) = set(Dialect::Draft2020, defs("$defs"));
    let (set7, id7) = set(Dialect::Draft7, defs("definitions"));
    for body in [
        r#"{"a": 2, "b": 4}"#,
        r#"{"a": 4}"#,
        r#"{"a": 0}"#,
        r#"{"b": 6}"#,
        r#"{"b": 0}"#,
        r#"{"a": 1.0}"#,
        r#"{"a": "x"}"#,
    ] {
        // Each answer the full way gives, the quick one either gives or leaves to it.
        agrees(&set20, id20, body.as_bytes(), &LIMITS);
        agrees(&set7, id7, body.as_bytes(), &LIMITS);
    }
    assert!(set20.accepts_json(id20, br#"{"a": 2, "b": 4}"#, &LIMITS));
    // Draft-07 ignores `maximum` beside `$ref`: 4 is valid there, not in 2020-12.
    assert!(set7.accepts_json(id7, br#"{"a": 4}"#, &LIMITS));
    assert!(!set20.accepts_json(id20, br#"{"a": 4}"#, &LIMITS));
}

#[test]
fn unsupported_keywords_leave_the_schema_to_boon() {
    for schema in [
        // Alternatives the kind of value does not tell apart.
        json!({"oneOf": [{"type": "string"}, {"maxLength": 3}]}),
        json!({"anyOf": [{"type": "string"}, {"type": ["string", "null"]}]}),
        json!({"patternProperties": {"^a": {}}}),
        json!({"type": "string", "pattern": "^\\d+$"}),
        json!({"$id": "urn:other", "type": "string"}),
        json!({"const": "a"}),
    ] {
        let (set, id) = set(Dialect::Draft2020, schema);
        assert!(!set.accepts_json(id, br#""a""#, &LIMITS));
    }
}

#[test]
fn alternatives_told_apart_by_kind_are_decided_quickly() {
    // OpenAPI 3.0 `nullable: true` beside `allOf`/`$ref`, as the 3.0 translation writes it.
    let schema = json!({
        "definitions": {
            "tag": {"type": "object", "additionalProperties": false,
                    "properties": {"t": {"type": "string", "maxLength": 3}}},
            "id": {"oneOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": "^[a-z]+$"}]}
        },
        "type": "object",
        "properties": {
            "parent": {"anyOf": [{"type": "null"}, {"allOf": [{"$ref": "#/definitions/tag"}]}]},
            "id": {"$ref": "#/definitions/id"},
            "state": {"type": ["string", "null"], "enum": ["on", "off", null]}
        }
    });
    let (set, id) = set(Dialect::Draft7, schema);
    for body in [
        r#"{"parent": null}"#,
        r#"{"parent": {"t": "abc"}}"#,
        r#"{"parent": {}, "id": 3, "state": null}"#,
        r#"{"id": "abc", "state": "on"}"#,
    ] {
        assert!(agrees(&set, id, body.as_bytes(), &LIMITS), "{body}");
    }
    for body in [
        r#"{"parent": {"t": "abcd"}}"#,
        r#"{"parent": {"u": 1}}"#,
        r#"{"parent": 1}"#,
        r#"{"parent": "x"}"#,
        r#"{"id": 0}"#,
        r#"{"id": 1.5}"#,
        r#"{"id": "A"}"#,
        r#"{"id": null}"#,
        r#"{"state": "up"}"#,
        r#"{"state": 1}"#,
    ] {
        assert!(!agrees(&set, id, body.as_bytes(), &LIMITS), "{body}");
    }
    // A choice that reaches itself for the same value is left to boon (it reports the cycle).
    let (cycle, id) = self::set(
        Dialect::Draft2020,
        json!({"anyOf": [{"type": "null"}, {"type": "object", "allOf": [{"$ref": "#"}]}]}),
    );
    assert!(!agrees(&cycle, id, b"{}", &LIMITS));
    assert!(agrees(&cycle, id, b"null", &LIMITS));
}

#[test]
fn simple_patterns_match_as_the_regex_crate_does() {
    use super::{simple_atoms, Pattern};
    let simple = [
        "^[A-Z]{3}-[0-9]{6}$",
        "^[a-z0-9-]{1,36}$",
        "^[a-z]+[0-9]?-$",
        "^a{2,}b*$",
        "^[a-c]?x{0,2}[0-9]$",
        "^$",
        "^[-a]+_$",
        "^[ab.+]{1,3}$",
    ];
    let not_simple = [
        "^[a-z]+[0-9]?[a-z]$",
        "^a*a$",
        "^[a-c]*$|x",
        "[a-z]+$",
        "^[^a]$",
        "^a+?$",
        "^(a)$",
        "^[a-z&&b]$",
        "^.$",
        "^[z-a]$",
        "^[a-Z]$",
        "^a{3,2}$",
    ];
    for p in not_simple {
        assert!(simple_atoms(p).is_none(), "{p}");
    }
    let mut rng = Rng(99);
    let alphabet = b"abcxyzAZ0159-_.+ \xc3";
    for p in simple.iter().chain(&not_simple) {
        let Ok(regex) = regex::Regex::new(p) else {
            continue;
        };
        let pattern = Pattern::new(p, regex.clone());
        assert_eq!(
            matches!(pattern, Pattern::Simple(_)),
            simple.contains(p),
            "{p}"
        );
        for _ in 0..20_000 {
            let len = rng.below(12);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.below(alphabet.len())])
                .collect();
            let text = String::from_utf8_lossy(&bytes);
            assert_eq!(
                pattern.is_match(&text),
                regex.is_match(&text),
                "{p} on {text:?}"
            );
        }
        for text in [
            "ABC-000001",
            "ABC-00001",
            "abc-1",
            "",
            "é",
            "aab",
            "-a_",
            "ab.+",
        ] {
            assert_eq!(
                pattern.is_match(text),
                regex.is_match(text),
                "{p} on {text:?}"
            );
        }
    }
}

#[test]
fn member_names_are_found_exactly() {
    use super::Names;
    let pool = [
        "",
        "a",
        "b",
        "ab",
        "ba",
        "abcdefgh",
        "abcdefghi",
        "abcdefghj",
        "abcdefgh\0",
        "é",
        "éé",
        "field1",
        "field10",
        "field11",
        "a\"b",
        "x y",
        "abcdefghabcdefgh",
        "abcdefghabcdefgi",
    ];
    let mut rng = Rng(5);
    for n in [0, 1, 3, 6, 7, 12, pool.len()] {
        let mut names: Vec<&str> = pool.to_vec();
        // A random subset of n names.
        for i in (1..names.len()).rev() {
            names.swap(i, rng.below(i + 1));
        }
        names.truncate(n);
        let table = Names::new(
            names
                .iter()
                .map(|s| s.as_bytes().to_vec().into_boxed_slice())
                .collect(),
        );
        for key in pool.iter().chain(&["abc", "abcdefg", "fiel"]) {
            // The key inside a body, with and without eight bytes after its start.
            for body in [
                format!("{key}\":1}}"),
                format!("{key}\":1,\"zzzzzzzz\":2}}"),
            ] {
                let b = body.as_bytes();
                let found = table.find(b, 0, key.len());
                assert_eq!(
                    found,
                    names.iter().position(|n| n == key),
                    "{key:?} in {names:?}"
                );
            }
        }
    }
}

/// A deterministic generator (xorshift) for the differential test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n).unwrap()).unwrap()
    }
}

#[test]
fn mutated_orders_never_pass_quickly_where_boon_refuses() {
    let (set, id) = set(Dialect::Draft2020, order());
    let seed = br#"{"customer": "c-1", "items": [{"sku": "ABC-000001", "qty": 3, "price": 9.5}, {"sku": "XYZ-123456", "qty": 1000}], "comment": "a\nb", "kind": "a", "tags": ["t"]}"#;
    let alphabet = b" \t\"\\{}[]:,-+.eE0123456789abcnrtuxyzABCXYZ";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut decided, mut valid) = (0, 0);
    for _ in 0..20_000 {
        let mut body = seed.to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(body.len());
            let byte = alphabet[rng.below(alphabet.len())];
            match rng.below(3) {
                0 => body[at] = byte,
                1 => body.insert(at, byte),
                _ => {
                    body.remove(at);
                }
            }
        }
        if full(&set, id, &body, &LIMITS) {
            valid += 1;
        }
        if agrees(&set, id, &body, &LIMITS) {
            decided += 1;
        }
    }
    // The quick path decides most valid mutants (the rest have escapes or other rarities).
    assert!(decided * 10 >= valid * 8, "{decided} of {valid}");
    assert!(valid > 100, "{valid}");
}

#[test]
fn decimals_read_as_serde_json_reads_them() {
    let mut rng = Rng(7);
    for n in 0..50_000 {
        let int = rng.below(1_000_000_000);
        let frac_len = 1 + rng.below(9);
        let frac = rng.below(1_000_000_000) % 10usize.pow(u32::try_from(frac_len).unwrap());
        let sign = if rng.below(2) == 0 { "-" } else { "" };
        let literal = format!("{sign}{int}.{frac:0frac_len$}");
        let serde = serde_json::from_str::<serde_json::Number>(&literal)
            .unwrap()
            .as_f64()
            .unwrap();
        let digits: String = literal.chars().filter(char::is_ascii_digit).collect();
        let ours = super::decimal(!sign.is_empty(), digits.parse().unwrap(), frac_len).unwrap();
        assert_eq!(ours.to_bits(), serde.to_bits(), "{literal}");
        if n < 200 {
            // Through the walk, against bounds at the value itself.
            let (set, id) = set(
                Dialect::Draft2020,
                json!({"minimum": serde, "maximum": serde}),
            );
            assert!(agrees(&set, id, literal.as_bytes(), &LIMITS), "{literal}");
        }
    }
}

/// Random schemas from the plan's keywords (and a few outside it), for the differential test.
struct Gen {
    rng: Rng,
    /// Names of the `$defs` a schema may `$ref`.
    defs: Vec<String>,
}

const NUMBERS: [&str; 18] = [
    "0",
    "-0",
    "1",
    "2",
    "3",
    "-1",
    "0.1",
    "0.3",
    "0.5",
    "1.5",
    "-2.5",
    "1e2",
    "9007199254740993",
    "18446744073709551615",
    "-9223372036854775808",
    "1e20",
    "1e308",
    "1e-9",
];
const PATTERNS: [&str; 12] = [
    "^a",
    "b$",
    "^[a-c]*$",
    "^.{2}$",
    "é",
    "(?i)^A",
    "^$|x",
    "^[a-b]{1,2}-?[0-9]$",
    "^a*b?[ab]$",
    "^[a-z-]+$",
    "^ab?$",
    "^[A-C]{3}$",
];
const WORDS: [&str; 8] = ["", "a", "b", "ab", "é", "aé", "a\"b", "ABC"];

impl Gen {
    fn pick<T: Clone>(&mut self, from: &[T]) -> T {
        from[self.rng.below(from.len())].clone()
    }

    fn number(&mut self) -> Value {
        let text: &str = self.pick(&NUMBERS);
        serde_json::from_str(text).unwrap()
    }

    fn count(&mut self) -> Value {
        json!(self.rng.below(4))
    }

    fn schema(&mut self, depth: usize) -> Value {
        match self.rng.below(12) {
            0 => return json!(true),
            1 if depth > 0 => return json!(false),
            2 if !self.defs.is_empty() => {
                let name = self.pick(&self.defs.clone());
                let mut s = json!({"$ref": format!("#/$defs/{name}")});
                if self.rng.below(2) == 0 {
                    s["maximum"] = self.number();
                }
                return s;
            }
            _ => {}
        }
        let mut s = serde_json::Map::new();
        for _ in 0..self.rng.below(4) {
            let types = [
                "null", "boolean", "object", "array", "number", "integer", "string",
            ];
            let (k, v) = match self.rng.below(27) {
                0 => ("type", json!(self.pick(&types))),
                1 => ("type", json!([self.pick(&types), self.pick(&types)])),
                2 if self.rng.below(3) == 0 => ("enum", json!([self.pick(&WORDS), null])),
                2 => ("enum", json!([self.pick(&WORDS), self.pick(&WORDS)])),
                3 if depth < 3 => {
                    let mut props = serde_json::Map::new();
                    for _ in 0..self.rng.below(3) {
                        let name = self.pick(&WORDS).to_string();
                        props.insert(name, self.schema(depth + 1));
                    }
                    ("properties", Value::Object(props))
                }
                4 => ("required", json!([self.pick(&WORDS)])),
                5 => ("additionalProperties", json!(self.rng.below(2) == 0)),
                6 if depth < 3 => ("additionalProperties", self.schema(depth + 1)),
                7 => ("minProperties", self.count()),
                8 => ("maxProperties", self.count()),
                9 if depth < 3 => ("items", self.schema(depth + 1)),
                10 => ("minItems", self.count()),
                11 => ("maxItems", self.count()),
                12 => ("minLength", self.count()),
                13 => ("maxLength", self.count()),
                14 => ("pattern", json!(self.pick(&PATTERNS))),
                15 => ("minimum", self.number()),
                16 => ("maximum", self.number()),
                17 => ("exclusiveMinimum", self.number()),
                18 => ("exclusiveMaximum", self.number()),
                19 => {
                    let m = ["0.5", "0.1", "0.01", "3", "1e-9", "7", "1e300"];
                    let text: &str = self.pick(&m);
                    ("multipleOf", serde_json::from_str(text).unwrap())
                }
                20 if depth < 3 => (
                    "allOf",
                    json!([self.schema(depth + 1), self.schema(depth + 1)]),
                ),
                21 => ("const", json!(self.pick(&WORDS))),
                23 | 24 if depth < 3 => (
                    ["anyOf", "oneOf"][self.rng.below(2)],
                    json!([self.schema(depth + 1), self.schema(depth + 1)]),
                ),
                // OpenAPI 3.0's `nullable` beside a composition or `$ref`, as translated.
                25 if depth < 3 => (
                    "anyOf",
                    json!([{"type": "null"}, {"allOf": [self.schema(depth + 1)]}]),
                ),
                22 => ("format", json!(self.pick(&["int32", "email", "date"]))),
                _ => ("title", json!("t")),
            };
            s.insert(k.to_string(), v);
        }
        Value::Object(s)
    }

    /// A value near what `schema` asks for (or anything).
    fn instance(&mut self, schema: &Value, root: &Value, depth: usize) -> Value {
        let schema = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) if self.rng.below(2) == 0 => root.pointer(&r[1..]).unwrap_or(schema),
            _ => schema,
        };
        if self.rng.below(8) == 0 || depth > 4 {
            return self.any();
        }
        if let Some(Value::Array(parts)) = schema.get("allOf") {
            if let Some(part) = parts.get(self.rng.below(parts.len().max(1))) {
                if self.rng.below(2) == 0 {
                    return self.instance(part, root, depth + 1);
                }
            }
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(parts)) = schema.get(key) {
                if let Some(part) = parts.get(self.rng.below(parts.len().max(1))) {
                    if self.rng.below(4) != 0 {
                        return self.instance(part, root, depth + 1);
                    }
                }
            }
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            return self.pick(values);
        }
        let ty = match schema.get("type") {
            Some(Value::String(t)) => t.clone(),
            Some(Value::Array(ts)) => self.pick(ts).as_str().unwrap().to_string(),
            _ => ["object", "array", "number", "string"][self.rng.below(4)].to_string(),
        };
        match ty.as_str() {
            "object" => {
                let mut obj = serde_json::Map::new();
                if let Some(Value::Object(props)) = schema.get("properties") {
                    for (k, v) in props {
                        if self.rng.below(4) != 0 {
                            obj.insert(k.clone(), self.instance(v, root, depth + 1));
                        }
                    }
                }
                if let Some(Value::Array(req)) = schema.get("required") {
                    for k in req {
                        let k = k.as_str().unwrap().to_string();
                        if !obj.contains_key(&k) && self.rng.below(8) != 0 {
                            obj.insert(k, self.any());
                        }
                    }
                }
                if self.rng.below(4) == 0 {
                    let extra = schema
                        .get("additionalProperties")
                        .cloned()
                        .unwrap_or(json!({}));
                    let v = self.instance(&extra, root, depth + 1);
                    obj.insert(self.pick(&WORDS).to_string(), v);
                }
                Value::Object(obj)
            }
            "array" => {
                let items = schema.get("items").cloned().unwrap_or(json!({}));
                (0..self.rng.below(4))
                    .map(|_| self.instance(&items, root, depth + 1))
                    .collect()
            }
            "string" => json!(self.pick(&WORDS)),
            "null" => Value::Null,
            "boolean" => json!(self.rng.below(2) == 0),
            _ => {
                let bounds = [
                    "minimum",
                    "maximum",
                    "exclusiveMinimum",
                    "exclusiveMaximum",
                    "multipleOf",
                ];
                match schema.get(self.pick(&bounds)) {
                    Some(n) if self.rng.below(2) == 0 => n.clone(),
                    _ => self.number(),
                }
            }
        }
    }

    fn any(&mut self) -> Value {
        match self.rng.below(6) {
            0 => Value::Null,
            1 => json!(true),
            2 => self.number(),
            3 => json!(self.pick(&WORDS)),
            4 => json!([]),
            _ => json!({}),
        }
    }

    /// JSON text of `v` with the spellings serde_json also reads: spaces, escapes, number forms.
    fn render(&mut self, v: &Value, out: &mut String) {
        let space = |g: &mut Self, out: &mut String| {
            out.push_str([" ", "", "", "\n\t"][g.rng.below(4)]);
        };
        match v {
            Value::Number(n) => {
                let text = n.to_string();
                match self.rng.below(6) {
                    0 if n.is_u64() || n.is_i64() => out.push_str(&format!("{text}.0")),
                    1 if n.is_u64() || n.is_i64() => out.push_str(&format!("{text}e0")),
                    2 if n.is_u64() => out.push_str(&format!("{text}0E-1")),
                    _ => out.push_str(&text),
                }
            }
            Value::String(s) => {
                out.push('"');
                for c in s.chars() {
                    match (c, self.rng.below(3)) {
                        ('"', _) => out.push_str("\\\""),
                        (c, 0) => out.push_str(&format!("\\u{:04x}", u32::from(c))),
                        (c, _) => out.push(c),
                    }
                }
                out.push('"');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(self, out);
                    self.render(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                out.push('{');
                for (i, (k, item)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    space(self, out);
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    space(self, out);
                    self.render(item, out);
                }
                out.push('}');
            }
            other => out.push_str(&other.to_string()),
        }
    }
}

#[test]
fn random_schemas_and_bodies_never_pass_quickly_where_the_full_way_refuses() {
    let mut g = Gen {
        rng: Rng(0x2545_f491_4f6c_dd1d),
        defs: Vec::new(),
    };
    // More rounds (and another seed) for a longer hunt: PALISADE_QUICK_ROUNDS=100000.
    let rounds = std::env::var("PALISADE_QUICK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(3000);
    if let Some(seed) = std::env::var("PALISADE_QUICK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        g.rng = Rng(seed);
    }
    let (mut schemas, mut planned, mut decided, mut valid) = (0, 0, 0, 0);
    for n in 0..rounds {
        g.defs = vec!["d0".into(), "d1".into()];
        let mut schema = g.schema(0);
        if let Value::Object(map) = &mut schema {
            let d0 = g.schema(1);
            let d1 = g.schema(1);
            map.insert("$defs".into(), json!({"d0": d0, "d1": d1}));
        }
        let dialect = if n % 3 == 0 {
            Dialect::Draft7
        } else {
            Dialect::Draft2020
        };
        let mut builder = SchemaSetBuilder::new(dialect, n % 5 == 0);
        builder.add_resource("urn:test:s", schema.clone()).unwrap();
        let Ok(id) = builder.compile("urn:test:s") else {
            continue;
        };
        let set = builder.finish();
        schemas += 1;
        let mut any_quick = false;
        for _ in 0..20 {
            let value = g.instance(&schema, &schema, 0);
            let mut body = String::new();
            g.render(&value, &mut body);
            let mut body = body.into_bytes();
            if g.rng.below(4) == 0 && !body.is_empty() {
                let at = g.rng.below(body.len());
                body.insert(at, g.pick(b"0.e-\",]}1 \\"));
            }
            let limits = JsonLimits {
                max_depth: 1 + g.rng.below(4),
                max_number_length: [1, 3, 25][g.rng.below(3)],
                duplicate_keys: DuplicateKeys::Reject,
            };
            let limits = if g.rng.below(2) == 0 { LIMITS } else { limits };
            valid += usize::from(full(&set, id, &body, &limits));
            let quick = agrees(&set, id, &body, &limits);
            decided += usize::from(quick);
            any_quick |= quick;
        }
        planned += usize::from(any_quick);
    }
    println!("{schemas} schemas, {planned} with a quick answer; {decided} quick of {valid} valid");
    // The generator reaches both ways often (numbers of this seed, for a changed generator).
    assert!(schemas * 2 > rounds, "{schemas}");
    assert!(planned * 3 > schemas, "{planned} of {schemas}");
    assert!(decided * 4 > valid, "{decided} of {valid}");
}

/// `{"$defs": {"d0": .., "d1": .., ..}}` where each `d<i>` leads to `d<i+1>` through `link`.
fn chain(n: usize, link: impl Fn(String) -> Value) -> Value {
    let mut defs = serde_json::Map::new();
    for i in 0..n {
        defs.insert(format!("d{i}"), link(format!("#/$defs/d{}", i + 1)));
    }
    defs.insert(format!("d{n}"), json!({"type": "integer"}));
    json!({"$defs": defs})
}

#[test]
fn long_reference_paths_are_planned_within_bounds() {
    // Planning recursed once per schema on the path: a chain of 200 `$ref`s through
    // `properties` overflowed the stack (2 MiB test thread, debug build) at configure time.
    let deep = chain(
        5000,
        |next| json!({"type": "object", "properties": {"p": {"$ref": next}}}),
    );
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, false);
    builder.add_resource("urn:test:s", deep).unwrap();
    let far = builder.register("urn:test:s#/$defs/d0");
    let near = builder.register("urn:test:s#/$defs/d4990");
    let set = builder.finish();
    let body = br#"{"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": 1}}}}}}}}}}"#;
    assert!(!set.accepts_json(far, body, &LIMITS));
    assert!(set.accepts_json(near, body, &LIMITS));
    assert!(!set.accepts_json(
        near,
        br#"{"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": {"p": 1}}}}}}}}}}}"#,
        &LIMITS
    ));

    // A chain of `allOf`s built from schemas planned one by one (each finds the next one
    // planned): its flattening was cubic in the chain's length; now only a short reach is.
    let long = chain(
        3000,
        |next| json!({"allOf": [{"$ref": next}], "minimum": 0}),
    );
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, false);
    builder.add_resource("urn:test:s", long.clone()).unwrap();
    let ids: Vec<SchemaId> = (0..=3000)
        .rev()
        .map(|i| builder.register(&format!("urn:test:s#/$defs/d{i}")))
        .collect();
    let set = builder.finish();
    let (first, last) = (ids[3000], ids[10]); // d0 and d2990
    assert!(!set.accepts_json(first, b"5", &LIMITS));
    assert!(set.accepts_json(last, b"5", &LIMITS));
    assert!(!set.accepts_json(last, b"-5", &LIMITS));
    assert!(!set.accepts_json(last, b"5.5", &LIMITS));
    // The full way agrees where the chain is short enough for boon.
    let (short, id) = set_with(long, "urn:test:s#/$defs/d2990");
    assert!(agrees(&short, id, b"5", &LIMITS));
}

fn set_with(doc: Value, location: &str) -> (SchemaSet, SchemaId) {
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, false);
    builder.add_resource("urn:test:s", doc).unwrap();
    let id = builder.compile(location).unwrap();
    (builder.finish(), id)
}

/// Locations and `$ref`s name their pointers percent-encoded (`%7B` for a path template's `{`,
/// `%25` for `%`); the quick path reads them decoded, as boon does, and member names with `%`
/// are found as written.
#[test]
fn percent_encoded_pointers_are_planned_as_boon_reads_them() {
    let doc = json!({
        "paths": {"/things/{id}": {"schema": {"type": "object",
            "properties": {"50%": {"$ref": "#/$defs/a%25b"}}, "required": ["50%"]}}},
        "$defs": {"a%b": {"type": "integer", "maximum": 5}}
    });
    let (set, id) = set_with(doc, "urn:test:s#/paths/~1things~1%7Bid%7D/schema");
    assert!(
        agrees(&set, id, br#"{"50%": 5}"#, &LIMITS),
        "decided quickly"
    );
    for body in [r#"{"50%": 6}"#, r#"{"50": 1}"#, r#"{"50%": "5"}"#, r#"{}"#] {
        assert!(!agrees(&set, id, body.as_bytes(), &LIMITS), "{body}");
        assert!(!full(&set, id, body.as_bytes(), &LIMITS), "{body}");
    }
}

#[test]
fn schemas_planned_in_batches_each_keep_their_own_shapes() {
    // Schemas are planned PLAN_BATCH at a time and the batches' shapes appended: every schema
    // must still find its own checks (a renumbering slip would hand it another's), in the first
    // batch, the last and between, with a component all of them share.
    let count = crate::quick::PLAN_BATCH * 3 + 5;
    let defs: serde_json::Map<String, Value> = (0..count)
        .map(|i| {
            (
                format!("s{i}"),
                json!({"type": "object", "required": ["n"], "additionalProperties": false,
                       "properties": {"n": {"type": "integer", "minimum": i, "maximum": i},
                                      "tag": {"$ref": "#/$defs/shared"},
                                      "list": {"type": "array", "items": {"$ref": "#/$defs/shared"}}}}),
            )
        })
        .chain([(
            "shared".to_string(),
            json!({"type": "string", "maxLength": 3}),
        )])
        .collect();
    let mut builder = SchemaSetBuilder::new(Dialect::Draft2020, false);
    builder
        .add_resource("urn:test:batches", json!({"$defs": defs}))
        .unwrap();
    let ids: Vec<SchemaId> = (0..count)
        .map(|i| {
            builder
                .compile(&format!("urn:test:batches#/$defs/s{i}"))
                .unwrap()
        })
        .collect();
    let set = builder.finish();
    for (i, &id) in ids.iter().enumerate() {
        let ok = format!(r#"{{"n": {i}, "tag": "abc", "list": ["a", "bc"]}}"#);
        assert!(
            agrees(&set, id, ok.as_bytes(), &LIMITS),
            "schema {i} planned"
        );
        let other = format!(r#"{{"n": {}}}"#, i + 1);
        assert!(!agrees(&set, id, other.as_bytes(), &LIMITS), "schema {i}");
        assert!(!full(&set, id, other.as_bytes(), &LIMITS));
        let long = format!(r#"{{"n": {i}, "list": ["abcd"]}}"#);
        assert!(!agrees(&set, id, long.as_bytes(), &LIMITS), "schema {i}");
        assert!(
            !agrees(&set, id, br#"{"n": 0, "x": 1}"#, &LIMITS),
            "schema {i}"
        );
    }
}
