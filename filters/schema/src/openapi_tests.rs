use super::*;
use crate::media::MediaType;
use crate::operation::{BodyPlan, Lookup};
use crate::request_parts::RequestParts;
use crate::validator::SchemaSet;
use crate::violation::Violations;

fn build(
    doc: Value,
    limits: &BTreeMap<String, usize>,
) -> Result<(ApiRoutes, SchemaSet), ConfigError> {
    let mut b = SchemaSetBuilder::new(Dialect::Draft2020, true);
    // Read as a configuration is (prose left out, component schemas apart as text).
    let text = doc.to_string();
    let mut de = serde_json::Deserializer::from_str(&text);
    let lean = crate::lean::document(&mut de).unwrap().unwrap();
    let routes = compile_lean(
        lean,
        &mut b,
        ApiOptions {
            base_path: None,
            default_max_body: 1000,
            max_body_by_operation: limits,
        },
    )?;
    Ok((routes, b.finish()))
}

/// A pet store, 3.1: path-level and operation parameters, `$ref`s to components, a body with oneOf.
fn pets_31() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {"title": "pets", "version": "1"},
        "servers": [{"url": "https://{host}/api/{version}/", "variables": {"host": {"default": "x"}, "version": {"default": "v2"}}}],
        "paths": {
            "/pets/{petId}": {
                "parameters": [{"$ref": "#/components/parameters/PetId"}],
                "get": {"operationId": "getPet",
                        "parameters": [{"name": "X-Trace", "in": "header", "required": true, "schema": {"type": "string", "minLength": 4}},
                                       {"name": "Accept", "in": "header", "required": true, "schema": {"type": "string"}}]},
                "put": {"operationId": "updatePet",
                        "requestBody": {"$ref": "#/components/requestBodies/Pet"}}
            },
            "/pets": {
                "get": {"parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 50}}]}
            }
        },
        "components": {
            "parameters": {"PetId": {"name": "petId", "in": "path", "required": true, "schema": {"type": "integer", "minimum": 1}}},
            "requestBodies": {"Pet": {"required": true, "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/Pet"}},
                "text/plain": {}
            }}},
            "schemas": {"Pet": {"type": "object", "required": ["name", "kind"], "properties": {
                "name": {"type": "string"},
                "kind": {"oneOf": [{"$ref": "#/components/schemas/Cat"}, {"$ref": "#/components/schemas/Dog"}]}
            }},
            "Cat": {"type": "object", "required": ["meows"], "properties": {"meows": {"type": "boolean"}}, "additionalProperties": false},
            "Dog": {"type": "object", "required": ["barks"], "properties": {"barks": {"type": "boolean"}}, "additionalProperties": false}}
        }
    })
}

fn found<'a>(
    routes: &'a ApiRoutes,
    method: &str,
    path: &str,
) -> (&'a Operation, Vec<(String, String)>) {
    match routes.lookup(method, path) {
        Lookup::Found(op, caps) => (op, caps),
        other => panic!("{method} {path}: {other:?}"),
    }
}

fn param_violations(
    set: &SchemaSet,
    op: &Operation,
    path: &str,
    headers: &[(&str, &str)],
    caps: Vec<(String, String)>,
) -> Vec<String> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    let parts = RequestParts::new(path, &headers, caps);
    let mut out = Violations::default();
    for p in &op.params {
        p.check(&parts, set, &mut out);
    }
    out.iter()
        .map(|v| format!("{} {} {}", v.location.as_str(), v.pointer, v.keyword))
        .collect()
}

