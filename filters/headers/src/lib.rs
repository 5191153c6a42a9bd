//! Palisade headers filter: security response headers (OWASP, API and browser presets), removal
//! of headers that reveal the software behind the proxy, and request sanitising (headers a client
//! must not set, size limits, control characters, method allow-list), with per-route policies.
//!
//! Layout: [`config`] parses and compiles the JSON into a [`policy::Compiled`]; [`request`] and
//! [`response`] are pure decisions over header lists; [`exchange`] is the per-request flow over
//! the host trait; [`stage`] makes it a pipeline stage.
#![forbid(unsafe_code)]

pub mod config;
pub mod cookies;
pub mod exchange;
pub mod names;
pub mod policy;
pub mod presets;
pub mod request;
pub mod response;
pub mod stage;
pub mod stats;

/// Checks a JSON configuration as `on_configure` does (parse, then compile), without a host:
/// for `cargo xtask check-config` and tests of example configs.
pub fn check_config(json: &[u8]) -> Result<(), palisade_core::ConfigError> {
    config::compile(json).map(drop)
}
