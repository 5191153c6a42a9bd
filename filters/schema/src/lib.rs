//! Palisade schema filter: request validation against an OpenAPI 3.0/3.1 document or plain
//! per-route JSON Schemas (draft 2020-12 and draft-07), with bounded body buffering.
//!
//! Layout: [`config`] parses and compiles the JSON config ([`openapi`] with [`dialect30`] and
//! [`compact`], read by [`lean`]; or
//! [`plain`]) into operations ([`operation`], matched by [`path_template`]); [`params`] reads
//! parameters ([`request_parts`], [`coerce`]); [`json`] parses bodies within limits, [`form`]
//! reads form bodies; [`quick`] accepts valid JSON bodies in one pass; [`validator`]
//! wraps the JSON Schema validator; [`violation`] maps what is wrong to an answer; [`flow`] is
//! the per-request flow over the host trait; [`stage`] makes it a pipeline stage.
#![forbid(unsafe_code)]

pub mod coerce;
pub mod compact;
pub mod config;
pub mod dialect30;
pub mod flow;
pub mod form;
pub mod json;
pub mod lean;
pub mod media;
pub mod openapi;
pub mod operation;
pub mod params;
pub mod path_template;
pub mod plain;
pub mod quick;
pub mod remote;
pub mod request_parts;
pub mod stage;
pub mod stats;
pub mod validator;
pub mod violation;

/// Checks a JSON configuration as `on_configure` does (parse, then compile), without a host:
/// for `cargo xtask check-config` and tests of example configs.
pub fn check_config(json: &[u8]) -> Result<(), palisade_core::ConfigError> {
    config::prepare(json).map(drop)
}
