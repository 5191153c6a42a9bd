//! The jwt filter's configure-time entry, in a crate of its own so that it compiles at
//! opt-level "z" (`[profile.release.package.palisade-jwt-configure]`) while the request path
//! stays at 3 (issue 13: module size).
//!
//! Generic code is compiled in the crate that instantiates it, and so is an `#[inline]`
//! function: the filter's configure chain (`stage::module`, `compile::compile`, the probe and
//! the key binding, and what only they call) is marked `#[inline]`, so its copy here, with every
//! config type's `Deserialize` instantiated against the core's config tree, is the one the module
//! links. In the bundle the same chain is compiled in `filters/pipeline` beside the other
//! filters' chains, so code they share is not instantiated twice. Functions a request or a key
//! fetch also calls (the JWKS parser, key checks) stay in the filter at its own opt-level.

#![forbid(unsafe_code)]

use palisade_core::driver::Module;
use palisade_core::host::Host;

/// The single-filter module: `stage::module` of the filter, compiled here.
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    filter::stage::module(host, json)
}