#[test]
fn operations_parameters_and_bodies_come_from_the_document() {
    let (routes, set) = build(pets_31(), &BTreeMap::new()).unwrap();
    assert_eq!(routes.base_path, "/api/v2");
    let (op, caps) = found(&routes, "GET", "/api/v2/pets/7");
    assert_eq!(op.id, "getPet");
    assert_eq!(
        op.params.len(),
        2,
        "path-level petId and X-Trace; Accept is ignored"
    );
    assert!(param_violations(&set, op, "/api/v2/pets/7", &[("x-trace", "abcd")], caps).is_empty());
    let (op, caps) = found(&routes, "GET", "/api/v2/pets/0");
    assert_eq!(
        param_violations(&set, op, "/api/v2/pets/0", &[], caps),
        vec!["path /petId minimum", "header /x-trace required"]
    );
    let (op, _) = found(&routes, "GET", "/api/v2/pets?limit=9");
    assert_eq!(op.id, "GET /pets");
    assert_eq!(
        param_violations(&set, op, "/api/v2/pets?limit=99", &[], vec![]),
        vec!["query /limit maximum"]
    );

    let (op, _) = found(&routes, "PUT", "/api/v2/pets/7");
    let body = op.body.as_ref().unwrap();
    assert!(body.required);
    let BodyPlan::ValidateJson(schema) = body.plan(MediaType::parse("application/json").as_ref())
    else {
        panic!("JSON bodies are validated")
    };
    assert_eq!(
        body.plan(MediaType::parse("text/plain").as_ref()),
        BodyPlan::Stream
    );
    assert!(set.is_valid(schema, &json!({"name": "Tom", "kind": {"meows": true}})));
    let errors = set.validate(
        schema,
        &json!({"name": "Tom", "kind": {"meows": true, "barks": false}}),
    );
    assert_eq!(
        (errors[0].pointer.as_str(), errors[0].keyword.as_str()),
        ("/kind", "oneOf")
    );
    assert_eq!(op.max_body_bytes, 1000);
}

#[test]
fn openapi_30_nullable_and_exclusive_bounds_apply() {
    let doc = json!({
        "openapi": "3.0.3",
        "paths": {"/items": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object",
            "properties": {
                "note": {"type": "string", "nullable": true},
                "price": {"type": "number", "minimum": 0, "exclusiveMinimum": true}
            }
        }}}}}}}
    });
    let (routes, set) = build(doc, &BTreeMap::new()).unwrap();
    assert_eq!(routes.base_path, "");
    let (op, _) = found(&routes, "POST", "/items");
    let BodyPlan::ValidateJson(schema) = op
        .body
        .as_ref()
        .unwrap()
        .plan(MediaType::parse("application/json").as_ref())
    else {
        panic!()
    };
    assert!(set.is_valid(schema, &json!({"note": null, "price": 1})));
    let errors = set.validate(schema, &json!({"price": 0}));
    assert_eq!(errors[0].keyword, "exclusiveMinimum");
}

#[test]
fn schemas_may_name_the_oas_dialect_without_a_fetch() {
    let mut doc = pets_31();
    doc["components"]["schemas"]["Pet"]["$schema"] =
        json!("https://spec.openapis.org/oas/3.1/dialect/base");
    let (routes, set) = build(doc, &BTreeMap::new()).unwrap();
    let (op, _) = found(&routes, "PUT", "/api/v2/pets/1");
    let BodyPlan::ValidateJson(schema) = op
        .body
        .as_ref()
        .unwrap()
        .plan(MediaType::parse("application/json").as_ref())
    else {
        panic!()
    };
    assert!(!set.is_valid(schema, &json!({"name": 1})));
}

#[test]
fn body_limits_apply_by_operation_id() {
    let limits = BTreeMap::from([("updatePet".to_string(), 10usize)]);
    let (routes, _) = build(pets_31(), &limits).unwrap();
    assert_eq!(found(&routes, "PUT", "/api/v2/pets/1").0.max_body_bytes, 10);
    assert_eq!(
        found(&routes, "GET", "/api/v2/pets/1").0.max_body_bytes,
        1000
    );
    let limits = BTreeMap::from([("nope".to_string(), 10usize)]);
    assert_eq!(
        build(pets_31(), &limits).unwrap_err().path,
        "operations.nope"
    );
}

#[test]
fn document_errors_name_their_field() {
    let err = |doc: Value| build(doc, &BTreeMap::new()).unwrap_err();
    assert_eq!(err(json!({"openapi": "2.0"})).path, "openapi.openapi");
    let mut doc = pets_31();
    doc["paths"]["/pets"]["get"]["parameters"][0]["style"] = json!("matrix");
    let e = err(doc);
    assert_eq!(e.path, "openapi.paths./pets.get.parameters[0].style", "{e}");
    let mut doc = pets_31();
    doc["paths"]["/pets"]["get"]["parameters"][0]["schema"] =
        json!({"$ref": "#/components/schemas/Missing"});
    let e = err(doc);
    assert_eq!(
        e.path, "openapi.paths./pets.get.parameters[0].schema",
        "{e}"
    );
    let mut doc = pets_31();
    doc["paths"]["/pets"]["get"]["parameters"][0] = json!({"$ref": "#/components/parameters/Nope"});
    assert_eq!(err(doc).path, "openapi.paths./pets.get.parameters[0]");
    let mut doc = pets_31();
    doc["paths"]["pets"] = json!({});
    assert_eq!(err(doc).path, "openapi.paths.pets");
    let mut doc = pets_31();
    doc["jsonSchemaDialect"] = json!("https://example.com/mine");
    assert_eq!(err(doc).path, "openapi.jsonSchemaDialect");
}

