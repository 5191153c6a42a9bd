//! The canonical view of a request, read once per request and used by every rule, key and log
//! line: method, canonical path (plus the query as received), normalized host, headers.

use crate::host::{HeaderMap, Host};
use crate::path::canonicalize;
use crate::path_policy::{PathAction, PathNormalization, PathRefusal};
use std::borrow::Cow;

/// The parts of a request that rules and keys look at, with its path in canonical form.
#[derive(Debug, Clone)]
pub struct RequestInfo<'a> {
    /// `:method`.
    pub method: &'a str,
    /// The canonical path followed by the query as received (`/a/b?x=1`).
    pub path: Cow<'a, str>,
    /// `:authority` (or `host`) as received.
    pub authority: &'a str,
    /// All request headers, names lower-case.
    pub headers: &'a [(String, String)],
    /// `:path` as received.
    raw_path: &'a str,
    /// Where the path part of [`Self::path`] ends.
    path_end: usize,
    case_insensitive: bool,
    rewrite: bool,
}

impl<'a> RequestInfo<'a> {
    /// The canonical view of a request under a `path_normalization` policy; `Err` when its path
    /// is refused (unsafe, or not canonical under `reject`).
    pub fn read(
        headers: &'a [(String, String)],
        policy: &PathNormalization,
    ) -> Result<Self, PathRefusal> {
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
        let raw_path = get(":path");
        let (raw_only, query) = match raw_path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (raw_path, None),
        };
        if query.is_some_and(|q| q.contains('#')) {
            return Err(PathRefusal::Unsafe(crate::path::PathFault::Fragment));
        }
        let canonical = canonicalize(raw_only, policy.options()).map_err(PathRefusal::Unsafe)?;
        let changed = matches!(canonical, Cow::Owned(_));
        if changed && policy.action == PathAction::Reject {
            return Err(PathRefusal::NotCanonical {
                canonical: canonical.into_owned(),
            });
        }
        let path_end = canonical.len();
        let path = match (canonical, query) {
            (Cow::Borrowed(_), _) => Cow::Borrowed(raw_path),
            (Cow::Owned(mut p), Some(q)) => {
                p.push('?');
                p.push_str(q);
                Cow::Owned(p)
            }
            (Cow::Owned(p), None) => Cow::Owned(p),
        };
        Ok(Self {
            method: get(":method"),
            path,
            authority,
            headers,
            raw_path,
            path_end,
            case_insensitive: policy.case_insensitive,
            rewrite: changed,
        })
    }

    /// The view under the default policy, for tests.
    #[cfg(any(test, feature = "testing"))]
    #[allow(clippy::panic)] // A test whose request is refused must fail loudly.
    pub fn from_headers(headers: &'a [(String, String)]) -> Self {
        match Self::read(headers, &PathNormalization::default()) {
            Ok(info) => info,
            Err(refusal) => panic!("path refused: {}", refusal.describe()),
        }
    }

    /// The canonical path, without query.
    pub fn path_only(&self) -> &str {
        self.path.get(..self.path_end).unwrap_or(&self.path)
    }

    /// The query as received, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.get(self.path_end..)?.strip_prefix('?')
    }

    /// The canonical path as rules and keys compare it: lower-cased when matching ignores case.
    pub fn key_path(&self) -> Cow<'_, str> {
        if self.case_insensitive {
            Cow::Owned(self.path_only().to_ascii_lowercase())
        } else {
            Cow::Borrowed(self.path_only())
        }
    }

    /// Whether paths compare ignoring ASCII case.
    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// `:path` as received.
    pub fn raw_path(&self) -> &'a str {
        self.raw_path
    }

    /// The new `:path` when the policy rewrites and the received one was not canonical.
    pub fn rewritten_path(&self) -> Option<&str> {
        self.rewrite.then_some(self.path.as_ref())
    }

    /// The host, lower-case, without port or trailing dot.
    pub fn host(&self) -> Cow<'a, str> {
        normalize_host(self.authority)
    }

    /// First value of a header (name lower-case).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads the canonical view of the request for a filter: under `rewrite`, sets `:path` to the
/// canonical form first; `Err` is the refusal (its [`PathRefusal::to_denial`] is the 400 answer).
/// Logs refusals and rewrites.
pub fn canonical_request<'a>(
    host: &dyn Host,
    context_id: u32,
    headers: &'a [(String, String)],
    policy: &PathNormalization,
) -> Result<RequestInfo<'a>, PathRefusal> {
    match RequestInfo::read(headers, policy) {
        Ok(info) => {
            if let Some(path) = info.rewritten_path() {
                log::debug!(
                    "#{context_id} path {:?} rewritten to {path:?}",
                    info.raw_path()
                );
                host.set_header(HeaderMap::Request, ":path", Some(path));
            }
            Ok(info)
        }
        Err(refusal) => {
            let raw = headers
                .iter()
                .find(|(n, _)| n == ":path")
                .map_or("", |(_, v)| v.as_str());
            log::debug!("#{context_id} path {raw:?} refused: {}", refusal.describe());
            Err(refusal)
        }
    }
}

/// `Example.COM.:443` → `example.com`; IPv6 literals keep their brackets.
pub fn normalize_host(authority: &str) -> Cow<'_, str> {
    let host = if authority.starts_with('[') {
        authority
            .find(']')
            .and_then(|i| authority.get(..=i))
            .unwrap_or(authority)
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
