//! The schema filter through a real Envoy on request bodies of real API descriptions (issue 13):
//! OpenAPI 3.0 `nullable` beside `$ref`/`allOf`, urlencoded form bodies validated against their
//! schema (with `encoding`), multipart bodies bounded by their part count.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::envoy::wasm_filter_json;
use palisade_e2e::paths::wasm_module;
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Value};

/// An OpenAPI 3.0.3 description written the way large public ones are.
fn api() -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {"title": "bodies", "version": "1"},
        "paths": {
            "/things/{id}": {"patch": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {
                    "type": "object", "additionalProperties": false,
                    "properties": {
                        "parent": {"$ref": "#/components/schemas/Ref", "nullable": true},
                        "owner": {"allOf": [{"$ref": "#/components/schemas/Ref"}], "nullable": true,
                                  "description": "set to null to remove"}
                    }
                }}}},
                "responses": {"200": {"description": "ok"}}
            }},
            "/signup": {"post": {
                "requestBody": {"required": true, "content": {"application/x-www-form-urlencoded": {
                    "schema": {"$ref": "#/components/schemas/Signup"},
                    "encoding": {"ids": {"style": "form", "explode": false}}
                }}},
                "responses": {"200": {"description": "ok"}}
            }},
            "/uploads": {"post": {
                "requestBody": {"content": {"multipart/form-data": {"schema": {"type": "object"}}}},
                "responses": {"200": {"description": "ok"}}
            }}
        },
        "components": {"schemas": {
            "Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}},
            "Signup": {"type": "object", "required": ["name"], "additionalProperties": false,
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "age": {"type": "integer", "minimum": 0},
                    "tags": {"type": "array", "items": {"type": "string"}},
                    "ids": {"type": "array", "items": {"type": "integer"}}
                }}
        }}
    })
}

fn start() -> (Upstream, Envoy) {
    let config = json!({"openapi": api(), "max_multipart_parts": 2, "hold_headers": true});
    let mut entry = wasm_filter_json("schema", &wasm_module("schema"), &config);
    // Held headers: a refused body never reaches the upstream (see the schema e2e tests).
    entry["typed_config"]["config"]["allow_on_headers_stop_iteration"] = json!(true);
    let filter = Filter::native(entry);
    let upstream = Upstream::start();
    let envoy = Envoy::builder()
        .filter(filter)
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    (upstream, envoy)
}

fn send(envoy: &Envoy, method: &str, path: &str, content_type: &str, body: &[u8]) -> Response {
    envoy
        .request(method, path)
        .header("content-type", content_type)
        .body(body.to_vec())
        .send()
}

fn pointers(resp: &Response) -> Vec<String> {
    assert_eq!(resp.status, 400, "{}", resp.text());
    let body = resp.json();
    body["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{} {}",
                v["pointer"].as_str().unwrap(),
                v["keyword"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn nullable_beside_ref_and_all_of_accepts_null() {
    let (_upstream, envoy) = start();
    let json = "application/json";
    for body in [
        json!({"parent": null, "owner": null}),
        json!({"parent": {"id": "a"}, "owner": {"id": "b"}}),
    ] {
        let resp = send(
            &envoy,
            "PATCH",
            "/things/1",
            json,
            body.to_string().as_bytes(),
        );
        assert_eq!(resp.status, 200, "{body}: {}", resp.text());
    }
    let resp = send(
        &envoy,
        "PATCH",
        "/things/1",
        json,
        br#"{"parent": 5, "owner": {}}"#,
    );
    assert_eq!(resp.status, 400, "{}", resp.text());
    let resp = send(&envoy, "PATCH", "/things/1", json, br#"{"owner": "x"}"#);
    assert_eq!(resp.status, 400, "{}", resp.text());
}

#[test]
fn urlencoded_bodies_are_validated_against_their_schema() {
    let (_upstream, envoy) = start();
    let form = "application/x-www-form-urlencoded";
    let resp = send(
        &envoy,
        "POST",
        "/signup",
        form,
        b"name=Ann+Lee&age=30&tags=a&tags=b&ids=1,2",
    );
    assert_eq!(resp.status, 200, "{}", resp.text());
    let resp = send(&envoy, "POST", "/signup", form, b"age=-1&ids=1,x&extra=1");
    let found = pointers(&resp);
    for expected in [
        "/age minimum",
        "/ids/1 type",
        " additionalProperties",
        " required",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "{expected} not in {found:?}"
        );
    }
    let resp = send(&envoy, "POST", "/signup", form, b"name=a&age=1&age=2");
    assert_eq!(pointers(&resp), vec![" duplicate"]);
}

#[test]
fn multipart_bodies_are_bounded_by_their_part_count() {
    let (_upstream, envoy) = start();
    let part = |name: &str| {
        format!("--b0\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\nv\r\n")
    };
    let body = |n: usize| {
        let mut text: String = (0..n).map(|i| part(&format!("f{i}"))).collect();
        text.push_str("--b0--\r\n");
        text.into_bytes()
    };
    let multipart = "multipart/form-data; boundary=b0";
    assert_eq!(
        send(&envoy, "POST", "/uploads", multipart, &body(2)).status,
        200
    );
    assert_eq!(
        pointers(&send(&envoy, "POST", "/uploads", multipart, &body(3))),
        vec![" maxParts"]
    );
    let resp = send(&envoy, "POST", "/uploads", "multipart/form-data", &body(1));
    assert_eq!(pointers(&resp), vec![" syntax"], "no boundary");
}
