//! Every algorithm, and one test per attack class.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::jwks::{parse_jwks, KeyOrigin};
use crate::test_keys::*;
use jwt_simple::prelude::*;
use p521::ecdsa::signature::Signer as _;
use serde_json::json;

type Claims = JWTClaims<Map<String, Value>>;

/// Claims valid at NOW: iss "https://idp", aud "api", iat NOW, exp NOW+3600.
fn fixed_claims() -> Claims {
    let mut c =
        jwt_simple::prelude::Claims::with_custom_claims(Map::new(), Duration::from_hours(1))
            .with_issuer("https://idp")
            .with_audience("api")
            .with_subject("user-1");
    c.issued_at = Some(UnixTimeStamp::from_secs(NOW));
    c.expires_at = Some(UnixTimeStamp::from_secs(NOW + 3600));
    c.invalid_before = None;
    c
}

fn policy() -> ClaimPolicy {
    ClaimPolicy {
        issuer: Some("https://idp".into()),
        ..ClaimPolicy::default()
    }
}

fn set(keys: &[Value], origin: KeyOrigin) -> KeySet {
    parse_jwks(&jwks(keys), origin).unwrap()
}

fn check(token: &str, keys: &KeySet) -> Result<VerifiedToken, TokenError> {
    verify(token, 8192, keys, &policy(), NOW)
}

fn jwk_json(s: &str, kid: &str) -> Value {
    let mut v: Value = serde_json::from_str(s).unwrap();
    v["kid"] = json!(kid);
    v
}

/// Changes the payload's `sub` and keeps the old signature.
fn tamper_payload(token: &str) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload: Value =
        serde_json::from_slice(&crate::token::decode_b64url(parts[1], "p").unwrap()).unwrap();
    payload["sub"] = json!("admin");
    format!("{}.{}.{}", parts[0], b64(payload.to_string()), parts[2])
}

/// A fixed P-521 private scalar (jwt-simple cannot make P-521 keys).
fn p521_signing_key() -> p521::ecdsa::SigningKey {
    let mut scalar = [0u8; 66];
    for (i, b) in scalar.iter_mut().enumerate().skip(2) {
        *b = u8::try_from(i).unwrap();
    }
    p521::ecdsa::SigningKey::from_slice(&scalar).unwrap()
}

fn p521_jwk(kid: &str) -> Value {
    let point = p521_signing_key().verifying_key().to_sec1_point(false);
    json!({"kty":"EC","crv":"P-521","kid":kid,"x":b64(point.x().unwrap()),"y":b64(point.y().unwrap())})
}

fn es512_token(header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let sig: p521::ecdsa::Signature = p521_signing_key().sign(input.as_bytes());
    format!("{input}.{}", b64(sig.to_bytes()))
}

fn claims_json() -> Value {
    serde_json::to_value(fixed_claims()).unwrap()
}

