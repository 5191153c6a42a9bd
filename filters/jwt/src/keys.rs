//! Verification keys: one key, one algorithm. The key decides the algorithm, never the token.
//!
//! Signatures are checked by `jwt-simple` (RS*, PS*, ES256, ES384, EdDSA, HS*) and by the
//! RustCrypto `p521` crate for ES512, which `jwt-simple` lacks. No cryptography is written here.

use crate::alg::Alg;
use crate::backend::Backend;
use crate::error::TokenError;
use crate::hostsig::{host_key, HostKey};
use crate::token::Jws;
use ct_codecs::Decoder as _;
use jwt_simple::prelude::{
    Base64UrlSafeNoPadding, ECDSAP256PublicKeyLike, ECDSAP384PublicKeyLike, ES256PublicKey,
    ES384PublicKey, Ed25519PublicKey, EdDSAPublicKeyLike, HS256Key, HS384Key, HS512Key, MACLike,
    PS256PublicKey, PS384PublicKey, PS512PublicKey, RS256PublicKey, RS384PublicKey, RS512PublicKey,
    RSAPublicKeyLike, Salt,
};
#[cfg(test)]
use jwt_simple::prelude::{Duration, UnixTimeStamp, VerificationOptions};
use p256::ecdsa::signature::DigestVerifier as _;
use p521::ecdsa::signature::Verifier as _;
use std::rc::Rc;
use superboring::hash::MessageDigest;
use superboring::pkey::{PKey, Public};
use superboring::rsa::{Padding, Rsa};
use superboring::sign::Verifier as RsaVerifier;

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
    ///
    /// The decisions are jwt-simple's `verify_token` (`Token::verify_with_algorithms` with
    /// `signature_only_options`), step by step in its order, with the header read once by
    /// jwt-simple itself (`Token::decode_metadata`) and each algorithm's check made with the
    /// calls its verify closure makes (superboring, p256/p384, ed25519-compact, the HMAC tag).
    /// Calling `verify_token` instead compiled that whole function, header and claims parsing
    /// included, once per key type: 12 copies, 79 KB of the shipped module (issue 13).
    /// `tests::decides_as_verify_token` holds the two side by side.
    pub fn check_signature(&self, jws: &Jws<'_>) -> Result<(), TokenError> {
        if jws.header.alg != self.alg() {
            return Err(TokenError::AlgMismatch(jws.header.alg.name().to_string()));
        }
        if let Verifier::Es512(k) = self {
            return check_es512(k, jws);
        }
        let token = jws.compact;
        // The premise of the steps below: the header parses as jwt-simple parses it.
        let Ok(metadata) = jwt_simple::token::Token::decode_metadata(token) else {
            return Err(TokenError::Malformed("header".into()));
        };
        // `MACLike::verify_token` refuses a short secret before it reads the token.
        if self.hmac().is_some_and(|k| k.len() < 12) {
            return Err(TokenError::BadSignature);
        }
        // The length limits pass (`signature_only_options`: the token's own length) and the
        // header parses (above); then, in jwt-simple's order:
        let mut parts = token.split('.');
        let (Some(header_b64), Some(claims_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::BadSignature);
        };
        if metadata.critical().is_some_and(|crit| !crit.is_empty()) {
            return Err(TokenError::CriticalHeader);
        }
        // jwt-simple compares `typ` in Unicode upper case; `token::parse` let only types through
        // whose ASCII upper case is `JWT` or ends in `+JWT`, and those pass in Unicode too (upper
        // case maps ASCII to itself), so ASCII decides the same here without Unicode's case
        // tables in the module.
        if let Some(typ) = metadata.signature_type() {
            let typ = typ.to_ascii_uppercase();
            if typ != "JWT" && !typ.ends_with("+JWT") {
                return Err(TokenError::NotJwt(String::new()));
            }
        }
        if metadata.algorithm() != self.alg().name() {
            return Err(TokenError::BadSignature);
        }
        let salt = match jws.header.salt_b64.as_deref().map(b64url) {
            Some(Some(salt)) => Some(salt),
            Some(None) => return Err(TokenError::BadSignature),
            None => None,
        };
        if !self.salt_passes(salt.as_deref()) {
            return Err(TokenError::BadSignature);
        }
        let Some(signature) = b64url(signature_b64) else {
            return Err(TokenError::BadSignature);
        };
        let authenticated = token
            .get(..header_b64.len() + 1 + claims_b64.len())
            .unwrap_or_default();
        if !self.signature_passes(authenticated, &signature) {
            return Err(TokenError::BadSignature);
        }
        // jwt-simple then decodes the claims and reads them as `JWTClaims`: a JSON error there
        // comes after a valid signature and counts as valid (our claim checks follow), and
        // with `signature_only_options` its claim checks always pass. Only the decoding can
        // still refuse the token.
        match b64url(claims_b64) {
            Some(_) => Ok(()),
            None => Err(TokenError::BadSignature),
        }
    }

    /// The secret of an HMAC key.
    fn hmac(&self) -> Option<&[u8]> {
        match self {
            Verifier::Hs256(k) => Some(k.key().as_ref()),
            Verifier::Hs384(k) => Some(k.key().as_ref()),
            Verifier::Hs512(k) => Some(k.key().as_ref()),
            _ => None,
        }
    }

    /// jwt-simple's salt check: only an HMAC key with a verifier salt takes (and needs) one.
    fn salt_passes(&self, salt: Option<&[u8]>) -> bool {
        let (expected, tag) = match self {
            Verifier::Hs256(k) => (k.salt(), salt.map(|s| k.authentication_tag(s))),
            Verifier::Hs384(k) => (k.salt(), salt.map(|s| k.authentication_tag(s))),
            Verifier::Hs512(k) => (k.salt(), salt.map(|s| k.authentication_tag(s))),
            _ => return true,
        };
        match (expected, tag) {
            (Salt::Verifier(expected), Some(tag)) => ct_codecs::verify(&expected, &tag),
            (Salt::Verifier(_), None) => false,
            (_, tag) => tag.is_none(),
        }
    }

    /// The signature over `authenticated`, checked as jwt-simple's verify closure of each key
    /// type checks it.
    fn signature_passes(&self, authenticated: &str, signature: &[u8]) -> bool {
        let msg = authenticated.as_bytes();
        match self {
            Verifier::Rs256(k) => rsa(
                k.public_key().as_ref(),
                RS256PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Rs384(k) => rsa(
                k.public_key().as_ref(),
                RS384PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Rs512(k) => rsa(
                k.public_key().as_ref(),
                RS512PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Ps256(k) => rsa(
                k.public_key().as_ref(),
                PS256PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Ps384(k) => rsa(
                k.public_key().as_ref(),
                PS384PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Ps512(k) => rsa(
                k.public_key().as_ref(),
                PS512PublicKey::hash(),
                k.padding_scheme(),
                msg,
                signature,
            ),
            Verifier::Es256(k) => p256::ecdsa::Signature::try_from(signature).is_ok_and(|s| {
                k.public_key()
                    .as_ref()
                    .verify_digest(
                        |digest: &mut hmac_sha256::Hash| {
                            digest.update(msg);
                            Ok(())
                        },
                        &s,
                    )
                    .is_ok()
            }),
            Verifier::Es384(k) => p384::ecdsa::Signature::try_from(signature).is_ok_and(|s| {
                k.public_key()
                    .as_ref()
                    .verify_digest(
                        |digest: &mut hmac_sha512::sha384::Hash| {
                            digest.update(msg);
                            Ok(())
                        },
                        &s,
                    )
                    .is_ok()
            }),
            Verifier::EdDsa(k) => ed25519_compact::Signature::from_slice(signature)
                .is_ok_and(|s| k.public_key().as_ref().verify(msg, &s).is_ok()),
            Verifier::Hs256(k) => ct_codecs::verify(&k.authentication_tag(msg), signature),
            Verifier::Hs384(k) => ct_codecs::verify(&k.authentication_tag(msg), signature),
            Verifier::Hs512(k) => ct_codecs::verify(&k.authentication_tag(msg), signature),
            Verifier::Es512(k) => es512(k, msg, signature).is_ok(),
        }
    }
}

/// Base64url without padding as jwt-simple decodes every part (ct-codecs).
fn b64url(part: &str) -> Option<Vec<u8>> {
    Base64UrlSafeNoPadding::decode_to_vec(part, None).ok()
}

/// An RSA signature as jwt-simple's `RSAPublicKeyLike::verify_token` checks it (superboring).
pub(crate) fn rsa(
    key: &Rsa<Public>,
    digest: MessageDigest,
    padding: Padding,
    message: &[u8],
    signature: &[u8],
) -> bool {
    let Ok(pkey) = PKey::from_rsa(key.clone()) else {
        return false;
    };
    let Ok(mut verifier) = RsaVerifier::new(digest, &pkey) else {
        return false;
    };
    verifier.set_rsa_padding(padding).is_ok()
        && verifier.update(message).is_ok()
        && verifier.verify(signature).unwrap_or(false)
}

/// `jwt-simple` checks claims too; these options make every claim check pass, so the signature
/// is all it decides (our own claim checks, with the host's clock, follow). What
/// [`Verifier::check_signature`] follows; the tests pass them to `verify_token`.
#[cfg(test)]
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
    #![allow(clippy::indexing_slicing)]
    use super::*;
    use crate::token::parse;
    use jwt_simple::prelude::{
        Claims, ECDSAP256KeyPairLike, ES256KeyPair, ES384KeyPair, Ed25519KeyPair, EdDSAKeyPairLike,
        PS256KeyPair, PS384KeyPair, PS512KeyPair, RS256KeyPair, RS384KeyPair, RS512KeyPair,
    };

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

    /// The decision `verify_token` makes, read as the filter read it before issue 13.
    fn by_verify_token(v: &Verifier, jws: &Jws<'_>) -> Result<(), TokenError> {
        use jwt_simple::prelude::NoCustomClaims;
        use jwt_simple::JWTError;
        if jws.header.alg != v.alg() {
            return Err(TokenError::AlgMismatch(jws.header.alg.name().to_string()));
        }
        let token = jws.compact;
        if jwt_simple::token::Token::decode_metadata(token).is_err() {
            return Err(TokenError::Malformed("header".into()));
        }
        let options = Some(signature_only_options(token.len()));
        let result = match v {
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
        result.or_else(|e| {
            if e.downcast_ref::<serde_json::Error>().is_some() {
                return Ok(());
            }
            match e.downcast_ref::<JWTError>() {
                Some(JWTError::AlgorithmMismatch) => Err(TokenError::BadSignature),
                Some(JWTError::NotJWT) => Err(TokenError::NotJwt(String::new())),
                Some(JWTError::UnknownCriticalExtension) => Err(TokenError::CriticalHeader),
                Some(JWTError::TokenTooLong | JWTError::HeaderTooLarge) => {
                    Err(TokenError::Malformed("header too large".into()))
                }
                _ => Err(TokenError::BadSignature),
            }
        })
    }

    /// Signs `input` raw with the key pair of one algorithm (any header, any payload).
    enum Signer {
        Rsa(
            Rsa<superboring::pkey::Private>,
            fn() -> MessageDigest,
            Padding,
        ),
        Es256(p256::ecdsa::SigningKey),
        Es384(ES384KeyPair),
        Ed(Ed25519KeyPair),
        Hmac(Alg, Vec<u8>),
    }

    impl Signer {
        fn sign(&self, input: &str) -> Vec<u8> {
            use p256::ecdsa::signature::Signer as _;
            match self {
                Signer::Rsa(key, digest, padding) => {
                    let pkey = PKey::from_rsa(key.clone()).unwrap();
                    let mut s = superboring::sign::Signer::new(digest(), &pkey).unwrap();
                    s.set_rsa_padding(*padding).unwrap();
                    s.update(input.as_bytes()).unwrap();
                    s.sign_to_vec().unwrap()
                }
                Signer::Es256(key) => {
                    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
                    sig.to_bytes().to_vec()
                }
                Signer::Es384(pair) => {
                    let key = p384::ecdsa::SigningKey::from_slice(&pair.to_bytes()).unwrap();
                    let sig: p384::ecdsa::Signature = key.sign(input.as_bytes());
                    sig.to_bytes().to_vec()
                }
                Signer::Ed(pair) => pair.key_pair().as_ref().sk.sign(input, None).to_vec(),
                Signer::Hmac(Alg::Hs384, k) => hmac_sha512::sha384::HMAC::mac(input, k).to_vec(),
                Signer::Hmac(Alg::Hs512, k) => hmac_sha512::HMAC::mac(input, k).to_vec(),
                Signer::Hmac(_, k) => hmac_sha256::HMAC::mac(input, k).to_vec(),
            }
        }
    }

    /// Every key type with its signer, and a key of the same type that did not sign.
    fn keys() -> Vec<(Verifier, Verifier, Signer)> {
        let pem = crate::test_keys::rsa_pem();
        let other = crate::test_keys::other_rsa_pem();
        let rsa_private = || Rsa::private_key_from_pem(pem.as_bytes()).unwrap();
        macro_rules! rsa {
            ($variant:ident, $pair:ident, $digest:expr, $padding:expr) => {
                (
                    Verifier::$variant($pair::from_pem(pem).unwrap().public_key()),
                    Verifier::$variant($pair::from_pem(other).unwrap().public_key()),
                    Signer::Rsa(rsa_private(), $digest, $padding),
                )
            };
        }
        let es256 = ES256KeyPair::generate();
        let es384 = ES384KeyPair::generate();
        let ed = Ed25519KeyPair::generate();
        let secret = b"a secret of thirty-two bytes!!!!".to_vec();
        vec![
            rsa!(Rs256, RS256KeyPair, MessageDigest::sha256, Padding::PKCS1),
            rsa!(Rs384, RS384KeyPair, MessageDigest::sha384, Padding::PKCS1),
            rsa!(Rs512, RS512KeyPair, MessageDigest::sha512, Padding::PKCS1),
            rsa!(
                Ps256,
                PS256KeyPair,
                MessageDigest::sha256,
                Padding::PKCS1_PSS
            ),
            rsa!(
                Ps384,
                PS384KeyPair,
                MessageDigest::sha384,
                Padding::PKCS1_PSS
            ),
            rsa!(
                Ps512,
                PS512KeyPair,
                MessageDigest::sha512,
                Padding::PKCS1_PSS
            ),
            (
                Verifier::Es256(es256.public_key()),
                Verifier::Es256(ES256KeyPair::generate().public_key()),
                Signer::Es256(p256::ecdsa::SigningKey::from_slice(&es256.to_bytes()).unwrap()),
            ),
            (
                Verifier::Es384(es384.public_key()),
                Verifier::Es384(ES384KeyPair::generate().public_key()),
                Signer::Es384(es384),
            ),
            (
                Verifier::EdDsa(ed.public_key()),
                Verifier::EdDsa(Ed25519KeyPair::generate().public_key()),
                Signer::Ed(ed),
            ),
            (
                Verifier::Hs256(HS256Key::from_bytes(&secret)),
                Verifier::Hs256(HS256Key::from_bytes(b"another secret of 32 bytes!!!!!!")),
                Signer::Hmac(Alg::Hs256, secret.clone()),
            ),
            (
                Verifier::Hs384(HS384Key::from_bytes(&secret)),
                Verifier::Hs384(HS384Key::from_bytes(b"another secret of 32 bytes!!!!!!")),
                Signer::Hmac(Alg::Hs384, secret.clone()),
            ),
            (
                Verifier::Hs512(HS512Key::from_bytes(&secret)),
                Verifier::Hs512(HS512Key::from_bytes(b"another secret of 32 bytes!!!!!!")),
                Signer::Hmac(Alg::Hs512, secret.clone()),
            ),
            // A secret jwt-simple calls weak (under 12 bytes), and one with a verifier salt.
            (
                Verifier::Hs256(HS256Key::from_bytes(b"short")),
                Verifier::Hs256({
                    let mut key = HS256Key::from_bytes(&secret);
                    key.attach_salt(Salt::Verifier(b"pepper".to_vec())).unwrap();
                    key
                }),
                Signer::Hmac(Alg::Hs256, b"short".to_vec()),
            ),
        ]
    }

    /// Tokens of one algorithm: valid, tampered, odd headers (`typ`, `salt`), odd payloads, and
    /// base64url that only one decoder might accept.
    fn tokens(alg: Alg, signer: &Signer) -> Vec<String> {
        use crate::test_keys::b64;
        use serde_json::json;
        let name = alg.name();
        let mut salted = b"pepper".to_vec();
        if let Signer::Hmac(_, k) = signer {
            salted = hmac_sha256::HMAC::mac(b"pepper", k).to_vec();
        }
        let headers = [
            json!({"alg": name}),
            json!({"alg": name, "typ": "JWT", "kid": "k"}),
            json!({"alg": name, "typ": "at+jwt"}),
            json!({"alg": name, "typ": "jwt", "cty": "JWT"}),
            json!({"alg": name, "salt": b64(b"pepper")}),
            json!({"alg": name, "salt": b64(&salted)}),
            json!({"alg": name, "salt": "!!"}),
            json!({"alg": name, "salt": null}),
            json!({"alg": name, "jwk": null, "x5c": ["a"]}),
        ];
        let payloads = [
            b64(json!({"sub": "a", "exp": 1}).to_string()),
            b64(json!({"exp": "soon", "aud": 3}).to_string()),
            b64(json!({"exp": -1, "nbf": 1e300, "iat": 99_999_999_999u64}).to_string()),
            b64("[1, 2]"),
            b64("not json"),
            // The last character carries bits past the payload's end.
            b64("{}").replacen('9', "-", 1),
            "e30".to_string(),
            "e31".to_string(),
            String::new(),
        ];
        let mut out = Vec::new();
        for header in &headers {
            for payload in &payloads {
                let input = format!("{}.{payload}", b64(header.to_string()));
                let sig = signer.sign(&input);
                out.push(format!("{input}.{}", b64(&sig)));
                let mut bad = sig.clone();
                if let Some(b) = bad.last_mut() {
                    *b ^= 1;
                }
                out.push(format!("{input}.{}", b64(&bad)));
                out.push(format!("{input}.{}", b64(&sig[..sig.len() - 1])));
                // Non-canonical trailing bits in the signature's last character.
                let text = b64(&sig);
                let last = text.chars().last().unwrap();
                let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
                let i = alphabet.find(last).unwrap();
                let next = alphabet.chars().nth((i + 1) % 64).unwrap();
                out.push(format!("{input}.{}{next}", &text[..text.len() - 1]));
            }
        }
        out
    }

    #[test]
    fn decides_as_verify_token() {
        let mut compared = 0;
        let mut outcomes = std::collections::BTreeMap::<String, usize>::new();
        for (key, other, signer) in keys() {
            for token in tokens(key.alg(), &signer) {
                let Ok(jws) = parse(&token, 1 << 16) else {
                    continue;
                };
                for v in [&key, &other] {
                    let outcome = v.check_signature(&jws);
                    *outcomes
                        .entry(format!("{:?} {outcome:?}", v.alg()))
                        .or_default() += 1;
                    assert_eq!(outcome, by_verify_token(v, &jws), "{:?} on {token}", v);
                    compared += 1;
                }
            }
        }
        // Every algorithm passed and failed on the signature; parts base64url decoders might
        // differ on, weak secrets and salts reached the steps after the header.
        println!("{outcomes:#?}");
        for alg in [
            "RS256", "PS512", "ES256", "ES384", "EdDSA", "HS256", "HS384", "HS512",
        ] {
            let alg = Alg::from_name(alg).unwrap();
            assert!(outcomes.contains_key(&format!("{alg:?} Ok(())")), "{alg}");
            assert!(
                outcomes.contains_key(&format!("{alg:?} Err(BadSignature)")),
                "{alg}"
            );
        }
        assert!(compared > 12 * 2 * 200, "{compared}");
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
