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
    fn the_test_key_is_a_pkcs8_pem() {
        assert!(RS256_TEST_KEY_PEM.starts_with("-----BEGIN PRIVATE KEY-----"));
    }
}
