//! Envoy's `verify_signature` on the mock host, with the Rust crates standing in for BoringSSL:
//! the same protobuf in and out, and Envoy's answers for a bad key (BadArgument), an unknown
//! hash and a bad signature (`result: false`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use crate::hostsig::{VerifySignatureArguments, VerifySignatureResult, VERIFY_SIGNATURE};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use p521::ecdsa::signature::Verifier as _;
use p521::pkcs8::DecodePublicKey as _;
use palisade_core::host::HostError;
use palisade_core::testing::MockHost;
use prost::Message;
use std::cell::Cell;
use std::rc::Rc;

fn answer(result: bool, error: &str) -> Vec<u8> {
    VerifySignatureResult {
        result,
        error: error.into(),
    }
    .encode_to_vec()
}

/// Whether the DER key parses (Envoy 1.37+ answers BadArgument when not).
fn key_ok(der: &[u8]) -> bool {
    RS256PublicKey::from_der(der).is_ok()
        || ES256PublicKey::from_der(der).is_ok()
        || ES384PublicKey::from_der(der).is_ok()
        || p521::ecdsa::VerifyingKey::from_public_key_der(der).is_ok()
}

/// Checks `text` (a JWS signing input, or it fails) the way the host would; `Err`: wrong key type.
fn verify(args: &VerifySignatureArguments) -> Result<bool, ()> {
    let text = std::str::from_utf8(&args.text).map_err(drop)?;
    let der = &args.public_key;
    let token = |raw: &[u8]| format!("{text}.{}", URL_SAFE_NO_PAD.encode(raw));
    let options = || {
        Some(VerificationOptions {
            accept_future: true,
            time_tolerance: Some(Duration::from_secs(0)),
            artificial_time: Some(UnixTimeStamp::from_secs(0)),
            max_token_length: Some(1 << 20),
            max_header_length: Some(1 << 20),
            ..VerificationOptions::default()
        })
    };
    let Some(header) = text
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|h| serde_json::from_slice::<serde_json::Value>(&h).ok())
    else {
        return Ok(false);
    };
    let alg = header["alg"].as_str().unwrap_or_default().to_string();
    let ok = |r: Result<JWTClaims<NoCustomClaims>, jwt_simple::Error>| {
        // A payload jwt-simple cannot read as claims still had a good signature.
        r.is_ok() || r.is_err_and(|e| e.downcast_ref::<serde_json::Error>().is_some())
    };
    Ok(match (alg.as_str(), args.hash_function.as_str()) {
        ("RS256", "sha256") => ok(RS256PublicKey::from_der(der)
            .map_err(drop)?
            .verify_token(&token(&args.signature), options())),
        ("RS384", "sha384") => ok(RS384PublicKey::from_der(der)
            .map_err(drop)?
            .verify_token(&token(&args.signature), options())),
        ("RS512", "sha512") => ok(RS512PublicKey::from_der(der)
            .map_err(drop)?
            .verify_token(&token(&args.signature), options())),
        ("ES256", "sha256") => {
            let key = ES256PublicKey::from_der(der).map_err(drop)?;
            let Ok(sig) = p256::ecdsa::Signature::from_der(&args.signature) else {
                return Ok(false);
            };
            ok(key.verify_token(&token(&sig.to_bytes()), options()))
        }
        ("ES384", "sha384") => {
            let key = ES384PublicKey::from_der(der).map_err(drop)?;
            let Ok(sig) = p384::ecdsa::Signature::from_der(&args.signature) else {
                return Ok(false);
            };
            ok(key.verify_token(&token(&sig.to_bytes()), options()))
        }
        ("ES512", "sha512") => {
            let key = p521::ecdsa::VerifyingKey::from_public_key_der(der).map_err(drop)?;
            let Ok(sig) = p521::ecdsa::Signature::from_der(&args.signature) else {
                return Ok(false);
            };
            key.verify(&args.text, &sig).is_ok()
        }
        _ => false,
    })
}

/// The mock's `verify_signature`, counting its calls.
pub fn envoy_verify_signature(
    calls: Rc<Cell<u32>>,
) -> impl Fn(&[u8]) -> Result<Vec<u8>, HostError> {
    move |bytes: &[u8]| {
        calls.set(calls.get() + 1);
        let args = VerifySignatureArguments::decode(bytes).map_err(|_| HostError::BadArgument)?;
        if args.public_key.is_empty() == args.public_key_pem.is_empty() {
            return Err(HostError::BadArgument);
        }
        if !["sha1", "sha224", "sha256", "sha384", "sha512"].contains(&args.hash_function.as_str())
        {
            return Ok(answer(
                false,
                &format!("{} is not supported.", args.hash_function),
            ));
        }
        if !key_ok(&args.public_key) {
            return Err(HostError::BadArgument);
        }
        match verify(&args) {
            Ok(true) => Ok(answer(true, "")),
            Ok(false) | Err(()) => Ok(answer(false, "Failed to verify digest. Error code: 0")),
        }
    }
}

/// A mock host with Envoy's `verify_signature`, and its call counter.
pub fn host_with_verify() -> (MockHost, Rc<Cell<u32>>) {
    let calls = Rc::new(Cell::new(0));
    let host = MockHost::new()
        .with_foreign_function(VERIFY_SIGNATURE, envoy_verify_signature(Rc::clone(&calls)));
    (host, calls)
}
