//! The filter's JSON configuration, and its compilation into [`Compiled`].
//!
//! ```json
//! {
//!   "preset": "owasp",
//!   "response": {
//!     "headers": { "content-security-policy": "default-src 'self'", "clear-site-data": null,
//!                  "x-custom": { "value": "1", "documents_only": true, "overwrite": true } },
//!     "csp_report_only": false, "overwrite": false,
//!     "document_types": ["text/html", "application/xhtml+xml"],
//!     "remove": ["x-debug-*"], "keep": ["server"]
//!   },
//!   "request": {
//!     "strip": ["x-internal-*"], "keep": ["x-envoy-force-trace"], "strip_forwarded": false,
//!     "trust_forwarded_proto": false, "max_header_count": 100, "max_header_bytes": 32768,
//!     "reject_control_characters": true, "allowed_methods": ["GET", "POST"]
//!   },
//!   "routes": [ { "match": { "prefix": "/api/" }, "preset": "strict-api" } ],
//!   "path_normalization": { "action": "reject" }
//! }
//! ```
//!
//! A route inherits every setting it does not give from the top level; `response.headers`
//! entries merge by name (the route's win); any other field a route gives replaces the top-level one.

use crate::cookies::{has_secure_prefix, CookiePolicy, CookieRule, SameSite};
use crate::names::{NameFilter, NamePatterns};
use crate::policy::{Compiled, HeaderRule, Policy, RequestPolicy, ResponsePolicy};
use crate::presets::{
    Preset, CSP, CSP_REPORT_ONLY, DEFAULT_DOCUMENT_TYPES, DEFAULT_METHODS, DEFAULT_STRIP,
    DOCUMENT_ONLY, FORWARDED, HSTS, OWASP_REMOVE,
};
use crate::request::{FORWARDED_PROTO, PROTECTED};
use palisade_core::config::{parse, ConfigError};
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::route::{RouteMatch, RouteMatcher, Routed};
use palisade_core::PathNormalization;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

/// Used when no layer names a preset: Helmet's set is safe to drop in front of any HTML app,
/// while OWASP's clears cookies on every response (`Clear-Site-Data`).
const DEFAULT_PRESET: Preset = Preset::Browser;
/// Envoy's own default limit is 100 headers (`max_headers_count`).
const DEFAULT_MAX_HEADER_COUNT: u32 = 100;
/// Half of Envoy's default 60 KiB, which also counts the request line.
const DEFAULT_MAX_HEADER_BYTES: u32 = 32 * 1024;

/// Headers that frame the message: setting them from config would corrupt responses.
const FRAMING_HEADERS: &[&str] = &[
    "connection",
    "content-length",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The top-level configuration.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// Header set to start from (default `browser`).
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Response-side settings.
    #[serde(default)]
    pub response: ResponseConfig,
    /// Request-side settings.
    #[serde(default)]
    pub request: RequestConfig,
    /// Per-route overrides; the first matching route wins.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// What a request whose path is not canonical gets (before any route is matched).
    #[serde(default)]
    pub path_normalization: PathNormalization,
}

/// A per-route override.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// Which requests it applies to.
    #[serde(rename = "match")]
    pub route_match: RouteMatch,
    /// Replaces the top-level preset.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// Response-side overrides.
    #[serde(default)]
    pub response: ResponseConfig,
    /// Request-side overrides.
    #[serde(default)]
    pub request: RequestConfig,
}

/// Response-side settings; unset fields inherit.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ResponseConfig {
    /// Headers to override (`"value"`), disable (`null`) or add (`{ "value": .. }`).
    #[serde(default)]
    pub headers: HeaderSettings,
    /// Send the CSP as `Content-Security-Policy-Report-Only`.
    #[serde(default)]
    pub csp_report_only: Option<bool>,
    /// Replace headers the upstream already set (default: keep the upstream's).
    #[serde(default)]
    pub overwrite: Option<bool>,
    /// Media types that get document-only headers.
    #[serde(default)]
    pub document_types: Option<Vec<String>>,
    /// Response headers removed on top of the OWASP list (`prefix*` allowed).
    #[serde(default)]
    pub remove: Option<Vec<String>>,
    /// Response headers never removed.
    #[serde(default)]
    pub keep: Option<Vec<String>>,
    /// `Set-Cookie` hardening (default: the preset's).
    #[serde(default)]
    pub cookies: Option<CookieConfig>,
}