#[test]
fn urlencoded_bodies_get_a_form_reading_with_their_encoding() {
    let doc = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {"/f": {"post": {
        "requestBody": {"content": {"application/x-www-form-urlencoded": {
            "schema": {"type": "object", "properties": {"ids": {"type": "array", "items": {"type": "integer"}}}},
            "encoding": {"ids": {"style": "pipeDelimited", "explode": false}}
        }}},
        "responses": {}
    }}}});
    let (routes, _set) = build(doc.clone(), &BTreeMap::new()).unwrap();
    let Lookup::Found(op, _) = routes.lookup("POST", "/f") else {
        panic!("no operation")
    };
    let form = op.body.as_ref().unwrap().form.as_ref().unwrap();
    assert_eq!(form.read(b"ids=1%7C2").unwrap(), json!({"ids": [1, 2]}));
    let mut bad = doc;
    bad["paths"]["/f"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
        ["encoding"]["ids"]["style"] = json!("matrix");
    assert_eq!(
        build(bad, &BTreeMap::new()).unwrap_err().path,
        "openapi.paths./f.post.requestBody.content.application/x-www-form-urlencoded.encoding.ids.style"
    );
}

/// `n` operations `POST /r<i>`, each body a `$ref` to its own component with a shared one inside.
fn many_operations(n: usize) -> Value {
    let mut paths = serde_json::Map::new();
    let mut schemas = serde_json::Map::new();
    schemas.insert(
        "Shared".into(),
        json!({"type": "object", "description": "prose", "properties": {"v": {"type": "integer"}}}),
    );
    for i in 0..n {
        let body = json!({"required": true, "content": {"application/json": {
            "schema": {"$ref": format!("#/components/schemas/R{i}")}}}});
        paths.insert(
            format!("/r{i}"),
            json!({"post": {"requestBody": body, "responses": {"200": {"description": "ok"}}}}),
        );
        schemas.insert(
            format!("R{i}"),
            json!({"type": "object", "required": ["n"], "properties": {
                "n": {"type": "integer", "minimum": i}, "s": {"$ref": "#/components/schemas/Shared"}}}),
        );
    }
    json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": paths,
           "components": {"schemas": schemas}})
}

#[test]
fn a_large_description_is_checked_whole_at_configure_and_validated_lazily() {
    // More operations than compiled schemas are kept: the first ones are compiled again on use.
    let n = crate::validator::MAX_COMPILED_SCHEMAS / 2;
    let (routes, schemas) = build(many_operations(n), &BTreeMap::new()).unwrap();
    for i in [0, n / 2, n - 1, 0] {
        let Lookup::Found(op, _) = routes.lookup("POST", &format!("/r{i}")) else {
            panic!("POST /r{i} not found");
        };
        let media = MediaType::parse("application/json");
        let BodyPlan::ValidateJson(id) = op.body.as_ref().unwrap().plan(media.as_ref()) else {
            panic!("no JSON plan");
        };
        assert!(schemas.is_valid(id, &json!({"n": i, "s": {"v": 1}})), "{i}");
        assert!(
            !schemas.is_valid(id, &json!({"n": i, "s": {"v": "x"}})),
            "{i}"
        );
        let errors = schemas.validate(id, &json!({"n": -1}));
        assert_eq!(errors[0].keyword, "minimum", "{i}: {errors:?}");
    }
    // A bad component reached only through the last body's `$ref` refuses the whole config.
    let mut doc = many_operations(n);
    doc["components"]["schemas"][format!("R{}", n - 1)]["properties"]["n"]["$ref"] =
        json!("#/components/schemas/Missing");
    let e = build(doc, &BTreeMap::new()).unwrap_err();
    assert_eq!(
        e.path,
        format!(
            "openapi.paths./r{}.post.requestBody.content.application/json.schema",
            n - 1
        ),
        "{e}"
    );
}

