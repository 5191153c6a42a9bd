//! A token against a key set and a claim policy: shape and header first, then the key its
//! `kid`/`alg` select among configured keys, the signature, and finally the claims.

use crate::backend::Signatures;
use crate::claims::{self, ClaimPolicy, TimeClaims};
use crate::error::TokenError;
use crate::json::parse_object;
use crate::jwks::KeySet;
use crate::token::{self, Jws};
use palisade_core::identity::VerifiedIdentity;
use serde_json::{Map, Value};
use std::cell::OnceCell;
use std::rc::Rc;

/// Keys tried for one token at most (a token without `kid` against a large set).
pub const MAX_KEYS_TRIED: usize = 8;

/// A token whose shape, header and claim types passed, not yet its signature.
#[derive(Debug, Clone)]
pub struct Unverified<'a> {
    /// The split token.
    pub jws: Jws<'a>,
    /// Its claims (not to be trusted before [`finish`]).
    pub claims: Map<String, Value>,
    /// Its time claims.
    pub time: TimeClaims,
}

/// A token whose signature and claims checked out.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The claims.
    pub claims: Map<String, Value>,
    /// The payload as sent, base64url (for `forward_payload_header`).
    pub payload_b64: String,
    /// `exp`, `nbf`, `iat`.
    pub time: TimeClaims,
    /// Its identity for later stages and filters, made on first use and kept with the token, so
    /// a token from the cache hands over the same one (no copy of the claims, no serialization).
    identity: OnceCell<Rc<Identity>>,
}

impl PartialEq for VerifiedToken {
    /// The token as verified; whether its identity was made yet does not count.
    fn eq(&self, other: &Self) -> bool {
        self.claims == other.claims
            && self.payload_b64 == other.payload_b64
            && self.time == other.time
    }
}

impl VerifiedToken {
    /// A verified token (its identity is made when first asked for).
    pub fn new(claims: Map<String, Value>, payload_b64: String, time: TimeClaims) -> Self {
        Self {
            claims,
            payload_b64,
            time,
            identity: OnceCell::new(),
        }
    }

    /// The identity this token proves under `provider`. A token belongs to one provider (each
    /// has its own cache), so the first caller's provider is the one.
    pub fn identity(&self, provider: &str) -> Rc<Identity> {
        Rc::clone(self.identity.get_or_init(|| {
            Rc::new(Identity::new(VerifiedIdentity {
                provider: provider.to_string(),
                claims: self.claims.clone(),
            }))
        }))
    }
}

/// A verified identity as the stages after jwt get it, and its filter-state value for separate
/// filters after the jwt module, serialized once.
#[derive(Debug, PartialEq)]
pub struct Identity {
    /// For later stages, in-process.
    pub value: Rc<VerifiedIdentity>,
    bytes: OnceCell<Vec<u8>>,
}

impl Identity {
    /// An identity not yet serialized.
    pub fn new(value: VerifiedIdentity) -> Self {
        Self {
            value: Rc::new(value),
            bytes: OnceCell::new(),
        }
    }

    /// The filter-state value ([`VerifiedIdentity::to_bytes`]), made on first use.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.get_or_init(|| self.value.to_bytes())
    }
}

impl std::ops::Deref for Identity {
    type Target = VerifiedIdentity;

    fn deref(&self) -> &VerifiedIdentity {
        &self.value
    }
}

/// Everything that needs no key. The issuer check here only routes the token to a provider;
/// nothing is trusted until the signature is checked.
pub fn precheck<'a>(
    token: &'a str,
    max_size: usize,
    issuer: Option<&str>,
) -> Result<Unverified<'a>, TokenError> {
    let jws = token::parse(token, max_size)?;
    let claims =
        parse_object(&jws.payload).map_err(|e| TokenError::Malformed(format!("payload: {e}")))?;
    let time = claims::read(&claims)?;
    claims::check_issuer(&claims, issuer)?;
    Ok(Unverified { jws, claims, time })
}

/// Finds the keys the token may use and checks the signature with them.
///
/// `kid` is compared exactly and never used for anything else; the key's algorithm must be the
/// token's `alg`; `jwk`/`jku`/`x5u`/`x5c` in the header play no part.
pub fn check_signature(jws: &Jws<'_>, keys: &KeySet) -> Result<(), TokenError> {
    check_signature_with(jws, keys, &Signatures::new(None))
}

/// [`check_signature`], each key on its backend.
pub fn check_signature_with(
    jws: &Jws<'_>,
    keys: &KeySet,
    signatures: &Signatures<'_>,
) -> Result<(), TokenError> {
    let kid = jws.header.kid.as_deref();
    let mut named = keys.for_kid(kid).peekable();
    if named.peek().is_none() {
        // Only reachable with a kid: a kid-less token matches every key.
        return Err(TokenError::UnknownKid(kid.unwrap_or_default().to_string()));
    }
    let mut last = TokenError::AlgMismatch(jws.header.alg.name().to_string());
    for (tried, key) in named
        .filter(|k| k.verifier.alg() == jws.header.alg)
        .enumerate()
    {
        if tried == MAX_KEYS_TRIED {
            log::debug!("jwt: stopped after {MAX_KEYS_TRIED} candidate keys");
            break;
        }
        match signatures.check(key, jws) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Signature, then time claims at `now`.
pub fn finish(
    unverified: Unverified<'_>,
    keys: &KeySet,
    policy: &ClaimPolicy,
    now: u64,
) -> Result<VerifiedToken, TokenError> {
    finish_with(unverified, keys, policy, now, &Signatures::new(None))
}

/// [`finish`], each key on its backend.
pub fn finish_with(
    unverified: Unverified<'_>,
    keys: &KeySet,
    policy: &ClaimPolicy,
    now: u64,
    signatures: &Signatures<'_>,
) -> Result<VerifiedToken, TokenError> {
    check_signature_with(&unverified.jws, keys, signatures)?;
    claims::check_time(&unverified.time, policy, now)?;
    Ok(VerifiedToken::new(
        unverified.claims,
        unverified.jws.payload_b64.to_string(),
        unverified.time,
    ))
}

/// The whole check in one call.
pub fn verify(
    token: &str,
    max_size: usize,
    keys: &KeySet,
    policy: &ClaimPolicy,
    now: u64,
) -> Result<VerifiedToken, TokenError> {
    let unverified = precheck(token, max_size, policy.issuer.as_deref())?;
    finish(unverified, keys, policy, now)
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
