//! The core's JSON text code without serde or serde_json (issue 13: module size): reading a
//! configuration's text into a [`Node`] tree (the core's config reader walks it with serde),
//! and writing a float as serde_json does ([`write_f64`]). Both run rarely (configuring; a
//! float in a problem body, claim or config error). A crate of its own to be compiled apart:
//! at opt-level "z" it measured smaller headers and ratelimit modules but larger jwt and schema
//! ones (see the workspace's Cargo.toml), so it is at 3 like the core for now.

#![forbid(unsafe_code)]

mod float;
mod tree;

pub use float::write_f64;
pub use tree::{read, Chain, Node, Track};
