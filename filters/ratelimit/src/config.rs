//! The filter's JSON config, and its compilation into the immutable [`Compiled`] every request uses.
//!
//! ```json
//! {
//!   "slots": 65536,
//!   "response_headers": {"ietf": true, "legacy": false, "on_allowed": true},
//!   "service": {"cluster": "rls", "domain": "palisade", "timeout": "20ms", "failure_mode_deny": false},
//!   "client_address": {"ipv4_prefix": 32, "ipv6_prefix": 64},
//!   "rules": [
//!     {"name": "per-user", "match": {"prefix": "/api/"}, "key": ["claim:sub"], "on_missing_key": "shared",
//!      "limits": [{"requests": 10, "per": "1s", "burst": 20}, {"requests": 1000, "per": "1d"}]},
//!     {"name": "per-ip", "key": ["client_ip"], "limits": [{"requests": 100, "per": "1m"}], "shadow": true}
//!   ]
//! }
//! ```

use crate::client_address::Grouping;
use crate::gcra::Quota;
use crate::key::{KeyPart, KeySource, OnMissingKey};
use crate::stats::metric_part;
use palisade_core::config::{parse, ConfigDuration};
use palisade_core::route::{RouteMatch, RouteMatcher, Routed};
use palisade_core::{ConfigError, PathNormalization};
use serde::Deserialize;
use std::time::Duration;

/// Most limits one rule may carry (the slot table's records have room for this many).
pub const MAX_LIMITS_PER_RULE: usize = 4;
/// Smallest and largest slot table (about 52 bytes of Envoy memory per slot, all taken at start).
const SLOTS_RANGE: std::ops::RangeInclusive<u32> = 4..=4_194_304;

fn default_slots() -> u32 {
    65_536
}
fn default_ipv4_prefix() -> u8 {
    32
}
fn default_ipv6_prefix() -> u8 {
    64
}
fn default_true() -> bool {
    true
}
fn default_timeout() -> ConfigDuration {
    ConfigDuration(Duration::from_millis(20))
}

/// The config as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Rules, first match wins (a rule whose key part is missing and `on_missing_key: skip`
    /// lets the next one try); no match: the request passes.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
    /// Keys the local slot table holds at most (memory is fixed by this).
    #[serde(default = "default_slots")]
    pub slots: u32,
    /// Shadow mode for every rule: count and log what would be limited, admit everything.
    #[serde(default)]
    pub shadow: bool,
    /// Refused: `client_ip` is the address Envoy trusts (`source.address`); set
    /// `use_remote_address` and `xff_num_trusted_hops` on Envoy's HTTP connection manager.
    #[serde(default)]
    pub xff_num_trusted_hops: Option<u32>,
    /// How `client_ip` groups addresses into clients.
    #[serde(default)]
    pub client_address: ClientAddressConfig,
    /// Which rate-limit fields answers carry.
    #[serde(default)]
    pub response_headers: ResponseHeadersConfig,
    /// A rate-limit service (RLS v3): global mode. Local limits then only apply when it fails.
    #[serde(default)]
    pub service: Option<ServiceConfig>,
    /// What a request whose path is not canonical gets (before any rule is matched; also in shadow mode).
    #[serde(default)]
    pub path_normalization: PathNormalization,
}

/// How `client_ip` groups addresses into clients.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ClientAddressConfig {
    /// Leading bits of an IPv4 address that make one client (default 32).
    #[serde(default = "default_ipv4_prefix")]
    pub ipv4_prefix: u8,
    /// Leading bits of an IPv6 address that make one client (default 64: a host usually
    /// holds a whole /64 and could otherwise mint a fresh budget per address).
    #[serde(default = "default_ipv6_prefix")]
    pub ipv6_prefix: u8,
}

impl Default for ClientAddressConfig {
    fn default() -> Self {
        Self {
            ipv4_prefix: default_ipv4_prefix(),
            ipv6_prefix: default_ipv6_prefix(),
        }
    }
}