/// `response.cookies`: attributes added to the upstream's `Set-Cookie` headers. Unset fields
/// take the preset's defaults.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CookieConfig {
    /// Add `Secure` to cookies set in answers to HTTPS requests.
    #[serde(default)]
    pub secure: Option<bool>,
    /// Add `HttpOnly` (scripts cannot read the cookie).
    #[serde(default)]
    pub http_only: Option<bool>,
    /// `SameSite` for cookies that have none: `strict`, `lax`, `none` or `off`.
    #[serde(default)]
    pub same_site: Option<SameSite>,
    /// Per cookie name (exact, case-sensitive): fields that differ for that cookie.
    #[serde(default)]
    pub exceptions: BTreeMap<String, CookieException>,
}

/// What differs for one cookie; unset fields follow `response.cookies`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CookieException {
    /// Add `Secure` over HTTPS.
    #[serde(default)]
    pub secure: Option<bool>,
    /// Add `HttpOnly` (`false` for a cookie a script must read, such as a CSRF token).
    #[serde(default)]
    pub http_only: Option<bool>,
    /// `SameSite` when the cookie has none.
    #[serde(default)]
    pub same_site: Option<SameSite>,
}

/// Request-side settings; unset fields inherit.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RequestConfig {
    /// Request headers stripped on top of `x-envoy-*` and `x-jwt-*` (`prefix*` allowed).
    #[serde(default)]
    pub strip: Option<Vec<String>>,
    /// Request headers never stripped.
    #[serde(default)]
    pub keep: Option<Vec<String>>,
    /// Also strip `forwarded` and `x-forwarded-*` (nothing in front of this proxy is trusted).
    #[serde(default)]
    pub strip_forwarded: Option<bool>,
    /// Believe `x-forwarded-proto: https` when deciding on HSTS.
    #[serde(default)]
    pub trust_forwarded_proto: Option<bool>,
    /// Most header fields (431 beyond).
    #[serde(default)]
    pub max_header_count: Option<u32>,
    /// Most bytes of header names and values (431 beyond).
    #[serde(default)]
    pub max_header_bytes: Option<u32>,
    /// Refuse header values with control characters (400).
    #[serde(default)]
    pub reject_control_characters: Option<bool>,
    /// Allowed methods (405 otherwise); `["*"]` allows all.
    #[serde(default)]
    pub allowed_methods: Option<Vec<String>>,
}

/// `response.headers`: an object read in order, so duplicate names can be reported.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HeaderSettings(pub Vec<(String, HeaderSetting)>);

/// One entry of `response.headers`.
#[derive(Debug, Clone, PartialEq)]
pub enum HeaderSetting {
    /// `null`: do not send this header.
    Disabled,
    /// `"value"`: send it with this value.
    Value(String),
    /// `{ "value": .., "documents_only": .., "overwrite": .. }`.
    Detailed(DetailedHeader),
}

/// The object form of a header setting.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct DetailedHeader {
    /// Value.
    pub value: String,
    /// Only on documents (default: per header, `true` for CSP and the like).
    #[serde(default)]
    pub documents_only: Option<bool>,
    /// Replace the upstream's value (default: `response.overwrite`).
    #[serde(default)]
    pub overwrite: Option<bool>,
}

impl<'de> Deserialize<'de> for HeaderSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SettingVisitor;
        impl<'de> Visitor<'de> for SettingVisitor {
            type Value = HeaderSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a header value, null (disabled) or {\"value\": ..}")
            }
            fn visit_unit<E: de::Error>(self) -> Result<HeaderSetting, E> {
                Ok(HeaderSetting::Disabled)
            }
            fn visit_none<E: de::Error>(self) -> Result<HeaderSetting, E> {
                Ok(HeaderSetting::Disabled)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<HeaderSetting, E> {
                Ok(HeaderSetting::Value(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<HeaderSetting, A::Error> {
                DetailedHeader::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(HeaderSetting::Detailed)
            }
        }
        d.deserialize_any(SettingVisitor)
    }
}

impl<'de> Deserialize<'de> for HeaderSettings {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = HeaderSettings;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of header names")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<HeaderSettings, A::Error> {
                let mut entries = Vec::new();
                while let Some(name) = map.next_key::<String>()? {
                    entries.push((name, map.next_value::<HeaderSetting>()?));
                }
                Ok(HeaderSettings(entries))
            }
        }
        d.deserialize_map(OrderedVisitor)
    }
}

