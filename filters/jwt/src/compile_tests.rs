//! Config compile tests: a full example compiles, every mistake names its field.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::test_keys::{jwk_of_es256, jwks};
use serde_json::{json, Value};

fn local_jwks() -> Value {
    let (jwk, _) = jwk_of_es256("k1");
    json!({ "inline_string": jwks(&[jwk]) })
}

fn full() -> Value {
    json!({
        "providers": {
            "local": {
                "issuer": "https://local",
                "audiences": ["api"],
                "from_headers": [{"name": "X-Jwt", "value_prefix": ""}],
                "from_params": ["token"],
                "from_cookies": ["jwt"],
                "claim_to_headers": [{"header_name": "X-Sub", "claim_name": "sub"},
                                     {"header_name": "x-roles", "claim_name": "realm.roles", "separator": " "}],
                "forward_payload_header": "x-jwt-payload",
                "local_jwks": local_jwks(),
                "jwt_cache_config": {"jwt_cache_size": 0}
            },
            "idp": {
                "issuer": "https://idp.example.com",
                "remote_jwks": {
                    "http_uri": {"cluster": "idp", "timeout": "2s"},
                    "oidc_discovery": true,
                    "cache_duration": "5m",
                    "retry_policy": {"num_retries": 3, "retry_back_off": {"base_interval": "100ms", "max_interval": "1s"}},
                    "async_fetch": {"failed_refetch_duration": "3s"}
                },
                "max_lifetime": "1h",
                "clock_skew_seconds": 10,
                "require_expiration": false,
                "forward": true
            }
        },
        "requirement_map": {"either": {"requires_any": {"requirements": [
            {"provider_name": "local"}, {"provider_name": "idp"}]}}},
        "rules": [
            {"match": {"prefix": "/public"}},
            {"match": {"prefix": "/admin"}, "requires": {"provider_and_audiences": {"provider_name": "idp", "audiences": ["admin"]}},
             "authorization": {"scopes": ["admin"], "claims": [{"claim": "tenant", "equals": "acme"}]}},
            {"match": {"prefix": "/opt"}, "requires": {"allow_missing": {}}},
            {"match": {"prefix": "/any"}, "requires": {"allow_missing_or_failed": {}}},
            {"requirement_name": "either"}
        ],
        "keys_unavailable": {"action": "allow"},
        "realm": "api"
    })
}

fn compile_json(v: &Value) -> Result<Compiled, ConfigError> {
    compile(v.to_string().as_bytes())
}

fn error_at(v: &Value) -> String {
    compile_json(v).unwrap_err().path
}

#[test]
fn a_full_config_compiles() {
    let c = compile_json(&full()).unwrap();
    assert_eq!(c.providers.len(), 2);
    assert_eq!(c.providers[0].name, "idp", "providers in name order");
    let KeySource::Remote(remote) = &c.providers[0].keys else {
        panic!("remote")
    };
    assert!(remote.discovery);
    assert_eq!(remote.target.path, "/.well-known/openid-configuration");
    assert_eq!(remote.target.authority, "idp.example.com");
    assert_eq!(remote.backoff.delay(1), Duration::from_millis(100));
    assert_eq!(remote.backoff.delay(4), Duration::from_secs(3));
    assert_eq!(c.providers[0].policy.max_lifetime, Some(3600));
    assert!(!c.providers[0].policy.require_expiration);
    assert_eq!(c.providers[0].locations, vec![Location::bearer()]);
    assert_eq!(c.providers[1].locations.len(), 3);
    assert_eq!(c.providers[1].cache_size, 0);
    assert_eq!(
        c.headers_to_clear,
        vec![
            "x-jwt-payload",
            "x-palisade-jwt-unverified",
            "x-roles",
            "x-sub"
        ]
    );
    assert_eq!(c.rules.len(), 5);
    assert!(c.rules[0].value.requirement.is_none());
    assert_eq!(
        c.rules[2].value.requirement,
        Some(Requirement::AllowMissing)
    );
    assert!(matches!(
        c.rules[4].value.requirement,
        Some(Requirement::Any(_))
    ));
    assert_eq!(
        c.keys_unavailable,
        KeysUnavailable::Allow(DEFAULT_UNVERIFIED_HEADER.into())
    );
    assert_eq!(c.fingerprint.len(), 16);
    assert!(c.has_remote());
}

