//! Differential test: the same tokens sent to this filter and to Envoy's native
//! `envoy.filters.http.jwt_authn`, configured alike in the same Envoy binary, get the same
//! allow/deny. The few intended differences are listed, each asserted both ways with its reason.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Map, Value};

const ISSUER: &str = "https://idp.example";

struct Keys {
    es: ES256KeyPair,
    rsa: RS256KeyPair,
    other_es: ES256KeyPair,
    jwks: String,
}

fn keys() -> Keys {
    let es = ES256KeyPair::generate().with_key_id("e1");
    let rsa = RS256KeyPair::generate(2048).unwrap().with_key_id("r1");
    // Another key under the same kid: its signatures must not verify.
    let other_es = ES256KeyPair::generate().with_key_id("e1");
    let jwk = |s: String, kid: &str| {
        let mut v: Value = serde_json::from_str(&s).unwrap();
        v["kid"] = json!(kid);
        v
    };
    let jwks = json!({"keys": [jwk(es.public_key().to_jwk(), "e1"), jwk(rsa.public_key().to_jwk(), "r1")]}).to_string();
    Keys {
        es,
        rsa,
        other_es,
        jwks,
    }
}

/// Claims valid now: iss ISSUER, aud "api", sub "user-1", iat/nbf now, exp in 10 minutes.
fn claims() -> JWTClaims<Map<String, Value>> {
    Claims::with_custom_claims(Map::new(), Duration::from_mins(10))
        .with_issuer(ISSUER)
        .with_audience("api")
        .with_subject("user-1")
}

fn b64(s: &str) -> String {
    URL_SAFE_NO_PAD.encode(s)
}

fn now() -> UnixTimeStamp {
    Clock::now_since_epoch()
}

/// Replaces the payload, keeping header and signature.
fn with_payload(token: &str, payload: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(&payload.to_string()), parts[2])
}

