use super::*;
use crate::validator::{Dialect, SchemaSetBuilder};
use serde_json::json;

/// A parameter with a schema, compiled alone.
fn spec(
    name: &str,
    location: Location,
    style: Style,
    explode: bool,
    schema: Value,
) -> (ParamSpec, SchemaSet) {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource("urn:test:param", schema.clone()).unwrap();
    let id = b.compile("urn:test:param").unwrap();
    let spec = ParamSpec {
        name: name.into(),
        location,
        required: true,
        check: ParamCheck::Styled {
            schema: Some(id),
            hint: TypeHint::from_schema(&schema, &json!({})),
            style,
            explode,
        },
    };
    (spec, b.finish())
}

fn headers(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

fn parts(path_query: &str, hs: &[(&str, &str)], captures: &[(&str, &str)]) -> RequestParts {
    RequestParts::new(path_query, &headers(hs), headers(captures))
}

fn check(spec: &(ParamSpec, SchemaSet), parts: &RequestParts) -> Vec<Violation> {
    let mut out = Violations::default();
    spec.0.check(parts, &spec.1, &mut out);
    out.into_vec()
}

/// Spec whose schema accepts exactly `expected`, to see the value read from the request.
fn reads(
    name: &str,
    location: Location,
    style: Style,
    explode: bool,
    hint_schema: Value,
    parts: &RequestParts,
    expected: Value,
) {
    let mut schema = hint_schema;
    schema["const"] = expected.clone();
    let s = spec(name, location, style, explode, schema);
    let got = check(&s, parts);
    assert!(
        got.is_empty(),
        "{name} ({style:?}, explode {explode}) did not read as {expected}: {got:?}"
    );
}

#[test]
fn query_integers_are_coerced_and_validated() {
    let limit = spec(
        "limit",
        Location::Query,
        Style::Form,
        true,
        json!({"type":"integer","maximum":100}),
    );
    assert!(check(&limit, &parts("/x?limit=20", &[], &[])).is_empty());
    let v = check(&limit, &parts("/x?limit=200", &[], &[]));
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0].location, v[0].pointer.as_str(), v[0].keyword.as_str()),
        (Location::Query, "/limit", "maximum")
    );
    let v = check(&limit, &parts("/x?limit=ten", &[], &[]));
    assert_eq!(v[0].keyword, "type");
    let v = check(&limit, &parts("/x", &[], &[]));
    assert_eq!(
        (v[0].keyword.as_str(), v[0].pointer.as_str()),
        ("required", "/limit")
    );
}

#[test]
fn repeated_scalars_are_refused_as_parameter_pollution() {
    let limit = spec(
        "limit",
        Location::Query,
        Style::Form,
        true,
        json!({"type":"integer"}),
    );
    let v = check(&limit, &parts("/x?limit=1&limit=1000", &[], &[]));
    assert_eq!(v[0].keyword, "duplicate");
}