/// `response.headers` in the JSON Schema: an object of header names (its serde impl is by hand).
#[cfg(feature = "schema")]
impl schemars::JsonSchema for HeaderSettings {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HeaderSettings".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let setting = generator.subschema_for::<HeaderSetting>();
        schemars::json_schema!({
            "description": "Response headers by name: a value overrides or adds, `null` disables, an object gives details.",
            "type": "object",
            "additionalProperties": setting
        })
    }
}

/// One `response.headers` entry in the JSON Schema: `null`, a value, or the object form.
#[cfg(feature = "schema")]
impl schemars::JsonSchema for HeaderSetting {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "HeaderSetting".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let detailed = generator.subschema_for::<DetailedHeader>();
        schemars::json_schema!({
            "anyOf": [
                { "description": "Do not send this header.", "type": "null" },
                { "description": "Send it with this value.", "type": "string" },
                detailed
            ]
        })
    }
}

// Issue 13 (module size): the functions only configuring runs are `#[inline]`, so that they are
// compiled where they are called: in the module, by `configure/` (opt-level "z", see there).

/// Parses and compiles the plugin configuration.
#[inline]
pub fn compile(bytes: &[u8]) -> Result<Compiled, ConfigError> {
    compile_config(&parse::<FilterConfig>(bytes)?)
}

/// Compiles a parsed configuration.
#[inline]
pub fn compile_config(config: &FilterConfig) -> Result<Compiled, ConfigError> {
    let top = Layer {
        preset: config.preset,
        response: &config.response,
        request: &config.request,
        path: String::new(),
    };
    let default = Rc::new(compile_policy(std::slice::from_ref(&top))?);
    let mut routes = Vec::with_capacity(config.routes.len());
    for (i, route) in config.routes.iter().enumerate() {
        let path = format!("routes[{i}]");
        let matcher = RouteMatcher::compile(&route.route_match)
            .map_err(|e| e.within(&format!("{path}.match")))?;
        let layer = Layer {
            preset: route.preset,
            response: &route.response,
            request: &route.request,
            path,
        };
        let policy = compile_policy(&[top.clone(), layer])?;
        routes.push(Routed {
            matcher,
            value: Rc::new(policy),
        });
    }
    Ok(Compiled {
        default,
        routes,
        paths: config.path_normalization,
    })
}

/// One level of settings (top level, then a route) and where it sits in the document.
#[derive(Debug, Clone)]
struct Layer<'a> {
    preset: Option<Preset>,
    response: &'a ResponseConfig,
    request: &'a RequestConfig,
    path: String,
}

impl Layer<'_> {
    /// The full path of one of this layer's fields.
    #[inline]
    fn field(&self, rest: &str) -> String {
        if self.path.is_empty() {
            rest.to_string()
        } else {
            format!("{}.{rest}", self.path)
        }
    }
}

/// The value of a field from the last layer that gives it, with that layer.
fn resolve<'l, 'a, T: ?Sized>(
    layers: &'l [Layer<'a>],
    get: impl Fn(&Layer<'a>) -> Option<&'a T>,
) -> Option<(&'a T, &'l Layer<'a>)> {
    layers
        .iter()
        .rev()
        .find_map(|layer| get(layer).map(|v| (v, layer)))
}

