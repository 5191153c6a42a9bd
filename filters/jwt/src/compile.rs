//! The configuration checked and compiled into what requests use. Every error names its field.

use crate::authz::{Authorization, ClaimCheck, Condition};
use crate::backend::HostUse;
use crate::claims::ClaimPolicy;
use crate::config::{
    ArrayFormat, AuthorizationConfig, Config, DataSourceConfig, KeysUnavailableAction,
    MultipleTokens, ProviderConfig, RemoteJwksConfig, RequirementConfig, SignatureBackend,
};
use crate::extractor::Location;
use crate::forward::ClaimHeader;
use crate::jwks::{parse_jwks, KeyOrigin, KeySet};
use crate::remote::{Backoff, RemoteSpec, Target};
use crate::requirements::Requirement;
use palisade_core::config::{parse, ConfigError};
use palisade_core::headers::is_valid_name;
use palisade_core::route::{RouteMatcher, Routed};
use std::collections::BTreeMap;
use std::time::Duration;

/// Default for `max_token_size`.
pub const DEFAULT_MAX_TOKEN_SIZE: usize = 8192;
/// Default header marking requests let through without keys.
pub const DEFAULT_UNVERIFIED_HEADER: &str = "x-palisade-jwt-unverified";

/// Where a provider's keys come from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// Configured keys.
    Local(KeySet),
    /// Fetched keys.
    Remote(Box<RemoteSpec>),
}

/// A compiled provider.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Its name in the config.
    pub name: String,
    /// Issuer, expiry, skew, lifetime.
    pub policy: ClaimPolicy,
    /// Allowed audiences.
    pub audiences: Vec<String>,
    /// Where its tokens are.
    pub locations: Vec<Location>,
    /// Keep the token upstream.
    pub forward: bool,
    /// Several tokens in one request: refuse, or verify the first only.
    pub multiple_tokens: MultipleTokens,
    /// Accepted `typ` values, normalized (lower-case, no `application/`); empty: any.
    pub allowed_types: Vec<String>,
    /// Header for the payload.
    pub payload_header: Option<String>,
    /// Pad the payload header.
    pub pad_payload_header: bool,
    /// Claims to headers.
    pub claim_headers: Vec<ClaimHeader>,
    /// Its keys.
    pub keys: KeySource,
    /// Verified tokens cached per worker.
    pub cache_size: usize,
}

/// A compiled rule.
#[derive(Debug, Clone, Default)]
pub struct Rule {
    /// What the route requires (`None`: nothing).
    pub requirement: Option<Requirement>,
    /// Scopes and claim conditions.
    pub authorization: Authorization,
}

/// Failure mode when keys cannot be loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeysUnavailable {
    /// Answer with this status (401 or 503).
    Deny(u16),
    /// Let through with this request header set.
    Allow(String),
}

/// The compiled configuration, shared by every request.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// Providers in name order.
    pub providers: Vec<Provider>,
    /// Rules in config order.
    pub rules: Vec<Routed<Rule>>,
    /// Let CORS preflights through.
    pub bypass_cors_preflight: bool,
    /// Challenge realm (`None`: the request URL).
    pub realm: Option<String>,
    /// Failure mode.
    pub keys_unavailable: KeysUnavailable,
    /// Longest wait for keys.
    pub keys_wait_timeout: Duration,
    /// Longest token.
    pub max_token_size: usize,
    /// Every header this filter may set, removed from each request first.
    pub headers_to_clear: Vec<String>,
    /// Names this configuration's shared data (a hash of the config bytes).
    pub fingerprint: String,
    /// What a path not in canonical form gets.
    pub paths: palisade_core::PathNormalization,
    /// `signature_backend` as configured.
    pub signature_backend: SignatureBackend,
    /// How key sets use the host, once `on_configure` probed it ([`crate::probe::select`]).
    pub host_use: HostUse,
}

impl Compiled {
    /// Whether any provider fetches keys.
    pub fn has_remote(&self) -> bool {
        self.providers
            .iter()
            .any(|p| matches!(p.keys, KeySource::Remote(_)))
    }
}

#[inline]
fn secs(d: Option<palisade_core::config::ConfigDuration>, default: Duration) -> Duration {
    d.map_or(default, |d| d.get())
}