/// Every token of the comparison, with what it is.
fn tokens(k: &Keys) -> Vec<(&'static str, Option<String>)> {
    let es = |c| k.es.sign(c).unwrap();
    let valid = es(claims());
    let mut t: Vec<(&'static str, Option<String>)> = vec![
        ("no token", None),
        // payload {iss, aud:"api", sub, iat, nbf, exp: now+600}
        ("valid ES256", Some(valid.clone())),
        ("valid RS256", Some(k.rsa.sign(claims()).unwrap())),
        (
            "valid without kid",
            Some(
                ES256KeyPair::from_bytes(&k.es.to_bytes())
                    .unwrap()
                    .sign(claims())
                    .unwrap(),
            ),
        ),
        (
            "valid, aud an array holding api",
            Some(es(
                claims().with_audiences(HashSet::from_strings(&["api", "other"]))
            )),
        ),
        (
            "valid, typ at+jwt",
            Some(
                k.es.sign_with_options(
                    claims(),
                    &HeaderOptions {
                        signature_type: Some("at+jwt".into()),
                        ..Default::default()
                    },
                )
                .unwrap(),
            ),
        ),
    ];
    let mut c = claims();
    c.expires_at = Some(now() - Duration::from_mins(5));
    t.push(("expired 5 minutes ago", Some(es(c))));
    let mut c = claims();
    c.expires_at = Some(now() - Duration::from_secs(20));
    t.push(("expired 20 s ago, within the 60 s skew", Some(es(c))));
    let mut c = claims();
    c.invalid_before = Some(now() + Duration::from_mins(10));
    t.push(("not valid before 10 minutes from now", Some(es(c))));
    let mut c = claims();
    c.expires_at = None;
    t.push(("no exp (require_expiration on both)", Some(es(c))));
    t.push(("wrong aud", Some(es(claims().with_audience("other")))));
    let mut c = claims();
    c.audiences = None;
    t.push(("no aud", Some(es(c))));
    let mut c = claims();
    c.issuer = Some("https://evil.example".into());
    t.push(("wrong iss", Some(es(c))));
    // payload changed to {"sub":"admin",...}, signature of the original
    let mut forged: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(valid.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    forged["sub"] = json!("admin");
    t.push((
        "bad signature (payload changed)",
        Some(with_payload(&valid, &forged)),
    ));
    t.push((
        "signed by another key under the same kid",
        Some(k.other_es.sign(claims()).unwrap()),
    ));
    let pem = k.rsa.public_key().to_pem().unwrap();
    t.push((
        "alg mismatch: HS256 MACed with the RSA public key",
        Some(
            HS256Key::from_bytes(pem.as_bytes())
                .with_key_id("r1")
                .authenticate(claims())
                .unwrap(),
        ),
    ));
    let (_, rest) = valid.split_once('.').unwrap();
    t.push((
        "alg mismatch: RS256 header on an ES256 signature",
        Some(format!("{}.{rest}", b64(r#"{"alg":"RS256","kid":"e1"}"#))),
    ));
    t.push((
        "alg mismatch: ES256 header naming the RSA key",
        Some(format!("{}.{rest}", b64(r#"{"alg":"ES256","kid":"r1"}"#))),
    ));
    let payload = valid.split('.').nth(1).unwrap().to_string();
    t.push((
        "alg none",
        Some(format!("{}.{payload}.", b64(r#"{"alg":"none"}"#))),
    ));
    t.push((
        "alg none with kid",
        Some(format!(
            "{}.{payload}.",
            b64(r#"{"alg":"none","kid":"e1"}"#)
        )),
    ));
    t.push((
        "unknown kid",
        Some(
            ES256KeyPair::from_bytes(&k.other_es.to_bytes())
                .unwrap()
                .with_key_id("e9")
                .sign(claims())
                .unwrap(),
        ),
    ));
    t.push((
        "kid in another case",
        Some(
            ES256KeyPair::from_bytes(&k.es.to_bytes())
                .unwrap()
                .with_key_id("E1")
                .sign(claims())
                .unwrap(),
        ),
    ));
    t.push((
        "empty signature",
        Some(format!("{}.", valid.rsplit_once('.').unwrap().0)),
    ));
    t.push((
        "truncated signature",
        Some(valid[..valid.len() - 10].to_string()),
    ));
    t.push(("malformed: one word", Some("abcdef".into())));
    t.push(("malformed: three junk parts", Some("a.b.c".into())));
    t.push(("junk after the token", Some(format!("{valid} junk"))));
    t.push((
        "malformed: two parts",
        Some(valid.rsplit_once('.').unwrap().0.to_string()),
    ));
    t.push(("malformed: four parts", Some(format!("{valid}.x"))));
    t.push((
        "malformed: header not JSON",
        Some(format!("{}.{rest}", b64("{alg:ES256}"))),
    ));
    t.push((
        "malformed: payload not JSON",
        Some(with_payload_raw(&valid, "not json")),
    ));
    t
}

fn with_payload_raw(token: &str, payload: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(payload), parts[2])
}

/// Requests the two filters treat differently on purpose:
/// (what, path, authorization header, ours allows, native allows, why).
type Difference = (
    &'static str,
    String,
    Option<String>,
    bool,
    bool,
    &'static str,
);

fn intended_differences(k: &Keys) -> Vec<Difference> {
    let valid = k.es.sign(claims()).unwrap();
    let mut c = claims();
    c.issued_at = Some(now() + Duration::from_mins(10));
    let future_iat = k.es.sign(c).unwrap();
    let jose =
        k.es.sign_with_options(
            claims(),
            &HeaderOptions {
                signature_type: Some("JOSE".into()),
                ..Default::default()
            },
        )
        .unwrap();
    let bearer = |t: &str| Some(format!("Bearer {t}"));
    let padding =
        "we refuse base64url padding, which RFC 7515 §2 forbids; jwt_authn's decoder accepts it";
    vec![
        ("iat 10 minutes in the future", "/r".into(), bearer(&future_iat), false, true,
         "we refuse tokens issued in the future (beyond skew); jwt_authn does not check iat"),
        ("typ JOSE", "/r".into(), bearer(&jose), false, true,
         "we refuse a typ that is not JWT or +jwt (RFC 8725 §3.11); jwt_authn ignores typ"),
        ("base64 padding after the signature", "/r".into(), bearer(&format!("{valid}==")), false, true, padding),
        ("token only in ?access_token=", format!("/r?access_token={valid}"), None, false, true,
         "by default we read only `Authorization: Bearer` (tokens in URLs leak into logs, RFC 6750 §5.3); jwt_authn also reads `access_token` by default"),
    ]
}

fn start_pair(k: &Keys, upstream: &Upstream) -> (Envoy, Envoy) {
    let ours = Envoy::builder()
        .filter(Filter::wasm(
            "jwt",
            json!({
                "providers": {"idp": {
                    "issuer": ISSUER, "audiences": ["api"], "require_expiration": true,
                    "clock_skew_seconds": 60, "local_jwks": {"inline_string": k.jwks}
                }},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]
            }),
        ))
        .start(upstream)
        .unwrap_or_else(|e| panic!("{}", e.log));
    let native = Envoy::builder()
        .filter(Filter::native(json!({
            "name": "envoy.filters.http.jwt_authn",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
                "providers": {"idp": {
                    "issuer": ISSUER, "audiences": ["api"], "require_expiration": true,
                    "clock_skew_seconds": 60, "local_jwks": {"inline_string": k.jwks}
                }},
                "rules": [{"match": {"prefix": "/"}, "requires": {"provider_name": "idp"}}]
            }
        })))
        .start(upstream)
        .unwrap_or_else(|e| panic!("{}", e.log));
    (ours, native)
}

fn allowed(envoy: &Envoy, token: Option<&str>) -> (bool, u16) {
    send(envoy, "/resource", token.map(|t| format!("Bearer {t}")))
}

fn send(envoy: &Envoy, path: &str, authorization: Option<String>) -> (bool, u16) {
    let mut r = envoy.request("GET", path);
    if let Some(a) = authorization {
        r = r.header("authorization", &a);
    }
    let resp = r.send();
    (resp.status == 200, resp.status)
}

#[test]
fn same_tokens_same_allow_or_deny_as_native_jwt_authn() {
    let k = keys();
    let upstream = Upstream::start();
    let (ours, native) = start_pair(&k, &upstream);
    let mut report = Vec::new();
    let mut mismatches = Vec::new();
    for (what, token) in tokens(&k) {
        let (a, sa) = allowed(&ours, token.as_deref());
        let (b, sb) = allowed(&native, token.as_deref());
        report.push(format!("{what:55} ours {sa} native {sb}"));
        if a != b {
            mismatches.push(what);
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        mismatches.is_empty(),
        "allow/deny differs for {mismatches:?}:\n{}",
        report.join("\n")
    );
    // The comparison is not vacuous: both allowed some tokens and denied others.
    let allowed_count = report.iter().filter(|l| l.contains("ours 200")).count();
    assert!(
        allowed_count >= 4 && allowed_count < report.len() - 10,
        "{}",
        report.join("\n")
    );

    for (what, path, authorization, ours_allows, native_allows, why) in intended_differences(&k) {
        let (a, _) = send(&ours, &path, authorization.clone());
        let (b, _) = send(&native, &path, authorization);
        assert_eq!((a, b), (ours_allows, native_allows), "{what}: {why}");
        println!("intended difference, {what}: {why}");
    }
}