#[inline]
fn compile_policy(layers: &[Layer<'_>]) -> Result<Policy, ConfigError> {
    Ok(Policy {
        request: compile_request(layers)?,
        response: compile_response(layers)?,
    })
}

#[inline]
fn compile_response(layers: &[Layer<'_>]) -> Result<ResponsePolicy, ConfigError> {
    let preset = layers
        .iter()
        .rev()
        .find_map(|l| l.preset)
        .unwrap_or(DEFAULT_PRESET);
    let overwrite = resolve(layers, |l| l.response.overwrite.as_ref()).is_some_and(|(v, _)| *v);
    let mut add: Vec<HeaderRule> = preset
        .headers()
        .iter()
        .map(|(name, value)| rule(&name.to_ascii_lowercase(), value, None, None, overwrite))
        .collect();
    for layer in layers {
        apply_header_settings(&mut add, &layer.response.headers, layer, overwrite)?;
    }
    if let Some((true, layer)) = resolve(layers, |l| l.response.csp_report_only.as_ref()) {
        if add.iter().any(|r| r.name == CSP_REPORT_ONLY) && add.iter().any(|r| r.name == CSP) {
            return Err(ConfigError::at(
                layer.field("response.csp_report_only"),
                "would send the CSP as `content-security-policy-report-only`, which is also given",
            ));
        }
        for r in add.iter_mut().filter(|r| r.name == CSP) {
            r.name = CSP_REPORT_ONLY.to_string();
        }
    }
    let document_types = match resolve(layers, |l| l.response.document_types.as_deref()) {
        Some((types, layer)) => {
            compile_media_types(types, &layer.field("response.document_types"))?
        }
        None => DEFAULT_DOCUMENT_TYPES
            .iter()
            .map(|t| (*t).to_string())
            .collect(),
    };
    let mut remove = NamePatterns::compile(OWASP_REMOVE, "response.remove")?;
    if let Some((extra, layer)) = resolve(layers, |l| l.response.remove.as_deref()) {
        remove.extend(&NamePatterns::compile(
            extra,
            &layer.field("response.remove"),
        )?);
    }
    let keep = match resolve(layers, |l| l.response.keep.as_deref()) {
        Some((keep, layer)) => NamePatterns::compile(keep, &layer.field("response.keep"))?,
        None => NamePatterns::default(),
    };
    let cookies = match resolve(layers, |l| l.response.cookies.as_ref()) {
        Some((config, layer)) => {
            compile_cookies(preset.cookies(), config, &layer.field("response.cookies"))?
        }
        None => CookiePolicy {
            default: preset.cookies(),
            exceptions: Vec::new(),
        },
    };
    Ok(ResponsePolicy {
        add,
        remove: NameFilter {
            select: remove,
            keep,
        },
        document_types,
        cookies,
    })
}

/// `response.cookies` over the preset's defaults.
#[inline]
fn compile_cookies(
    preset: CookieRule,
    config: &CookieConfig,
    field: &str,
) -> Result<CookiePolicy, ConfigError> {
    let default = CookieRule {
        secure: config.secure.unwrap_or(preset.secure),
        http_only: config.http_only.unwrap_or(preset.http_only),
        same_site: config.same_site.unwrap_or(preset.same_site),
    };
    check_cookie_rule(default, "", field)?;
    let mut exceptions = Vec::with_capacity(config.exceptions.len());
    for (name, exception) in &config.exceptions {
        let path = format!("{field}.exceptions.{name}");
        if !is_valid_name(name) || name.starts_with(':') {
            return Err(ConfigError::at(
                path,
                format!("`{name}` is not a cookie name"),
            ));
        }
        let rule = CookieRule {
            secure: exception.secure.unwrap_or(default.secure),
            http_only: exception.http_only.unwrap_or(default.http_only),
            same_site: exception.same_site.unwrap_or(default.same_site),
        };
        check_cookie_rule(rule, name, &path)?;
        exceptions.push((name.clone(), rule));
    }
    Ok(CookiePolicy {
        default,
        exceptions,
    })
}

/// Refuses what browsers would refuse: `SameSite=None` without `Secure`, a prefixed cookie
/// without `Secure`.
#[inline]
fn check_cookie_rule(rule: CookieRule, name: &str, field: &str) -> Result<(), ConfigError> {
    if rule.same_site == SameSite::None && !rule.secure {
        return Err(ConfigError::at(
            format!("{field}.same_site"),
            "browsers refuse `SameSite=None` without `Secure`; set `secure` too",
        ));
    }
    if !rule.secure && has_secure_prefix(name) {
        return Err(ConfigError::at(
            format!("{field}.secure"),
            format!("the prefix of `{name}` requires `Secure`; browsers refuse it without"),
        ));
    }
    Ok(())
}

/// A rule with the defaults that follow from its name.
#[inline]
fn rule(
    name: &str,
    value: &str,
    documents_only: Option<bool>,
    overwrite: Option<bool>,
    default_overwrite: bool,
) -> HeaderRule {
    HeaderRule {
        name: name.to_string(),
        value: value.to_string(),
        documents_only: documents_only.unwrap_or_else(|| DOCUMENT_ONLY.contains(&name)),
        https_only: name == HSTS,
        overwrite: overwrite.unwrap_or(default_overwrite),
    }
}

/// Applies one layer's `response.headers` to the rules built so far.
#[inline]
fn apply_header_settings(
    add: &mut Vec<HeaderRule>,
    settings: &HeaderSettings,
    layer: &Layer<'_>,
    default_overwrite: bool,
) -> Result<(), ConfigError> {
    let mut seen: Vec<String> = Vec::with_capacity(settings.0.len());
    for (name, setting) in &settings.0 {
        let path = layer.field(&format!("response.headers.{name}"));
        let lower = name.to_ascii_lowercase();
        if !is_valid_name(&lower) || lower.starts_with(':') {
            return Err(ConfigError::at(
                path,
                format!("`{name}` is not a header name"),
            ));
        }
        if FRAMING_HEADERS.contains(&lower.as_str()) {
            return Err(ConfigError::at(
                path,
                format!("`{name}` frames the message and cannot be set here"),
            ));
        }
        if seen.contains(&lower) {
            return Err(ConfigError::at(
                path,
                format!("`{name}` is given twice (header names are case-insensitive)"),
            ));
        }
        seen.push(lower.clone());
        let existing = add.iter().position(|r| r.name == lower);
        let (value, documents_only, overwrite) = match setting {
            HeaderSetting::Disabled => {
                add.retain(|r| r.name != lower);
                continue;
            }
            HeaderSetting::Value(v) => (v, None, None),
            HeaderSetting::Detailed(d) => (&d.value, d.documents_only, d.overwrite),
        };
        if value.trim().is_empty() || !is_valid_value(value) {
            let field = match setting {
                HeaderSetting::Detailed(_) => format!("{path}.value"),
                _ => path,
            };
            return Err(ConfigError::at(
                field,
                "a header value must be non-empty, without control characters",
            ));
        }
        match existing.and_then(|i| add.get_mut(i)) {
            Some(r) => {
                r.value.clone_from(value);
                if let Some(d) = documents_only {
                    r.documents_only = d;
                }
                if let Some(o) = overwrite {
                    r.overwrite = o;
                }
            }
            None => add.push(rule(
                &lower,
                value,
                documents_only,
                overwrite,
                default_overwrite,
            )),
        }
    }
    Ok(())
}

/// `text/html` and the like: lower-cased, no parameters.
#[inline]
fn compile_media_types(types: &[String], field: &str) -> Result<Vec<String>, ConfigError> {
    types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let lower = t.trim().to_ascii_lowercase();
            let valid = lower
                .split_once('/')
                .is_some_and(|(a, b)| is_valid_name(a) && is_valid_name(b));
            if valid && !lower.contains(':') {
                Ok(lower)
            } else {
                Err(ConfigError::at(
                    format!("{field}[{i}]"),
                    format!("`{t}` is not a media type like `text/html`"),
                ))
            }
        })
        .collect()
}