#[test]
fn every_algorithm_verifies_and_refuses_a_tampered_payload() {
    let pem = rsa_pem();
    let mut cases: Vec<(&str, Value, String)> = Vec::new();
    let c = fixed_claims;
    let rsa = |jwk: String| jwk_json(&jwk, "rsa");
    cases.push((
        "RS256",
        rsa(RS256KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        RS256KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    cases.push((
        "RS384",
        rsa(RS384KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        RS384KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    cases.push((
        "RS512",
        rsa(RS512KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        RS512KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    cases.push((
        "PS256",
        rsa(PS256KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        PS256KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    cases.push((
        "PS384",
        rsa(PS384KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        PS384KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    cases.push((
        "PS512",
        rsa(PS512KeyPair::from_pem(pem).unwrap().public_key().to_jwk()),
        PS512KeyPair::from_pem(pem)
            .unwrap()
            .with_key_id("rsa")
            .sign(c())
            .unwrap(),
    ));
    let es256 = ES256KeyPair::generate().with_key_id("ec");
    cases.push((
        "ES256",
        jwk_json(&es256.public_key().to_jwk(), "ec"),
        es256.sign(c()).unwrap(),
    ));
    let es384 = ES384KeyPair::generate().with_key_id("ec");
    cases.push((
        "ES384",
        jwk_json(&es384.public_key().to_jwk(), "ec"),
        es384.sign(c()).unwrap(),
    ));
    cases.push((
        "ES512",
        p521_jwk("ec"),
        es512_token(&json!({"alg":"ES512","kid":"ec"}), &claims_json()),
    ));
    let ed = Ed25519KeyPair::generate().with_key_id("ed");
    cases.push((
        "EdDSA",
        jwk_json(&ed.public_key().to_jwk(), "ed"),
        ed.sign(c()).unwrap(),
    ));
    for (name, jwk, token) in cases {
        let keys = set(&[jwk], KeyOrigin::Remote);
        let verified = check(&token, &keys).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(verified.claims["sub"], "user-1", "{name}");
        assert_eq!(
            check(&tamper_payload(&token), &keys).unwrap_err(),
            TokenError::BadSignature,
            "{name}"
        );
    }
    for (name, len, alg) in [
        ("HS256", 32, "HS256"),
        ("HS384", 48, "HS384"),
        ("HS512", 64, "HS512"),
    ] {
        let secret = vec![0x5au8; len];
        let jwk = json!({"kty":"oct","kid":"s","alg":alg,"k":b64(&secret)});
        let keys = set(&[jwk], KeyOrigin::Local);
        let token = match name {
            "HS256" => HS256Key::from_bytes(&secret)
                .with_key_id("s")
                .authenticate(c())
                .unwrap(),
            "HS384" => HS384Key::from_bytes(&secret)
                .with_key_id("s")
                .authenticate(c())
                .unwrap(),
            _ => HS512Key::from_bytes(&secret)
                .with_key_id("s")
                .authenticate(c())
                .unwrap(),
        };
        assert!(check(&token, &keys).is_ok(), "{name}");
        assert_eq!(
            check(&tamper_payload(&token), &keys).unwrap_err(),
            TokenError::BadSignature,
            "{name}"
        );
    }
}

#[test]
fn attack_alg_none_in_any_spelling() {
    let (jwk, _) = jwk_of_es256("k");
    let keys = set(&[jwk], KeyOrigin::Remote);
    for none in ["none", "None", "NONE"] {
        // header {"alg":"<none>","kid":"k"}, payload: valid claims; signature empty or junk
        let input = signing_input(&json!({"alg": none, "kid": "k"}), &claims_json());
        assert_eq!(
            check(&format!("{input}."), &keys).unwrap_err(),
            TokenError::AlgNone
        );
        assert_eq!(
            check(&format!("{input}.AAAA"), &keys).unwrap_err(),
            TokenError::AlgNone
        );
    }
}

#[test]
fn attack_empty_signature() {
    let (jwk, pair) = jwk_of_es256("k");
    let keys = set(&[jwk], KeyOrigin::Remote);
    let token = pair.sign(fixed_claims()).unwrap();
    let stripped = format!("{}.", token.rsplit_once('.').unwrap().0);
    assert_eq!(
        check(&stripped, &keys).unwrap_err(),
        TokenError::EmptySignature
    );
}

#[test]
fn attack_hmac_with_the_public_key_as_secret() {
    // The classic confusion: HS256 MACed with the RSA public key's bytes, against an RSA JWKS.
    let (jwk, pair) = jwk_of_rs256_without_alg("rsa");
    let keys = set(std::slice::from_ref(&jwk), KeyOrigin::Remote);
    let public_pem = pair.public_key().to_pem().unwrap();
    for secret in [
        public_pem.into_bytes(),
        pair.public_key().to_der().unwrap(),
        jwk.to_string().into_bytes(),
    ] {
        let token = hs256_token(&secret, &json!({"alg":"HS256","kid":"rsa"}), &claims_json());
        assert_eq!(
            check(&token, &keys).unwrap_err(),
            TokenError::AlgMismatch("HS256".into())
        );
    }
}

#[test]
fn attack_alg_that_does_not_fit_the_key() {
    let (ec_jwk, ec) = jwk_of_es256("ec");
    let (rsa_jwk, rsa) = jwk_of_rs256_without_alg("rsa");
    let keys = set(&[ec_jwk, rsa_jwk], KeyOrigin::Remote);
    // ES256 token naming the RSA key, RS256 token naming the EC key.
    let t = es256_token(&ec, &json!({"alg":"ES256","kid":"rsa"}), &claims_json());
    assert_eq!(
        check(&t, &keys).unwrap_err(),
        TokenError::AlgMismatch("ES256".into())
    );
    let t = rsa.with_key_id("ec").sign(fixed_claims()).unwrap();
    assert_eq!(
        check(&t, &keys).unwrap_err(),
        TokenError::AlgMismatch("RS256".into())
    );
    // Same key type, another algorithm: signed RS256, header says PS256.
    let t = RS256KeyPair::from_pem(rsa_pem())
        .unwrap()
        .with_key_id("rsa")
        .sign(fixed_claims())
        .unwrap();
    let (_, rest) = t.split_once('.').unwrap();
    let swapped = format!("{}.{rest}", b64(r#"{"alg":"PS256","kid":"rsa"}"#));
    assert_eq!(
        check(&swapped, &keys).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn attack_unknown_or_crafted_kid() {
    let (jwk, pair) = jwk_of_es256("k1");
    let keys = set(&[jwk], KeyOrigin::Remote);
    for kid in [
        "k2",
        "K1",
        "k1 ",
        "../../../../dev/null",
        "k1' OR '1'='1",
        "k1\u{0}",
        "https://evil/k1",
    ] {
        let t = es256_token(&pair, &json!({"alg":"ES256","kid":kid}), &claims_json());
        assert_eq!(
            check(&t, &keys).unwrap_err(),
            TokenError::UnknownKid(kid.into()),
            "{kid:?}"
        );
    }
}

#[test]
fn attack_key_carried_in_the_token_is_never_used() {
    let (trusted, _) = jwk_of_es256("k");
    let keys = set(&[trusted], KeyOrigin::Remote);
    let (attacker_jwk, attacker) = jwk_of_es256("k");
    let headers = [
        json!({"alg":"ES256","kid":"k","jwk":attacker_jwk}),
        json!({"alg":"ES256","jwk":attacker_jwk}),
        json!({"alg":"ES256","kid":"k","jku":"https://evil.example/jwks.json"}),
        json!({"alg":"ES256","kid":"k","x5u":"https://evil.example/cert.pem"}),
        json!({"alg":"ES256","kid":"k","x5c":["MIIBszCCAVmgAwIBAgIU"]}),
    ];
    for h in headers {
        let t = es256_token(&attacker, &h, &claims_json());
        // jwt-simple reads `jwk` as a string, so an object there is refused as malformed; either way, refused.
        let err = check(&t, &keys).unwrap_err();
        assert!(
            matches!(err, TokenError::BadSignature | TokenError::Malformed(_)),
            "{h}: {err:?}"
        );
    }
}

/// P-256 group order n.
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
/// P-521 group order n.
const P521_N: &str = "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn attack_ecdsa_r_or_s_zero_or_out_of_range() {
    // ES256 through jwt-simple (p256), ES512 through p521: both refuse r or s outside [1, n-1].
    let (jwk, pair) = jwk_of_es256("k");
    let keys = set(&[jwk, p521_jwk("p")], KeyOrigin::Remote);
    let good = es256_token(&pair, &json!({"alg":"ES256","kid":"k"}), &claims_json());
    assert!(
        check(&good, &keys).is_ok(),
        "control: the untouched token verifies"
    );
    let (input, sig) = good.rsplit_once('.').unwrap();
    let sig = crate::token::decode_b64url(sig, "s").unwrap();
    let (r, s) = sig.split_at(32);
    let n = hex(P256_N);
    let zero = vec![0u8; 32];
    let forged = [
        [zero.clone(), zero.clone()].concat(), // CVE-2022-21449 "psychic signature"
        [zero.clone(), s.to_vec()].concat(),
        [r.to_vec(), zero.clone()].concat(),
        [n.clone(), s.to_vec()].concat(),
        [r.to_vec(), n.clone()].concat(),
        [vec![0xff; 32], s.to_vec()].concat(),
        sig[..63].to_vec(),              // short
        [sig.clone(), vec![0]].concat(), // long
    ];
    for f in forged {
        let t = format!("{input}.{}", b64(&f));
        assert_eq!(
            check(&t, &keys).unwrap_err(),
            TokenError::BadSignature,
            "{}",
            b64(&f)
        );
    }
    let good = es512_token(&json!({"alg":"ES512","kid":"p"}), &claims_json());
    assert!(check(&good, &keys).is_ok(), "control: ES512 verifies");
    let (input, sig) = good.rsplit_once('.').unwrap();
    let sig = crate::token::decode_b64url(sig, "s").unwrap();
    let (r, s) = sig.split_at(66);
    let n = hex(P521_N);
    assert_eq!(n.len(), 66);
    for f in [
        vec![0u8; 132],
        [vec![0u8; 66], s.to_vec()].concat(),
        [r.to_vec(), n.clone()].concat(),
        [n, s.to_vec()].concat(),
    ] {
        let t = format!("{input}.{}", b64(&f));
        assert_eq!(check(&t, &keys).unwrap_err(), TokenError::BadSignature);
    }
}

#[test]
fn attack_header_swapped_to_another_trusted_key() {
    let (jwk1, pair1) = jwk_of_es256("k1");
    let (jwk2, _) = jwk_of_es256("k2");
    let keys = set(&[jwk1, jwk2], KeyOrigin::Remote);
    let t = es256_token(&pair1, &json!({"alg":"ES256","kid":"k1"}), &claims_json());
    assert!(check(&t, &keys).is_ok());
    let (_, rest) = t.split_once('.').unwrap();
    let swapped = format!("{}.{rest}", b64(r#"{"alg":"ES256","kid":"k2"}"#));
    assert_eq!(
        check(&swapped, &keys).unwrap_err(),
        TokenError::BadSignature
    );
}

#[test]
fn a_token_without_kid_tries_the_keys_of_its_alg() {
    let (jwk1, _) = jwk_of_es256("k1");
    let (jwk2, pair2) = jwk_of_es256("k2");
    let keys = set(&[jwk1, jwk2], KeyOrigin::Remote);
    let t = es256_token(&pair2, &json!({"alg":"ES256"}), &claims_json());
    assert!(check(&t, &keys).is_ok());
}

#[test]
fn attack_duplicate_claims_and_crit() {
    let (jwk, pair) = jwk_of_es256("k");
    let keys = set(&[jwk], KeyOrigin::Remote);
    // payload {"iss":"https://idp","exp":1700003600,"exp":9999999999} (duplicate exp)
    let input = format!(
        "{}.{}",
        b64(r#"{"alg":"ES256","kid":"k"}"#),
        b64(r#"{"iss":"https://idp","exp":1700003600,"exp":9999999999}"#)
    );
    let key = p256::ecdsa::SigningKey::from_slice(&pair.to_bytes()).unwrap();
    let sig: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&key, input.as_bytes());
    let t = format!("{input}.{}", b64(sig.to_bytes()));
    assert!(matches!(check(&t, &keys), Err(TokenError::Malformed(_))));
    let t = es256_token(
        &pair,
        &json!({"alg":"ES256","kid":"k","crit":["exp"]}),
        &claims_json(),
    );
    assert_eq!(check(&t, &keys).unwrap_err(), TokenError::CriticalHeader);
}

#[test]
fn attack_oversized_token() {
    let (jwk, pair) = jwk_of_es256("k");
    let keys = set(&[jwk], KeyOrigin::Remote);
    let mut payload = claims_json();
    payload["pad"] = json!("x".repeat(9000));
    let t = es256_token(&pair, &json!({"alg":"ES256","kid":"k"}), &payload);
    assert!(matches!(check(&t, &keys), Err(TokenError::TooLarge { .. })));
    assert!(verify(&t, 16384, &keys, &policy(), NOW).is_ok());
}

#[test]
fn issuer_is_checked_before_any_key() {
    let keys = KeySet::default();
    let (_, pair) = jwk_of_es256("k");
    let mut payload = claims_json();
    payload["iss"] = json!("https://other");
    let t = es256_token(&pair, &json!({"alg":"ES256","kid":"k"}), &payload);
    assert_eq!(check(&t, &keys).unwrap_err(), TokenError::IssuerMismatch);
}

#[test]
fn time_claims_are_checked_after_the_signature() {
    let (jwk, pair) = jwk_of_es256("k");
    let keys = set(&[jwk], KeyOrigin::Remote);
    let t = es256_token(&pair, &json!({"alg":"ES256","kid":"k"}), &claims_json());
    assert!(verify(&t, 8192, &keys, &policy(), NOW + 3600 + 59).is_ok());
    assert_eq!(
        verify(&t, 8192, &keys, &policy(), NOW + 3600 + 60).unwrap_err(),
        TokenError::Expired
    );
    // A forged expired token reports the signature, not the expiry.
    assert_eq!(
        verify(&tamper_payload(&t), 8192, &keys, &policy(), NOW + 7200).unwrap_err(),
        TokenError::BadSignature
    );
}
