//! Palisade jwt filter: JWT validation with local, remote and OIDC-discovered key sets,
//! per-route requirements, claim-based authorization and claim forwarding.
#![forbid(unsafe_code)]

pub mod alg;
pub mod answer;
pub mod authz;
pub mod cache;
pub mod claims;
pub mod compile;
pub mod config;
pub mod error;
pub mod extractor;
pub mod fetcher;
pub mod forward;
pub mod json;
pub mod jwks;
pub mod keys;
pub mod keystore;
pub mod remote;
pub mod request;
pub mod requirements;
pub mod token;
pub mod verifier;

#[cfg(test)]
pub(crate) mod test_keys;