/// Which rate-limit fields answers carry.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseHeadersConfig {
    /// IETF `RateLimit` and `RateLimit-Policy` (draft-ietf-httpapi-ratelimit-headers-11).
    #[serde(default = "default_true")]
    pub ietf: bool,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`.
    #[serde(default)]
    pub legacy: bool,
    /// Also on admitted requests' responses (always on 429).
    #[serde(default)]
    pub on_allowed: bool,
}

impl Default for ResponseHeadersConfig {
    fn default() -> Self {
        Self {
            ietf: true,
            legacy: false,
            on_allowed: false,
        }
    }
}

/// The rate-limit service.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// The Envoy cluster (HTTP/2) of the RLS.
    pub cluster: String,
    /// The RLS domain.
    pub domain: String,
    /// How long to wait for it.
    #[serde(default = "default_timeout")]
    pub timeout: ConfigDuration,
    /// When it fails and the rule has no local limits: refuse (true) or admit (false).
    #[serde(default)]
    pub failure_mode_deny: bool,
}

/// A key part as written: `"client_ip"`, `"path"`, `"method"`, `"rule"`, `"header:<name>"`,
/// `"claim:<name>"`, or `{"part": "...", "descriptor_key": "..."}` to name its RLS entry.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub enum KeyPartConfig {
    /// The short form.
    Short(String),
    /// With the RLS descriptor entry key.
    Full(KeyPartWithDescriptor),
}

/// A key part with its RLS descriptor entry key.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct KeyPartWithDescriptor {
    /// The part, as in the short form.
    pub part: String,
    /// The RLS descriptor entry key.
    pub descriptor_key: String,
}

/// A rule as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique name: policy name in the answers, metric name part, RLS `generic_key` value.
    pub name: String,
    /// Which requests (all when absent).
    #[serde(default, rename = "match")]
    pub route: RouteMatch,
    /// What a budget belongs to; empty: one budget for the whole rule.
    #[serde(default)]
    pub key: Vec<KeyPartConfig>,
    /// When a key part has no value (no header, no verified claim, no address): `shared`
    /// (default: one budget for all such requests), `deny` (400) or `skip` (the rule does not apply).
    #[serde(default)]
    pub on_missing_key: OnMissingKey,
    /// Local limits (in global mode: the fallback when the service fails).
    #[serde(default)]
    pub limits: Vec<LimitConfig>,
    /// Shadow mode for this rule.
    #[serde(default)]
    pub shadow: bool,
}

/// A limit as written.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Policy name (default: the rule's name, or `<rule>-<index>` for a rule's second and later).
    #[serde(default)]
    pub name: Option<String>,
    /// Requests per window.
    pub requests: u32,
    /// The window.
    pub per: ConfigDuration,
    /// Bucket size: requests admitted at once after idling (default: `requests`).
    #[serde(default)]
    pub burst: Option<u32>,
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Its position in the config (part of every key's hash).
    pub index: usize,
    /// The key parts.
    pub key: Vec<KeyPart>,
    /// When a key part has no value.
    pub on_missing_key: OnMissingKey,
    /// The local quotas.
    pub quotas: Vec<Quota>,
    /// Shadow mode.
    pub shadow: bool,
}

/// The compiled config, shared by every request.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The rules.
    pub rules: Vec<Routed<Rule>>,
    /// Slot table size in keys.
    pub slots: u32,
    /// How client addresses are grouped.
    pub client_grouping: Grouping,
    /// IETF fields.
    pub ietf_headers: bool,
    /// Legacy fields.
    pub legacy_headers: bool,
    /// Fields on admitted responses too.
    pub headers_on_allowed: bool,
    /// Global mode.
    pub service: Option<ServiceConfig>,
    /// What a path not in canonical form gets.
    pub paths: PathNormalization,
}

// Issue 13 (module size): the functions only configuring runs are `#[inline]`, so that they are
// compiled where they are called: in the module, by `configure/` (opt-level "z", see there).

