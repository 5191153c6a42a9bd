//! Route matching, so every filter can carry per-route rules in its own config
//! (Envoy has no per-route Wasm config).
//!
//! Config shape, like Envoy's route `match`: one of `prefix` / `path_separated_prefix` / `path` /
//! `regex` (none: every path), plus optional `methods`, `hosts` (`*.example.com` allowed) and
//! `headers`. Paths are matched in their canonical form ([`crate::path`]), never as received.

use crate::config::ConfigError;
use crate::path::{canonicalize, EncodedSlashes, PathOptions, PathParameters};
use regex_lite::Regex;
use serde::Deserialize;
use std::borrow::Cow;

pub use crate::request::RequestInfo;

/// A route match as written in config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// Path prefix, character by character (`/api/`; `/admin` also matches `/administrator`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Path prefix on segment boundaries, as Envoy's: `/admin` matches `/admin`, `/admin/` and
    /// `/admin/x`, never `/administrator`. No trailing `/`.
    #[serde(default)]
    pub path_separated_prefix: Option<String>,
    /// Exact path.
    #[serde(default)]
    pub path: Option<String>,
    /// Regular expression the whole canonical path must match (anchored).
    #[serde(default)]
    pub regex: Option<String>,
    /// Allowed methods (any when empty); `GET` also allows `HEAD`.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed hosts, compared lower-case without port or trailing dot, `*.example.com` for
    /// subdomains (any when empty).
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Header conditions, all of which must hold.
    #[serde(default)]
    pub headers: Vec<HeaderMatch>,
}

/// A header condition.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct HeaderMatch {
    /// Header name (case-insensitive).
    pub name: String,
    /// The value must equal this.
    #[serde(default)]
    pub exact: Option<String>,
    /// `true`: the header must be present; `false`: it must be absent.
    #[serde(default)]
    pub present: Option<bool>,
}

/// `/a/b?x=1#f` → `/a/b`.
pub fn path_without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

#[derive(Debug, Clone)]
enum PathMatch {
    Any,
    Prefix(String),
    SeparatedPrefix(String),
    Exact(String),
    /// The regex, and the same ignoring case.
    Regex(Box<(Regex, Regex)>),
}

#[derive(Debug, Clone)]
enum HostMatch {
    Exact(String),
    Suffix(String),
}

#[derive(Debug, Clone)]
struct CompiledHeader {
    name: String,
    exact: Option<String>,
    present: Option<bool>,
}

/// A compiled [`RouteMatch`].
#[derive(Debug, Clone)]
pub struct RouteMatcher {
    path: PathMatch,
    methods: Vec<String>,
    hosts: Vec<HostMatch>,
    headers: Vec<CompiledHeader>,
}

