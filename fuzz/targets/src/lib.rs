//! The bodies of Palisade's fuzz targets, as plain functions over bytes.
//!
//! The libFuzzer harness in `fuzz/fuzz_targets/` (nightly, `cargo xtask fuzz`) calls them, and
//! `tests/replay.rs` runs them over every file in `fuzz/corpus/<target>/` and
//! `fuzz/regressions/<target>/` on stable, so a crash found once stays fixed.
//!
//! A target panics when a property fails (that is how libFuzzer learns of it), so the panic
//! lints of the filters do not apply here; nothing here is ever built into a `.wasm`.
#![forbid(unsafe_code)]
#![allow(clippy::panic, clippy::expect_used, clippy::unwrap_used)]

pub mod canonicalize;
pub mod config;
pub mod headers_request;
pub mod input;
pub mod jwks;
pub mod jws;
pub mod jwt_cache;
pub mod params;
pub mod path_template;
pub mod problem;
pub mod ratelimit_interleave;
pub mod ratelimit_key;
pub mod rls;
pub mod schema_body;
pub mod schema_quick;

/// A fuzz target: its name (the file under `fuzz/fuzz_targets/`) and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    ("canonicalize", canonicalize::run),
    ("config", config::run),
    ("headers_request", headers_request::run),
    ("jwks", jwks::run),
    ("jws", jws::run),
    ("jwt_cache", jwt_cache::run),
    ("params", params::run),
    ("path_template", path_template::run),
    ("problem", problem::run),
    ("ratelimit_interleave", ratelimit_interleave::run),
    ("ratelimit_key", ratelimit_key::run),
    ("rls", rls::run),
    ("schema_body", schema_body::run),
    ("schema_quick", schema_quick::run),
];