#[test]
fn query_arrays_and_objects_follow_style_and_explode() {
    let arr = json!({"type":"array","items":{"type":"integer"}});
    let q = |s| parts(s, &[], &[]);
    reads(
        "id",
        Location::Query,
        Style::Form,
        true,
        arr.clone(),
        &q("/x?id=3&id=4&id=5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Query,
        Style::Form,
        false,
        arr.clone(),
        &q("/x?id=3,4,5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Query,
        Style::SpaceDelimited,
        false,
        arr.clone(),
        &q("/x?id=3%204+5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Query,
        Style::PipeDelimited,
        false,
        arr,
        &q("/x?id=3|4|5"),
        json!([3, 4, 5]),
    );
    let text = json!({"type":"array","items":{"type":"string"}});
    reads(
        "t",
        Location::Query,
        Style::Form,
        false,
        text,
        &q("/x?t=a%2Cb,c"),
        json!(["a,b", "c"]),
    );
    let obj =
        json!({"type":"object","properties":{"min":{"type":"integer"},"tag":{"type":"string"}}});
    reads(
        "filter",
        Location::Query,
        Style::Form,
        true,
        obj.clone(),
        &q("/x?min=5&tag=7&other=1"),
        json!({"min":5,"tag":"7"}),
    );
    reads(
        "filter",
        Location::Query,
        Style::Form,
        false,
        obj.clone(),
        &q("/x?filter=min,5,tag,a+b"),
        json!({"min":5,"tag":"a b"}),
    );
    reads(
        "filter",
        Location::Query,
        Style::DeepObject,
        true,
        obj,
        &q("/x?filter%5Bmin%5D=5&filter[tag]=x"),
        json!({"min":5,"tag":"x"}),
    );
}

#[test]
fn path_styles_simple_label_and_matrix() {
    let int = json!({"type":"integer"});
    let arr = json!({"type":"array","items":{"type":"integer"}});
    let obj = json!({"type":"object","properties":{"r":{"type":"integer"},"g":{"type":"integer"}}});
    let p = |v: &str| parts("/x", &[], &[("id", v)]);
    reads(
        "id",
        Location::Path,
        Style::Simple,
        false,
        int.clone(),
        &p("5"),
        json!(5),
    );
    reads(
        "id",
        Location::Path,
        Style::Simple,
        false,
        arr.clone(),
        &p("3,4,5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Path,
        Style::Simple,
        false,
        obj.clone(),
        &p("r,1,g,2"),
        json!({"r":1,"g":2}),
    );
    reads(
        "id",
        Location::Path,
        Style::Simple,
        true,
        obj.clone(),
        &p("r=1,g=2"),
        json!({"r":1,"g":2}),
    );
    reads(
        "id",
        Location::Path,
        Style::Label,
        false,
        int.clone(),
        &p(".5"),
        json!(5),
    );
    reads(
        "id",
        Location::Path,
        Style::Label,
        false,
        arr.clone(),
        &p(".3,4,5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Path,
        Style::Label,
        true,
        arr.clone(),
        &p(".3.4.5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Path,
        Style::Label,
        true,
        obj.clone(),
        &p(".r=1.g=2"),
        json!({"r":1,"g":2}),
    );
    reads(
        "id",
        Location::Path,
        Style::Matrix,
        false,
        int,
        &p(";id=5"),
        json!(5),
    );
    reads(
        "id",
        Location::Path,
        Style::Matrix,
        false,
        arr.clone(),
        &p(";id=3,4,5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Path,
        Style::Matrix,
        true,
        arr,
        &p(";id=3;id=4;id=5"),
        json!([3, 4, 5]),
    );
    reads(
        "id",
        Location::Path,
        Style::Matrix,
        true,
        obj,
        &p(";r=1;g=2"),
        json!({"r":1,"g":2}),
    );
    let text = json!({"type":"string"});
    reads(
        "id",
        Location::Path,
        Style::Simple,
        false,
        text,
        &p("caf%C3%A9%2Fx"),
        json!("café/x"),
    );
}

#[test]
fn malformed_styles_are_violations() {
    let s = spec(
        "id",
        Location::Path,
        Style::Label,
        false,
        json!({"type":"integer"}),
    );
    let v = check(&s, &parts("/x", &[], &[("id", "5")]));
    assert_eq!(v[0].keyword, "style");
    let s = spec(
        "id",
        Location::Path,
        Style::Matrix,
        false,
        json!({"type":"integer"}),
    );
    let v = check(&s, &parts("/x", &[], &[("id", ";other=5")]));
    assert_eq!(v[0].keyword, "style");
}

#[test]
fn headers_and_cookies() {
    let h = |list: &[(&str, &str)]| parts("/x", list, &[]);
    reads(
        "x-ids",
        Location::Header,
        Style::Simple,
        false,
        json!({"type":"array","items":{"type":"integer"}}),
        &h(&[("x-ids", "1, 2"), ("X-Ids", "3")]),
        json!([1, 2, 3]),
    );
    reads(
        "x-flag",
        Location::Header,
        Style::Simple,
        false,
        json!({"type":"boolean"}),
        &h(&[("x-flag", " true ")]),
        json!(true),
    );
    reads(
        "session",
        Location::Cookie,
        Style::Form,
        true,
        json!({"type":"string"}),
        &h(&[("cookie", "a=1; session=abc%20d")]),
        json!("abc d"),
    );
    reads(
        "ids",
        Location::Cookie,
        Style::Form,
        false,
        json!({"type":"array","items":{"type":"integer"}}),
        &h(&[("cookie", "ids=1,2")]),
        json!([1, 2]),
    );
    let s = spec(
        "x-request-id",
        Location::Header,
        Style::Simple,
        false,
        json!({"type":"string","format":"uuid","maxLength":36}),
    );
    let v = check(&s, &h(&[("x-request-id", &"a".repeat(40))]));
    assert_eq!(
        (v[0].location, v[0].keyword.as_str()),
        (Location::Header, "maxLength")
    );
}

#[test]
fn untyped_values_may_be_read_as_number_or_string() {
    let s = spec(
        "v",
        Location::Query,
        Style::Form,
        true,
        json!({"oneOf":[{"const":"007"},{"const":7}]}),
    );
    assert!(check(&s, &parts("/x?v=7", &[], &[])).is_empty());
    let s = spec(
        "v",
        Location::Query,
        Style::Form,
        true,
        json!({"enum":["1","2"]}),
    );
    assert!(
        check(&s, &parts("/x?v=1", &[], &[])).is_empty(),
        "a guessed number falls back to the string"
    );
    assert!(!check(&s, &parts("/x?v=3", &[], &[])).is_empty());
}

#[test]
fn json_content_parameters_are_parsed_then_validated() {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, false);
    b.add_resource("urn:test:p", json!({"type":"object","required":["lat"]}))
        .unwrap();
    let id = b.compile("urn:test:p").unwrap();
    let set = b.finish();
    let spec = ParamSpec {
        name: "where".into(),
        location: Location::Query,
        required: false,
        check: ParamCheck::Json { schema: Some(id) },
    };
    let mut out = Violations::default();
    spec.check(
        &parts("/x?where=%7B%22lat%22%3A1%7D", &[], &[]),
        &set,
        &mut out,
    );
    assert!(out.is_empty(), "{out:?}");
    spec.check(&parts("/x?where=%7B%7D", &[], &[]), &set, &mut out);
    assert_eq!(out[0].keyword, "required");
    out.clear();
    spec.check(&parts("/x?where=%7B", &[], &[]), &set, &mut out);
    assert_eq!(out[0].keyword, "syntax");
    out.clear();
    spec.check(&parts("/x", &[], &[]), &set, &mut out);
    assert!(out.is_empty(), "optional and absent");
}

#[test]
fn styles_are_checked_against_their_location() {
    assert_eq!(Style::parse("matrix", Location::Path), Ok(Style::Matrix));
    assert!(Style::parse("matrix", Location::Query).is_err());
    assert!(Style::parse("deepObject", Location::Header).is_err());
    assert!(Style::parse("fancy", Location::Query).is_err());
    assert_eq!(Style::default_for(Location::Cookie), Style::Form);
    assert_eq!(Style::default_for(Location::Header), Style::Simple);
}
