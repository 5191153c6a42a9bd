//! Both backends decide alike on every token class the verifier tests cover; each check is
//! counted on the backend that made it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::jwks::{parse_jwks, KeyOrigin};
use crate::test_host::host_with_verify;
use crate::test_keys::*;
use crate::token::parse;
use crate::verifier::check_signature_with;
use jwt_simple::prelude::*;
use palisade_core::testing::MockHost;
use serde_json::{json, Value};

fn set_of(keys: &[Value]) -> KeySet {
    parse_jwks(&jwks(keys), KeyOrigin::Remote).unwrap()
}

/// Tokens of every class: valid, tampered, truncated, re-encoded, other key, alg swapped.
fn tokens(es: &ES256KeyPair, rsa: &RS256KeyPair) -> Vec<(String, String)> {
    let c = claims("https://idp", "api");
    let good_es = es256_token(es, &json!({"alg":"ES256","kid":"e"}), &c);
    let good_rs = rsa
        .sign(Claims::with_custom_claims(
            c.clone(),
            Duration::from_hours(1),
        ))
        .unwrap();
    let other = es256_token(
        &ES256KeyPair::generate(),
        &json!({"alg":"ES256","kid":"e"}),
        &c,
    );
    let (input, sig) = good_es.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let high_s = {
        // s' = n - s verifies in both (neither library enforces low s), so both must agree.
        let s = p256::ecdsa::Signature::from_slice(&raw).unwrap();
        let flipped = p256::ecdsa::Signature::from_scalars(s.r(), -*s.s()).unwrap();
        format!("{input}.{}", b64(flipped.to_bytes()))
    };
    let der = {
        let s = p256::ecdsa::Signature::from_slice(&raw).unwrap();
        format!("{input}.{}", b64(s.to_der().as_bytes()))
    };
    let mut t = vec![
        ("valid ES256", good_es.clone()),
        ("valid RS256", good_rs.clone()),
        ("other key", other),
        ("high s", high_s),
        ("DER signature", der),
        ("truncated", format!("{input}.{}", b64(&raw[..63]))),
        (
            "padded",
            format!("{input}.{}", b64([&raw[..], &[0]].concat())),
        ),
        ("r||s zero", format!("{input}.{}", b64([0u8; 64]))),
        (
            "tampered payload",
            format!(
                "{}.{}.{sig}",
                input.split('.').next().unwrap(),
                b64(r#"{"sub":"admin"}"#)
            ),
        ),
        (
            "alg swapped",
            format!(
                "{}.{}",
                b64(r#"{"alg":"ES384","kid":"e"}"#),
                &good_es[good_es.find('.').unwrap() + 1..]
            ),
        ),
        (
            "salt header",
            es256_token(es, &json!({"alg":"ES256","kid":"e","salt":"!!"}), &c),
        ),
        (
            "jwk header object",
            es256_token(es, &json!({"alg":"ES256","kid":"e","jwk":{"kty":"EC"}}), &c),
        ),
    ];
    let (rs_input, rs_sig) = good_rs.rsplit_once('.').unwrap();
    let rs_raw = URL_SAFE_NO_PAD.decode(rs_sig).unwrap();
    t.push(("RSA short", format!("{rs_input}.{}", b64(&rs_raw[1..]))));
    t.push((
        "RSA long",
        format!("{rs_input}.{}", b64([&[0u8][..], &rs_raw].concat())),
    ));
    let mut flipped = rs_raw.clone();
    flipped[10] ^= 1;
    t.push(("RSA flipped", format!("{rs_input}.{}", b64(flipped))));
    t.into_iter().map(|(a, b)| (a.to_string(), b)).collect()
}

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

#[test]
fn host_and_wasm_decide_alike_on_every_class() {
    let (es_jwk, es) = jwk_of_es256("e");
    let (mut rs_jwk, rsa) = jwk_of_rs256_without_alg("r");
    rs_jwk["alg"] = json!("RS256");
    let set = set_of(&[es_jwk, rs_jwk]);
    let (host, calls) = host_with_verify();
    let (on_host, dropped) = bind(&set, HostUse::Preferred, &host);
    assert!(dropped.is_empty());
    assert!(on_host.keys.iter().all(|k| k.backend == Backend::Host));
    let wasm = Signatures::new(None);
    let hosted = Signatures::new(Some(&host));
    let mut valid = 0;
    for (what, token) in tokens(&es, &rsa) {
        let Ok(jws) = parse(&token, 8192) else {
            continue;
        };
        let a = check_signature_with(&jws, &set, &wasm);
        let b = check_signature_with(&jws, &on_host, &hosted);
        assert_eq!(a, b, "{what}");
        valid += usize::from(a.is_ok());
    }
    assert_eq!(valid, 3, "valid ES256, valid RS256, high s");
    assert!(
        hosted.host_checks.get() >= 8,
        "{}",
        hosted.host_checks.get()
    );
    assert_eq!(
        hosted.wasm_checks.get(),
        1,
        "the salt header stays with the Rust path"
    );
    assert_eq!(wasm.host_checks.get(), 0);
    assert!(calls.get() > 0);
}

#[test]
fn strictly_invalid_ecdsa_never_reaches_the_host() {
    let (es_jwk, es) = jwk_of_es256("e");
    let (host, calls) = host_with_verify();
    let (set, _) = bind(&set_of(&[es_jwk]), HostUse::Preferred, &host);
    let before = calls.get();
    let good = es256_token(&es, &json!({"alg":"ES256"}), &claims("i", "a"));
    let (input, _) = good.rsplit_once('.').unwrap();
    let jws_token = format!("{input}.{}", b64([0u8; 64]));
    let jws = parse(&jws_token, 8192).unwrap();
    let sigs = Signatures::new(Some(&host));
    assert_eq!(
        check_signature_with(&jws, &set, &sigs),
        Err(TokenError::BadSignature)
    );
    assert_eq!(calls.get(), before);
    assert_eq!(sigs.host_checks.get(), 1);
}

#[test]
fn a_failing_host_falls_back_to_wasm() {
    let (es_jwk, es) = jwk_of_es256("e");
    let (host, _) = host_with_verify();
    let (set, _) = bind(&set_of(&[es_jwk]), HostUse::Preferred, &host);
    let token = es256_token(&es, &json!({"alg":"ES256"}), &claims("i", "a"));
    let jws = parse(&token, 8192).unwrap();
    // The function went away after binding: the Rust path decides.
    let gone = MockHost::new();
    let sigs = Signatures::new(Some(&gone));
    assert_eq!(check_signature_with(&jws, &set, &sigs), Ok(()));
    assert_eq!((sigs.host_checks.get(), sigs.wasm_checks.get()), (0, 1));
}

#[test]
fn keys_the_host_refuses_stay_in_wasm_or_are_dropped() {
    let (es_jwk, _) = jwk_of_es256("e");
    let set = set_of(&[es_jwk]);
    let refusing = MockHost::new().with_foreign_function(crate::hostsig::VERIFY_SIGNATURE, |_| {
        Err(palisade_core::host::HostError::BadArgument)
    });
    let (kept, dropped) = bind(&set, HostUse::Preferred, &refusing);
    assert!(dropped.is_empty());
    assert_eq!(kept.keys[0].backend, Backend::Wasm);
    let (kept, dropped) = bind(&set, HostUse::Required, &refusing);
    assert!(kept.keys.is_empty());
    assert!(dropped[0].starts_with("key `e` (ES256)"), "{dropped:?}");
    let (kept, _) = bind(&set, HostUse::Off, &refusing);
    assert_eq!(kept.keys[0].backend, Backend::Wasm);
}
