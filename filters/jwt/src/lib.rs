//! Palisade jwt filter: JWT validation with local, remote and OIDC-discovered key sets,
//! per-route requirements, claim-based authorization and claim forwarding.
//!
//! Layout: [`config`] (as written) and [`compile`] (checked); [`token`], [`jwks`], [`keys`],
//! [`verifier`] and [`claims`] check a token, its signature on the backend [`backend`] bound
//! ([`hostsig`]: the host's `verify_signature`; [`probe`]: whether the host has it); [`extractor`], [`requirements`], [`authz`] and
//! [`forward`] make up [`request`], the per-request flow; [`keystore`] and [`fetcher`] share remote
//! keys between workers; [`worker`] holds one worker's state; [`stage`] makes it a pipeline stage.
#![forbid(unsafe_code)]

pub mod alg;
pub mod answer;
pub mod authz;
pub mod backend;
pub mod cache;
pub mod claims;
pub mod compile;
pub mod config;
pub mod error;
pub mod extractor;
pub mod fetcher;
pub mod forward;
pub mod hostsig;
pub mod json;
pub mod jwks;
pub mod keys;
pub mod keystore;
pub mod metrics;
pub mod probe;
#[cfg(feature = "raw")]
pub mod raw;
pub mod remote;
pub mod request;
pub mod requirements;
pub mod stage;
pub mod token;
pub mod verifier;
pub mod worker;

/// Entry points for the fuzz targets (`fuzz/`) into parts that are otherwise private.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    /// The `jwks_uri` a discovery document names, if its `issuer` is the expected one.
    pub fn discovery_jwks_uri(
        text: &str,
        issuer: Option<&str>,
    ) -> Result<crate::remote::Target, String> {
        crate::fetcher::jwks_uri(text, issuer)
    }
}

#[cfg(test)]
pub(crate) mod test_host;
#[cfg(test)]
pub(crate) mod test_keys;

/// Checks a configuration as `on_configure` does (parse, then compile; no host).
pub fn check_config(json: &[u8]) -> Result<(), palisade_core::ConfigError> {
    compile::compile(json).map(drop)
}
