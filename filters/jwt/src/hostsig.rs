//! Signatures checked by the host: Envoy's `verify_signature` foreign function (BoringSSL's
//! `EVP_DigestVerify`), for RSASSA-PKCS1-v1_5 and ECDSA. Keys go over as DER
//! SubjectPublicKeyInfo (made once per key set); ECDSA signatures as a DER `Ecdsa-Sig-Value`,
//! converted from the JWS `r || s` only after the strict checks of the Rust path.

use crate::alg::Alg;
use crate::keys::Verifier;
use palisade_core::host::{Host, HostError};
use prost::Message;
use std::borrow::Cow;

/// The foreign function's name in Envoy (`source/extensions/common/wasm/foreign.cc`, since 1.30).
pub const VERIFY_SIGNATURE: &str = "verify_signature";

/// Envoy's `VerifySignatureArguments` (`source/extensions/common/wasm/ext/verify_signature.proto`).
#[derive(Clone, PartialEq, Message)]
pub struct VerifySignatureArguments {
    /// `sha256`, `sha384` or `sha512`.
    #[prost(string, tag = "1")]
    pub hash_function: String,
    /// DER SubjectPublicKeyInfo.
    #[prost(bytes = "vec", tag = "2")]
    pub public_key: Vec<u8>,
    /// The signature (RSA: as sent; ECDSA: DER).
    #[prost(bytes = "vec", tag = "3")]
    pub signature: Vec<u8>,
    /// The signed bytes.
    #[prost(bytes = "vec", tag = "4")]
    pub text: Vec<u8>,
    /// PEM key (Envoy 1.37+), never sent: exactly one key form is allowed.
    #[prost(string, tag = "5")]
    pub public_key_pem: String,
}

/// Envoy's `VerifySignatureResult`.
#[derive(Clone, PartialEq, Message)]
pub struct VerifySignatureResult {
    /// The signature is valid.
    #[prost(bool, tag = "1")]
    pub result: bool,
    /// Why not.
    #[prost(string, tag = "2")]
    pub error: String,
}

/// The curve of an ECDSA key, which fixes the length of `r || s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-256 (ES256).
    P256,
    /// P-384 (ES384).
    P384,
    /// P-521 (ES512).
    P521,
}

/// A key in the form the host takes, made once when the key set is loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct HostKey {
    /// DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// The hash the algorithm uses, as Envoy names it.
    pub hash: &'static str,
    /// `None` for RSA.
    pub curve: Option<Curve>,
    /// `VerifySignatureArguments` fields 1 and 2 (hash and key), encoded once: a request only
    /// appends its signature and text (protobuf fields may come in any order, each once here).
    prefix: Vec<u8>,
}

impl HostKey {
    /// The host form of a key: its DER SubjectPublicKeyInfo, hash and curve.
    pub fn new(spki: Vec<u8>, hash: &'static str, curve: Option<Curve>) -> Self {
        let prefix = VerifySignatureArguments {
            hash_function: hash.to_string(),
            public_key: spki.clone(),
            ..VerifySignatureArguments::default()
        }
        .encode_to_vec();
        Self {
            spki,
            hash,
            curve,
            prefix,
        }
    }

    /// The serialized `VerifySignatureArguments` for one check, in one allocation.
    fn arguments(&self, signature: &[u8], text: &[u8]) -> Vec<u8> {
        let mut arguments =
            Vec::with_capacity(self.prefix.len() + signature.len() + text.len() + 12);
        arguments.extend_from_slice(&self.prefix);
        put_bytes(3, signature, &mut arguments);
        put_bytes(4, text, &mut arguments);
        arguments
    }
}

/// A protobuf `bytes` field with prost's wire primitives, from a borrowed slice (the derived
/// encoder wants owned fields); empty is omitted, as the derived encoder omits proto3 defaults.
fn put_bytes(tag: u32, value: &[u8], buf: &mut Vec<u8>) {
    use prost::encoding::{encode_key, encode_varint, WireType};
    if value.is_empty() {
        return;
    }
    encode_key(tag, WireType::LengthDelimited, buf);
    encode_varint(value.len() as u64, buf);
    buf.extend_from_slice(value);
}