#[inline]
fn header_name(path: &str, name: &str) -> Result<String, ConfigError> {
    if !is_valid_name(name) || name.starts_with(':') {
        return Err(ConfigError::at(
            path,
            format!("`{name}` is not a header name"),
        ));
    }
    Ok(name.to_ascii_lowercase())
}

/// Parses and compiles the configuration bytes.
#[inline]
pub fn compile(bytes: &[u8]) -> Result<Compiled, ConfigError> {
    let config: Config = parse(bytes)?;
    let fingerprint: String = hmac_sha256::Hash::hash(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    compile_config(&config, fingerprint)
}

/// Compiles a parsed configuration.
#[inline]
pub fn compile_config(config: &Config, fingerprint: String) -> Result<Compiled, ConfigError> {
    if config.providers.is_empty() {
        return Err(ConfigError::at(
            "providers",
            "at least one provider is needed",
        ));
    }
    let names: Vec<&str> = config.providers.keys().map(String::as_str).collect();
    let mut providers = Vec::with_capacity(names.len());
    for (name, p) in &config.providers {
        providers
            .push(compile_provider(name, p).map_err(|e| e.within(&format!("providers.{name}")))?);
    }
    let mut named = BTreeMap::new();
    for (name, r) in &config.requirement_map {
        named.insert(
            name.as_str(),
            compile_requirement(r, &names)
                .map_err(|e| e.within(&format!("requirement_map.{name}")))?,
        );
    }
    let mut rules = Vec::with_capacity(config.rules.len());
    for (i, r) in config.rules.iter().enumerate() {
        let at = format!("rules[{i}]");
        let matcher =
            RouteMatcher::compile(&r.route).map_err(|e| e.within(&format!("{at}.match")))?;
        let requirement = match (&r.requires, &r.requirement_name) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::at(
                    &at,
                    "give `requires` or `requirement_name`, not both",
                ))
            }
            (Some(req), None) => Some(
                compile_requirement(req, &names)
                    .map_err(|e| e.within(&format!("{at}.requires")))?,
            ),
            (None, Some(n)) => Some(named.get(n.as_str()).cloned().ok_or_else(|| {
                ConfigError::at(
                    format!("{at}.requirement_name"),
                    format!("no requirement `{n}` in requirement_map"),
                )
            })?),
            (None, None) => None,
        };
        let authorization = match &r.authorization {
            Some(a) => {
                compile_authorization(a).map_err(|e| e.within(&format!("{at}.authorization")))?
            }
            None => Authorization::default(),
        };
        if requirement.is_none() && !authorization.is_empty() {
            return Err(ConfigError::at(
                format!("{at}.authorization"),
                "authorization needs a requirement that verifies a token",
            ));
        }
        rules.push(Routed {
            matcher,
            value: Rule {
                requirement,
                authorization,
            },
        });
    }
    let keys_wait_timeout = secs(config.keys_wait_timeout, Duration::from_secs(10));
    for p in &providers {
        if let KeySource::Remote(r) = &p.keys {
            if r.kid_refetch_interval >= keys_wait_timeout {
                return Err(ConfigError::at(
                    format!("providers.{}.remote_jwks.unknown_kid_refetch_interval", p.name),
                    "must be shorter than keys_wait_timeout, or tokens of a rotated key time out waiting",
                ));
            }
        }
    }
    let keys_unavailable = compile_keys_unavailable(config)?;
    let headers_to_clear = headers_to_clear(&providers, &keys_unavailable)?;
    let max_token_size = config.max_token_size.unwrap_or(DEFAULT_MAX_TOKEN_SIZE);
    if max_token_size == 0 {
        return Err(ConfigError::at("max_token_size", "must be positive"));
    }
    Ok(Compiled {
        providers,
        rules,
        bypass_cors_preflight: config.bypass_cors_preflight,
        realm: config.realm.clone(),
        keys_unavailable,
        keys_wait_timeout,
        max_token_size,
        headers_to_clear,
        fingerprint,
        paths: config.path_normalization,
        signature_backend: config.signature_backend,
        host_use: HostUse::Off,
    })
}

