//! RFC 7515 (A.1–A.5), RFC 7520 (§3, §4) and RFC 8037 (A.4) vectors from the shared conformance
//! folder, with a pinned clock: every valid signature is accepted, every tampered one refused,
//! and every vector that cannot apply to a compact JWT says why it is skipped.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_jwt::claims::ClaimPolicy;
use palisade_jwt::error::TokenError;
use palisade_jwt::jwks::{parse_jwks, KeyOrigin, KeySet};
use palisade_jwt::token;
use palisade_jwt::verifier::{check_signature, verify};
use serde_json::{json, Value};
use std::path::PathBuf;

/// RFC 7515 A.1–A.3 claims expire at 1300819380 (2011-03-22); the clock is pinned just before.
const PINNED_NOW: u64 = 1_300_819_379;

fn jose_dir() -> Option<PathBuf> {
    let root = std::env::var_os("PALISADE_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance")
        });
    let dir = root.join("jose");
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("conformance folder {} is missing (CI=true)", dir.display());
    }
    eprintln!(
        "SKIPPED: conformance folder {} is missing; set PALISADE_CONFORMANCE_DIR",
        dir.display()
    );
    None
}

fn read_json(path: PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// The public part of a JWK (private members dropped), as a one-key set.
fn public_set(jwk: &Value) -> KeySet {
    let mut public = jwk.clone();
    let obj = public.as_object_mut().unwrap();
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        obj.remove(private);
    }
    let origin = if obj.get("kty") == Some(&json!("oct")) {
        KeyOrigin::Local
    } else {
        KeyOrigin::Remote
    };
    parse_jwks(&json!({ "keys": [public] }).to_string(), origin).unwrap()
}

/// Replaces one character of a base64url part by another of the alphabet, keeping it canonical.
fn flip(part: &str, at: usize) -> String {
    let mut chars: Vec<char> = part.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// The signature of `compact` checks out with `keys`, and flipping the payload or the signature breaks it.
fn assert_signature_valid_and_tamper_evident(id: &str, compact: &str, keys: &KeySet) {
    let jws = token::parse(compact, 1 << 16).unwrap_or_else(|e| panic!("{id}: {e}"));
    assert_eq!(
        check_signature(&jws, keys),
        Ok(()),
        "{id}: valid signature refused"
    );
    let parts: Vec<&str> = compact.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        flip(parts[1], parts[1].len() / 2),
        parts[2]
    );
    let tampered_signature = format!("{}.{}.{}", parts[0], parts[1], flip(parts[2], 0));
    for (what, t) in [
        ("payload", tampered_payload),
        ("signature", tampered_signature),
    ] {
        let jws = token::parse(&t, 1 << 16).unwrap();
        assert_eq!(
            check_signature(&jws, keys),
            Err(TokenError::BadSignature),
            "{id}: tampered {what} accepted"
        );
    }
    println!("{id}: signature valid, tampered payload and signature refused");
}

