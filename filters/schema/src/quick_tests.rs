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
    let (set, id) = set(Dialect::Draft2020, order());
    let body = br#" {"customer": "c-1", "items": [{"sku": "ABC-000001", "qty": 3, "price": 9.5}],
        "comment": "caf\u00e9 \"x\"", "kind": "b", "tags": []} "#;
    assert!(agrees(&set, id, body, &LIMITS));
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
        json!({"oneOf": [{"type": "string"}]}),
        json!({"patternProperties": {"^a": {}}}),
        json!({"type": "string", "pattern": "^\\d+$"}),
        json!({"$id": "urn:other", "type": "string"}),
        json!({"const": "a"}),
    ] {
        let (set, id) = set(Dialect::Draft2020, schema);
        assert!(!set.accepts_json(id, br#""a""#, &LIMITS));
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
