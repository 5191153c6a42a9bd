use super::*;

fn price_violation() -> Violation {
    Violation::from_schema(Location::Body, "", price_error())
}

fn price_error() -> SchemaError {
    SchemaError {
        pointer: "/items/3/price".into(),
        keyword: "minimum".into(),
        detail: "must be >=0, but got -1".into(),
        schema_location: "urn:palisade:openapi#/components/schemas/Item/properties/price/minimum"
            .into(),
    }
}

fn body_of(d: &Denial) -> Value {
    serde_json::from_slice(&d.problem.to_body()).unwrap()
}

const TERSE: AnswerStyle = AnswerStyle {
    verbose: false,
    max_violations: 10,
};
const VERBOSE: AnswerStyle = AnswerStyle {
    verbose: true,
    max_violations: 10,
};

#[test]
fn invalid_requests_list_pointer_keyword_and_message() {
    let d = denial(
        &Rejection::Invalid(vec![price_violation()].into()),
        VERBOSE,
        Some("createOrder"),
    );
    assert_eq!(d.status, 400);
    let b = body_of(&d);
    assert_eq!(b["type"], "https://palisade.dev/problems/invalid-request");
    assert_eq!(b["operation"], "createOrder");
    let v = &b["violations"][0];
    assert_eq!(v["in"], "body");
    assert_eq!(v["pointer"], "/items/3/price");
    assert_eq!(v["keyword"], "minimum");
    assert_eq!(v["message"], "must be >=0, but got -1");
    assert_eq!(
        v["schema"],
        "#/components/schemas/Item/properties/price/minimum"
    );
}

#[test]
fn terse_answers_omit_schema_details() {
    let d = denial(
        &Rejection::Invalid(vec![price_violation()].into()),
        TERSE,
        Some("createOrder"),
    );
    let b = body_of(&d);
    let v = &b["violations"][0];
    assert_eq!(v["pointer"], "/items/3/price");
    assert_eq!(v["keyword"], "minimum");
    assert_eq!(v["message"], "is too small");
    assert!(v.get("schema").is_none());
    assert!(b.get("operation").is_none());
    let text = String::from_utf8(d.problem.to_body()).unwrap();
    assert!(
        !text.contains(">=0") && !text.contains("components"),
        "{text}"
    );

    let d = denial(&Rejection::BodyTooLarge { limit: 1024 }, TERSE, None);
    assert!(body_of(&d).get("max_body_bytes").is_none());
    let d = denial(&Rejection::BodyTooLarge { limit: 1024 }, VERBOSE, None);
    assert_eq!(body_of(&d)["max_body_bytes"], 1024);
}

#[test]
fn a_body_searched_only_to_fill_the_list_says_at_least() {
    let mut v = Violations::new(2);
    v.add_schema_errors(
        Location::Body,
        "",
        Failures {
            kept: vec![price_error(), price_error()],
            total: 2,
            at_least: true,
        },
    );
    let style = AnswerStyle {
        verbose: false,
        max_violations: 2,
    };
    let b = body_of(&denial(&Rejection::Invalid(v), style, None));
    assert_eq!(b["violations"].as_array().unwrap().len(), 2);
    assert_eq!(b["violations_total"], 2);
    assert_eq!(b["violations_total_is_minimum"], true);
    assert_eq!(
        b["detail"],
        "the request has at least 2 violations of the API schema"
    );
    let b = body_of(&denial(
        &Rejection::Invalid(vec![price_violation()].into()),
        style,
        None,
    ));
    assert!(b.get("violations_total_is_minimum").is_none());
}

#[test]
fn the_list_is_capped_and_says_how_many_there_were() {
    let many = vec![price_violation(); 25];
    let style = AnswerStyle {
        verbose: false,
        max_violations: 3,
    };
    let b = body_of(&denial(&Rejection::Invalid(many.into()), style, None));
    assert_eq!(b["violations"].as_array().unwrap().len(), 3);
    assert_eq!(b["violations_total"], 25);
    assert_eq!(
        b["detail"],
        "the request has 25 violations of the API schema"
    );
    let b = body_of(&denial(
        &Rejection::Invalid(vec![price_violation()].into()),
        style,
        None,
    ));
    assert!(b.get("violations_total").is_none());
}

#[test]
fn each_rejection_has_its_status() {
    let status = |r: Rejection| denial(&r, TERSE, None).status;
    assert_eq!(status(Rejection::UnknownPath), 404);
    assert_eq!(status(Rejection::BodyTooLarge { limit: 1 }), 413);
    assert_eq!(
        status(Rejection::UnsupportedMediaType { accepted: vec![] }),
        415
    );
    let d = denial(
        &Rejection::MethodNotAllowed {
            allow: vec!["GET".into(), "POST".into()],
        },
        TERSE,
        None,
    );
    assert_eq!(d.status, 405);
    assert!(d
        .headers
        .contains(&("allow".to_string(), "GET, POST".to_string())));
}

#[test]
fn parameter_names_are_escaped_as_pointer_tokens() {
    assert_eq!(pointer_token("limit"), "/limit");
    assert_eq!(pointer_token("a/b~c"), "/a~1b~0c");
}

#[test]
fn reasons_tell_parameters_from_body() {
    let param = Violation::new(Location::Query, "/limit".into(), "missing", "required");
    assert_eq!(
        Rejection::Invalid(vec![param.clone()].into()).reason(),
        "invalid_parameters"
    );
    assert_eq!(
        Rejection::Invalid(vec![param, price_violation()].into()).reason(),
        "invalid_body"
    );
}

#[test]
fn violations_past_the_cap_are_counted_not_kept() {
    let mut v = Violations::new(2);
    for _ in 0..5 {
        v.push(price_violation());
    }
    assert_eq!(v.len(), 2);
    assert_eq!(v.room(), 0);
    assert_eq!(v.total(), 5);
    let style = AnswerStyle {
        verbose: false,
        max_violations: 2,
    };
    let b = body_of(&denial(&Rejection::Invalid(v), style, None));
    assert_eq!(b["violations"].as_array().unwrap().len(), 2);
    assert_eq!(b["violations_total"], 5);
    assert_eq!(
        b["detail"],
        "the request has 5 violations of the API schema"
    );
}
