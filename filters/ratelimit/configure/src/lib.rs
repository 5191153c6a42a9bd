//! The ratelimit filter's configure-time entry, in a crate of its own so that it compiles at
//! opt-level "z" (`[profile.release.package.palisade-ratelimit-configure]`) while the request path
//! stays at 3 (issue 13: module size).
//!
//! Generic code is compiled in the crate that instantiates it, and so is an `#[inline]`
//! function: the filter's configure chain (`stage::module`, `config::compile` and what they
//! call) is marked `#[inline]`, so its copy here, with every config type's `Deserialize`
//! instantiated against the core's config tree, is the one the module links. The core's own
//! functions (the JSON text reader, route compiling) stay in the core: marked `#[inline]`, every
//! filter of the bundle would get a copy of its own.

#![forbid(unsafe_code)]

use palisade_core::driver::Module;
use palisade_core::host::Host;

/// The single-filter module: `stage::module` of the filter, compiled here.
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    filter::stage::module(host, json)
}
