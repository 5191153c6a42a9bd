//! Verification keys: one key, one algorithm. The key decides the algorithm, never the token.
//!
//! Signatures are checked by `jwt-simple` (RS*, PS*, ES256, ES384, EdDSA, HS*) and by the
//! RustCrypto `p521` crate for ES512, which `jwt-simple` lacks. No cryptography is written here.

use crate::alg::Alg;
use crate::backend::Backend;
use crate::error::TokenError;
use crate::hostsig::{host_key, HostKey};
use crate::token::Jws;
use jwt_simple::prelude::{
    Duration, ECDSAP256PublicKeyLike, ECDSAP384PublicKeyLike, ES256PublicKey, ES384PublicKey,
    Ed25519PublicKey, EdDSAPublicKeyLike, HS256Key, HS384Key, HS512Key, MACLike, NoCustomClaims,
    PS256PublicKey, PS384PublicKey, PS512PublicKey, RS256PublicKey, RS384PublicKey, RS512PublicKey,
    RSAPublicKeyLike, UnixTimeStamp, VerificationOptions,
};
use jwt_simple::JWTError;
use p521::ecdsa::signature::Verifier as _;
use std::rc::Rc;

/// The signature check of one key.
#[derive(Clone)]
pub enum Verifier {
    /// RS256.
    Rs256(RS256PublicKey),
    /// RS384.
    Rs384(RS384PublicKey),
    /// RS512.
    Rs512(RS512PublicKey),
    /// PS256.
    Ps256(PS256PublicKey),
    /// PS384.
    Ps384(PS384PublicKey),
    /// PS512.
    Ps512(PS512PublicKey),
    /// ES256.
    Es256(ES256PublicKey),
    /// ES384.
    Es384(ES384PublicKey),
    /// ES512 (P-521, RustCrypto).
    Es512(Box<p521::ecdsa::VerifyingKey>),
    /// EdDSA over Ed25519.
    EdDsa(Ed25519PublicKey),
    /// HS256 with a configured secret.
    Hs256(HS256Key),
    /// HS384 with a configured secret.
    Hs384(HS384Key),
    /// HS512 with a configured secret.
    Hs512(HS512Key),
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, secret keys least of all.
        write!(f, "Verifier({})", self.alg())
    }
}

impl Verifier {
    /// The one algorithm this verifier checks.
    pub fn alg(&self) -> Alg {
        match self {
            Verifier::Rs256(_) => Alg::Rs256,
            Verifier::Rs384(_) => Alg::Rs384,
            Verifier::Rs512(_) => Alg::Rs512,
            Verifier::Ps256(_) => Alg::Ps256,
            Verifier::Ps384(_) => Alg::Ps384,
            Verifier::Ps512(_) => Alg::Ps512,
            Verifier::Es256(_) => Alg::Es256,
            Verifier::Es384(_) => Alg::Es384,
            Verifier::Es512(_) => Alg::Es512,
            Verifier::EdDsa(_) => Alg::EdDsa,
            Verifier::Hs256(_) => Alg::Hs256,
            Verifier::Hs384(_) => Alg::Hs384,
            Verifier::Hs512(_) => Alg::Hs512,
        }
    }