#[test]
fn rfc7515_and_rfc8037_appendix_vectors() {
    let Some(dir) = jose_dir() else { return };
    let doc = read_json(dir.join("rfc7515_8037_appendix_vectors.json"));
    let vectors = doc["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 6);
    for v in vectors {
        let id = v["id"].as_str().unwrap();
        let compact = v["jws"].as_str().unwrap();
        if !v["expect_signature_valid"].as_bool().unwrap() {
            let keys = KeySet::default();
            let err =
                verify(compact, 1 << 16, &keys, &ClaimPolicy::default(), PINNED_NOW).unwrap_err();
            assert_eq!(err, TokenError::AlgNone, "{id}");
            println!("{id}: unsecured JWS refused ({err})");
            continue;
        }
        let keys = public_set(&v["jwk"]);
        assert_signature_valid_and_tamper_evident(id, compact, &keys);
        let policy = ClaimPolicy {
            issuer: Some("joe".into()),
            ..ClaimPolicy::default()
        };
        match verify(compact, 1 << 16, &keys, &policy, PINNED_NOW) {
            Ok(t) => {
                assert_eq!(t.claims["http://example.com/is_root"], true, "{id}");
                // The same token an hour after `exp` (60 s skew) is expired.
                let later =
                    verify(compact, 1 << 16, &keys, &policy, PINNED_NOW + 3600).unwrap_err();
                assert_eq!(later, TokenError::Expired, "{id}");
                println!("{id}: accepted as a JWT at the pinned clock, expired an hour later");
            }
            Err(TokenError::Malformed(why)) if why.starts_with("payload") => {
                println!("{id}: payload is not a JWT claim set, so the filter refuses it as a token ({why})");
            }
            Err(e) => panic!("{id}: {e}"),
        }
    }
}

#[test]
fn rfc7520_signature_examples() {
    let Some(dir) = jose_dir() else { return };
    let dir = dir.join("rfc7520");
    let compact_examples = [
        "jws_4_1.rsa_v15_signature.json",
        "jws_4_2.rsa-pss_signature.json",
        "jws_4_3.ecdsa_signature.json",
        "jws_4_4.hmac-sha2_integrity_protection.json",
        "curve25519_jws.json",
    ];
    for file in compact_examples {
        let v = read_json(dir.join(file));
        let compact = v["output"]["compact"].as_str().unwrap();
        let keys = public_set(&v["input"]["key"]);
        assert_signature_valid_and_tamper_evident(file, compact, &keys);
        // Their payload is prose, not a claim set: as a bearer token it is refused.
        let err = verify(compact, 1 << 16, &keys, &ClaimPolicy::default(), PINNED_NOW).unwrap_err();
        assert!(matches!(err, TokenError::Malformed(_)), "{file}: {err}");
    }
    let skipped = [
        (
            "jws_4_5.signature_with_detached_content.json",
            "detached content: a JWT carries its payload",
        ),
        (
            "jws_4_6.protecting_specific_header_fields.json",
            "JSON serialization only (unprotected header)",
        ),
        (
            "jws_4_7.protecting_content_only.json",
            "JSON serialization only (no protected header)",
        ),
        (
            "jws_4_8.multiple_signatures.json",
            "JSON serialization only (several signatures)",
        ),
        (
            "rfc7797_4.2.hmac-sha2_b64_false.json",
            "unencoded payload (b64=false, crit) is not a JWT",
        ),
    ];
    for (file, why) in skipped {
        assert!(dir.join(file).is_file(), "{file} missing");
        println!("SKIPPED {file}: {why}");
    }
    // The detached form in compact serialization must not pass as a token with an empty payload.
    let v = read_json(dir.join("jws_4_5.signature_with_detached_content.json"));
    let detached = v["output"]["compact"].as_str().unwrap();
    let keys = public_set(&v["input"]["key"]);
    let jws = token::parse(detached, 1 << 16).unwrap();
    assert_eq!(check_signature(&jws, &keys), Err(TokenError::BadSignature));
}

#[test]
fn rfc7520_keys() {
    let Some(dir) = jose_dir() else { return };
    let dir = dir.join("rfc7520");
    let set = |file: &str, origin| {
        let jwk = read_json(dir.join(file));
        parse_jwks(&json!({ "keys": [jwk] }).to_string(), origin)
    };
    let ec = set("jwk_3_1.ec_public_key.json", KeyOrigin::Remote).unwrap();
    assert_eq!(ec.keys.len(), 1);
    assert_eq!(ec.keys[0].verifier.alg().name(), "ES512");
    assert_eq!(
        ec.keys[0].kid.as_deref(),
        Some("bilbo.baggins@hobbiton.example")
    );
    let rsa = set("jwk_3_3.rsa_public_key.json", KeyOrigin::Remote).unwrap();
    assert_eq!(
        rsa.keys.len(),
        6,
        "an RSA JWK without alg serves RS* and PS*"
    );
    let mac = set(
        "jwk_3_5.symmetric_key_mac_computation.json",
        KeyOrigin::Local,
    )
    .unwrap();
    assert_eq!(mac.keys.len(), 1);
    assert!(set(
        "jwk_3_5.symmetric_key_mac_computation.json",
        KeyOrigin::Remote
    )
    .is_err());
    // Private keys and an encryption key do not belong in a verification key set.
    for file in [
        "jwk_3_2.ec_private_key.json",
        "jwk_3_4.rsa_private_key.json",
        "jwk_3_6.symmetric_key_encryption.json",
    ] {
        let err = set(file, KeyOrigin::Local).unwrap_err();
        println!("{file}: refused as a verification key ({err})");
    }
}
