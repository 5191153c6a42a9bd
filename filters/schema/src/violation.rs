//! What is wrong with a request, and the one mapping from that to an answer (status and
//! problem+json body).

use crate::validator::{Failures, SchemaError};
use palisade_core::decision::Denial;
use palisade_core::problem::Problem;
use serde_json::{json, Map, Value};

/// Where in the request a violation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A path parameter.
    Path,
    /// A query parameter.
    Query,
    /// A header parameter.
    Header,
    /// A cookie parameter.
    Cookie,
    /// The request body.
    Body,
}

impl Location {
    /// The name OpenAPI gives it (`in: query`).
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Path => "path",
            Location::Query => "query",
            Location::Header => "header",
            Location::Cookie => "cookie",
            Location::Body => "body",
        }
    }
}

/// One thing wrong with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Which part of the request.
    pub location: Location,
    /// JSON pointer: into the body, or `/<name>` (and deeper) for a parameter.
    pub pointer: String,
    /// The failing keyword (`minimum`, `required`, `type`, ...).
    pub keyword: String,
    /// What is wrong, with schema details (shown only when `verbose`).
    pub detail: String,
    /// The schema keyword's location (shown only when `verbose`).
    pub schema_location: Option<String>,
}

impl Violation {
    /// A violation found outside the schema (a missing parameter, malformed JSON, ...).
    pub fn new(
        location: Location,
        pointer: String,
        keyword: &str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            location,
            pointer,
            keyword: keyword.to_string(),
            detail: detail.into(),
            schema_location: None,
        }
    }

    /// A schema failure of a value found at `prefix` (empty for the body, `/<name>` for a parameter).
    pub fn from_schema(location: Location, prefix: &str, error: SchemaError) -> Self {
        Self {
            location,
            pointer: format!("{prefix}{}", error.pointer),
            keyword: error.keyword,
            detail: error.detail,
            schema_location: Some(error.schema_location),
        }
    }

    /// The violation as listed in the problem body.
    pub fn to_json(&self, verbose: bool) -> Value {
        let mut v = Map::new();
        v.insert("in".into(), json!(self.location.as_str()));
        v.insert("pointer".into(), json!(self.pointer));
        v.insert("keyword".into(), json!(self.keyword));
        let message = if verbose {
            self.detail.as_str()
        } else {
            generic_message(&self.keyword)
        };
        v.insert("message".into(), json!(message));
        if verbose {
            if let Some(schema) = &self.schema_location {
                v.insert("schema".into(), json!(public_schema_location(schema)));
            }
        }
        Value::Object(v)
    }
}

/// The violations of one request: the first `cap` kept for the answer, all of them counted, so a
/// body with a million bad items costs a million counts, not a million formatted messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violations {
    kept: Vec<Violation>,
    total: usize,
    cap: usize,
    /// `total` is a lower bound (a huge body was searched only far enough to fill the cap).
    at_least: bool,
}

impl Default for Violations {
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

impl From<Vec<Violation>> for Violations {
    fn from(kept: Vec<Violation>) -> Self {
        Self {
            total: kept.len(),
            kept,
            cap: usize::MAX,
            at_least: false,
        }
    }
}

impl std::ops::Deref for Violations {
    type Target = [Violation];
    fn deref(&self) -> &[Violation] {
        &self.kept
    }
}

impl Violations {
    /// None yet; at most `cap` will be kept.
    pub fn new(cap: usize) -> Self {
        Self {
            kept: Vec::new(),
            total: 0,
            cap,
            at_least: false,
        }
    }

    /// Counts one violation, keeping it if there is room.
    pub fn push(&mut self, violation: Violation) {
        self.total = self.total.saturating_add(1);
        if self.kept.len() < self.cap {
            self.kept.push(violation);
        }
    }

    /// How many more would be kept.
    pub fn room(&self) -> usize {
        self.cap.saturating_sub(self.kept.len())
    }

    /// Adds schema failures of a value at `prefix`: those kept (at most [`Self::room`]) and the
    /// count of all of them.
    pub fn add_schema_errors(&mut self, location: Location, prefix: &str, failures: Failures) {
        let room = self.room();
        self.at_least |= failures.at_least;
        let total = failures.total;
        self.kept.extend(
            failures
                .kept
                .into_iter()
                .take(room)
                .map(|e| Violation::from_schema(location, prefix, e)),
        );
        self.total = self.total.saturating_add(total);
    }

    /// How many there are in all (kept or not).
    pub fn total(&self) -> usize {
        self.total
    }

    /// Whether [`Self::total`] is only a lower bound.
    pub fn total_is_lower_bound(&self) -> bool {
        self.at_least
    }

    /// Forgets them all.
    pub fn clear(&mut self) {
        self.kept.clear();
        self.total = 0;
        self.at_least = false;
    }

