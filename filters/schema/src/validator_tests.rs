use super::*;
use serde_json::json;

fn set_with(default: Dialect, schema: Value) -> (SchemaSet, SchemaId) {
    let mut b = SchemaSetBuilder::new(default, false);
    b.add_resource("urn:test:root", schema).unwrap();
    let id = b.compile("urn:test:root").unwrap();
    (b.finish(), id)
}

#[test]
fn errors_carry_pointer_keyword_and_detail() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"object","properties":{"items":{"type":"array","items":{
            "type":"object","required":["price"],"properties":{"price":{"type":"number","minimum":0}}}}}}),
    );
    assert!(set.validate(id, &json!({"items":[{"price":1}]})).is_empty());
    let errors = set.validate(
        id,
        &json!({"items":[{"price":1},{"price":2},{"price":3},{"price":-1},{}]}),
    );
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].pointer, "/items/3/price");
    assert_eq!(errors[0].keyword, "minimum");
    assert!(errors[0].detail.contains(">=0"), "{}", errors[0].detail);
    assert!(
        errors[0]
            .schema_location
            .ends_with("/properties/price/minimum"),
        "{}",
        errors[0].schema_location
    );
    assert_eq!(errors[1].pointer, "/items/4");
    assert_eq!(errors[1].keyword, "required");
}

#[test]
fn one_of_is_reported_once_not_per_alternative() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"oneOf":[{"type":"string"},{"type":"integer","minimum":5}]}),
    );
    let errors = set.validate(id, &json!(1));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].keyword, "oneOf");
    assert_eq!(errors[0].pointer, "");
}

#[test]
fn additional_properties_keyword_is_spelled_as_in_the_spec() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"properties":{"a":{}},"additionalProperties":false}),
    );
    let errors = set.validate(id, &json!({"a":1,"b":2}));
    assert_eq!(errors[0].keyword, "additionalProperties");
}

#[test]
fn refs_resolve_to_resources_given_in_config() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource(
        "https://schemas.example.com/money.json",
        json!({"type":"object","required":["amount","currency"],
               "properties":{"currency":{"enum":["EUR","USD"]}}}),
    )
    .unwrap();
    b.add_resource(
        "urn:test:root",
        json!({"properties":{"total":{"$ref":"https://schemas.example.com/money.json"}}}),
    )
    .unwrap();
    let id = b.compile("urn:test:root").unwrap();
    let set = b.finish();
    assert!(set.is_valid(id, &json!({"total":{"amount":1,"currency":"EUR"}})));
    let errors = set.validate(id, &json!({"total":{"amount":1,"currency":"GBP"}}));
    assert_eq!(errors[0].pointer, "/total/currency");
    assert_eq!(errors[0].keyword, "enum");
}

#[test]
fn unknown_refs_fail_at_compile_time_and_are_never_fetched() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource(
        "urn:test:root",
        json!({"$ref":"https://schemas.example.com/missing.json"}),
    )
    .unwrap();
    let err = b.compile("urn:test:root").unwrap_err();
    assert!(
        err.contains("https://schemas.example.com/missing.json"),
        "{err}"
    );
    assert!(err.contains("never fetched"), "{err}");

    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource("urn:test:root", json!({"$ref":"file:///etc/passwd"}))
        .unwrap();
    assert!(b.compile("urn:test:root").is_err(), "no file loader either");
}

#[test]
fn dialect_comes_from_schema_keyword_then_the_default() {
    // `$ref` siblings are ignored in draft-07 but apply in 2020-12.
    let schema = |meta: Option<&str>| {
        let mut s = json!({"$defs":{"s":{"type":"string"}},"definitions":{"s":{"type":"string"}},
                           "$ref":"#/definitions/s","maxLength":2});
        if let Some(m) = meta {
            s["$schema"] = json!(m);
        }
        s
    };
    let long = json!("abcdef");
    let (set, id) = set_with(Dialect::Draft2020, schema(None));
    assert!(
        !set.is_valid(id, &long),
        "2020-12 applies maxLength beside $ref"
    );
    let (set, id) = set_with(Dialect::Draft7, schema(None));
    assert!(
        set.is_valid(id, &long),
        "draft-07 ignores maxLength beside $ref"
    );
    let (set, id) = set_with(
        Dialect::Draft2020,
        schema(Some("http://json-schema.org/draft-07/schema#")),
    );
    assert!(set.is_valid(id, &long), "$schema wins over the default");
}

#[test]
fn sub_schemas_compile_by_json_pointer_and_share_refs() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource(
        "urn:test:doc",
        json!({"paths":{"/users/{id}":{"schema":{"$ref":"#/components/User"}}},
               "components":{"User":{"type":"object","required":["name"]}}}),
    )
    .unwrap();
    let id = b
        .compile("urn:test:doc#/paths/~1users~1%7Bid%7D/schema")
        .unwrap();
    let set = b.finish();
    assert!(set.is_valid(id, &json!({"name":"x"})));
    assert!(!set.is_valid(id, &json!({})));
}

