//! Fixtures shared by the criterion microbenchmarks (`benches/benches/*.rs`, run with
//! `cargo bench -p palisade-benches`) and by `cargo xtask bench`, so both measure the same
//! requests: an order document, its JSON Schema, and the RS256 test key.
#![forbid(unsafe_code)]

use serde_json::{json, Value};

/// A 2048-bit RSA test key (PKCS#8 PEM); see `fixtures/README.md`. It guards nothing.
pub const RS256_TEST_KEY_PEM: &str = include_str!("../fixtures/bench-rs256.pem");

/// The request headers of an API call as Envoy hands them to a filter (pseudo-headers first),
/// with `authorization` when a token is given.
pub fn api_request_headers(token: Option<&str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = [
        (":authority", "api.example.com"),
        (":path", "/api/orders?page=2&limit=50"),
        (":method", "POST"),
        (":scheme", "http"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        ),
        ("accept", "application/json"),
        ("accept-encoding", "gzip, deflate, br"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("content-type", "application/json"),
        ("content-length", "1024"),
        ("x-request-id", "6f1c7e52-5f3b-4b7e-9d7e-3c2a1b0f9e8d"),
        ("x-forwarded-proto", "http"),
        ("x-internal-debug", "1"),
        ("cookie", "session=abc123; theme=dark"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
    .collect();
    if let Some(token) = token {
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    headers
}

/// The response headers of a chatty origin: a JSON answer with banners.
pub fn origin_response_headers() -> Vec<(String, String)> {
    [
        (":status", "200"),
        ("content-type", "application/json"),
        ("content-length", "512"),
        ("date", "Mon, 23 Nov 2026 01:00:00 GMT"),
        ("server", "origin/1.2.3"),
        ("x-powered-by", "origin-framework/4.5"),
        ("x-backend-server", "app-7"),
        ("etag", "\"33a64df551425fcc55e4d42a148795d9f25f89d4\""),
        ("vary", "accept-encoding"),
    ]
    .iter()
    .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
    .collect()
}

/// The JSON Schema orders are checked against: typed fields, a SKU pattern, bounded numbers,
/// no extra properties.
pub fn order_schema() -> Value {
    json!({
        "type": "object",
        "required": ["customer", "items"],
        "additionalProperties": false,
        "properties": {
            "customer": {"type": "string", "minLength": 1, "maxLength": 64},
            "comment": {"type": "string", "maxLength": 131072},
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
                        "price": {"type": "number", "minimum": 0}
                    }
                }
            }
        }
    })
}

/// A valid order of exactly `size` bytes for sizes of 128 and up (smaller: the smallest order):
/// items fill about two thirds, a comment pads the rest.
pub fn order_body(size: usize) -> Vec<u8> {
    let item = |i: usize| json!({"sku": format!("ABC-{:06}", i % 1_000_000), "qty": 1 + i % 9, "price": 9.5});
    let render = |items: &[Value], comment: &str| {
        json!({"customer": "c-1234", "items": items, "comment": comment}).to_string()
    };
    let mut items = vec![item(0)];
    while render(&items, "").len() < size * 2 / 3 {
        items.push(item(items.len()));
    }
    let pad = size.saturating_sub(render(&items, "").len());
    render(&items, &"x".repeat(pad)).into_bytes()
}

/// Resources in [`large_api`]: five operations each.
pub const LARGE_API_RESOURCES: usize = 200;

/// A large OpenAPI 3.0.3 description like real public ones, generated deterministically:
/// [`LARGE_API_RESOURCES`] resources with five operations each (list, create, read, replace,
/// delete: 1,000 operations on 400 paths), every resource schema built from shared components
/// by `$ref`, descriptions everywhere (they are most of a real description's bytes): about 6 MB.
pub fn large_api() -> Value {
    let text = |what: &str, i: usize| {
        format!(
            "{what} {i}. This text stands for the prose of a real API description: what the \
             field means, its units, when it is set, how it relates to the other fields of the \
             resource, and which versions of the API changed it. Deprecated values are listed \
             here, with the date after which they are refused."
        )
    };
    let mut components = serde_json::Map::new();
    for shared in ["Money", "Address", "Audit", "Link", "Tag"] {
        let props: serde_json::Map<String, Value> = (0..8)
            .map(|p| {
                (
                    format!("{}{p}", shared.to_lowercase()),
                    json!({"type": "string", "maxLength": 256, "description": text(shared, p)}),
                )
            })
            .collect();
        components.insert(
            shared.into(),
            json!({"type": "object", "properties": props, "description": text(shared, 0)}),
        );
    }
    let mut paths = serde_json::Map::new();
    for r in 0..LARGE_API_RESOURCES {
        let name = format!("Resource{r}");
        let mut props = serde_json::Map::new();
        for p in 0..70 {
            props.insert(
                format!("field{p}"),
                json!({"type": "string", "maxLength": 128, "description": text("Field", p)}),
            );
        }
        props.insert(
            "count".into(),
            json!({"type": "integer", "minimum": 0, "description": text("Count", r)}),
        );
        for (field, shared) in [
            ("price", "Money"),
            ("address", "Address"),
            ("audit", "Audit"),
        ] {
            props.insert(
                field.into(),
                json!({"$ref": format!("#/components/schemas/{shared}")}),
            );
        }
        props.insert(
            "links".into(),
            json!({"type": "array", "items": {"$ref": "#/components/schemas/Link"}}),
        );
        props.insert(
            "parent".into(),
            json!({"nullable": true, "allOf": [{"$ref": "#/components/schemas/Tag"}],
                   "description": text("Parent", r)}),
        );
        components.insert(
            name.clone(),
            json!({"type": "object", "required": ["field0"], "additionalProperties": false,
                   "properties": props, "description": text("Resource", r)}),
        );
        let schema_ref = json!({"$ref": format!("#/components/schemas/{name}")});
        let body =
            json!({"required": true, "content": {"application/json": {"schema": schema_ref}}});
        let ok = |what: &str| {
            json!({"200": {"description": text(what, r),
                "content": {"application/json": {"schema": schema_ref}}}})
        };
        let id = json!({"name": "id", "in": "path", "required": true,
            "schema": {"type": "string", "pattern": "^[a-z0-9-]{1,36}$"}, "description": text("Id", r)});
        let page = json!([
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100}}
        ]);
        paths.insert(
            format!("/resources{r}"),
            json!({
                "get": {"operationId": format!("list{r}"), "parameters": page,
                        "description": text("List", r), "responses": ok("List")},
                "post": {"operationId": format!("create{r}"), "requestBody": body,
                         "description": text("Create", r), "responses": ok("Create")}
            }),
        );
        paths.insert(
            format!("/resources{r}/{{id}}"),
            json!({
                "parameters": [id],
                "get": {"operationId": format!("read{r}"), "description": text("Read", r),
                        "responses": ok("Read")},
                "put": {"operationId": format!("replace{r}"), "requestBody": body,
                        "description": text("Replace", r), "responses": ok("Replace")},
                "delete": {"operationId": format!("delete{r}"), "description": text("Delete", r),
                           "responses": {"204": {"description": text("Deleted", r)}}}
            }),
        );
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "Large bench API", "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": components}
    })
}

/// A valid body for `POST /resources<r>` of [`large_api`].
pub fn large_api_body() -> Value {
    json!({"field0": "a", "field1": "b", "count": 3, "price": {"money0": "9.50"},
           "links": [{"link0": "x"}], "parent": null})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_bodies_have_the_exact_size_and_are_orders() {
        for size in [1024, 64 * 1024] {
            let body = order_body(size);
            assert_eq!(body.len(), size);
            let order: Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(order["customer"], "c-1234");
            assert!(order["items"].as_array().unwrap().len() > 1);
        }
    }

    #[test]
    fn the_large_api_is_large_and_deterministic() {
        let api = large_api();
        let text = api.to_string();
        assert!(text.len() > 5_000_000, "{} bytes", text.len());
        assert_eq!(text, large_api().to_string());
        let operations: usize = api["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|item| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|k| *k != "parameters")
                    .count()
            })
            .sum();
        assert_eq!(operations, LARGE_API_RESOURCES * 5);
    }

    #[test]
    fn the_test_key_is_a_pkcs8_pem() {
        assert!(RS256_TEST_KEY_PEM.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
