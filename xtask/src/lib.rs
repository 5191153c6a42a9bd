//! The library half of xtask: code its integration tests call directly (`xtask/tests/`).
#![forbid(unsafe_code)]

pub mod oci;
