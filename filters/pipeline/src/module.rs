//! The bundle as a module of stages: one root per configured stage, the compiled route lists.

use crate::config::{compile, StageConfig};
use crate::MODULE_NAME;
use palisade_core::driver::Module;
use palisade_core::host::Host;
use palisade_core::stage::StageRoot;

/// Compiles the bundle configuration and builds the stage roots (`on_configure`).
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    let compiled = compile(json).map_err(|e| e.to_string())?;
    let mut roots: Vec<Box<dyn StageRoot>> = Vec::with_capacity(compiled.roots.len());
    for stage in compiled.roots {
        roots.push(match stage {
            StageConfig::Headers(c) => Box::new(palisade_headers::stage::HeadersRoot::new(host, c)),
            StageConfig::Jwt(c) => Box::new(
                palisade_jwt::stage::JwtRoot::new(host, *c, false)
                    .map_err(|e| format!("stages.jwt: {e}"))?,
            ),
            StageConfig::RateLimit(c) => Box::new(palisade_ratelimit::stage::RateLimitRoot::new(
                host, *c, true,
            )),
            StageConfig::Schema(c) => Box::new(palisade_schema::stage::SchemaRoot::new(host, *c)),
        });
    }
    let names: Vec<&str> = roots.iter().map(|r| r.name()).collect();
    log::info!(
        "{MODULE_NAME}: stages {names:?}, {} route(s)",
        compiled.routes.len()
    );
    Ok(Module {
        name: MODULE_NAME,
        roots,
        routes: compiled.routes,
        default: compiled.default,
        counts: Default::default(),
    })
}

#[cfg(test)]
#[path = "module_tests.rs"]
mod tests;
