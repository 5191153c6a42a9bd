//! Differential test of the signature backends (issue 12): every token goes to two Envoys that
//! differ only in `signature_backend` (`auto`, so RS*/ES* are checked by Envoy's
//! `verify_signature`, vs `wasm`), and both must answer alike: status, challenge and body.
//! Tokens: the RFC 7515/7520/8037 vectors, fresh tokens of every algorithm, and the attack
//! classes of the unit tests applied to each (tampered payload or signature, truncated or
//! extended signature, DER or zero ECDSA signatures, swapped `alg`, `alg: none`, an RSA public
//! key used as an HMAC secret). Skips are printed with their reason; counts are printed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use p521::ecdsa::signature::Signer as _;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};
use std::path::PathBuf;

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jose_dir() -> PathBuf {
    let root = std::env::var_os("PALISADE_CONFORMANCE_DIR").map_or_else(
        || palisade_e2e::paths::workspace_root().join("../shared/conformance"),
        PathBuf::from,
    );
    root.join("jose")
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The public members of a JWK.
fn public(jwk: &Value) -> Value {
    let mut public = jwk.clone();
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        public.as_object_mut().unwrap().remove(private);
    }
    public
}

/// One key set and the tokens sent against it.
struct Case {
    name: String,
    jwk: Value,
    tokens: Vec<(String, String)>,
}

/// A DER `Ecdsa-Sig-Value` from raw `r || s` (test-only: the filter must refuse it as a JWS signature).
fn der_of(raw: &[u8]) -> Vec<u8> {
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        let x = if x.first().is_some_and(|b| b & 0x80 != 0) {
            [&[0u8][..], &x].concat()
        } else {
            x
        };
        [&[0x02, x.len() as u8][..], &x].concat()
    };
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    [&[0x30, body.len() as u8][..], &body].concat()
}