#[test]
fn schemas_are_checked_at_configure_without_compiling_them_and_compile_on_use() {
    let doc = |body: Value, a: Value| {
        json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
            "paths": {"/a": {"post": {
                "requestBody": {"content": {"application/json": {"schema": body}}},
                "responses": {}}}},
            "components": {"schemas": {"A": a}}})
    };
    let a_ref = json!({"$ref": "#/components/schemas/A"});
    let good = json!({"type": "object", "properties": {"p": {"type": "string", "pattern": "^[a-z]+$"}},
                      "patternProperties": {"^x-": {"type": "integer"}}});
    let (routes, schemas) = build(doc(a_ref.clone(), good.clone()), &BTreeMap::new()).unwrap();
    assert_eq!(
        format!("{schemas:?}"),
        "SchemaSet { schemas: 1, compiled: Some(0) }"
    );
    let Lookup::Found(op, _) = routes.lookup("POST", "/a") else {
        panic!("no operation")
    };
    let BodyPlan::ValidateJson(id) = op
        .body
        .as_ref()
        .unwrap()
        .plan(MediaType::parse("application/json").as_ref())
    else {
        panic!("no JSON plan")
    };
    assert!(schemas.is_valid(id, &json!({"p": "abc", "x-n": 1})));
    assert!(!schemas.is_valid(id, &json!({"p": "ABC"})));
    assert!(!schemas.is_valid(id, &json!({"x-n": "1"})));

    let field = "openapi.paths./a.post.requestBody.content.application/json.schema";
    let bad = [
        // Meta-schema: a type that does not exist, in the `$ref`'d component.
        json!({"type": "object", "properties": {"p": {"type": "strin"}}}),
        // Regular expressions that do not compile (one too large for the regex engine is
        // refused too, but boon's debug build asserts on it).
        json!({"properties": {"p": {"pattern": "(unclosed"}}}),
        json!({"patternProperties": {"[": {}}}),
        // A `$ref` to nothing, nested.
        json!({"items": {"$ref": "#/components/schemas/Missing"}}),
    ];
    for a in bad {
        let e = build(doc(a_ref.clone(), a.clone()), &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, field, "{a}: {e}");
        // The same schema inline, and in a document that is compiled whole (an `$id` in it).
        let e = build(doc(a.clone(), good.clone()), &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, field, "{a}: {e}");
        let mut with_id = doc(a_ref.clone(), a.clone());
        with_id["components"]["schemas"]["B"] = json!({"$id": "https://example.com/b"});
        let e = build(with_id, &BTreeMap::new()).unwrap_err();
        assert_eq!(e.path, field, "{a}: {e}");
    }
    // A property named like a keyword is not one.
    let named = json!({"properties": {"pattern": {"type": "string"}, "$ref": {"type": "string"}}});
    assert!(build(doc(a_ref, named), &BTreeMap::new()).is_ok());
}

/// A path parameter under an ASCII pattern (3.0, as large public descriptions write them) is
/// decided by the quick path, not by boon's regex.
#[test]
fn openapi_30_path_parameters_are_decided_quickly() {
    let doc = json!({
        "openapi": "3.0.3",
        "info": {"title": "t", "version": "1"},
        "paths": {"/things/{id}": {"get": {"operationId": "getThing", "parameters": [
            {"name": "id", "in": "path", "required": true,
             "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,36}$"}}
        ]}}}
    });
    let (routes, set) = build(doc, &BTreeMap::new()).unwrap();
    let (op, caps) = found(&routes, "GET", "/things/abc-1");
    let schemas: Vec<_> = op.params.iter().filter_map(|p| p.schema()).collect();
    assert_eq!(schemas.len(), 1);
    assert!(set.accepts_value(schemas[0], &json!("abc-1")));
    assert!(!set.accepts_value(schemas[0], &json!("ABC")));
    assert!(param_violations(&set, op, "/things/abc-1", &[], caps).is_empty());
}