#[test]
fn formats_assert_only_when_asked() {
    let schema = json!({"type":"string","format":"uuid"});
    let (set, id) = set_with(Dialect::Draft2020, schema.clone());
    assert!(set.is_valid(id, &json!("nope")));
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, true);
    b.add_resource("urn:test:root", schema).unwrap();
    let id = b.compile("urn:test:root").unwrap();
    let set = b.finish();
    assert!(!set.is_valid(id, &json!("nope")));
    assert!(set.is_valid(id, &json!("0b9f3c1e-8d4a-4c55-9a9e-1f0c2b7d6e5a")));
    assert_eq!(set.validate(id, &json!("nope"))[0].keyword, "format");
}

#[test]
fn openapi_integer_formats_check_the_range() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, true);
    b.add_resource(
        "urn:test:root",
        json!({"properties":{"a":{"format":"int32"},"b":{"format":"int64"}}}),
    )
    .unwrap();
    let id = b.compile("urn:test:root").unwrap();
    let set = b.finish();
    assert!(set.is_valid(
        id,
        &json!({"a": 2147483647, "b": -9223372036854775808i64, "c": "x"})
    ));
    assert!(!set.is_valid(id, &json!({"a": 2147483648u64})));
    assert!(!set.is_valid(id, &json!({"b": 9223372036854775808u64})));
    assert!(
        set.is_valid(id, &json!({"a": "not a number"})),
        "only numbers are this format's concern"
    );
}

#[test]
fn capped_validation_of_many_bad_items_builds_only_the_cap() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"array","items":{"type":"integer","minimum":0}}),
    );
    let bad = Value::Array(vec![json!(-1); 100_000]);
    let found = set.validate_capped(id, &bad, 3);
    let pointers: Vec<&str> = found.kept.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(pointers, vec!["/0", "/1", "/2"]);
    // Only the first 3 items were walked with errors: boon built 3 failures, not 100,000.
    assert_eq!((found.total, found.at_least), (3, true));
    let found = set.validate_capped(id, &bad, 0);
    assert!(found.kept.is_empty());
    assert_eq!((found.total, found.at_least), (1, true));
    assert_eq!(
        set.validate_capped(id, &json!([1, 2]), 3),
        Failures::default()
    );
    assert_eq!(
        set.validate(id, &bad).len(),
        100_000,
        "uncapped still lists all"
    );
}

#[test]
fn capped_validation_finds_sparse_failures_and_counts_exactly_when_it_walks_all() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"array","items":{"type":"integer","minimum":0}}),
    );
    let mut items = vec![json!(1); 1000];
    items[700] = json!(-1);
    items[999] = json!("x");
    let found = set.validate_capped(id, &Value::Array(items), 10);
    let pointers: Vec<&str> = found.kept.iter().map(|e| e.pointer.as_str()).collect();
    assert_eq!(pointers, vec!["/700", "/999"]);
    assert_eq!((found.total, found.at_least), (2, false));
}

#[test]
fn capped_validation_keeps_the_decision_when_only_the_container_fails() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"array","minItems":50,"maxItems":100,"items":{"minimum":0}}),
    );
    // Prefixes are short of minItems: that artefact must not be reported.
    let fine = Value::Array(vec![json!(1); 60]);
    assert_eq!(set.validate_capped(id, &fine, 2), Failures::default());
    let too_long = Value::Array(vec![json!(1); 101]);
    let found = set.validate_capped(id, &too_long, 2);
    let keywords: Vec<&str> = found.kept.iter().map(|e| e.keyword.as_str()).collect();
    assert_eq!(keywords, vec!["maxItems"]);
    assert_eq!((found.total, found.at_least), (1, false));
    let (set, id) = set_with(
        Dialect::Draft7,
        json!({"type":"object","required":["z"],"additionalProperties":{"type":"string"}}),
    );
    let members: serde_json::Map<String, Value> =
        (0..1000).map(|i| (format!("k{i}"), json!(i))).collect();
    let found = set.validate_capped(id, &Value::Object(members), 4);
    assert_eq!(found.kept.len(), 4);
    assert!(
        found.kept.iter().all(|e| e.keyword == "type"),
        "{:?}",
        found.kept
    );
    assert!(found.at_least);
}

#[test]
fn capped_validation_is_bounded_for_a_wide_array_deep_in_the_body() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"object","required":["items"],"properties":{"items":{
            "type":"array","minItems":1000,"items":{"type":"integer","minimum":0}}}}),
    );
    let body = json!({"items": vec![json!(-1); 100_000]});
    let found = set.validate_capped(id, &body, 2);
    let pointers: Vec<&str> = found.kept.iter().map(|e| e.pointer.as_str()).collect();
    // No `minItems` from the cut copy, and only 2 of the 100,000 failures built.
    assert_eq!(pointers, vec!["/items/0", "/items/1"]);
    assert_eq!((found.total, found.at_least), (2, true));
    let fine = json!({"items": vec![json!(1); 100_000]});
    assert_eq!(set.validate_capped(id, &fine, 2), Failures::default());
}