    /// Checks the token's signature. `Ok` means the signature is valid; the claims are read
    /// and checked elsewhere.
    pub fn check_signature(&self, jws: &Jws<'_>) -> Result<(), TokenError> {
        if jws.header.alg != self.alg() {
            return Err(TokenError::AlgMismatch(jws.header.alg.name().to_string()));
        }
        let token = jws.compact;
        // The premise of `classify`: the header parses as jwt-simple parses it.
        if jwt_simple::token::Token::decode_metadata(token).is_err() {
            return Err(TokenError::Malformed("header".into()));
        }
        let options = Some(signature_only_options(token.len()));
        let result = match self {
            Verifier::Rs256(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Rs384(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Rs512(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Ps256(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Ps384(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Ps512(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Es256(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Es384(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::EdDsa(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Hs256(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Hs384(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Hs512(k) => k.verify_token::<NoCustomClaims>(token, options).map(drop),
            Verifier::Es512(k) => return check_es512(k, jws),
        };
        result.or_else(|e| classify(&e))
    }
}

/// `jwt-simple` checks claims too; these options make every claim check pass, so the signature
/// is all it decides (our own claim checks, with the host's clock, follow).
fn signature_only_options(token_len: usize) -> VerificationOptions {
    VerificationOptions {
        accept_future: true,
        time_tolerance: Some(Duration::from_secs(0)),
        artificial_time: Some(UnixTimeStamp::from_secs(0)),
        max_token_length: Some(token_len),
        max_header_length: Some(token_len),
        ..VerificationOptions::default()
    }
}

/// Maps a `jwt-simple` refusal. It verifies the signature before it parses the claims, and the
/// header was parsed the same way beforehand (`Token::decode_metadata`), so a JSON error can only
/// come from a payload whose signature already checked out. Every other error fails closed.
fn classify(error: &jwt_simple::Error) -> Result<(), TokenError> {
    if error.downcast_ref::<serde_json::Error>().is_some() {
        return Ok(());
    }
    match error.downcast_ref::<JWTError>() {
        Some(JWTError::AlgorithmMismatch) => Err(TokenError::BadSignature),
        Some(JWTError::NotJWT) => Err(TokenError::NotJwt(String::new())),
        Some(JWTError::UnknownCriticalExtension) => Err(TokenError::CriticalHeader),
        Some(JWTError::TokenTooLong | JWTError::HeaderTooLarge) => {
            Err(TokenError::Malformed("header too large".into()))
        }
        _ => Err(TokenError::BadSignature),
    }
}

/// ES512 of a token.
fn check_es512(key: &p521::ecdsa::VerifyingKey, jws: &Jws<'_>) -> Result<(), TokenError> {
    es512(key, jws.signing_input.as_bytes(), &jws.signature)
}

/// ES512: a raw `r || s` of 132 bytes, each in [1, n-1] (`Signature::from_slice` checks the range).
pub(crate) fn es512(
    key: &p521::ecdsa::VerifyingKey,
    message: &[u8],
    signature: &[u8],
) -> Result<(), TokenError> {
    let signature =
        p521::ecdsa::Signature::from_slice(signature).map_err(|_| TokenError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| TokenError::BadSignature)
}

/// One usable key of a key set.
#[derive(Debug, Clone)]
pub struct Key {
    /// Its `kid`, if the JWK has one.
    pub kid: Option<String>,
    /// The check, which fixes the algorithm.
    pub verifier: Verifier,
    /// The key as the host takes it (RS*/ES* only), made when the set is parsed.
    pub host: Option<Rc<HostKey>>,
    /// Which backend checks it (Wasm until the set is bound to the host).
    pub backend: Backend,
}

impl Key {
    /// A key checked in Wasm until bound, with its host form when the host could check it.
    pub fn new(kid: Option<String>, verifier: Verifier) -> Self {
        let host = match host_key(&verifier) {
            Ok(k) => k.map(Rc::new),
            Err(e) => {
                log::warn!(
                    "jwt: key `{}`: no host form: {e}",
                    kid.as_deref().unwrap_or("")
                );
                None
            }
        };
        Self {
            kid,
            verifier,
            host,
            backend: Backend::Wasm,
        }
    }

    /// Whether this key may verify a token naming `kid`: equal ids, or either side without one
    /// (as Envoy's jwt_authn does: a JWKS that names no key ids serves tokens with any).
    pub fn matches_kid(&self, kid: Option<&str>) -> bool {
        match (self.kid.as_deref(), kid) {
            (Some(mine), Some(theirs)) => mine == theirs,
            _ => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::parse;
    use jwt_simple::prelude::{Claims, ECDSAP256KeyPairLike, ES256KeyPair};

    #[test]
    fn a_key_never_checks_another_algorithm() {
        let pair = ES256KeyPair::generate();
        let token = pair.sign(Claims::create(Duration::from_mins(5))).unwrap();
        let jws = parse(&token, 8192).unwrap();
        let right = Verifier::Es256(pair.public_key());
        assert_eq!(right.check_signature(&jws), Ok(()));
        let secret = HS256Key::from_bytes(&[7u8; 32]);
        assert_eq!(
            Verifier::Hs256(secret).check_signature(&jws),
            Err(TokenError::AlgMismatch("ES256".into()))
        );
    }

    #[test]
    fn debug_output_hides_key_material() {
        let secret = HS256Key::from_bytes(b"a very secret hmac key of 32 b!!");
        let text = format!("{:?}", Verifier::Hs256(secret));
        assert_eq!(text, "Verifier(HS256)");
    }

    #[test]
    fn kid_matching_is_exact() {
        let key = Key::new(
            Some("k1".into()),
            Verifier::Hs256(HS256Key::from_bytes(&[1u8; 32])),
        );
        assert!(key.matches_kid(Some("k1")));
        assert!(!key.matches_kid(Some("K1")));
        assert!(!key.matches_kid(Some("k1 ")));
        assert!(!key.matches_kid(Some("../k1")));
        assert!(key.matches_kid(None));
        let unnamed = Key { kid: None, ..key };
        assert!(unnamed.matches_kid(Some("anything")));
    }
}
