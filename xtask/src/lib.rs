//! The library half of xtask: code its integration tests call directly (`xtask/tests/`).
#![forbid(unsafe_code)]

pub mod check_config;
pub mod configs;
pub mod oci;
pub mod schemas;
