//! The bundle configuration: each stage's own configuration (compiled by its filter, errors
//! prefixed `stages.<name>.`), and which stages run, in which order, for which route.

use palisade_core::config::parse;
use palisade_core::route::{RouteMatch, RouteMatcher, Routed};
use palisade_core::ConfigError;
use serde::Deserialize;
use serde_json::Value;

/// The bundle configuration as written.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Each stage's configuration, exactly as its single-filter module takes it; a stage not
    /// given here cannot be named by a route.
    pub stages: Stages,
    /// Per-route pipelines; the first whose `match` matches the request (its canonical path)
    /// decides the stages.
    #[serde(default)]
    pub routes: Vec<Route>,
    /// The stages of a request no route matches (default: none, the request passes).
    #[serde(default)]
    pub default_stages: Vec<String>,
}

/// The stages' configurations.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Stages {
    /// The headers filter's configuration.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<palisade_headers::config::FilterConfig>")
    )]
    pub headers: Option<Value>,
    /// The jwt filter's configuration.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<palisade_jwt::config::Config>")
    )]
    pub jwt: Option<Value>,
    /// The ratelimit filter's configuration; its `claim:` keys read the identity the jwt stage
    /// verified for the same request.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<palisade_ratelimit::config::Config>")
    )]
    pub ratelimit: Option<Value>,
    /// The schema filter's configuration.
    #[serde(default)]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<palisade_schema::config::Config>")
    )]
    pub schema: Option<Value>,
}

/// One route's pipeline.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Which requests (default: every request).
    #[serde(rename = "match", default)]
    pub matcher: RouteMatch,
    /// The configured stages to run, in order (`["headers", "jwt", "ratelimit", "schema"]`).
    pub stages: Vec<String>,
}

/// The stages in the order their roots are built (a stage's index in [`Compiled::roots`]).
pub const STAGE_NAMES: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// One compiled stage configuration.
pub enum StageConfig {
    /// The headers filter's.
    Headers(palisade_headers::policy::Compiled),
    /// The jwt filter's.
    Jwt(Box<palisade_jwt::compile::Compiled>),
    /// The ratelimit filter's.
    RateLimit(Box<palisade_ratelimit::config::Compiled>),
    /// The schema filter's.
    Schema(Box<palisade_schema::config::Setup>),
}

/// The bundle, checked: the configured stages and the per-route lists of their indices.
pub struct Compiled {
    /// The configured stages, in [`STAGE_NAMES`] order.
    pub roots: Vec<StageConfig>,
    /// Per-route stage lists.
    pub routes: Vec<Routed<Vec<usize>>>,
    /// The stages of a request no route matches.
    pub default: Vec<usize>,
}

fn stage_bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

/// Parses and compiles a bundle configuration.
pub fn compile(bytes: &[u8]) -> Result<Compiled, ConfigError> {
    let config: Config = parse(bytes)?;
    let s = &config.stages;
    let mut roots = Vec::new();
    let mut names = Vec::new();
    fn within(name: &'static str) -> impl Fn(ConfigError) -> ConfigError {
        move |e| e.within(&format!("stages.{name}"))
    }
    if let Some(v) = &s.headers {
        let c = palisade_headers::config::compile(&stage_bytes(v)).map_err(within("headers"))?;
        roots.push(StageConfig::Headers(c));
        names.push("headers");
    }
    if let Some(v) = &s.jwt {
        let c = palisade_jwt::compile::compile(&stage_bytes(v)).map_err(within("jwt"))?;
        roots.push(StageConfig::Jwt(Box::new(c)));
        names.push("jwt");
    }
    if let Some(v) = &s.ratelimit {
        let c =
            palisade_ratelimit::config::compile(&stage_bytes(v)).map_err(within("ratelimit"))?;
        roots.push(StageConfig::RateLimit(Box::new(c)));
        names.push("ratelimit");
    }
    if let Some(v) = &s.schema {
        let c = palisade_schema::config::prepare(&stage_bytes(v)).map_err(within("schema"))?;
        roots.push(StageConfig::Schema(Box::new(c)));
        names.push("schema");
    }
    if roots.is_empty() {
        return Err(ConfigError::at(
            "stages",
            format!("configure at least one stage ({})", STAGE_NAMES.join(", ")),
        ));
    }
    let routes = config
        .routes
        .iter()
        .enumerate()
        .map(|(i, route)| {
            let at = format!("routes[{i}]");
            let matcher = RouteMatcher::compile(&route.matcher)
                .map_err(|e| e.within(&format!("{at}.match")))?;
            let value = stage_list(&route.stages, &names, &format!("{at}.stages"))?;
            Ok(Routed { matcher, value })
        })
        .collect::<Result<Vec<_>, ConfigError>>()?;
    let default = stage_list(&config.default_stages, &names, "default_stages")?;
    Ok(Compiled {
        roots,
        routes,
        default,
    })
}

/// A list of stage names as indices of the configured stages; each at most once.
fn stage_list(list: &[String], configured: &[&str], at: &str) -> Result<Vec<usize>, ConfigError> {
    let mut out = Vec::with_capacity(list.len());
    for (j, name) in list.iter().enumerate() {
        let Some(index) = configured.iter().position(|c| c == name) else {
            let reason = if STAGE_NAMES.contains(&name.as_str()) {
                format!("stage `{name}` is not configured in `stages`")
            } else {
                format!("no stage `{name}` (stages: {})", STAGE_NAMES.join(", "))
            };
            return Err(ConfigError::at(format!("{at}[{j}]"), reason));
        };
        if out.contains(&index) {
            return Err(ConfigError::at(
                format!("{at}[{j}]"),
                format!("stage `{name}` is named twice"),
            ));
        }
        out.push(index);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