impl RouteMatcher {
    /// Matches every request.
    pub fn any() -> Self {
        Self {
            path: PathMatch::Any,
            methods: Vec::new(),
            hosts: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Compiles a route match; errors name the field relative to the match.
    pub fn compile(m: &RouteMatch) -> Result<Self, ConfigError> {
        let given = [
            m.prefix.is_some(),
            m.path_separated_prefix.is_some(),
            m.path.is_some(),
            m.regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given > 1 {
            return Err(ConfigError::at(
                "prefix",
                "give at most one of `prefix`, `path_separated_prefix`, `path`, `regex`",
            ));
        }
        let path = if let Some(p) = &m.prefix {
            check_path("prefix", p)?;
            PathMatch::Prefix(p.clone())
        } else if let Some(p) = &m.path_separated_prefix {
            check_path("path_separated_prefix", p)?;
            if p.len() > 1 && p.ends_with('/') {
                return Err(ConfigError::at(
                    "path_separated_prefix",
                    format!("`{p}` must not end with `/`"),
                ));
            }
            PathMatch::SeparatedPrefix(p.trim_end_matches('/').to_string())
        } else if let Some(p) = &m.path {
            check_path("path", p)?;
            PathMatch::Exact(p.clone())
        } else if let Some(r) = &m.regex {
            let compile = |flags: &str| {
                Regex::new(&format!("^{flags}(?:{r})$"))
                    .map_err(|e| ConfigError::at("regex", format!("invalid regex: {e}")))
            };
            PathMatch::Regex(Box::new((compile("")?, compile("(?i)")?)))
        } else {
            PathMatch::Any
        };
        let mut methods = Vec::with_capacity(m.methods.len());
        for (i, method) in m.methods.iter().enumerate() {
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
                return Err(ConfigError::at(
                    format!("methods[{i}]"),
                    format!("`{method}` is not an HTTP method"),
                ));
            }
            methods.push(method.to_ascii_uppercase());
        }
        let mut hosts = Vec::with_capacity(m.hosts.len());
        for (i, host) in m.hosts.iter().enumerate() {
            let host = host.to_ascii_lowercase();
            let host = host.strip_suffix('.').unwrap_or(&host).to_string();
            if let Some(rest) = host.strip_prefix("*.") {
                hosts.push(HostMatch::Suffix(format!(".{rest}")));
            } else if host.is_empty() || host.contains('*') {
                return Err(ConfigError::at(
                    format!("hosts[{i}]"),
                    "a host is a name or `*.` followed by a name",
                ));
            } else {
                hosts.push(HostMatch::Exact(host));
            }
        }
        let mut headers = Vec::with_capacity(m.headers.len());
        for (i, h) in m.headers.iter().enumerate() {
            if h.name.is_empty() {
                return Err(ConfigError::at(
                    format!("headers[{i}].name"),
                    "empty header name",
                ));
            }
            if h.exact.is_some() && h.present == Some(false) {
                return Err(ConfigError::at(
                    format!("headers[{i}]"),
                    "`exact` with `present: false` can never match",
                ));
            }
            headers.push(CompiledHeader {
                name: h.name.to_ascii_lowercase(),
                exact: h.exact.clone(),
                present: h.present,
            });
        }
        Ok(Self {
            path,
            methods,
            hosts,
            headers,
        })
    }

    /// Whether the request matches (its canonical path, see [`RequestInfo`]).
    pub fn matches(&self, req: &RequestInfo<'_>) -> bool {
        let path = req.path_only();
        let fold = req.case_insensitive();
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Prefix(p) => starts_with(path, p, fold),
            PathMatch::SeparatedPrefix(p) => {
                starts_with(path, p, fold)
                    && matches!(path.as_bytes().get(p.len()), None | Some(b'/'))
            }
            PathMatch::Exact(p) => path.len() == p.len() && starts_with(path, p, fold),
            PathMatch::Regex(r) => {
                if fold {
                    r.1.is_match(path)
                } else {
                    r.0.is_match(path)
                }
            }
        };
        if !path_ok {
            return false;
        }
        if !self.methods.is_empty()
            && !self
                .methods
                .iter()
                .any(|m| m == req.method || (m == "GET" && req.method == "HEAD"))
        {
            return false;
        }
        if !self.hosts.is_empty() {
            let host = req.host();
            let host_ok = self.hosts.iter().any(|h| match h {
                HostMatch::Exact(e) => *e == host,
                HostMatch::Suffix(s) => host.ends_with(s.as_str()) && host.len() > s.len(),
            });
            if !host_ok {
                return false;
            }
        }
        self.headers.iter().all(|h| {
            let value = req.header(&h.name);
            match (&h.exact, h.present) {
                (Some(exact), _) => value == Some(exact.as_str()),
                (None, Some(present)) => value.is_some() == present,
                (None, None) => value.is_some(),
            }
        })
    }
}

/// `path` starts with `prefix`, ignoring ASCII case when `fold`.
fn starts_with(path: &str, prefix: &str, fold: bool) -> bool {
    match path.as_bytes().get(..prefix.len()) {
        Some(head) if fold => head.eq_ignore_ascii_case(prefix.as_bytes()),
        Some(head) => head == prefix.as_bytes(),
        None => false,
    }
}

/// A rule's path must be canonical, or it could never match a request's.
fn check_path(field: &str, p: &str) -> Result<(), ConfigError> {
    if !p.starts_with('/') {
        return Err(ConfigError::at(field, format!("`{p}` must start with `/`")));
    }
    // The most permissive options: a rule may name `;` or `%2F` for filters that keep them.
    let lenient = PathOptions {
        path_parameters: PathParameters::Keep,
        encoded_slashes: EncodedSlashes::Keep,
    };
    match canonicalize(p, lenient) {
        Ok(Cow::Borrowed(_)) => Ok(()),
        Ok(Cow::Owned(c)) => Err(ConfigError::at(
            field,
            format!("`{p}` is not a canonical path (requests are matched as `{c}`)"),
        )),
        Err(fault) => Err(ConfigError::at(
            field,
            format!("`{p}` can never match: {}", fault.describe()),
        )),
    }
}

/// A value that applies to the requests its matcher matches.
#[derive(Debug, Clone)]
pub struct Routed<T> {
    /// When it applies.
    pub matcher: RouteMatcher,
    /// What applies.
    pub value: T,
}

/// The first rule whose matcher matches the request.
pub fn first_match<'r, T>(rules: &'r [Routed<T>], req: &RequestInfo<'_>) -> Option<&'r Routed<T>> {
    rules.iter().find(|r| r.matcher.matches(req))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn headers(method: &str, path: &str, host: &str) -> Vec<(String, String)> {
        vec![
            (":method".into(), method.into()),
            (":path".into(), path.into()),
            (":authority".into(), host.into()),
            ("x-tenant".into(), "acme".into()),
        ]
    }

    fn matcher(json: &str) -> RouteMatcher {
        RouteMatcher::compile(&parse::<RouteMatch>(json.as_bytes()).unwrap()).unwrap()
    }

    fn hits(m: &RouteMatcher, method: &str, path: &str, host: &str) -> bool {
        let h = headers(method, path, host);
        m.matches(&RequestInfo::from_headers(&h))
    }

    #[test]
    #[wasm_bindgen_test]
    fn prefix_exact_and_regex_match_the_path_without_query() {
        let m = matcher(r#"{"prefix":"/api/"}"#);
        assert!(hits(&m, "GET", "/api/users?x=1", "a"));
        assert!(!hits(&m, "GET", "/apix", "a"));
        let m = matcher(r#"{"path":"/login"}"#);
        assert!(hits(&m, "POST", "/login?next=/", "a"));
        assert!(!hits(&m, "POST", "/login/", "a"));
        let m = matcher(r#"{"regex":"/users/[0-9]+"}"#);
        assert!(hits(&m, "GET", "/users/42", "a"));
        assert!(!hits(&m, "GET", "/users/42/x", "a"), "regex is anchored");
    }

    #[test]
    #[wasm_bindgen_test]
    fn methods_hosts_and_headers_narrow_the_match() {
        let m = matcher(
            r#"{"methods":["get","POST"],"hosts":["*.example.com","api.test"],"headers":[{"name":"X-Tenant","exact":"acme"}]}"#,
        );
        assert!(hits(&m, "GET", "/", "www.example.com:8443"));
        assert!(hits(&m, "POST", "/", "API.test"));
        assert!(!hits(&m, "DELETE", "/", "api.test"));
        assert!(
            !hits(&m, "GET", "/", "example.com"),
            "wildcard needs a subdomain"
        );
        assert!(!hits(&m, "GET", "/", "evil-example.com"));
        let m = matcher(r#"{"headers":[{"name":"x-tenant","present":false}]}"#);
        assert!(!hits(&m, "GET", "/", "a"));
    }

    #[test]
    #[wasm_bindgen_test]
    fn bad_matches_are_refused_with_the_field() {
        let bad = |json: &str| {
            RouteMatcher::compile(&parse::<RouteMatch>(json.as_bytes()).unwrap()).unwrap_err()
        };
        assert_eq!(bad(r#"{"prefix":"/a","path":"/b"}"#).path, "prefix");
        assert_eq!(bad(r#"{"prefix":"api"}"#).path, "prefix");
        assert_eq!(bad(r#"{"regex":"("}"#).path, "regex");
        assert_eq!(bad(r#"{"methods":["GET","G T"]}"#).path, "methods[1]");
        assert_eq!(bad(r#"{"hosts":["a.*.com"]}"#).path, "hosts[0]");
    }

    #[test]
    #[wasm_bindgen_test]
    fn first_match_takes_rules_in_order() {
        let rules = vec![
            Routed {
                matcher: matcher(r#"{"prefix":"/admin"}"#),
                value: "admin",
            },
            Routed {
                matcher: RouteMatcher::any(),
                value: "default",
            },
        ];
        let h = headers("GET", "/admin/x", "a");
        assert_eq!(
            first_match(&rules, &RequestInfo::from_headers(&h))
                .unwrap()
                .value,
            "admin"
        );
        let h = headers("GET", "/other", "a");
        assert_eq!(
            first_match(&rules, &RequestInfo::from_headers(&h))
                .unwrap()
                .value,
            "default"
        );
    }

    fn read<'h>(h: &'h [(String, String)], case_insensitive: bool) -> RequestInfo<'h> {
        let policy = crate::path_policy::PathNormalization {
            action: crate::path_policy::PathAction::Rewrite,
            case_insensitive,
            ..Default::default()
        };
        RequestInfo::read(h, &policy).unwrap()
    }

    fn hits_canonical(m: &RouteMatcher, path: &str, case_insensitive: bool) -> bool {
        let h = headers("GET", path, "a");
        m.matches(&read(&h, case_insensitive))
    }

    #[test]
    #[wasm_bindgen_test]
    fn rules_match_the_canonical_path() {
        let m = matcher(r#"{"path_separated_prefix":"/api/admin"}"#);
        for path in [
            "/api/admin",
            "//api/admin",
            "/api/%61dmin",
            "/api/./admin/x",
            "/api/x/../admin",
            "/api/admin;x/secret",
            "/api;x/admin",
            "/api/x/..;/admin",
            "/api/admin/",
            "/api/%2e%2e/api/admin",
        ] {
            assert!(hits_canonical(&m, path, false), "{path}");
        }
        for path in [
            "/api/administrator",
            "/api/admin.",
            "/api/Admin",
            "/api/adminx/y",
        ] {
            assert!(!hits_canonical(&m, path, false), "{path}");
        }
    }

    #[test]
    #[wasm_bindgen_test]
    fn separated_prefix_stops_at_segment_boundaries() {
        let m = matcher(r#"{"path_separated_prefix":"/admin"}"#);
        assert!(hits(&m, "GET", "/admin", "a"));
        assert!(hits(&m, "GET", "/admin/", "a"));
        assert!(hits(&m, "GET", "/admin/x?y", "a"));
        assert!(!hits(&m, "GET", "/administrator", "a"));
        let m = matcher(r#"{"prefix":"/admin"}"#);
        assert!(
            hits(&m, "GET", "/administrator", "a"),
            "`prefix` is by character"
        );
        let m = matcher(r#"{"path_separated_prefix":"/"}"#);
        assert!(hits(&m, "GET", "/anything", "a"));
    }

    #[test]
    #[wasm_bindgen_test]
    fn case_insensitive_matching_folds_every_path_kind() {
        for json in [
            r#"{"prefix":"/api/admin"}"#,
            r#"{"path_separated_prefix":"/api/admin"}"#,
            r#"{"path":"/api/admin"}"#,
            r#"{"regex":"/api/admin"}"#,
        ] {
            let m = matcher(json);
            assert!(hits_canonical(&m, "/API/Admin", true), "{json}");
            assert!(!hits_canonical(&m, "/API/Admin", false), "{json}");
            assert!(hits_canonical(&m, "/api/admin", false), "{json}");
        }
    }

    #[test]
    #[wasm_bindgen_test]
    fn get_rules_match_head() {
        let m = matcher(r#"{"methods":["GET"]}"#);
        assert!(hits(&m, "HEAD", "/", "a"));
        let m = matcher(r#"{"methods":["POST"]}"#);
        assert!(!hits(&m, "HEAD", "/", "a"));
        let m = matcher(r#"{"methods":["HEAD"]}"#);
        assert!(!hits(&m, "GET", "/", "a"), "HEAD rules do not match GET");
    }

    #[test]
    #[wasm_bindgen_test]
    fn hosts_ignore_case_port_and_trailing_dot() {
        let m = matcher(r#"{"hosts":["API.example.com.","*.example.org"]}"#);
        assert!(hits(&m, "GET", "/", "api.example.com"));
        assert!(hits(&m, "GET", "/", "Api.Example.Com.:443"));
        assert!(hits(&m, "GET", "/", "www.example.org."));
        assert!(!hits(&m, "GET", "/", "example.org."));
    }

    #[test]
    #[wasm_bindgen_test]
    fn rule_paths_must_be_canonical() {
        let bad = |json: &str| {
            RouteMatcher::compile(&parse::<RouteMatch>(json.as_bytes()).unwrap()).unwrap_err()
        };
        let e = bad(r#"{"prefix":"/api//admin"}"#);
        assert_eq!(e.path, "prefix");
        assert!(e.reason.contains("`/api/admin`"), "{}", e.reason);
        assert_eq!(bad(r#"{"path":"/api/%61dmin"}"#).path, "path");
        assert_eq!(bad(r#"{"path":"/a\\b"}"#).path, "path");
        assert_eq!(
            bad(r#"{"path_separated_prefix":"/admin/"}"#).path,
            "path_separated_prefix"
        );
        assert_eq!(
            bad(r#"{"prefix":"/a","path_separated_prefix":"/b"}"#).path,
            "prefix"
        );
        assert!(RouteMatcher::compile(
            &parse::<RouteMatch>(br#"{"path":"/repos/a%2Fb;v=1"}"#).unwrap()
        )
        .is_ok());
    }
}
