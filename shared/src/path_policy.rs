//! `path_normalization`, the same field in every filter's config: what a filter does with a
//! request whose path is not canonical ([`crate::path`]).

use crate::decision::Denial;
use crate::path::{EncodedSlashes, PathFault, PathOptions, PathParameters};
use crate::problem::Problem;
use serde::Deserialize;

/// The problem type of a refused path.
pub const PROBLEM_SLUG: &str = "non-canonical-path";

/// What happens to a path that is not in canonical form.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum PathAction {
    /// Answer 400 `non-canonical-path`: only canonical paths reach the upstream.
    #[default]
    Reject,
    /// Replace `:path` with the canonical path (query as received) before any rule runs, so the
    /// upstream receives exactly the path the rules matched. Unsafe paths are still refused.
    Rewrite,
}

/// `path_normalization` as written; every field has a safe default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
pub struct PathNormalization {
    /// `reject` (default: 400 for a path not in canonical form) or `rewrite` (`:path` replaced by its canonical form).
    pub action: PathAction,
    /// Rules and keys compare paths ignoring ASCII case, for upstreams that resolve them so
    /// (IIS, Windows or macOS file systems); the upstream still gets the path's own case.
    pub case_insensitive: bool,
    /// `;` parameters in a segment: `strip` (default, as Tomcat/Spring do) or `keep` (data).
    pub path_parameters: PathParameters,
    /// `%2F` and `%5C`: `reject` (default, 400 in either action) or `keep` (data inside a segment).
    pub encoded_slashes: EncodedSlashes,
}

impl PathNormalization {
    /// The canonicalizer's options.
    pub fn options(&self) -> PathOptions {
        PathOptions {
            path_parameters: self.path_parameters,
            encoded_slashes: self.encoded_slashes,
        }
    }
}

/// Why a request's path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathRefusal {
    /// It can never be made canonical safely (refused in either action).
    Unsafe(PathFault),
    /// It is not canonical and the action is `reject`.
    NotCanonical {
        /// The path the request should have used.
        canonical: String,
    },
}

impl PathRefusal {
    /// What is wrong, for a log line.
    pub fn describe(&self) -> String {
        match self {
            PathRefusal::Unsafe(fault) => fault.describe().to_string(),
            PathRefusal::NotCanonical { canonical } => {
                format!("the path is not in canonical form ({canonical:?})")
            }
        }
    }

    /// The 400 problem+json answer.
    pub fn to_denial(&self) -> Denial {
        let problem = Problem::new(400, PROBLEM_SLUG, "Non-Canonical Path");
        let problem = match self {
            PathRefusal::Unsafe(fault) => problem.with_detail(fault.describe()),
            PathRefusal::NotCanonical { canonical } => problem
                .with_detail("the path is not in canonical form; send the canonical path")
                .with("canonical_path", canonical.clone().into()),
        };
        Denial::new(problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn defaults_are_the_safe_ones() {
        let n: PathNormalization = parse(b"{}").unwrap();
        assert_eq!(n.action, PathAction::Reject);
        assert!(!n.case_insensitive);
        assert_eq!(n.path_parameters, PathParameters::Strip);
        assert_eq!(n.encoded_slashes, EncodedSlashes::Reject);
        let n: PathNormalization = parse(
            br#"{"action":"rewrite","case_insensitive":true,"path_parameters":"keep","encoded_slashes":"keep"}"#,
        )
        .unwrap();
        assert_eq!(n.action, PathAction::Rewrite);
        assert_eq!(n.options().encoded_slashes, EncodedSlashes::Keep);
        let err = parse::<PathNormalization>(br#"{"action":"fix"}"#).unwrap_err();
        assert_eq!(err.path, "action");
    }

    #[test]
    #[wasm_bindgen_test]
    fn refusals_are_400_non_canonical_path() {
        let d = PathRefusal::Unsafe(PathFault::EncodedSlash).to_denial();
        assert_eq!(d.status, 400);
        assert_eq!(
            d.problem.type_uri,
            "https://palisade.dev/problems/non-canonical-path"
        );
        let d = PathRefusal::NotCanonical {
            canonical: "/api/admin".into(),
        }
        .to_denial();
        assert_eq!(d.problem.extensions["canonical_path"], "/api/admin");
    }
}