/// Parses and compiles the plugin configuration.
#[inline]
pub fn compile(bytes: &[u8]) -> Result<Compiled, ConfigError> {
    let config: Config = parse(bytes)?;
    if !SLOTS_RANGE.contains(&config.slots) {
        return Err(ConfigError::at(
            "slots",
            format!(
                "must be between {} and {}",
                SLOTS_RANGE.start(),
                SLOTS_RANGE.end()
            ),
        ));
    }
    if config.xff_num_trusted_hops.is_some() {
        return Err(ConfigError::at(
            "xff_num_trusted_hops",
            "no longer read: `client_ip` is the address Envoy trusts; set `use_remote_address` and \
             `xff_num_trusted_hops` on the HTTP connection manager instead",
        ));
    }
    if config.client_address.ipv4_prefix > 32 {
        return Err(ConfigError::at(
            "client_address.ipv4_prefix",
            "must be between 0 and 32",
        ));
    }
    if config.client_address.ipv6_prefix > 128 {
        return Err(ConfigError::at(
            "client_address.ipv6_prefix",
            "must be between 0 and 128",
        ));
    }
    if let Some(service) = &config.service {
        compile_service(service).map_err(|e| e.within("service"))?;
    }
    let mut rules: Vec<Routed<Rule>> = Vec::with_capacity(config.rules.len());
    for (index, rule) in config.rules.iter().enumerate() {
        let at = format!("rules[{index}]");
        // Names must differ as metric names too (`a-b` and `a_b` would share counters).
        let metric = metric_part(&rule.name);
        if rules.iter().any(|r| metric_part(&r.value.name) == metric) {
            return Err(ConfigError::at(
                format!("{at}.name"),
                format!("rule `{}` is defined twice", rule.name),
            ));
        }
        let matcher =
            RouteMatcher::compile(&rule.route).map_err(|e| e.within(&format!("{at}.match")))?;
        let value = compile_rule(rule, index, &config).map_err(|e| e.within(&at))?;
        rules.push(Routed { matcher, value });
    }
    Ok(Compiled {
        rules,
        slots: config.slots,
        client_grouping: Grouping {
            ipv4_prefix: config.client_address.ipv4_prefix,
            ipv6_prefix: config.client_address.ipv6_prefix,
        },
        ietf_headers: config.response_headers.ietf,
        legacy_headers: config.response_headers.legacy,
        headers_on_allowed: config.response_headers.on_allowed,
        service: config.service,
        paths: config.path_normalization,
    })
}

#[inline]
fn compile_service(service: &ServiceConfig) -> Result<(), ConfigError> {
    if service.cluster.is_empty() {
        return Err(ConfigError::at("cluster", "empty cluster name"));
    }
    if service.domain.is_empty() {
        return Err(ConfigError::at("domain", "empty domain"));
    }
    if service.timeout.get().is_zero() {
        return Err(ConfigError::at("timeout", "must be more than zero"));
    }
    Ok(())
}

#[inline]
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[inline]
fn compile_rule(rule: &RuleConfig, index: usize, config: &Config) -> Result<Rule, ConfigError> {
    if !is_name(&rule.name) {
        return Err(ConfigError::at(
            "name",
            "a rule name is letters, digits, `-` and `_`",
        ));
    }
    let mut key = Vec::with_capacity(rule.key.len());
    for (i, part) in rule.key.iter().enumerate() {
        key.push(compile_key_part(part, &rule.name).map_err(|e| e.within(&format!("key[{i}]")))?);
    }
    if rule.limits.is_empty() && config.service.is_none() {
        return Err(ConfigError::at(
            "limits",
            "a rule needs at least one limit (or a `service`)",
        ));
    }
    if rule.limits.len() > MAX_LIMITS_PER_RULE {
        return Err(ConfigError::at(
            "limits",
            format!("at most {MAX_LIMITS_PER_RULE} limits per rule"),
        ));
    }
    let mut quotas: Vec<Quota> = Vec::with_capacity(rule.limits.len());
    for (i, limit) in rule.limits.iter().enumerate() {
        let quota =
            compile_limit(limit, &rule.name, i).map_err(|e| e.within(&format!("limits[{i}]")))?;
        if quotas.iter().any(|q| q.name == quota.name) {
            return Err(ConfigError::at(
                format!("limits[{i}].name"),
                format!("policy name `{}` is used twice in this rule", quota.name),
            ));
        }
        quotas.push(quota);
    }
    Ok(Rule {
        name: rule.name.clone(),
        index,
        key,
        on_missing_key: rule.on_missing_key,
        quotas,
        shadow: rule.shadow || config.shadow,
    })
}