#[test]
fn schemas_kept_as_text_validate_as_the_whole_document_does_also_after_eviction() {
    // Issue 13: a description whose references are all local keeps its schemas as text pieces,
    // each compiled (and planned) from the pieces it reaches. Its answers must be those of the
    // same description compiled whole (an `$id` anywhere keeps it whole), the first time and
    // after every compiled schema was dropped and compiled again.
    let n = crate::validator::MAX_COMPILED_SCHEMAS / 2;
    let (routes, pieces) = build(many_operations(n), &BTreeMap::new()).unwrap();
    let mut whole_doc = many_operations(n);
    whole_doc["components"]["schemas"]["Other"] = json!({"$id": "https://example.com/other"});
    let (whole_routes, whole) = build(whole_doc, &BTreeMap::new()).unwrap();
    let id_of = |routes: &ApiRoutes, i: usize| {
        let Lookup::Found(op, _) = routes.lookup("POST", &format!("/r{i}")) else {
            panic!("POST /r{i} not found");
        };
        let media = MediaType::parse("application/json");
        let BodyPlan::ValidateJson(id) = op.body.as_ref().unwrap().plan(media.as_ref()) else {
            panic!("no JSON plan");
        };
        id
    };
    let limits = crate::json::JsonLimits {
        max_depth: 32,
        max_number_length: 40,
        duplicate_keys: crate::json::DuplicateKeys::Reject,
    };
    let some: Vec<usize> = (0..n).step_by(97).chain([n - 1]).collect();
    let mut first = Vec::new();
    for round in 0..2 {
        let mut k = 0;
        for &i in &some {
            let (id, whole_id) = (id_of(&routes, i), id_of(&whole_routes, i));
            let valid = json!({"n": i, "s": {"v": 1}});
            assert!(
                pieces.accepts_json(id, valid.to_string().as_bytes(), &limits),
                "{i}"
            );
            for body in [
                valid,
                json!({"n": i, "s": {"v": "x"}}),
                json!({"n": -1, "s": 3}),
                json!({"s": {"v": 1.5}}),
                json!([]),
            ] {
                let errors = pieces.validate(id, &body);
                assert_eq!(errors, whole.validate(whole_id, &body), "{i}: {body}");
                assert_eq!(pieces.is_valid(id, &body), errors.is_empty(), "{i}: {body}");
                if !errors.is_empty() {
                    assert!(!pieces.accepts_json(id, body.to_string().as_bytes(), &limits));
                }
                if round == 0 {
                    first.push(errors);
                } else {
                    assert_eq!(first[k], errors, "{i}: {body} after eviction");
                }
                k += 1;
            }
        }
        // Every schema compiled once: more than are kept, so the ones above are dropped.
        for i in 0..n {
            assert!(pieces.is_valid(id_of(&routes, i), &json!({"n": i})));
        }
    }
}

#[test]
fn component_schemas_read_apart_validate_as_when_read_whole() {
    // The lean reader keeps `components.schemas` as text; a document whose references need them
    // as a whole (a `$ref` to `#/components/schemas` itself) or that names schemas by `$id` puts
    // them back. Every way must answer alike.
    let doc = json!({"openapi": "3.0.3", "info": {"title": "t", "version": "1"},
        "paths": {"/a": {"post": {"requestBody": {"content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "p": {"$ref": "#/components/schemas/P"},
                "q": {"$ref": "#/components/schemas/Q~1R"}}}}}},
            "responses": {}}}},
        "components": {"schemas": {
            "P": {"type": "integer", "nullable": true, "minimum": 1, "exclusiveMinimum": true,
                  "description": "prose"},
            "Q/R": {"type": "string", "maxLength": 2, "example": "ab"}}}});
    let mut whole_map = doc.clone();
    whole_map["paths"]["/b"] = json!({"post": {"requestBody": {"content": {"application/json": {
        "schema": {"additionalProperties": {"$ref": "#/components/schemas"}}}}}, "responses": {}}});
    let mut with_id = doc.clone();
    with_id["components"]["schemas"]["Other"] = json!({"$id": "https://example.com/o"});
    let ids = |doc: Value| {
        let (routes, schemas) = build(doc, &BTreeMap::new()).unwrap();
        let Lookup::Found(op, _) = routes.lookup("POST", "/a") else {
            panic!("no operation")
        };
        let media = MediaType::parse("application/json");
        let BodyPlan::ValidateJson(id) = op.body.as_ref().unwrap().plan(media.as_ref()) else {
            panic!("no JSON plan");
        };
        (schemas, id)
    };
    let sets = [ids(doc), ids(whole_map), ids(with_id)];
    for (body, valid) in [
        (json!({"p": 2, "q": "ab"}), true),
        (json!({"p": null}), true),
        (json!({"p": 1}), false),
        (json!({"p": "2"}), false),
        (json!({"q": "abc"}), false),
        (json!({"q": null}), false),
    ] {
        let answers: Vec<_> = sets
            .iter()
            .map(|(set, id)| (set.is_valid(*id, &body), set.validate(*id, &body)))
            .collect();
        assert_eq!(answers[0].0, valid, "{body}");
        assert_eq!(answers[0].1.is_empty(), valid, "{body}");
        assert_eq!(answers[0], answers[1], "{body}");
        assert_eq!(answers[0], answers[2], "{body}");
    }
}
