//! Request side: refuse malformed requests, strip headers a client must not set, and decide
//! whether the request arrived over HTTPS (for HSTS).

use crate::policy::RequestPolicy;
use palisade_core::decision::Denial;
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::problem::Problem;
use serde_json::Value;

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// More header fields than `max_header_count` (431).
    TooManyHeaders {
        /// Fields the request carried.
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// More header bytes than `max_header_bytes` (431).
    HeadersTooLarge {
        /// Bytes of names and values.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A header name that is not an RFC 9110 token (400).
    InvalidHeaderName,
    /// A header value with a control character (400).
    ControlCharacter {
        /// The header's name.
        name: String,
    },
    /// A method outside the allow-list (405, with `Allow`).
    MethodNotAllowed {
        /// The allowed methods, for the `Allow` header.
        allowed: Vec<String>,
    },
}

/// Rejection reasons as metric suffixes, in one list.
pub const REASONS: [&str; 4] = [
    "too_many_headers",
    "headers_too_large",
    "invalid_header",
    "method_not_allowed",
];

impl Rejection {
    /// The metric suffix (one of [`REASONS`]).
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::TooManyHeaders { .. } => "too_many_headers",
            Rejection::HeadersTooLarge { .. } => "headers_too_large",
            Rejection::InvalidHeaderName | Rejection::ControlCharacter { .. } => "invalid_header",
            Rejection::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }

    /// The answer: a problem+json body with the right status.
    pub fn to_denial(&self) -> Denial {
        match self {
            Rejection::TooManyHeaders { count, limit } => Denial::new(
                Problem::new(
                    431,
                    "request-header-fields-too-large",
                    "Request Header Fields Too Large",
                )
                .with_detail(format!(
                    "the request has {count} header fields; at most {limit} are accepted"
                ))
                .with("limit", Value::from(*limit)),
            ),
            Rejection::HeadersTooLarge { bytes, limit } => Denial::new(
                Problem::new(
                    431,
                    "request-header-fields-too-large",
                    "Request Header Fields Too Large",
                )
                .with_detail(format!(
                    "the request's header fields take {bytes} bytes; at most {limit} are accepted"
                ))
                .with("limit", Value::from(*limit)),
            ),
            Rejection::InvalidHeaderName => Denial::new(
                Problem::new(400, "invalid-header", "Bad Request")
                    .with_detail("a header name is not a valid token"),
            ),
            Rejection::ControlCharacter { name } => Denial::new(
                Problem::new(400, "invalid-header", "Bad Request")
                    .with_detail(format!("header `{name}` contains a control character"))
                    .with("header", Value::from(name.as_str())),
            ),
            Rejection::MethodNotAllowed { allowed } => {
                let allow = allowed.join(", ");
                Denial::new(
                    Problem::new(405, "method-not-allowed", "Method Not Allowed")
                        .with_detail(format!("this resource accepts {allow}")),
                )
                .with_header("allow", allow)
            }
        }
    }
}

/// What to change in a request that passed the checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestEdits {
    /// Names to remove (every value), each once, lower-case.
    pub strip: Vec<String>,
    /// Replace `x-forwarded-proto` with the connection's own scheme: Envoy cannot route a
    /// request without it (no route, 404), so an untrusted one is corrected, not removed.
    pub reset_forwarded_proto: bool,
}

/// The header Envoy needs for routing; see [`RequestEdits::reset_forwarded_proto`].
pub const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// Request headers never stripped, whatever a pattern says: Envoy needs them to route and frame
/// the request.
pub const PROTECTED: &[&str] = &["host", "content-length", "transfer-encoding"];

/// Checks a request's headers (as Envoy hands them over, pseudo-headers included) and returns
/// what to strip. Size limits go first: a request that is too big is refused as such even if it
/// is also malformed.
pub fn check_request(
    policy: &RequestPolicy,
    headers: &[(String, String)],
) -> Result<RequestEdits, Rejection> {
    let mut count = 0usize;
    let mut bytes = 0usize;
    let mut invalid: Option<Rejection> = None;
    let mut method = "";
    for (name, value) in headers {
        if name == ":method" {
            method = value;
        }
        if !name.starts_with(':') {
            count += 1;
            bytes = bytes.saturating_add(name.len()).saturating_add(value.len());
        }
        if invalid.is_none() {
            if !is_valid_name(name) {
                invalid = Some(Rejection::InvalidHeaderName);
            } else if policy.reject_control_characters && !is_valid_value(value) {
                invalid = Some(Rejection::ControlCharacter { name: name.clone() });
            }
        }
    }
    if count > policy.max_header_count {
        return Err(Rejection::TooManyHeaders {
            count,
            limit: policy.max_header_count,
        });
    }
    if bytes > policy.max_header_bytes {
        return Err(Rejection::HeadersTooLarge {
            bytes,
            limit: policy.max_header_bytes,
        });
    }
    if let Some(rejection) = invalid {
        return Err(rejection);
    }
    if let Some(allowed) = &policy.allowed_methods {
        // Methods are case-sensitive (RFC 9110 §9.1): `get` is not `GET`.
        if !allowed.iter().any(|m| m == method) {
            return Err(Rejection::MethodNotAllowed {
                allowed: allowed.clone(),
            });
        }
    }
    let mut edits = RequestEdits::default();
    for (name, _) in headers {
        if !policy.strip.selects(name) {
            continue;
        }
        let name = name.to_ascii_lowercase();
        if name == FORWARDED_PROTO {
            edits.reset_forwarded_proto = true;
        } else if !PROTECTED.contains(&name.as_str()) && !edits.strip.contains(&name) {
            edits.strip.push(name);
        }
    }
    Ok(edits)
}

/// Whether the request arrived over HTTPS: the downstream connection is TLS, or (when trusted)
/// the nearest proxy says so in `x-forwarded-proto`.
///
/// `:scheme` is not used: for HTTP/1 Envoy copies it from the client's `x-forwarded-proto`
/// unless `use_remote_address` is on, so a plain-HTTP client could claim HTTPS.
pub fn arrived_over_https(
    policy: &RequestPolicy,
    tls_version: Option<&[u8]>,
    headers: &[(String, String)],
) -> bool {
    if tls_version.is_some_and(|v| !v.is_empty()) {
        return true;
    }
    if !policy.trust_forwarded_proto {
        return false;
    }
    // Proxies that append put their own claim last; the nearest (trusted) one is what counts.
    headers
        .iter()
        .rev()
        .find(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-proto"))
        .and_then(|(_, v)| v.rsplit(',').next())
        .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