/// The attack classes, applied to one signed token.
fn attacks(token: &str, alg: &str, rsa_der: Option<&[u8]>) -> Vec<(String, String)> {
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let sig = URL_SAFE_NO_PAD.decode(s).unwrap();
    let mut flipped = sig.clone();
    flipped[sig.len() / 2] ^= 1;
    let other_payload = b64(r#"{"sub":"admin","iss":"evil"}"#);
    let swapped = if alg.starts_with("RS") {
        "PS256"
    } else {
        "RS256"
    };
    let mut t = vec![
        ("as sent".to_string(), token.to_string()),
        ("payload swapped".into(), format!("{h}.{other_payload}.{s}")),
        (
            "signature bit flipped".into(),
            format!("{h}.{p}.{}", b64(&flipped)),
        ),
        (
            "signature truncated".into(),
            format!("{h}.{p}.{}", b64(&sig[..sig.len() - 1])),
        ),
        (
            "signature extended".into(),
            format!("{h}.{p}.{}", b64([&sig[..], &[0]].concat())),
        ),
        (
            "signature zero".into(),
            format!("{h}.{p}.{}", b64(vec![0u8; sig.len()])),
        ),
        ("signature empty".into(), format!("{h}.{p}.")),
        (
            "alg swapped".into(),
            format!("{}.{p}.{s}", b64(format!(r#"{{"alg":"{swapped}"}}"#))),
        ),
        (
            "alg none".into(),
            format!("{}.{p}.", b64(r#"{"alg":"none"}"#)),
        ),
    ];
    if alg.starts_with("ES") {
        t.push((
            "ECDSA signature as DER".into(),
            format!("{h}.{p}.{}", b64(der_of(&sig))),
        ));
    }
    if let Some(der) = rsa_der {
        // The RSA public key as an HMAC secret (alg confusion).
        let header = b64(r#"{"alg":"HS256"}"#);
        let input = format!("{header}.{p}");
        let tag = HS256Key::from_bytes(der).authentication_tag(input.as_bytes());
        t.push((
            "RSA key as HS256 secret".into(),
            format!("{input}.{}", b64(tag)),
        ));
    }
    t
}

fn rfc_cases(skips: &mut Vec<String>) -> Vec<Case> {
    let dir = jose_dir();
    let mut cases = Vec::new();
    let doc = read_json(dir.join("rfc7515_8037_appendix_vectors.json"));
    for v in doc["vectors"].as_array().unwrap() {
        let id = v["id"].as_str().unwrap();
        let jws = v["jws"].as_str().unwrap();
        let alg = v["alg"].as_str().unwrap();
        let Some(jwk) = v.get("jwk") else {
            // A.5 (alg none) has no key: it goes against every other case's key set below.
            cases
                .iter_mut()
                .for_each(|c: &mut Case| c.tokens.push((id.into(), jws.into())));
            continue;
        };
        cases.push(Case {
            name: id.into(),
            jwk: public(jwk),
            tokens: attacks(jws, alg, None),
        });
    }
    for file in [
        "jws_4_1.rsa_v15_signature.json",
        "jws_4_2.rsa-pss_signature.json",
        "jws_4_3.ecdsa_signature.json",
        "jws_4_4.hmac-sha2_integrity_protection.json",
        "curve25519_jws.json",
        "jws_4_5.signature_with_detached_content.json",
    ] {
        let v = read_json(dir.join("rfc7520").join(file));
        let jws = v["output"]["compact"].as_str().unwrap();
        let header: Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(jws.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        cases.push(Case {
            name: format!("RFC7520 {file}"),
            jwk: public(&v["input"]["key"]),
            tokens: attacks(jws, header["alg"].as_str().unwrap(), None),
        });
    }
    for (file, why) in [
        (
            "jws_4_6.protecting_specific_header_fields.json",
            "JSON serialization only",
        ),
        (
            "jws_4_7.protecting_content_only.json",
            "JSON serialization only",
        ),
        (
            "jws_4_8.multiple_signatures.json",
            "JSON serialization only",
        ),
        (
            "rfc7797_4.2.hmac-sha2_b64_false.json",
            "b64=false with crit: refused before any key",
        ),
    ] {
        skips.push(format!("RFC7520 {file}: {why}"));
    }
    cases
}

/// Claims valid now, as the generated tokens carry them.
fn claims() -> JWTClaims<NoCustomClaims> {
    Claims::create(Duration::from_mins(10)).with_subject("user-1")
}

fn jwk_of(text: String) -> Value {
    serde_json::from_str(&text).unwrap()
}

fn fresh_cases() -> Vec<Case> {
    let pem = RS256KeyPair::generate(2048).unwrap().to_pem().unwrap();
    let rsa_der = RS256KeyPair::from_pem(&pem)
        .unwrap()
        .public_key()
        .to_der()
        .unwrap();
    let mut cases = Vec::new();
    let mut case = |name: &str, jwk: Value, token: String, alg: &str, der: Option<&[u8]>| {
        cases.push(Case {
            name: name.into(),
            jwk,
            tokens: attacks(&token, alg, der),
        });
    };
    let rs = RS256KeyPair::from_pem(&pem).unwrap();
    case(
        "fresh RS256",
        jwk_of(rs.public_key().to_jwk()),
        rs.sign(claims()).unwrap(),
        "RS256",
        Some(&rsa_der),
    );
    let rs = RS384KeyPair::from_pem(&pem).unwrap();
    case(
        "fresh RS384",
        jwk_of(rs.public_key().to_jwk()),
        rs.sign(claims()).unwrap(),
        "RS384",
        Some(&rsa_der),
    );
    let rs = RS512KeyPair::from_pem(&pem).unwrap();
    case(
        "fresh RS512",
        jwk_of(rs.public_key().to_jwk()),
        rs.sign(claims()).unwrap(),
        "RS512",
        None,
    );
    let ps = PS256KeyPair::from_pem(&pem).unwrap();
    case(
        "fresh PS256",
        jwk_of(ps.public_key().to_jwk()),
        ps.sign(claims()).unwrap(),
        "PS256",
        None,
    );
    let es = ES256KeyPair::generate();
    case(
        "fresh ES256",
        jwk_of(es.public_key().to_jwk()),
        es.sign(claims()).unwrap(),
        "ES256",
        None,
    );
    let es = ES384KeyPair::generate();
    case(
        "fresh ES384",
        jwk_of(es.public_key().to_jwk()),
        es.sign(claims()).unwrap(),
        "ES384",
        None,
    );
    let ed = Ed25519KeyPair::generate();
    case(
        "fresh EdDSA",
        jwk_of(ed.public_key().to_jwk()),
        ed.sign(claims()).unwrap(),
        "EdDSA",
        None,
    );
    let secret = [7u8; 32];
    let hs = HS256Key::from_bytes(&secret);
    case(
        "fresh HS256",
        json!({"kty": "oct", "k": b64(secret)}),
        hs.authenticate(claims()).unwrap(),
        "HS256",
        None,
    );
    // ES512: jwt-simple does not sign it; p521 does (a fixed scalar below the group order).
    let key = p521::ecdsa::SigningKey::from_slice(&[1u8; 66]).unwrap();
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    let jwk = json!({"kty": "EC", "crv": "P-521", "x": b64(&bytes[1..67]), "y": b64(&bytes[67..])});
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"ES512"}"#),
        b64(json!({"sub": "user-1", "exp": now + 600}).to_string())
    );
    let sig: p521::ecdsa::Signature = key.sign(input.as_bytes());
    case(
        "fresh ES512",
        jwk,
        format!("{input}.{}", b64(sig.to_bytes())),
        "ES512",
        None,
    );
    cases
}

fn config(cases: &[Case], backend: &str) -> Value {
    let mut providers = serde_json::Map::new();
    let mut rules = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        providers.insert(
            format!("p{i}"),
            json!({
                "require_expiration": false,
                "local_jwks": {"inline_string": json!({"keys": [c.jwk]}).to_string()},
                "jwt_cache_config": {"jwt_cache_size": 0}
            }),
        );
        rules.push(json!({"match": {"prefix": format!("/p{i}/")}, "requires": {"provider_name": format!("p{i}")}}));
    }
    json!({"providers": providers, "rules": rules, "signature_backend": backend, "max_token_size": 16384})
}

fn envoy(cases: &[Case], backend: &str, upstream: &Upstream) -> Envoy {
    Envoy::builder()
        .concurrency(1)
        .filter(Filter::wasm("jwt", config(cases, backend)))
        .start(upstream)
        .unwrap_or_else(|e| panic!("{backend}: {}", e.log))
}

/// What the client sees of a decision.
fn answer(envoy: &Envoy, path: &str, token: &str) -> (u16, String, String) {
    let resp = envoy
        .request("GET", path)
        .header("authorization", &format!("Bearer {token}"))
        .send();
    let challenge = resp
        .header("www-authenticate")
        .unwrap_or_default()
        .to_string();
    let body = if resp.status == 200 {
        String::new()
    } else {
        resp.text()
    };
    (resp.status, challenge, body)
}

#[test]
fn host_and_wasm_backends_decide_alike() {
    let mut skips = Vec::new();
    let mut cases = rfc_cases(&mut skips);
    cases.extend(fresh_cases());
    let upstream = Upstream::start();
    let host = envoy(&cases, "auto", &upstream);
    let wasm = envoy(&cases, "wasm", &upstream);
    let (mut compared, mut allowed) = (0, 0);
    let mut differences = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        for (what, token) in &case.tokens {
            let path = format!("/p{i}/");
            let a = answer(&host, &path, token);
            let b = answer(&wasm, &path, token);
            compared += 1;
            allowed += usize::from(a.0 == 200);
            if a != b {
                differences.push(format!("{} / {what}: host {a:?} vs wasm {b:?}", case.name));
            }
        }
    }
    let stat = |e: &Envoy, n: &str| {
        e.stat(&format!("wasmcustom.palisade_jwt_signature_{n}"))
            .unwrap_or(0)
    };
    let (host_checks, host_wasm) = (stat(&host, "host"), stat(&host, "wasm"));
    let (wasm_host, wasm_checks) = (stat(&wasm, "host"), stat(&wasm, "wasm"));
    for s in &skips {
        println!("SKIPPED {s}");
    }
    println!(
        "{} key sets, {compared} tokens x 2 backends: {} differences; {allowed} allowed on both; \
         signature checks: host backend {host_checks} on the host + {host_wasm} in Wasm, wasm backend {wasm_checks}",
        cases.len(),
        differences.len()
    );
    assert!(differences.is_empty(), "{}", differences.join("\n"));
    assert_eq!(allowed, 9, "the nine fresh tokens as sent, nothing else");
    assert_eq!(wasm_host, 0, "signature_backend wasm never asks the host");
    assert!(
        host_checks >= 50,
        "RS*/ES* went to the host ({host_checks})"
    );
    assert_eq!(
        host_checks + host_wasm,
        wasm_checks,
        "the same checks, split across backends"
    );
}
