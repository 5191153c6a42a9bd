//! Palisade jwt filter: JWT validation with local, remote and OIDC-discovered key sets,
//! per-route requirements, claim-based authorization and claim forwarding.
#![forbid(unsafe_code)]

pub mod alg;
pub mod claims;
pub mod error;
pub mod json;
pub mod jwks;
pub mod keys;
pub mod token;
pub mod verifier;

#[cfg(test)]
pub(crate) mod test_keys;