#[inline]
fn compile_keys_unavailable(config: &Config) -> Result<KeysUnavailable, ConfigError> {
    let k = &config.keys_unavailable;
    match k.action {
        KeysUnavailableAction::Deny => {
            if k.header.is_some() {
                return Err(ConfigError::at(
                    "keys_unavailable.header",
                    "only with `action: allow`",
                ));
            }
            match k.status.unwrap_or(401) {
                s @ (401 | 503) => Ok(KeysUnavailable::Deny(s)),
                s => Err(ConfigError::at(
                    "keys_unavailable.status",
                    format!("{s}: use 401 or 503"),
                )),
            }
        }
        KeysUnavailableAction::Allow => {
            if k.status.is_some() {
                return Err(ConfigError::at(
                    "keys_unavailable.status",
                    "only with `action: deny`",
                ));
            }
            let name = k.header.as_deref().unwrap_or(DEFAULT_UNVERIFIED_HEADER);
            Ok(KeysUnavailable::Allow(header_name(
                "keys_unavailable.header",
                name,
            )?))
        }
    }
}

/// Every header the filter may set; none may be a header a token is read from.
#[inline]
fn headers_to_clear(
    providers: &[Provider],
    mode: &KeysUnavailable,
) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::new();
    for p in providers {
        out.extend(p.claim_headers.iter().map(|c| c.header.clone()));
        out.extend(p.payload_header.iter().cloned());
    }
    if let KeysUnavailable::Allow(h) = mode {
        out.push(h.clone());
    }
    out.sort();
    out.dedup();
    for p in providers {
        for loc in &p.locations {
            if let Location::Header { name, .. } = loc {
                if out.contains(name) || name == "cookie" {
                    return Err(ConfigError::at(
                        format!("providers.{}.from_headers", p.name),
                        format!("`{name}` is also a header this filter sets or rewrites"),
                    ));
                }
            }
        }
    }
    if out.iter().any(|h| h == "cookie") {
        return Err(ConfigError::at(
            "providers",
            "`cookie` cannot be a header this filter sets",
        ));
    }
    Ok(out)
}

#[inline]
fn compile_provider(name: &str, p: &ProviderConfig) -> Result<Provider, ConfigError> {
    let mut locations = Vec::new();
    for (i, h) in p.from_headers.iter().enumerate() {
        locations.push(Location::Header {
            name: header_name(&format!("from_headers[{i}].name"), &h.name)?,
            prefix: h.value_prefix.clone().unwrap_or_default(),
        });
    }
    for (i, q) in p.from_params.iter().enumerate() {
        if q.is_empty() || q.contains(['&', '=', '#', '?']) {
            return Err(ConfigError::at(
                format!("from_params[{i}]"),
                "not a query parameter name",
            ));
        }
        locations.push(Location::Param(q.clone()));
    }
    for (i, c) in p.from_cookies.iter().enumerate() {
        if c.is_empty() || c.contains([';', '=', ' ']) {
            return Err(ConfigError::at(
                format!("from_cookies[{i}]"),
                "not a cookie name",
            ));
        }
        locations.push(Location::Cookie(c.clone()));
    }
    if locations.is_empty() {
        locations.push(Location::bearer());
    }
    let mut claim_headers = Vec::new();
    for (i, c) in p.claim_to_headers.iter().enumerate() {
        if c.claim_name.is_empty() {
            return Err(ConfigError::at(
                format!("claim_to_headers[{i}].claim_name"),
                "empty",
            ));
        }
        claim_headers.push(ClaimHeader {
            header: header_name(
                &format!("claim_to_headers[{i}].header_name"),
                &c.header_name,
            )?,
            claim: c.claim_name.clone(),
            separator: c.separator.clone().unwrap_or_else(|| ",".into()),
            array_format: c.array_format,
        });
        if c.array_format == ArrayFormat::Joined && c.separator.as_deref() == Some("") {
            return Err(ConfigError::at(
                format!("claim_to_headers[{i}].separator"),
                "an empty separator makes joined arrays ambiguous (use `array_format: json`)",
            ));
        }
    }
    let payload_header = match &p.forward_payload_header {
        Some(h) => Some(header_name("forward_payload_header", h)?),
        None => None,
    };
    let keys = match (&p.local_jwks, &p.remote_jwks) {
        (Some(local), None) => {
            KeySource::Local(load_local(local).map_err(|e| e.within("local_jwks"))?)
        }
        (None, Some(remote)) => KeySource::Remote(Box::new(
            compile_remote(remote, p.issuer.as_deref()).map_err(|e| e.within("remote_jwks"))?,
        )),
        _ => {
            return Err(ConfigError::at(
                "",
                "give exactly one of `local_jwks` and `remote_jwks`",
            ))
        }
    };
    let cache_size = p
        .jwt_cache_config
        .as_ref()
        .and_then(|c| c.jwt_cache_size)
        .unwrap_or(100);
    if cache_size > 100_000 {
        return Err(ConfigError::at(
            "jwt_cache_config.jwt_cache_size",
            "at most 100000",
        ));
    }
    Ok(Provider {
        name: name.to_string(),
        policy: ClaimPolicy {
            issuer: p.issuer.clone(),
            require_expiration: p.require_expiration.unwrap_or(true),
            clock_skew: p.clock_skew_seconds.unwrap_or(60),
            max_lifetime: p.max_lifetime.map(|d| d.get().as_secs()),
        },
        audiences: p.audiences.clone(),
        locations,
        forward: p.forward,
        multiple_tokens: p.multiple_tokens,
        allowed_types: compile_types(&p.allowed_types)?,
        payload_header,
        pad_payload_header: p.pad_forward_payload_header,
        claim_headers,
        keys,
        cache_size,
    })
}

