//! Test keys, generated at test time, and token builders that can write any header.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use p256::ecdsa::signature::Signer as _;
use serde_json::{json, Value};
use std::sync::OnceLock;

/// The clock all fixtures are built around: 2023-11-14T22:13:20Z.
pub const NOW: u64 = 1_700_000_000;

/// One 2048-bit RSA key per test process (generating RSA keys is slow in debug builds).
pub fn rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| RS256KeyPair::generate(2048).unwrap().to_pem().unwrap())
}

/// A second RSA key, for "signed by another key" cases.
pub fn other_rsa_pem() -> &'static str {
    static PEM: OnceLock<String> = OnceLock::new();
    PEM.get_or_init(|| RS256KeyPair::generate(2048).unwrap().to_pem().unwrap())
}

/// The public JWK of the process RSA key, without `alg` (so any RSA algorithm may use it).
pub fn jwk_of_rs256_without_alg(kid: &str) -> (Value, RS256KeyPair) {
    let pair = RS256KeyPair::from_pem(rsa_pem()).unwrap().with_key_id(kid);
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    let obj = jwk.as_object_mut().unwrap();
    obj.remove("alg");
    obj.insert("kid".into(), json!(kid));
    (jwk, pair)
}

/// A fresh P-256 key and its public JWK (with `alg: ES256`).
pub fn jwk_of_es256(kid: &str) -> (Value, ES256KeyPair) {
    let pair = ES256KeyPair::generate().with_key_id(kid);
    let mut jwk: Value = serde_json::from_str(&pair.public_key().to_jwk()).unwrap();
    jwk["kid"] = json!(kid);
    (jwk, pair)
}

/// Base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `b64(header).b64(payload)`.
pub fn signing_input(header: &Value, payload: &Value) -> String {
    format!("{}.{}", b64(header.to_string()), b64(payload.to_string()))
}

/// A token with any header and payload, signed with a P-256 key (ES256).
pub fn es256_token(pair: &ES256KeyPair, header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let key = p256::ecdsa::SigningKey::from_slice(&pair.to_bytes()).unwrap();
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

/// A token with any header and payload, MACed with `secret` (HS256).
pub fn hs256_token(secret: &[u8], header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let tag = HS256Key::from_bytes(secret).authentication_tag(input.as_bytes());
    format!("{input}.{}", b64(tag))
}

/// A JWKS document holding `keys`.
pub fn jwks(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

/// Standard claims valid at [`NOW`]: `iss`, `aud`, `sub`, `iat`, `exp` one hour later.
pub fn claims(iss: &str, aud: &str) -> Value {
    json!({"iss": iss, "aud": aud, "sub": "user-1", "iat": NOW, "exp": NOW + 3600})
}