#[test]
fn is_valid_agrees_with_full_validation() {
    let (set, id) = set_with(
        Dialect::Draft2020,
        json!({"type":"array","items":{"not":{"const":3}},"contains":{"const":1}}),
    );
    for value in [
        json!([1, 2]),
        json!([2]),
        json!([1, 3]),
        json!("x"),
        json!([]),
    ] {
        assert_eq!(
            set.is_valid(id, &value),
            set.validate(id, &value).is_empty(),
            "{value}"
        );
    }
}

#[test]
fn schemas_beyond_the_compiled_bound_are_compiled_again_on_use() {
    let count = MAX_COMPILED_SCHEMAS + 500;
    let defs: Map<String, Value> = (0..count)
        .map(|i| (format!("d{i}"), json!({"type": "integer", "minimum": i})))
        .collect();
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource("urn:test:many", json!({"$defs": defs}))
        .unwrap();
    let ids: Vec<SchemaId> = (0..count)
        .map(|i| b.compile(&format!("urn:test:many#/$defs/d{i}")).unwrap())
        .collect();
    let set = b.finish();
    assert!(set.lazy.borrow().schemas.size() <= MAX_COMPILED_SCHEMAS);
    for (i, id) in ids.iter().enumerate().rev().chain(ids.iter().enumerate()) {
        assert!(set.is_valid(*id, &json!(i)), "{i}");
        assert!(!set.is_valid(*id, &json!(i as i64 - 1)), "{i}");
        assert_eq!(
            set.validate(*id, &json!(i as i64 - 1))[0].keyword,
            "minimum"
        );
        assert!(set.lazy.borrow().schemas.size() <= MAX_COMPILED_SCHEMAS + 3);
    }
}

#[test]
fn a_bad_schema_is_refused_when_checked_not_on_first_use() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource(
        "urn:test:bad",
        json!({"$defs": {"ok": {"type": "string"}, "bad": {"$ref": "#/$defs/missing"}}}),
    )
    .unwrap();
    assert!(b.compile("urn:test:bad#/$defs/ok").is_ok());
    let err = b.compile("urn:test:bad#/$defs/bad").unwrap_err();
    assert!(err.contains("missing"), "{err}");
}

/// Parameter readings decided by the quick path ([`SchemaSet::accepts_value`]) agree with boon,
/// and the common ones (a string under an ASCII pattern, a bounded integer) are decided quickly.
#[test]
fn parameter_readings_decided_quickly_agree_with_the_full_way() {
    let cases = [
        (
            json!({"type": "string", "pattern": "^[a-z0-9-]{1,36}$"}),
            vec![
                json!("order-42"),
                json!(""),
                json!("Order-42"),
                json!("a".repeat(37)),
                json!("ü"),
                json!(7),
            ],
        ),
        (
            json!({"type": "integer", "minimum": 1, "maximum": 100}),
            vec![
                json!(1),
                json!(100),
                json!(0),
                json!(101),
                json!(1.5),
                json!("5"),
            ],
        ),
        (
            json!({"type": "string", "enum": ["asc", "desc"]}),
            vec![json!("asc"), json!("ASC"), json!(null), json!("a\"sc")],
        ),
        (
            json!({"type": "array", "items": {"type": "string", "maxLength": 3}, "maxItems": 2}),
            vec![
                json!(["a", "bc"]),
                json!(["abcd"]),
                json!(["a", "b", "c"]),
                json!([]),
            ],
        ),
        (
            json!({"type": "object", "properties": {"r": {"type": "integer"}, "g": {"type": "integer"}},
                   "required": ["r"], "additionalProperties": false}),
            vec![
                json!({"r": 1, "g": 2}),
                json!({"g": 2}),
                json!({"r": 1, "b": 3}),
                json!({"r": "x"}),
            ],
        ),
        (
            json!({"type": "number", "multipleOf": 0.5, "exclusiveMinimum": 0}),
            vec![json!(0.5), json!(1e3), json!(0), json!(0.3), json!(-1.5e-7)],
        ),
    ];
    for (schema, values) in cases {
        let (set, id) = set_with(Dialect::Draft2020, schema.clone());
        for value in values {
            let quick = set.accepts_value(id, &value);
            let full = set.is_valid(id, &value);
            assert!(
                !quick || full,
                "{schema} {value}: quick accepts what boon refuses"
            );
            assert_eq!(
                quick, full,
                "{schema} {value}: the quick path left a valid reading"
            );
        }
    }
}
