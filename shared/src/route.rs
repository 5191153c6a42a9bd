//! Route matching, so every filter can carry per-route rules in its own config
//! (Envoy has no per-route Wasm config).
//!
//! Config shape, like Envoy's route `match`: one of `prefix` / `path` / `regex` (none: every path),
//! plus optional `methods`, `hosts` (`*.example.com` allowed) and `headers`.

use crate::config::ConfigError;
use regex_lite::Regex;
use serde::Deserialize;

/// A route match as written in config.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteMatch {
    /// Path prefix (`/api/`).
    #[serde(default)]
    pub prefix: Option<String>,
    /// Exact path.
    #[serde(default)]
    pub path: Option<String>,
    /// Regular expression the whole path must match (anchored).
    #[serde(default)]
    pub regex: Option<String>,
    /// Allowed methods (any when empty).
    #[serde(default)]
    pub methods: Vec<String>,
    /// Allowed hosts, port ignored, `*.example.com` for subdomains (any when empty).
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

/// The parts of a request that routes match on.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// `:method`.
    pub method: &'a str,
    /// `:path` with its query string.
    pub path: &'a str,
    /// `:authority` (or `host`).
    pub authority: &'a str,
    /// All request headers, names lower-case.
    pub headers: &'a [(String, String)],
}

impl<'a> RequestInfo<'a> {
    /// Reads the pseudo-headers out of a header list (as Envoy hands them to Wasm).
    pub fn from_headers(headers: &'a [(String, String)]) -> Self {
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map_or("", |(_, v)| v.as_str())
        };
        let authority = match get(":authority") {
            "" => get("host"),
            a => a,
        };
        Self {
            method: get(":method"),
            path: get(":path"),
            authority,
            headers,
        }
    }

    /// The path without query string or fragment.
    pub fn path_only(&self) -> &'a str {
        path_without_query(self.path)
    }

    /// The host without port, as written.
    pub fn host(&self) -> &'a str {
        host_without_port(self.authority)
    }

    /// First value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `/a/b?x=1#f` → `/a/b`.
pub fn path_without_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

fn host_without_port(authority: &str) -> &str {
    if authority.starts_with('[') {
        // IPv6 literal: `[::1]:8080`.
        return authority
            .find(']')
            .and_then(|i| authority.get(..=i))
            .unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

#[derive(Debug, Clone)]
enum PathMatch {
    Any,
    Prefix(String),
    Exact(String),
    Regex(Regex),
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
        let given = [m.prefix.is_some(), m.path.is_some(), m.regex.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            return Err(ConfigError::at(
                "prefix",
                "give at most one of `prefix`, `path`, `regex`",
            ));
        }
        let path = if let Some(p) = &m.prefix {
            check_path("prefix", p)?;
            PathMatch::Prefix(p.clone())
        } else if let Some(p) = &m.path {
            check_path("path", p)?;
            PathMatch::Exact(p.clone())
        } else if let Some(r) = &m.regex {
            let anchored = format!("^(?:{r})$");
            PathMatch::Regex(
                Regex::new(&anchored)
                    .map_err(|e| ConfigError::at("regex", format!("invalid regex: {e}")))?,
            )
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

    /// Whether the request matches.
    pub fn matches(&self, req: &RequestInfo<'_>) -> bool {
        let path = req.path_only();
        let path_ok = match &self.path {
            PathMatch::Any => true,
            PathMatch::Prefix(p) => path.starts_with(p.as_str()),
            PathMatch::Exact(p) => path == p,
            PathMatch::Regex(r) => r.is_match(path),
        };
        if !path_ok {
            return false;
        }
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == req.method) {
            return false;
        }
        if !self.hosts.is_empty() {
            let host = req.host().to_ascii_lowercase();
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

fn check_path(field: &str, p: &str) -> Result<(), ConfigError> {
    if p.starts_with('/') {
        Ok(())
    } else {
        Err(ConfigError::at(field, format!("`{p}` must start with `/`")))
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

    #[test]
    #[wasm_bindgen_test]
    fn host_without_port_handles_ipv6() {
        assert_eq!(host_without_port("[::1]:8080"), "[::1]");
        assert_eq!(host_without_port("example.com:80"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
    }
}
