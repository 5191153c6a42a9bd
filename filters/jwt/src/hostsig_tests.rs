//! The host's form of keys and signatures, and the protobuf sent to Envoy.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use crate::test_host::host_with_verify;
use jwt_simple::prelude::*;
use palisade_core::testing::MockHost;

/// P-256 group order n (FIPS 186-4 D.1.2.3).
const P256_N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

#[test]
fn ecdsa_signatures_convert_only_when_strictly_valid() {
    let mut raw = [0u8; 64];
    raw[31] = 7;
    raw[63] = 9;
    let der = ecdsa_der(Curve::P256, &raw).unwrap();
    // SEQUENCE { INTEGER 7, INTEGER 9 }, minimal encoding.
    assert_eq!(der, vec![0x30, 0x06, 0x02, 0x01, 0x07, 0x02, 0x01, 0x09]);
    assert!(ecdsa_der(Curve::P256, &raw[..63]).is_none(), "short");
    assert!(
        ecdsa_der(Curve::P256, &[raw.as_slice(), &[0]].concat()).is_none(),
        "long"
    );
    assert!(
        ecdsa_der(Curve::P384, &raw).is_none(),
        "P-256 length on P-384"
    );
    assert!(ecdsa_der(Curve::P521, &[0u8; 132]).is_none(), "r = s = 0");
    let mut zero_r = raw;
    zero_r[31] = 0;
    assert!(ecdsa_der(Curve::P256, &zero_r).is_none(), "r = 0");
    let mut s_is_n = raw;
    s_is_n[32..].copy_from_slice(&P256_N);
    assert!(ecdsa_der(Curve::P256, &s_is_n).is_none(), "s = n");
    let mut high_bit = raw;
    high_bit[0] = 0x80;
    let der = ecdsa_der(Curve::P256, &high_bit).unwrap();
    // r gets a leading zero so it stays positive.
    assert_eq!(&der[..5], &[0x30, 0x26, 0x02, 0x21, 0x00]);
}

#[test]
fn keys_get_their_der_spki_and_hash() {
    let rsa = RS384KeyPair::generate(2048).unwrap();
    let k = host_key(&Verifier::Rs384(rsa.public_key()))
        .unwrap()
        .unwrap();
    assert_eq!((k.hash, k.curve), ("sha384", None));
    let back = RS384PublicKey::from_der(&k.spki).unwrap();
    assert_eq!(back.to_components().n, rsa.public_key().to_components().n);
    // SubjectPublicKeyInfo, not PKCS#1: the rsaEncryption OID is in it.
    let rsa_oid = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    assert!(k.spki.windows(rsa_oid.len()).any(|w| w == rsa_oid));

    let es = ES256KeyPair::generate();
    let k = host_key(&Verifier::Es256(es.public_key()))
        .unwrap()
        .unwrap();
    assert_eq!((k.hash, k.curve), ("sha256", Some(Curve::P256)));
    assert_eq!(
        ES256PublicKey::from_der(&k.spki).unwrap().to_bytes(),
        es.public_key().to_bytes()
    );

    let ed = Ed25519KeyPair::generate();
    assert!(host_key(&Verifier::EdDsa(ed.public_key()))
        .unwrap()
        .is_none());
    let ps = PS256KeyPair::generate(2048).unwrap();
    assert!(host_key(&Verifier::Ps256(ps.public_key()))
        .unwrap()
        .is_none());
}

#[test]
fn arguments_are_envoys_protobuf() {
    let key = HostKey::new(vec![1, 2], "sha256", None);
    let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let copy = std::rc::Rc::clone(&seen);
    let host = MockHost::new().with_foreign_function(VERIFY_SIGNATURE, move |args| {
        *copy.borrow_mut() = args.to_vec();
        Ok(VerifySignatureResult {
            result: false,
            error: "Failed to verify digest. Error code: 0".into(),
        }
        .encode_to_vec())
    });
    let verdict = call_verify(&host, &key, &[9], b"t").unwrap();
    assert_eq!(
        verdict,
        HostVerdict::Invalid("Failed to verify digest. Error code: 0".into())
    );
    // field 1 (string) "sha256", field 2 (bytes) key, field 3 signature, field 4 text; no PEM.
    let expected: Vec<u8> = [
        &[0x0a, 6][..],
        b"sha256",
        &[0x12, 2, 1, 2],
        &[0x1a, 1, 9],
        &[0x22, 1],
        b"t",
    ]
    .concat();
    assert_eq!(*seen.borrow(), expected);
    // The same bytes prost's derived encoder writes for the whole message.
    let derived = VerifySignatureArguments {
        hash_function: "sha256".into(),
        public_key: vec![1, 2],
        signature: vec![9],
        text: b"t".to_vec(),
        public_key_pem: String::new(),
    }
    .encode_to_vec();
    assert_eq!(derived, expected);
}

#[test]
fn host_errors_and_garbage_answers_are_errors_not_verdicts() {
    let key = HostKey::new(vec![1], "sha256", None);
    assert_eq!(
        call_verify(&MockHost::new(), &key, &[], b"t"),
        Err(HostError::NotFound)
    );
    let garbage = MockHost::new().with_foreign_function(VERIFY_SIGNATURE, |_| Ok(vec![0xff; 3]));
    assert!(matches!(
        call_verify(&garbage, &key, &[], b"t"),
        Err(HostError::Other(_))
    ));
    let (host, calls) = host_with_verify();
    assert_eq!(
        call_verify(&host, &key, &[], b"t"),
        Err(HostError::BadArgument)
    );
    assert_eq!(calls.get(), 1);
}