impl std::fmt::Debug for HostKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostKey({}, {:?})", self.hash, self.curve)
    }
}

/// Whether the host backend can check this algorithm: PKCS#1 v1.5 and ECDSA only (the host
/// has no PSS padding option, and no Ed25519 or HMAC through this function).
pub fn host_capable(alg: Alg) -> bool {
    matches!(
        alg,
        Alg::Rs256 | Alg::Rs384 | Alg::Rs512 | Alg::Es256 | Alg::Es384 | Alg::Es512
    )
}

/// The host form of a key the Rust path already accepted (so its parameters are checked:
/// RSA 2048–4096 bits with e = 65537, EC points on their curve). `None` for algorithms the
/// host cannot check.
pub fn host_key(verifier: &Verifier) -> Result<Option<HostKey>, String> {
    use p521::pkcs8::EncodePublicKey as _;
    let der = |r: Result<Vec<u8>, jwt_simple::Error>| r.map_err(|e| format!("DER key: {e}"));
    let (spki, hash, curve) = match verifier {
        Verifier::Rs256(k) => (der(k.to_der())?, "sha256", None),
        Verifier::Rs384(k) => (der(k.to_der())?, "sha384", None),
        Verifier::Rs512(k) => (der(k.to_der())?, "sha512", None),
        Verifier::Es256(k) => (der(k.to_der())?, "sha256", Some(Curve::P256)),
        Verifier::Es384(k) => (der(k.to_der())?, "sha384", Some(Curve::P384)),
        Verifier::Es512(k) => (
            k.to_public_key_der()
                .map_err(|e| format!("DER key: {e}"))?
                .as_bytes()
                .to_vec(),
            "sha512",
            Some(Curve::P521),
        ),
        _ => return Ok(None),
    };
    Ok(Some(HostKey::new(spki, hash, curve)))
}

/// The DER `Ecdsa-Sig-Value` of a JWS ECDSA signature, or `None` when the Rust path refuses it:
/// `from_slice` wants exactly twice the curve's scalar length and r and s in [1, n-1].
pub fn ecdsa_der(curve: Curve, raw: &[u8]) -> Option<Vec<u8>> {
    Some(match curve {
        Curve::P256 => p256::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
        Curve::P384 => p384::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
        Curve::P521 => p521::ecdsa::Signature::from_slice(raw)
            .ok()?
            .to_der()
            .as_bytes()
            .to_vec(),
    })
}

/// What the host said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostVerdict {
    /// The signature is valid.
    Valid,
    /// Not valid; the host's reason.
    Invalid(String),
}

/// Asks the host to check `signature` (already in the host's form) over `text`.
pub fn call_verify(
    host: &dyn Host,
    key: &HostKey,
    signature: &[u8],
    text: &[u8],
) -> Result<HostVerdict, HostError> {
    let answer = host.call_foreign_function(VERIFY_SIGNATURE, &key.arguments(signature, text))?;
    let result = VerifySignatureResult::decode(answer.as_slice())
        .map_err(|e| HostError::Other(format!("verify_signature answer: {e}")))?;
    Ok(if result.result {
        HostVerdict::Valid
    } else {
        HostVerdict::Invalid(result.error)
    })
}

/// The host's form of a JWS signature for this key (RSA: as sent, not copied); `None`: refused
/// before asking the host.
pub fn host_signature<'a>(key: &HostKey, raw: &'a [u8]) -> Option<Cow<'a, [u8]>> {
    match key.curve {
        Some(curve) => ecdsa_der(curve, raw).map(Cow::Owned),
        None => Some(Cow::Borrowed(raw)),
    }
}

#[cfg(test)]
#[path = "hostsig_tests.rs"]
mod tests;
