//! The core's JSON text code that runs rarely, compiled for size
//! (`[profile.release.package.palisade-json-text]`, issue 13: module size): reading a
//! configuration's text into a [`Node`] tree (the core's config reader walks it with serde),
//! and writing a float as serde_json does ([`write_f64`]).

#![forbid(unsafe_code)]

mod float;
mod tree;

pub use float::write_f64;
pub use tree::{read, Chain, Node, Track};