#[inline]
fn compile_limit(limit: &LimitConfig, rule: &str, i: usize) -> Result<Quota, ConfigError> {
    if limit.requests == 0 {
        return Err(ConfigError::at(
            "requests",
            "must be at least 1 (to block a route, use another filter)",
        ));
    }
    if limit.per.get().is_zero() {
        return Err(ConfigError::at("per", "must be more than zero"));
    }
    let burst = limit.burst.unwrap_or(limit.requests);
    if burst == 0 {
        return Err(ConfigError::at("burst", "must be at least 1"));
    }
    let name = match &limit.name {
        Some(n) if is_name(n) => n.clone(),
        Some(_) => {
            return Err(ConfigError::at(
                "name",
                "a policy name is letters, digits, `-` and `_`",
            ))
        }
        None if i == 0 => rule.to_string(),
        None => format!("{rule}-{i}"),
    };
    Ok(Quota::new(name, limit.requests, limit.per.get(), burst))
}

#[inline]
fn compile_key_part(part: &KeyPartConfig, rule: &str) -> Result<KeyPart, ConfigError> {
    let (text, descriptor_key) = match part {
        KeyPartConfig::Short(t) => (t.as_str(), None),
        KeyPartConfig::Full(full) => (full.part.as_str(), Some(full.descriptor_key.clone())),
    };
    let (source, default_key) = match text.split_once(':') {
        None => match text {
            "client_ip" => (KeySource::ClientIp, "remote_address".to_string()),
            "path" => (KeySource::Path, "path".to_string()),
            "method" => (KeySource::Method, "method".to_string()),
            "rule" => (KeySource::Rule(rule.to_string()), "generic_key".to_string()),
            other => {
                return Err(ConfigError::at(
                    "",
                    format!("unknown key part `{other}` (client_ip, path, method, rule, header:<name>, claim:<name>)"),
                ))
            }
        },
        Some(("header", name)) if palisade_core::headers::is_valid_name(name) => (
            KeySource::Header(name.to_ascii_lowercase()),
            name.to_ascii_lowercase(),
        ),
        Some(("claim", name)) if !name.is_empty() && !name.bytes().any(|b| b.is_ascii_control()) => {
            (KeySource::Claim(name.to_string()), name.to_string())
        }
        Some(_) => {
            return Err(ConfigError::at(
                "",
                format!("`{text}` is not `header:<name>` or `claim:<name>` with a valid name"),
            ))
        }
    };
    let descriptor_key = descriptor_key.unwrap_or(default_key);
    if descriptor_key.is_empty() {
        return Err(ConfigError::at("descriptor_key", "empty descriptor key"));
    }
    Ok(KeyPart {
        source,
        descriptor_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(json: &str) -> ConfigError {
        compile(json.as_bytes()).unwrap_err()
    }

    #[test]
    fn a_full_config_compiles() {
        let c = compile(
            br#"{"slots": 1024, "response_headers": {"legacy": true},
                "rules": [{"name": "per-user", "match": {"prefix": "/api/"},
                           "key": ["claim:sub", {"part": "header:X-Tenant", "descriptor_key": "tenant"}, "method"],
                           "limits": [{"requests": 10, "per": "1s", "burst": 20}, {"requests": 1000, "per": "1d"}]}]}"#,
        )
        .unwrap();
        assert_eq!(c.slots, 1024);
        assert!(c.ietf_headers && c.legacy_headers && !c.headers_on_allowed);
        let rule = &c.rules[0].value;
        assert_eq!(rule.quotas[0].name, "per-user");
        assert_eq!(rule.quotas[0].burst(), 20);
        assert_eq!(rule.quotas[1].name, "per-user-1");
        assert_eq!(rule.quotas[1].burst(), 1000);
        assert_eq!(rule.key[0].source, KeySource::Claim("sub".into()));
        assert_eq!(rule.on_missing_key, OnMissingKey::Shared);
        assert_eq!(c.client_grouping, Grouping::default());
        assert_eq!(rule.key[0].descriptor_key, "sub");
        assert_eq!(rule.key[1].source, KeySource::Header("x-tenant".into()));
        assert_eq!(rule.key[1].descriptor_key, "tenant");
        assert_eq!(rule.key[2].descriptor_key, "method");
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(err(r#"{"slots": 2}"#).path, "slots");
        assert_eq!(err(r#"{"rules": [{"name": "a"}]}"#).path, "rules[0].limits");
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "key": ["ip"], "limits": [{"requests": 1, "per": "1s"}]}]}"#).path,
            "rules[0].key[0]"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "limits": [{"requests": 0, "per": "1s"}]}]}"#).path,
            "rules[0].limits[0].requests"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "limits": [{"requests": 1, "per": "1s", "burst": 0}]}]}"#).path,
            "rules[0].limits[0].burst"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a b", "limits": [{"requests": 1, "per": "1s"}]}]}"#).path,
            "rules[0].name"
        );
        assert_eq!(
            err(
                r#"{"rules": [{"name": "a-b", "limits": [{"requests": 1, "per": "1s"}]},
                             {"name": "a_b", "limits": [{"requests": 1, "per": "1s"}]}]}"#
            )
            .path,
            "rules[1].name"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "match": {"prefix": "x"}, "limits": [{"requests": 1, "per": "1s"}]}]}"#).path,
            "rules[0].match.prefix"
        );
        let five = r#"{"requests": 1, "per": "1s"}"#;
        let many = format!(
            r#"{{"rules": [{{"name": "a", "limits": [{five},{five},{five},{five},{five}]}}]}}"#
        );
        assert_eq!(err(&many).path, "rules[0].limits");
        assert_eq!(
            err(r#"{"service": {"cluster": "rls", "domain": ""}}"#).path,
            "service.domain"
        );
        assert_eq!(err(r#"{"rules": [], "slot": 3}"#).path, "slot");
        assert_eq!(
            err(r#"{"xff_num_trusted_hops": 1}"#).path,
            "xff_num_trusted_hops"
        );
        assert_eq!(
            err(r#"{"client_address": {"ipv6_prefix": 129}}"#).path,
            "client_address.ipv6_prefix"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "on_missing_key": "allow", "limits": [{"requests": 1, "per": "1s"}]}]}"#).path,
            "rules[0].on_missing_key"
        );
        assert_eq!(
            err(r#"{"rules": [{"name": "a", "key": [{"part": "path", "descriptor_key": "p", "x": 1}],
                             "limits": [{"requests": 1, "per": "1s"}]}]}"#)
            .path,
            "rules[0].key[0]"
        );
    }

    #[test]
    fn global_rules_may_have_no_local_limits() {
        let c = compile(
            br#"{"service": {"cluster": "rls", "domain": "d"}, "rules": [{"name": "a", "key": ["rule"]}]}"#,
        )
        .unwrap();
        let service = c.service.unwrap();
        assert_eq!(service.timeout.get(), Duration::from_millis(20));
        assert!(!service.failure_mode_deny);
        assert_eq!(c.rules[0].value.key[0].descriptor_key, "generic_key");
        assert_eq!(c.rules[0].value.key[0].source, KeySource::Rule("a".into()));
    }
}