/// `allowed_types`, each a JWT media type (`JWT` or `...+jwt`), normalized for comparison.
#[inline]
fn compile_types(types: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::with_capacity(types.len());
    for (i, t) in types.iter().enumerate() {
        let normalized = normalize_typ(t);
        if normalized != "jwt" && !normalized.ends_with("+jwt") {
            return Err(ConfigError::at(
                format!("allowed_types[{i}]"),
                format!("`{t}` is not a JWT type (`JWT`, `at+jwt`, `<name>+jwt`)"),
            ));
        }
        out.push(normalized);
    }
    Ok(out)
}

/// A `typ` as compared: lower-case, without `application/` (RFC 7515 §4.1.9).
pub fn normalize_typ(typ: &str) -> String {
    let lower = typ.trim().to_ascii_lowercase();
    match lower.strip_prefix("application/") {
        Some(rest) => rest.to_string(),
        None => lower,
    }
}

/// Reads and parses a local JWKS; it must hold at least one usable key.
#[inline]
fn load_local(source: &DataSourceConfig) -> Result<KeySet, ConfigError> {
    let (field, text) = match (
        &source.inline_string,
        &source.filename,
        &source.environment_variable,
    ) {
        (Some(s), None, None) => ("inline_string", s.clone()),
        (None, Some(f), None) => {
            // No file access in the module (std::fs would import WASI filesystem calls that
            // older Envoys lack, and Envoy gives Wasm modules no files anyway).
            return Err(ConfigError::at(
                "filename",
                format!("`{f}`: Envoy gives Wasm modules no file access; use inline_string or environment_variable"),
            ));
        }
        (None, None, Some(v)) => (
            "environment_variable",
            std::env::var(v).map_err(|_| {
                ConfigError::at(
                    "environment_variable",
                    format!("`{v}` is not set (Envoy: vm_config.environment_variables)"),
                )
            })?,
        ),
        _ => {
            return Err(ConfigError::at(
                "",
                "give exactly one of `inline_string`, `filename`, `environment_variable`",
            ))
        }
    };
    parse_jwks(&text, KeyOrigin::Local).map_err(|e| ConfigError::at(field, e))
}

