//! The configs under test: each Palisade filter as a gateway would run it, and the native Envoy
//! filter doing the same job, so the two are compared on equal work.

use super::tokens::{AUDIENCE, ISSUER};
use serde_json::{json, Value};

/// Response headers both header variants remove: what the chatty origin sends, plus the usual
/// framework banners.
const LEAKY_HEADERS: &[&str] = &[
    "server",
    "x-powered-by",
    "x-aspnet-version",
    "x-aspnetmvc-version",
    "x-generator",
    "x-runtime",
    "x-version",
    "x-backend-server",
];

/// What the strict-api preset adds.
const STRICT_API_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-resource-policy", "same-origin"),
    (
        "strict-transport-security",
        "max-age=63072000; includeSubDomains",
    ),
];

/// The headers filter for a JSON API: the strict-api preset, banners removed, requests checked.
pub fn headers() -> Value {
    json!({
        "preset": "strict-api",
        "response": {"remove": ["x-backend-*"]},
        "request": {"strip": ["x-internal-*"]}
    })
}

/// Route-level mutations doing the headers filter's response work.
pub fn native_header_mutations() -> Value {
    let add: Vec<Value> = STRICT_API_HEADERS
        .iter()
        .map(|(k, v)| {
            json!({"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"})
        })
        .collect();
    json!({
        "response_headers_to_add": add,
        "response_headers_to_remove": LEAKY_HEADERS,
    })
}

/// The bench provider, in the shape both the jwt filter and `jwt_authn` read: keys inline,
/// `sub` forwarded as a header, the verified-token cache on (100 tokens) or off.
fn jwt_provider(jwks: &Value, cache: bool) -> Value {
    json!({
        "issuer": ISSUER,
        "audiences": [AUDIENCE],
        "local_jwks": {"inline_string": jwks.to_string()},
        "claim_to_headers": [{"header_name": "x-jwt-claim-sub", "claim_name": "sub"}],
        "jwt_cache_config": {"jwt_cache_size": if cache { 100 } else { 0 }}
    })
}

/// The jwt filter: every request under `/` needs a valid bench token.
pub fn jwt(jwks: &Value, cache: bool) -> Value {
    json!({
        "providers": {"bench": jwt_provider(jwks, cache)},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
    })
}

/// Envoy's `jwt_authn` with the same provider (without `jwt_cache_config` when the cache is off:
/// Envoy has no size 0).
pub fn native_jwt(jwks: &Value, cache: bool) -> Value {
    let mut provider = jwt_provider(jwks, cache);
    if let (false, Some(fields)) = (cache, provider.as_object_mut()) {
        fields.remove("jwt_cache_config");
    }
    json!({
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": {"bench": provider},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "bench"}}]
        }
    })
}

/// The ratelimit filter, local mode, one budget per client address: never exhausted, or spent
/// by the first request.
pub fn ratelimit(limited: bool) -> Value {
    let limit = if limited {
        json!({"requests": 1, "per": "1h"})
    } else {
        json!({"requests": 1_000_000_000u32, "per": "1s"})
    };
    json!({
        "rules": [{"name": "per-client", "key": ["client_ip"], "limits": [limit]}]
    })
}

/// The ratelimit filter as the gateway example keys it: per verified user (the `sub` claim the jwt
/// filter forwards), a budget never exhausted.
pub fn ratelimit_per_user() -> Value {
    json!({
        "rules": [{"name": "per-user", "key": ["claim:sub"],
                   "limits": [{"requests": 1_000_000_000u32, "per": "1s"}]}]
    })
}

/// Envoy's `local_ratelimit` with one token bucket of the same size.
pub fn native_ratelimit(limited: bool) -> Value {
    let bucket = if limited {
        json!({"max_tokens": 1, "tokens_per_fill": 1, "fill_interval": "3600s"})
    } else {
        json!({"max_tokens": 1_000_000_000u32, "tokens_per_fill": 1_000_000_000u32, "fill_interval": "1s"})
    };
    let all = json!({"default_value": {"numerator": 100, "denominator": "HUNDRED"}, "runtime_key": "bench_rl"});
    json!({
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "bench_rl",
            "token_bucket": bucket,
            "filter_enabled": all,
            "filter_enforced": all
        }
    })
}

/// Envoy's buffer filter: holds the request until its whole body is read, so the direct-response
/// route answers after the body, as an upstream would.
pub fn native_buffer() -> Value {
    json!({
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes": 1_048_576
        }
    })
}

/// The schema filter (plain mode) checking `POST /api/orders` bodies.
pub fn schema() -> Value {
    json!({
        "routes": [{
            "match": {"prefix": "/api/orders", "methods": ["POST"]},
            "body": {"schema": palisade_benches::order_schema(), "required": true}
        }]
    })
}

/// The bundle (`palisade.wasm`) running `stages` (name and that filter's own configuration) in
/// this order on every request.
pub fn bundle(stages: &[(&str, Value)]) -> Value {
    let configs: serde_json::Map<String, Value> = stages
        .iter()
        .map(|(name, config)| ((*name).to_string(), config.clone()))
        .collect();
    let names: Vec<&str> = stages.iter().map(|(name, _)| *name).collect();
    json!({
        "stages": configs,
        "routes": [{"match": {"prefix": "/"}, "stages": names}]
    })
}
