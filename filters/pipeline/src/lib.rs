//! The Palisade bundle (`palisade.wasm`): the headers, jwt, ratelimit and schema filters as
//! stages of one module, run in the order each route's pipeline names, by the core's one
//! Proxy-Wasm adapter. Stages hand each other the verified identity in-process.
//!
//! Layout: [`config`] parses and compiles the bundle configuration (each stage's own
//! configuration compiled by its filter); [`module`] builds the stage roots.
#![forbid(unsafe_code)]

pub mod config;
pub mod module;

/// The module's name in log lines.
pub const MODULE_NAME: &str = "palisade";

/// Checks a bundle configuration as `on_configure` does (parse, then compile; no host).
pub fn check_config(json: &[u8]) -> Result<(), palisade_core::ConfigError> {
    config::compile(json).map(drop)
}

#[cfg(all(target_arch = "wasm32", feature = "module"))]
proxy_wasm::main! {{
    palisade_core::adapter::init(MODULE_NAME);
    proxy_wasm::set_root_context(|id| {
        palisade_core::adapter::root(id, MODULE_NAME, module::module)
    });
}}
