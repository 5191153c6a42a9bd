use super::*;
use serde_json::json;

fn err(cfg: Value) -> ConfigError {
    compile(cfg.to_string().as_bytes()).unwrap_err()
}

fn minimal_api() -> Value {
    json!({"openapi": "3.1.0", "paths": {"/x": {"get": {}}}})
}

#[test]
fn defaults_are_safe() {
    let c = compile(json!({"openapi": minimal_api()}).to_string().as_bytes()).unwrap();
    assert_eq!(c.unmatched_path, Unmatched::Reject);
    assert_eq!(c.unmatched_method, Unmatched::Reject);
    assert!(!c.report_only);
    assert_eq!(
        c.answers,
        AnswerStyle {
            verbose: false,
            max_violations: 10
        }
    );
    assert_eq!(
        c.json,
        JsonLimits {
            max_depth: 64,
            max_number_length: 100,
            duplicate_keys: DuplicateKeys::Reject
        }
    );
    let Routes::Api(api) = &c.routes else {
        panic!("OpenAPI mode")
    };
    assert_eq!(
        api.paths()[0].operations[0].1.max_body_bytes,
        DEFAULT_MAX_BODY_BYTES
    );
}

#[test]
fn errors_name_their_field() {
    assert_eq!(
        err(json!({"openapi": minimal_api(), "verbos": true})).path,
        "verbos"
    );
    assert_eq!(err(json!({})).path, ".");
    assert_eq!(
        err(json!({"openapi": minimal_api(), "routes": [{}]})).path,
        "routes"
    );
    assert_eq!(
        err(json!({"openapi": minimal_api(), "max_violations": 0})).path,
        "max_violations"
    );
    assert_eq!(
        err(json!({"openapi": minimal_api(), "max_multipart_parts": 0})).path,
        "max_multipart_parts"
    );
    assert_eq!(
        err(json!({"openapi": minimal_api(), "json": {"max_depth": 500}})).path,
        "json.max_depth"
    );
    assert_eq!(
        err(json!({"openapi": minimal_api(), "json": {"duplicate_keys": "first"}})).path,
        "json.duplicate_keys"
    );
    assert_eq!(
        err(json!({"openapi": minimal_api(), "unmatched_path": "ignore"})).path,
        "unmatched_path"
    );
    assert_eq!(
        err(json!({"routes": [{}], "operations": {"x": {}}})).path,
        "operations"
    );
    assert_eq!(
        err(json!({"routes": [{}], "base_path": "/v1"})).path,
        "base_path"
    );
    assert_eq!(
        err(json!({"routes": [{"match": {"prefix": "api"}}]})).path,
        "routes[0].match.prefix"
    );
    assert_eq!(
        err(json!({"routes": [{}, {"body": {"schema": {"type": "nope"}}}]})).path,
        "routes[1].body.schema"
    );
    assert_eq!(
        err(json!({"routes": [{"body": {"schema": {}, "content_types": ["json"]}}]})).path,
        "routes[0].body.content_types[0]"
    );
    assert_eq!(
        err(json!({"routes": [{"query": [{"name": "q", "style": "matrix"}]}]})).path,
        "routes[0].query[0].style"
    );
    assert_eq!(
        err(json!({"routes": [{"body": {"schema": {"$ref": "https://schemas.example.com/x.json"}}}]})).path,
        "routes[0].body.schema"
    );
    let e = err(
        json!({"routes": [{}], "schemas": {"https://s.example.com/a.json": {"$ref": "https://s.example.com/b.json"}}}),
    );
    assert_eq!(e.path, "schemas.https://s.example.com/a.json", "{e}");
}

#[test]
fn the_default_dialect_applies_to_plain_schemas() {
    // `$ref` siblings: applied in 2020-12, ignored in draft-07.
    let schema = json!({"definitions": {"s": {"type": "string"}}, "$ref": "#/definitions/s", "maxLength": 2});
    for (dialect, refused) in [("2020-12", true), ("draft-07", false)] {
        let c = compile(
            json!({"default_dialect": dialect, "routes": [{"body": {"schema": schema}}]})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let Routes::Plain(rules) = &c.routes else {
            panic!()
        };
        let body = rules[0].value.body.as_ref().unwrap();
        let id = body.media[0].1.unwrap();
        assert_eq!(
            !c.schemas.is_valid(id, &json!("long")),
            refused,
            "{dialect}"
        );
    }
}

#[test]
fn a_config_is_an_object_never_an_array() {
    // serde_json alone would read `[]` as the default config, field by position.
    let e = compile(b" []").err().unwrap();
    assert_eq!(e.path, ".");
    assert!(e.reason.contains("expected an object"), "{}", e.reason);
}
