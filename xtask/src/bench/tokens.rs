//! Keys, a JWKS and signed tokens for the JWT variants: one ES256 key made per run, and the
//! committed RS256 test key (RSA key generation is slow in a debug build).

use crate::util::Result;
use jwt_simple::prelude::{
    Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair, Ed25519KeyPair, EdDSAKeyPairLike,
    PS256KeyPair, RS256KeyPair, RSAKeyPairLike,
};
use serde_json::{json, Value};

/// Issuer of every bench token.
pub const ISSUER: &str = "https://issuer.bench.palisade";
/// Audience of every bench token.
pub const AUDIENCE: &str = "palisade-bench";
/// Subject of every bench token.
pub const SUBJECT: &str = "bench-user";

/// The signing keys and what they signed.
pub struct Tokens {
    /// The public keys as a JWKS document.
    pub jwks: Value,
    /// A valid ES256 token (kid `bench-es256`).
    pub es256: String,
    /// A valid RS256 token (kid `bench-rs256`).
    pub rs256: String,
    /// A valid PS256 token (the RS256 key, kid `bench-ps256`): checked in Wasm on every host.
    pub ps256: String,
    /// A valid EdDSA token (kid `bench-eddsa`): checked in Wasm on every host.
    pub eddsa: String,
}

impl Tokens {
    /// Makes the keys and signs one token per algorithm, valid for a day.
    pub fn mint() -> Result<Self> {
        let es = ES256KeyPair::generate().with_key_id("bench-es256");
        let rs = RS256KeyPair::from_pem(palisade_benches::RS256_TEST_KEY_PEM)
            .map_err(|e| format!("the RS256 test key: {e}"))?
            .with_key_id("bench-rs256");
        let ps = PS256KeyPair::from_pem(palisade_benches::RS256_TEST_KEY_PEM)
            .map_err(|e| format!("the RS256 test key as PS256: {e}"))?
            .with_key_id("bench-ps256");
        let ed = Ed25519KeyPair::generate().with_key_id("bench-eddsa");
        let claims = || {
            Claims::create(Duration::from_hours(24))
                .with_issuer(ISSUER)
                .with_audience(AUDIENCE)
                .with_subject(SUBJECT)
        };
        let es256 = es.sign(claims()).map_err(|e| format!("ES256 sign: {e}"))?;
        let rs256 = rs.sign(claims()).map_err(|e| format!("RS256 sign: {e}"))?;
        let ps256 = ps.sign(claims()).map_err(|e| format!("PS256 sign: {e}"))?;
        let eddsa = ed.sign(claims()).map_err(|e| format!("EdDSA sign: {e}"))?;
        let jwk = |text: String| -> Result<Value> {
            serde_json::from_str(&text).map_err(|e| format!("jwt-simple gave a bad JWK: {e}"))
        };
        let jwks = json!({"keys": [
            jwk(es.public_key().to_jwk())?,
            jwk(rs.public_key().to_jwk())?,
            jwk(ps.public_key().to_jwk())?,
            jwk(ed.public_key().to_jwk())?,
        ]});
        Ok(Self {
            jwks,
            es256,
            rs256,
            ps256,
            eddsa,
        })
    }
}