#[inline]
fn compile_remote(r: &RemoteJwksConfig, issuer: Option<&str>) -> Result<RemoteSpec, ConfigError> {
    if r.http_uri.cluster.is_empty() {
        return Err(ConfigError::at("http_uri.cluster", "empty cluster name"));
    }
    let target = match (&r.http_uri.uri, r.oidc_discovery, issuer) {
        (Some(uri), _, _) => Target::parse(uri).map_err(|e| ConfigError::at("http_uri.uri", e))?,
        (None, true, Some(iss)) => Target::discovery(iss)
            .map_err(|e| ConfigError::at("oidc_discovery", format!("issuer: {e}")))?,
        (None, true, None) => {
            return Err(ConfigError::at(
                "oidc_discovery",
                "needs the provider's `issuer`",
            ))
        }
        (None, false, _) => return Err(ConfigError::at("http_uri.uri", "missing")),
    };
    let timeout = secs(r.http_uri.timeout, Duration::from_secs(5));
    if timeout.is_zero() {
        return Err(ConfigError::at("http_uri.timeout", "must be positive"));
    }
    let retry = r.retry_policy.clone().unwrap_or_default();
    let back_off = retry.retry_back_off.unwrap_or_default();
    let base = secs(back_off.base_interval, Duration::from_secs(1));
    let max = secs(back_off.max_interval, base.saturating_mul(10));
    if base.is_zero() || max < base {
        return Err(ConfigError::at(
            "retry_policy.retry_back_off",
            "base_interval must be positive and at most max_interval",
        ));
    }
    let failed_refetch = secs(
        r.async_fetch
            .as_ref()
            .and_then(|a| a.failed_refetch_duration),
        Duration::from_secs(1),
    );
    let cache_duration = secs(r.cache_duration, Duration::from_secs(600));
    if cache_duration < Duration::from_secs(1) || failed_refetch.is_zero() {
        return Err(ConfigError::at(
            "cache_duration",
            "cache_duration must be at least 1s and failed_refetch_duration positive",
        ));
    }
    Ok(RemoteSpec {
        cluster: r.http_uri.cluster.clone(),
        target,
        discovery: r.oidc_discovery,
        issuer: issuer.map(str::to_string),
        timeout,
        cache_duration,
        backoff: Backoff {
            num_retries: retry.num_retries.unwrap_or(0),
            base,
            max,
            failed_refetch,
        },
        kid_refetch_interval: secs(r.unknown_kid_refetch_interval, Duration::from_secs(3)),
    })
}

#[inline]
fn compile_requirement(r: &RequirementConfig, names: &[&str]) -> Result<Requirement, ConfigError> {
    let provider = |field: &str, name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| ConfigError::at(field, format!("no provider `{name}`")))
    };
    let list = |field: &str, rs: &[RequirementConfig]| -> Result<Vec<Requirement>, ConfigError> {
        if rs.is_empty() {
            return Err(ConfigError::at(field, "empty list"));
        }
        rs.iter()
            .enumerate()
            .map(|(i, r)| {
                compile_requirement(r, names).map_err(|e| e.within(&format!("{field}[{i}]")))
            })
            .collect()
    };
    Ok(match r {
        RequirementConfig::ProviderName(n) => Requirement::Provider {
            provider: provider("provider_name", n)?,
            audiences: None,
        },
        RequirementConfig::ProviderAndAudiences {
            provider_name,
            audiences,
        } => Requirement::Provider {
            provider: provider("provider_and_audiences.provider_name", provider_name)?,
            audiences: Some(audiences.clone()),
        },
        RequirementConfig::RequiresAny { requirements } => {
            Requirement::Any(list("requires_any.requirements", requirements)?)
        }
        RequirementConfig::RequiresAll { requirements } => {
            Requirement::All(list("requires_all.requirements", requirements)?)
        }
        RequirementConfig::AllowMissingOrFailed {} => Requirement::AllowMissingOrFailed,
        RequirementConfig::AllowMissing {} => Requirement::AllowMissing,
    })
}

#[inline]
fn compile_authorization(a: &AuthorizationConfig) -> Result<Authorization, ConfigError> {
    let mut claims = Vec::new();
    for (i, c) in a.claims.iter().enumerate() {
        let at = format!("claims[{i}]");
        if c.claim.is_empty() {
            return Err(ConfigError::at(format!("{at}.claim"), "empty"));
        }
        let condition = match (&c.equals, &c.contains, &c.one_of) {
            (Some(v), None, None) => Condition::Equals(v.clone()),
            (None, Some(v), None) => Condition::Contains(v.clone()),
            (None, None, Some(v)) if !v.is_empty() => Condition::OneOf(v.clone()),
            _ => {
                return Err(ConfigError::at(
                    at,
                    "give exactly one of `equals`, `contains`, non-empty `one_of`",
                ))
            }
        };
        claims.push(ClaimCheck {
            claim: c.claim.clone(),
            condition,
        });
    }
    for (i, s) in a.scopes.iter().enumerate() {
        if s.is_empty() || s.contains(' ') {
            return Err(ConfigError::at(
                format!("scopes[{i}]"),
                "a scope is one non-empty word",
            ));
        }
    }
    Ok(Authorization {
        scopes: a.scopes.clone(),
        claims,
    })
}

#[cfg(test)]
#[path = "compile_tests.rs"]
mod tests;