#[test]
fn mistakes_name_their_field() {
    let mut v = full();
    v["providers"]["idp"]["isuer"] = json!("x");
    assert_eq!(error_at(&v), "providers.idp.isuer");

    let mut v = full();
    v["rules"][1]["requires"] = json!({"provider_name": "nope"});
    assert_eq!(error_at(&v), "rules[1].requires.provider_name");

    let mut v = full();
    v["rules"][1]["requires"] = json!({"requires_all": {"requirements": [{"provider_name": "local"}, {"provider_name": "x"}]}});
    assert_eq!(
        error_at(&v),
        "rules[1].requires.requires_all.requirements[1].provider_name"
    );

    let mut v = full();
    v["rules"][4]["requirement_name"] = json!("neither");
    assert_eq!(error_at(&v), "rules[4].requirement_name");

    let mut v = full();
    v["providers"]["local"]["remote_jwks"] = v["providers"]["idp"]["remote_jwks"].clone();
    assert_eq!(error_at(&v), "providers.local");

    let mut v = full();
    v["providers"]["idp"]
        .as_object_mut()
        .unwrap()
        .remove("issuer");
    assert_eq!(error_at(&v), "providers.idp.remote_jwks.oidc_discovery");

    let mut v = full();
    v["providers"]["local"]["local_jwks"] = json!({"filename": "/nonexistent/jwks.json"});
    assert_eq!(error_at(&v), "providers.local.local_jwks.filename");

    let mut v = full();
    v["providers"]["local"]["local_jwks"] = json!({"inline_string": "{\"keys\":[]}"});
    assert_eq!(error_at(&v), "providers.local.local_jwks.inline_string");

    let mut v = full();
    v["keys_unavailable"] = json!({"action": "deny", "status": 500});
    assert_eq!(error_at(&v), "keys_unavailable.status");

    let mut v = full();
    v["rules"][1]["authorization"]["claims"][0] = json!({"claim": "a", "equals": 1, "contains": 2});
    assert_eq!(error_at(&v), "rules[1].authorization.claims[0]");

    let mut v = full();
    v["rules"][0]["authorization"] = json!({"scopes": ["x"]});
    assert_eq!(error_at(&v), "rules[0].authorization");

    let mut v = full();
    v["providers"]["local"]["claim_to_headers"][0]["header_name"] = json!("bad header");
    assert_eq!(
        error_at(&v),
        "providers.local.claim_to_headers[0].header_name"
    );

    let mut v = full();
    v["rules"][0]["match"] = json!({"prefix": "nope"});
    assert_eq!(error_at(&v), "rules[0].match.prefix");

    let mut v = full();
    v["keys_wait_timeout"] = json!("2s");
    v["providers"]["idp"]["remote_jwks"]["unknown_kid_refetch_interval"] = json!("2s");
    assert_eq!(
        error_at(&v),
        "providers.idp.remote_jwks.unknown_kid_refetch_interval"
    );

    assert_eq!(error_at(&json!({})), "providers");
}

#[test]
fn a_claim_header_may_not_be_a_token_header() {
    let mut v = full();
    v["providers"]["idp"]["claim_to_headers"] =
        json!([{"header_name": "Authorization", "claim_name": "sub"}]);
    let err = compile_json(&v).unwrap_err();
    assert_eq!(err.path, "providers.idp.from_headers");
    assert!(err.reason.contains("authorization"), "{}", err.reason);
}

#[test]
fn environment_variable_jwks() {
    let (jwk, _) = jwk_of_es256("env");
    std::env::set_var("PALISADE_JWT_TEST_JWKS", jwks(&[jwk]));
    let mut v = full();
    v["providers"]["local"]["local_jwks"] =
        json!({"environment_variable": "PALISADE_JWT_TEST_JWKS"});
    let c = compile_json(&v).unwrap();
    let KeySource::Local(set) = &c.providers[1].keys else {
        panic!("local")
    };
    assert_eq!(set.keys[0].kid.as_deref(), Some("env"));
}

#[test]
fn the_readme_example_compiles() {
    let readme = include_str!("../README.md");
    let fence = "```json palisade:jwt\n";
    let start = readme.find(fence).unwrap() + fence.len();
    let end = start + readme[start..].find("```").unwrap();
    let c = compile(&readme.as_bytes()[start..end]).unwrap();
    assert_eq!(c.rules.len(), 4);
    assert_eq!(c.keys_unavailable, KeysUnavailable::Deny(503));
}

#[test]
fn typ_policy_array_format_and_multiple_tokens_compile() {
    let mut v = full();
    v["providers"]["local"]["allowed_types"] = json!(["AT+JWT", "application/jwt"]);
    v["providers"]["local"]["multiple_tokens"] = json!("first");
    let c = compile_json(&v).unwrap();
    let local = c.providers.iter().find(|p| p.name == "local").unwrap();
    assert_eq!(local.allowed_types, ["at+jwt", "jwt"]);
    assert_eq!(local.multiple_tokens, crate::config::MultipleTokens::First);
    let idp = c.providers.iter().find(|p| p.name == "idp").unwrap();
    assert_eq!(idp.multiple_tokens, crate::config::MultipleTokens::Reject);
    assert!(idp.allowed_types.is_empty());

    let mut v = full();
    v["providers"]["local"]["allowed_types"] = json!(["at+jwt", "json"]);
    assert_eq!(error_at(&v), "providers.local.allowed_types[1]");
    let mut v = full();
    v["providers"]["local"]["multiple_tokens"] = json!("all");
    assert_eq!(error_at(&v), "providers.local.multiple_tokens");
    let mut v = full();
    v["providers"]["local"]["claim_to_headers"] =
        json!([{"header_name": "x-a", "claim_name": "a", "separator": ""}]);
    assert_eq!(
        error_at(&v),
        "providers.local.claim_to_headers[0].separator"
    );
    v["providers"]["local"]["claim_to_headers"][0]["array_format"] = json!("json");
    assert!(compile_json(&v).is_ok());
}
