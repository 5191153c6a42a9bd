use super::*;
use serde_json::json;

fn error(config: serde_json::Value) -> ConfigError {
    match compile(config.to_string().as_bytes()) {
        Ok(_) => panic!("accepted: {config}"),
        Err(e) => e,
    }
}

fn jwt() -> serde_json::Value {
    use jwt_simple::prelude::*;
    let jwk = ES256KeyPair::generate().public_key().to_jwk();
    json!({"providers": {"idp": {"issuer": "https://idp.example",
        "local_jwks": {"inline_string": format!("{{\"keys\": [{jwk}]}}")}}}})
}

#[test]
fn a_full_bundle_compiles_with_per_route_lists() {
    let c = compile(
        json!({
            "stages": {
                "headers": {"preset": "strict-api"},
                "jwt": jwt(),
                "ratelimit": {"rules": [{"name": "per-user", "key": ["claim:sub"],
                                         "limits": [{"requests": 2, "per": "1h"}]}]}
            },
            "routes": [
                {"match": {"path": "/healthz"}, "stages": ["headers"]},
                {"match": {"prefix": "/api/"}, "stages": ["headers", "jwt", "ratelimit"]}
            ],
            "default_stages": ["headers"]
        })
        .to_string()
        .as_bytes(),
    )
    .unwrap();
    assert_eq!(c.roots.len(), 3);
    let lists: Vec<&Vec<usize>> = c.routes.iter().map(|r| &r.value).collect();
    assert_eq!(lists, [&vec![0], &vec![0, 1, 2]]);
    assert_eq!(c.default, [0]);
}

#[test]
fn a_route_naming_an_unknown_or_unconfigured_stage_is_refused_with_its_path() {
    let e = error(json!({
        "stages": {"headers": {}},
        "routes": [{"stages": ["headers"]}, {"stages": ["headers", "waf"]}]
    }));
    assert_eq!(e.path, "routes[1].stages[1]");
    assert!(e.reason.contains("no stage `waf`"), "{e}");
    let e = error(json!({
        "stages": {"headers": {}},
        "routes": [{"match": {"prefix": "/api/"}, "stages": ["headers", "jwt"]}]
    }));
    assert_eq!(e.path, "routes[0].stages[1]");
    assert!(e.reason.contains("not configured"), "{e}");
    let e = error(json!({"stages": {"headers": {}}, "default_stages": ["headers", "headers"]}));
    assert_eq!(e.path, "default_stages[1]");
}

#[test]
fn a_bad_stage_configuration_names_the_field_under_its_stage() {
    let e = error(json!({
        "stages": {"jwt": {"providers": {"idp": {"issuer": "https://idp.example",
            "local_jwks": {"inline_string": "{}"}, "nope": 1}}}}
    }));
    assert!(e.path.starts_with("stages.jwt.providers"), "{e}");
    let e = error(
        json!({"stages": {"ratelimit": {"rules": [{"name": "r", "key": ["client_ip"],
        "limits": [{"requests": 0, "per": "1h"}]}]}}}),
    );
    assert!(e.path.starts_with("stages.ratelimit.rules[0]"), "{e}");
    let e = error(json!({"stages": {"headers": {}},
        "routes": [{"match": {"prefix": "api"}, "stages": []}]}));
    assert!(e.path.starts_with("routes[0].match"), "{e}");
}

#[test]
fn unknown_fields_and_an_empty_bundle_are_refused() {
    assert_eq!(error(json!({"stages": {"waf": {}}})).path, "stages.waf");
    assert_eq!(error(json!({"stages": {}, "extra": 1})).path, "extra");
    assert_eq!(error(json!({"stages": {}})).path, "stages");
}
