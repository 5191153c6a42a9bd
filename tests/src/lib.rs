//! Harness for end-to-end tests through a real Envoy: the pinned Envoy binary with the built
//! `.wasm` filters, a real echo upstream and helper servers on loopback, and a raw HTTP/1.1 client
//! (raw, so tests can send what a well-behaved client library would refuse to).
//!
//! Everything is killed on drop, also when a test panics.
// Test support code: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![forbid(unsafe_code)]

pub mod client;
pub mod envoy;
pub mod paths;
pub mod redis;
pub mod rls;
pub mod server;
pub mod snippets;

pub use client::{RequestBuilder, Response};
pub use envoy::{Envoy, EnvoyBuilder, Filter, StartError};
pub use server::{HttpServer, Request, Upstream};
