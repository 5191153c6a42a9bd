//! Signature checks on raw messages (feature `raw`, never in the filter's .wasm): what the
//! verify-probe test module runs the Wycheproof vectors through. A Wycheproof message is any
//! bytes, not a JWS signing input, so jwt-simple's token API cannot take it; the Wasm side
//! makes the calls jwt-simple's verify closures make (superboring's PKCS#1 v1.5 verifier, p256/
//! p384 `Signature::try_from` on raw `r || s`) and the ES512 check the token path uses.

use crate::alg::Alg;
use crate::backend::{host_decision, Backend, Signatures};
use crate::error::TokenError;
use crate::keys::{es512, Key, Verifier};
use jwt_simple::prelude::{ECDSAP256PublicKeyLike, ECDSAP384PublicKeyLike, RSAPublicKeyLike};
use p256::ecdsa::signature::Verifier as _;
use superboring::hash::MessageDigest;
use superboring::pkey::Public;
use superboring::rsa::{Padding, Rsa};

impl Signatures<'_> {
    /// Checks `signature` over `message` with one key, on the key's backend, as [`Signatures::check`]
    /// does for a token (a host error falls back to Wasm).
    pub fn check_raw(&self, key: &Key, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        if key.backend == Backend::Host {
            if let (Some(host), Some(host_key)) = (self.host, key.host.as_deref()) {
                if let Some(outcome) = host_decision(host, host_key, signature, message) {
                    self.host_checks
                        .set(self.host_checks.get().saturating_add(1));
                    return outcome;
                }
            }
        }
        self.wasm_checks
            .set(self.wasm_checks.get().saturating_add(1));
        key.verifier.check_raw(message, signature)
    }
}

impl Verifier {
    /// Checks `signature` over `message` in Wasm: RS* and ES* only (what the host backend
    /// checks); other algorithms are refused as `UnsupportedAlg`.
    pub fn check_raw(&self, message: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        let valid = match self {
            Verifier::Rs256(k) => rsa(
                k.public_key().as_ref(),
                MessageDigest::sha256(),
                message,
                signature,
            ),
            Verifier::Rs384(k) => rsa(
                k.public_key().as_ref(),
                MessageDigest::sha384(),
                message,
                signature,
            ),
            Verifier::Rs512(k) => rsa(
                k.public_key().as_ref(),
                MessageDigest::sha512(),
                message,
                signature,
            ),
            Verifier::Es256(k) => p256::ecdsa::Signature::try_from(signature)
                .is_ok_and(|s| k.public_key().as_ref().verify(message, &s).is_ok()),
            Verifier::Es384(k) => p384::ecdsa::Signature::try_from(signature)
                .is_ok_and(|s| k.public_key().as_ref().verify(message, &s).is_ok()),
            Verifier::Es512(k) => return es512(k, message, signature),
            other => return Err(TokenError::UnsupportedAlg(other.alg().to_string())),
        };
        if valid {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }
}

/// RSASSA-PKCS1-v1_5 as jwt-simple's `RSAPublicKeyLike::verify_token` checks it.
fn rsa(key: &Rsa<Public>, digest: MessageDigest, message: &[u8], signature: &[u8]) -> bool {
    crate::keys::rsa(key, digest, Padding::PKCS1, message, signature)
}

/// The algorithms [`Verifier::check_raw`] checks.
pub fn raw_capable(alg: Alg) -> bool {
    crate::hostsig::host_capable(alg)
}

#[cfg(test)]
#[path = "raw_tests.rs"]
mod tests;
