//! Palisade ratelimit filter: exact local limits shared by all Envoy workers (GCRA in a fixed-size
//! shared-data slot table), and global limits through an Envoy rate-limit service (RLS v3).
#![forbid(unsafe_code)]

pub mod client_address;
pub mod config;
pub mod fields;
pub mod gcra;
pub mod key;
pub mod limiter;
pub mod rls;
pub mod slot_table;
pub mod stage;
pub mod stats;

/// Checks a JSON configuration as `on_configure` does (parse, then compile), without a host:
/// for `cargo xtask check-config` and tests of example configs.
pub fn check_config(json: &[u8]) -> Result<(), palisade_core::ConfigError> {
    config::compile(json).map(drop)
}
