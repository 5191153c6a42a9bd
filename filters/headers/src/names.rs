//! Header-name lists from config: exact names and `prefix*` patterns, matched case-insensitively.

use palisade_core::config::ConfigError;
use palisade_core::headers::{is_valid_name, name_matches};
use std::collections::HashSet;

/// A compiled list of header names and `prefix*` patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NamePatterns {
    exact: HashSet<String>,
    /// Patterns as written (`x-envoy-*`), lower-case.
    prefixes: Vec<String>,
}

impl NamePatterns {
    /// Compiles `entries`; an error names the failing entry as `field[i]`.
    pub fn compile<S: AsRef<str>>(entries: &[S], field: &str) -> Result<Self, ConfigError> {
        let mut patterns = Self::default();
        for (i, entry) in entries.iter().enumerate() {
            patterns
                .insert(entry.as_ref())
                .map_err(|reason| ConfigError::at(format!("{field}[{i}]"), reason))?;
        }
        Ok(patterns)
    }

    /// Adds one name or pattern.
    #[inline]
    fn insert(&mut self, entry: &str) -> Result<(), String> {
        let lower = entry.to_ascii_lowercase();
        match lower.strip_suffix('*') {
            Some(prefix) => {
                // `*` alone would take pseudo-headers and `content-type` with it.
                if prefix.is_empty() || !is_plain_name(prefix) {
                    return Err(format!(
                        "`{entry}` is not a header name or a `prefix*` pattern"
                    ));
                }
                self.prefixes.push(lower);
            }
            None => {
                if !is_plain_name(&lower) {
                    return Err(format!("`{entry}` is not a header name"));
                }
                self.exact.insert(lower);
            }
        }
        Ok(())
    }

    /// Adds every entry of another list.
    pub fn extend(&mut self, other: &NamePatterns) {
        self.exact.extend(other.exact.iter().cloned());
        self.prefixes.extend(other.prefixes.iter().cloned());
    }

    /// Whether `name` (any case) is listed or matches a pattern.
    pub fn matches(&self, name: &str) -> bool {
        // Envoy hands names over lower-case; only other callers pay for lower-casing.
        let exact = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.exact.contains(&name.to_ascii_lowercase())
        } else {
            self.exact.contains(name)
        };
        if exact {
            return true;
        }
        self.prefixes.iter().any(|p| name_matches(p, name))
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty()
    }
}

/// A regular header name: a token, not a pseudo-header, no `*` (reserved for patterns).
fn is_plain_name(name: &str) -> bool {
    is_valid_name(name) && !name.starts_with(':') && !name.contains('*')
}

/// Names that a deny-list selects, minus the ones an allow-list keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameFilter {
    /// Selected names.
    pub select: NamePatterns,
    /// Exceptions.
    pub keep: NamePatterns,
}

impl NameFilter {
    /// Whether `name` is selected and not kept. Pseudo-headers are never selected.
    pub fn selects(&self, name: &str) -> bool {
        !name.starts_with(':') && self.select.matches(name) && !self.keep.matches(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_names_and_prefixes_match_any_case() {
        let p = NamePatterns::compile(&["Server", "x-envoy-*"], "remove").unwrap();
        assert!(p.matches("server"));
        assert!(p.matches("SERVER"));
        assert!(p.matches("X-Envoy-Upstream-Service-Time"));
        assert!(!p.matches("x-envoy"));
        assert!(!p.matches("servers"));
        assert!(!p.is_empty());
        assert!(NamePatterns::default().is_empty());
    }

    #[test]
    fn bad_entries_name_their_index() {
        let err = NamePatterns::compile(&["ok", "*"], "request.strip").unwrap_err();
        assert_eq!(err.path, "request.strip[1]");
        let err = NamePatterns::compile(&["bad name"], "response.keep").unwrap_err();
        assert_eq!(err.path, "response.keep[0]");
        assert!(err.reason.contains("bad name"), "{}", err.reason);
        assert!(NamePatterns::compile(&[":path"], "x").is_err());
        assert!(NamePatterns::compile(&[":*"], "x").is_err());
        assert!(NamePatterns::compile(&["x-a*b*"], "x").is_err());
    }

    #[test]
    fn filter_keeps_exceptions_and_never_pseudo_headers() {
        let f = NameFilter {
            select: NamePatterns::compile(&["x-envoy-*"], "s").unwrap(),
            keep: NamePatterns::compile(&["x-envoy-force-trace"], "k").unwrap(),
        };
        assert!(f.selects("x-envoy-internal"));
        assert!(!f.selects("x-envoy-force-trace"));
        assert!(!f.selects("x-request-id"));
        let all = NameFilter {
            select: NamePatterns::compile(&["x-*"], "s").unwrap(),
            keep: NamePatterns::default(),
        };
        assert!(!all.selects(":x-path"));
    }
}