    /// The violations kept.
    pub fn into_vec(self) -> Vec<Violation> {
        self.kept
    }
}

/// The JSON pointer token for a parameter name (`/` and `~` escaped).
pub fn pointer_token(name: &str) -> String {
    format!("/{}", name.replace('~', "~0").replace('/', "~1"))
}

/// Internal base URLs (`urn:palisade:...`) mean nothing to a client; keep the fragment.
fn public_schema_location(location: &str) -> &str {
    if location.starts_with("urn:palisade:") {
        location
            .find('#')
            .and_then(|i| location.get(i..))
            .unwrap_or(location)
    } else {
        location
    }
}

/// A message that names the rule broken without the schema's values (patterns, limits, enums).
fn generic_message(keyword: &str) -> &'static str {
    match keyword {
        "type" => "has the wrong type",
        "required" => "lacks a required property",
        "additionalProperties" | "unevaluatedProperties" => "has a property that is not allowed",
        "enum" | "const" => "is not one of the allowed values",
        "pattern" => "does not match the expected pattern",
        "format" => "is not in the expected format",
        "minimum" | "exclusiveMinimum" => "is too small",
        "maximum" | "exclusiveMaximum" => "is too large",
        "multipleOf" => "is not a multiple of the expected step",
        "minLength" => "is too short",
        "maxLength" => "is too long",
        "minItems" | "minProperties" | "minContains" => "has too few elements",
        "maxItems" | "maxProperties" | "maxContains" => "has too many elements",
        "uniqueItems" => "has duplicate items",
        "oneOf" => "does not match exactly one of the alternatives",
        "anyOf" => "does not match any of the alternatives",
        "not" => "matches a form that is not allowed",
        "missing" => "is required but missing",
        "syntax" => "is not valid JSON",
        "maxDepth" => "is nested too deeply",
        "maxNumberLength" => "has a number that is too long",
        "duplicateKey" => "has a duplicate object key",
        "style" => "is not serialised as expected",
        _ => "is not valid",
    }
}

/// Why a request is refused (or, in report-only mode, would be).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No operation has this path.
    UnknownPath,
    /// The path has operations, none for this method.
    MethodNotAllowed {
        /// The methods the path has.
        allow: Vec<String>,
    },
    /// The body is (or says it is) larger than the limit.
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body's media type is not one the operation accepts.
    UnsupportedMediaType {
        /// The media types the operation accepts.
        accepted: Vec<String>,
    },
    /// Parameters or body break the schema.
    Invalid(Violations),
}

impl Rejection {
    /// A short label for logs and counters.
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::UnknownPath => "unknown_path",
            Rejection::MethodNotAllowed { .. } => "method_not_allowed",
            Rejection::BodyTooLarge { .. } => "body_too_large",
            Rejection::UnsupportedMediaType { .. } => "unsupported_media_type",
            Rejection::Invalid(v) if v.iter().any(|v| v.location == Location::Body) => {
                "invalid_body"
            }
            Rejection::Invalid(_) => "invalid_parameters",
        }
    }
}

/// How answers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerStyle {
    /// Include schema details (messages with values, schema locations, limits).
    pub verbose: bool,
    /// At most this many violations are listed.
    pub max_violations: usize,
}

/// The answer to a refused request.
pub fn denial(rejection: &Rejection, style: AnswerStyle, operation: Option<&str>) -> Denial {
    let mut problem = match rejection {
        Rejection::UnknownPath => Problem::new(404, "unknown-path", "Not Found")
            .with_detail("no operation of the API has this path"),
        Rejection::MethodNotAllowed { .. } => {
            Problem::new(405, "method-not-allowed", "Method Not Allowed")
                .with_detail("the path has no operation for this method")
        }
        Rejection::BodyTooLarge { limit } => {
            let p = Problem::new(413, "body-too-large", "Content Too Large")
                .with_detail("the request body is larger than allowed");
            if style.verbose {
                p.with("max_body_bytes", json!(limit))
            } else {
                p
            }
        }
        Rejection::UnsupportedMediaType { accepted } => {
            let p = Problem::new(415, "unsupported-media-type", "Unsupported Media Type")
                .with_detail("the operation does not accept a body of this content type");
            if style.verbose {
                p.with("accepted", json!(accepted))
            } else {
                p
            }
        }
        Rejection::Invalid(violations) => {
            let listed: Vec<Value> = violations
                .iter()
                .take(style.max_violations)
                .map(|v| v.to_json(style.verbose))
                .collect();
            let listed_len = listed.len();
            let total = violations.total().max(violations.len());
            let at_least = if violations.total_is_lower_bound() {
                "at least "
            } else {
                ""
            };
            let detail = match total {
                1 => format!("the request has {at_least}1 violation of the API schema"),
                n => format!("the request has {at_least}{n} violations of the API schema"),
            };
            let mut p = Problem::new(400, "invalid-request", "Bad Request")
                .with_detail(detail)
                .with("violations", Value::Array(listed));
            if total > listed_len || violations.total_is_lower_bound() {
                p = p.with("violations_total", json!(total));
            }
            if violations.total_is_lower_bound() {
                // The body was searched only far enough to fill the list: the count is a minimum.
                p = p.with("violations_total_is_minimum", json!(true));
            }
            p
        }
    };
    if style.verbose {
        if let Some(op) = operation {
            problem = problem.with("operation", json!(op));
        }
    }
    let denial = Denial::new(problem);
    match rejection {
        Rejection::MethodNotAllowed { allow } => denial.with_header("allow", allow.join(", ")),
        _ => denial,
    }
}

#[cfg(test)]
#[path = "violation_tests.rs"]
mod tests;
