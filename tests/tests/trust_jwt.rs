//! The jwt filter's bounded and unambiguous handling through a real Envoy: one token per
//! provider per request (several get 400, or by option the first), token names compared
//! percent-decoded and every copy stripped, array claims never forwarded ambiguously, and a
//! `typ` policy that keeps ID tokens out.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_simple::prelude::*;
use palisade_e2e::{Envoy, Filter, Response, Upstream};
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://idp.example";

fn key() -> (ES256KeyPair, String) {
    let pair = ES256KeyPair::generate().with_key_id("k");
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!("k");
    (pair, json!({"keys": [jwk]}).to_string())
}

fn claims(extra: Value) -> JWTClaims<Map<String, Value>> {
    Claims::with_custom_claims(
        extra.as_object().cloned().unwrap_or_default(),
        Duration::from_mins(10),
    )
    .with_issuer(ISSUER)
    .with_subject("user-1")
}

fn token(pair: &ES256KeyPair, extra: Value) -> String {
    pair.sign(claims(extra)).unwrap()
}

fn token_typed(pair: &ES256KeyPair, typ: &str) -> String {
    let options = HeaderOptions {
        signature_type: Some(typ.to_string()),
        ..HeaderOptions::default()
    };
    pair.sign_with_options(claims(json!({})), &options).unwrap()
}

/// Provider `idp` reading the bearer header, `?access_token=` and the `jwt` cookie; every route
/// needs it; `extra` is merged into the provider.
fn start(upstream: &Upstream, jwks: &str, extra: Value) -> Envoy {
    let mut provider = json!({
        "issuer": ISSUER,
        "local_jwks": {"inline_string": jwks},
        "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
        "from_params": ["access_token"],
        "from_cookies": ["jwt"]
    });
    for (k, v) in extra.as_object().unwrap() {
        provider[k] = v.clone();
    }
    Envoy::builder()
        .filter(Filter::wasm(
            "jwt",
            json!({"providers": {"idp": provider}, "rules": [{"requires": {"provider_name": "idp"}}]}),
        ))
        .start(upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log))
}

fn send(envoy: &Envoy, path: &str, headers: &[(&str, &str)]) -> Response {
    let mut r = envoy.request("GET", path);
    for (n, v) in headers {
        r = r.header(n, v);
    }
    r.send()
}

#[test]
fn several_tokens_get_a_400_and_no_signature_check_each() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let envoy = start(&upstream, &jwks, json!({}));
    let t = token(&pair, json!({}));
    let bearer = format!("Bearer {t}");
    let cookie = format!("jwt={t}");
    assert_eq!(send(&envoy, "/", &[("authorization", &bearer)]).status, 200);
    let param = format!("/?access_token={t}");
    let encoded_twice = format!("/?access_token={t}&access%5Ftoken={t}");
    for (path, headers) in [
        (param.as_str(), vec![("authorization", bearer.as_str())]),
        (
            "/",
            vec![
                ("authorization", bearer.as_str()),
                ("cookie", cookie.as_str()),
            ],
        ),
        (encoded_twice.as_str(), vec![]),
    ] {
        let r = send(&envoy, path, &headers);
        assert_eq!(r.status, 400, "{path} {headers:?}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/problem+json"));
        let challenge = r.header("www-authenticate").unwrap();
        assert!(
            challenge.contains(r#"error="invalid_request""#),
            "{challenge}"
        );
    }
    assert_eq!(upstream.hits(), 1);
}

#[test]
fn percent_encoded_token_names_are_recognised_and_every_copy_is_stripped() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let t = token(&pair, json!({}));
    {
        let envoy = start(&upstream, &jwks, json!({}));
        let r = send(&envoy, &format!("/a?access%5Ftoken={t}&keep=1"), &[]);
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(r.json()["path"], "/a?keep=1");
    }
    // By option the first copy is verified; none reaches the upstream.
    let envoy = start(&upstream, &jwks, json!({"multiple_tokens": "first"}));
    let path = format!("/b?access_token={t}&%61ccess_token={t}&keep=2");
    let r = send(
        &envoy,
        &path,
        &[
            ("authorization", &format!("Bearer {t}")),
            ("cookie", &format!("se=1; %6Awt={t}")),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let seen = r.text();
    assert!(
        !seen.contains(&t),
        "a copy of the token reached the upstream: {seen}"
    );
    assert_eq!(r.json()["path"], "/b?keep=2");
    assert_eq!(r.upstream_header("cookie").as_deref(), Some("se=1"));
}

#[test]
fn array_claims_holding_the_separator_are_never_forwarded_ambiguously() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let envoy = start(
        &upstream,
        &jwks,
        json!({"claim_to_headers": [
            {"header_name": "x-groups", "claim_name": "groups"},
            {"header_name": "x-groups-json", "claim_name": "groups", "array_format": "json"},
            {"header_name": "x-roles", "claim_name": "roles"}
        ]}),
    );
    let t = token(
        &pair,
        json!({"groups": ["staff,admin", "dev"], "roles": ["a", "b"]}),
    );
    let r = send(&envoy, "/", &[("authorization", &format!("Bearer {t}"))]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.upstream_header("x-groups"),
        None,
        "joined, `staff,admin` would read as two groups"
    );
    assert_eq!(
        r.upstream_header("x-groups-json").as_deref(),
        Some(r#"["staff,admin","dev"]"#)
    );
    assert_eq!(r.upstream_header("x-roles").as_deref(), Some("a,b"));
}

#[test]
fn a_typ_policy_keeps_id_and_logout_tokens_out() {
    let (pair, jwks) = key();
    let upstream = Upstream::start();
    let envoy = start(&upstream, &jwks, json!({"allowed_types": ["at+jwt"]}));
    for (typ, status) in [
        ("at+jwt", 200),
        ("application/AT+JWT", 200),
        ("JWT", 401),
        ("logout+jwt", 401),
    ] {
        let t = token_typed(&pair, typ);
        let r = send(&envoy, "/", &[("authorization", &format!("Bearer {t}"))]);
        assert_eq!(r.status, status, "{typ}: {}", r.text());
    }
    assert_eq!(upstream.hits(), 2);
}
