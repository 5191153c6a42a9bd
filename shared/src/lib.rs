//! Palisade core: what every filter shares.
//!
//! Nothing here calls the Proxy-Wasm host except [`proxy_host`] (feature `host`), the one
//! real implementation of [`host::Host`]. Filters keep their decisions in plain functions over
//! plain data and test them natively with [`testing::MockHost`] (feature `testing`).
#![forbid(unsafe_code)]

pub mod clock;
pub mod config;
mod config_tree;
pub mod decision;
pub mod driver;
pub mod edits;
pub mod headers;
pub mod host;
pub mod identity;
pub mod json_text;
pub mod metrics;
pub mod path;
pub mod path_policy;
pub mod problem;
pub mod remote;
pub mod request;
pub mod route;
pub mod stage;

#[cfg(feature = "host")]
pub mod adapter;
#[cfg(feature = "host")]
pub mod log_level;
#[cfg(feature = "host")]
pub mod proxy_host;

#[cfg(any(test, feature = "testing"))]
pub mod counting;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use clock::Clock;
pub use config::ConfigError;
pub use decision::{Decision, Denial};
pub use host::Host;
pub use path_policy::PathNormalization;
pub use problem::Problem;
pub use request::RequestInfo;
pub use route::{RouteMatch, RouteMatcher};
