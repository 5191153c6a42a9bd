//! Raw-message checks in Wasm: arbitrary bytes (not a JWS signing input) verify with the right
//! key and signature only.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;
use jwt_simple::prelude::{ES256KeyPair, RS256KeyPair, RS256PublicKey, RSAKeyPairLike};
use p256::ecdsa::signature::Signer as _;
use superboring::pkey::PKey;
use superboring::sign::Signer;

/// Not UTF-8, no dots: nothing a token could carry as its signing input.
const MESSAGE: &[u8] = &[0xff, 0x00, 0x2e, 0x80, 0xc3];

fn flipped(signature: &[u8]) -> Vec<u8> {
    let mut bad = signature.to_vec();
    bad[signature.len() / 2] ^= 1;
    bad
}

#[test]
fn rsa_pkcs1_over_raw_bytes() {
    let pair = RS256KeyPair::generate(2048).unwrap();
    let pkey = PKey::from_rsa(pair.key_pair().as_ref().clone()).unwrap();
    let mut signer = Signer::new(MessageDigest::sha256(), &pkey).unwrap();
    signer.set_rsa_padding(Padding::PKCS1).unwrap();
    signer.update(MESSAGE).unwrap();
    let signature = signer.sign_to_vec().unwrap();
    let public: RS256PublicKey = pair.public_key();
    let verifier = Verifier::Rs256(public);
    assert_eq!(verifier.check_raw(MESSAGE, &signature), Ok(()));
    assert_eq!(
        verifier.check_raw(MESSAGE, &flipped(&signature)),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        verifier.check_raw(&MESSAGE[1..], &signature),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        verifier.check_raw(MESSAGE, &signature[1..]),
        Err(TokenError::BadSignature),
        "one byte short"
    );
}

#[test]
fn ecdsa_over_raw_bytes_takes_raw_r_s_only() {
    let pair = ES256KeyPair::generate();
    let key = p256::ecdsa::SigningKey::from_slice(&pair.to_bytes()).unwrap();
    let signature: p256::ecdsa::Signature = key.sign(MESSAGE);
    let verifier = Verifier::Es256(pair.public_key());
    assert_eq!(verifier.check_raw(MESSAGE, &signature.to_bytes()), Ok(()));
    assert_eq!(
        verifier.check_raw(MESSAGE, &flipped(&signature.to_bytes())),
        Err(TokenError::BadSignature)
    );
    assert_eq!(
        verifier.check_raw(MESSAGE, signature.to_der().as_bytes()),
        Err(TokenError::BadSignature),
        "DER is not a JWS signature"
    );

    let key = p521::ecdsa::SigningKey::from_slice(&[1u8; 66]).unwrap();
    let signature: p521::ecdsa::Signature = key.sign(MESSAGE);
    let verifier = Verifier::Es512(Box::new(*key.verifying_key()));
    assert_eq!(verifier.check_raw(MESSAGE, &signature.to_bytes()), Ok(()));
    assert_eq!(
        verifier.check_raw(MESSAGE, &flipped(&signature.to_bytes())),
        Err(TokenError::BadSignature)
    );
}

#[test]
fn algorithms_the_host_does_not_check_are_refused() {
    let secret = jwt_simple::prelude::HS256Key::from_bytes(&[7u8; 32]);
    assert_eq!(
        Verifier::Hs256(secret).check_raw(MESSAGE, &[0u8; 32]),
        Err(TokenError::UnsupportedAlg("HS256".into()))
    );
    assert!(raw_capable(Alg::Es512));
    assert!(!raw_capable(Alg::Ps256));
}