#[inline]
fn compile_request(layers: &[Layer<'_>]) -> Result<RequestPolicy, ConfigError> {
    let mut strip = NamePatterns::compile(DEFAULT_STRIP, "request.strip")?;
    let extra_strip = resolve(layers, |l| l.request.strip.as_deref());
    if let Some((extra, layer)) = extra_strip {
        let field = layer.field("request.strip");
        if let Some((i, name)) = extra
            .iter()
            .enumerate()
            .find(|(_, n)| PROTECTED.contains(&n.to_ascii_lowercase().as_str()))
        {
            return Err(ConfigError::at(
                format!("{field}[{i}]"),
                format!("Envoy needs `{name}` to route the request; it is never stripped"),
            ));
        }
        strip.extend(&NamePatterns::compile(extra, &field)?);
    }
    let keep = match resolve(layers, |l| l.request.keep.as_deref()) {
        Some((keep, layer)) => NamePatterns::compile(keep, &layer.field("request.keep"))?,
        None => NamePatterns::default(),
    };
    let strip_forwarded = resolve(layers, |l| l.request.strip_forwarded.as_ref());
    let trust_forwarded_proto = resolve(layers, |l| l.request.trust_forwarded_proto.as_ref());
    if let (Some((true, _)), Some((_, layer))) = (trust_forwarded_proto, extra_strip) {
        let selected = NameFilter {
            select: strip.clone(),
            keep: keep.clone(),
        };
        if selected.selects(FORWARDED_PROTO) {
            return Err(ConfigError::at(
                layer.field("request.strip"),
                "strips `x-forwarded-proto`, which `trust_forwarded_proto` trusts",
            ));
        }
    }
    if let (Some((true, strip_layer)), Some((true, trust_layer))) =
        (strip_forwarded, trust_forwarded_proto)
    {
        // Blame the route's setting when only one of the pair comes from the route.
        let (layer, field) = if strip_layer.path.is_empty() && !trust_layer.path.is_empty() {
            (trust_layer, "request.trust_forwarded_proto")
        } else {
            (strip_layer, "request.strip_forwarded")
        };
        return Err(ConfigError::at(
            layer.field(field),
            "`x-forwarded-proto` cannot be trusted and stripped as untrusted at once",
        ));
    }
    if let Some((true, _)) = strip_forwarded {
        strip.extend(&NamePatterns::compile(
            FORWARDED,
            "request.strip_forwarded",
        )?);
    }
    let limit = |get: fn(&RequestConfig) -> Option<&u32>, name: &str, default: u32| {
        match resolve(layers, |l| get(l.request)) {
            Some((0, layer)) => Err(ConfigError::at(
                layer.field(&format!("request.{name}")),
                "must be at least 1",
            )),
            Some((n, _)) => Ok(*n),
            None => Ok(default),
        }
        .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
    };
    let max_header_count = limit(
        |r| r.max_header_count.as_ref(),
        "max_header_count",
        DEFAULT_MAX_HEADER_COUNT,
    )?;
    let max_header_bytes = limit(
        |r| r.max_header_bytes.as_ref(),
        "max_header_bytes",
        DEFAULT_MAX_HEADER_BYTES,
    )?;
    let allowed_methods = match resolve(layers, |l| l.request.allowed_methods.as_deref()) {
        Some((methods, layer)) => {
            compile_methods(methods, &layer.field("request.allowed_methods"))?
        }
        None => Some(DEFAULT_METHODS.iter().map(|m| (*m).to_string()).collect()),
    };
    Ok(RequestPolicy {
        strip: NameFilter {
            select: strip,
            keep,
        },
        trust_forwarded_proto: trust_forwarded_proto.is_some_and(|(v, _)| *v),
        max_header_count,
        max_header_bytes,
        reject_control_characters: resolve(layers, |l| {
            l.request.reject_control_characters.as_ref()
        })
        .is_none_or(|(v, _)| *v),
        allowed_methods,
    })
}

/// Upper-cased methods, or `None` for `["*"]`.
#[inline]
fn compile_methods(methods: &[String], field: &str) -> Result<Option<Vec<String>>, ConfigError> {
    if methods.is_empty() {
        return Err(ConfigError::at(
            field,
            "an empty list would refuse every request; use [\"*\"] to allow every method",
        ));
    }
    if methods.iter().any(|m| m == "*") {
        return if methods.len() == 1 {
            Ok(None)
        } else {
            Err(ConfigError::at(
                field,
                "`*` allows every method; give it alone",
            ))
        };
    }
    let mut out = Vec::with_capacity(methods.len());
    for (i, m) in methods.iter().enumerate() {
        if !is_valid_name(m) || m.starts_with(':') {
            return Err(ConfigError::at(
                format!("{field}[{i}]"),
                format!("`{m}` is not an HTTP method"),
            ));
        }
        out.push(m.to_ascii_uppercase());
    }
    Ok(Some(out))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
