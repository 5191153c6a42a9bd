//! The filter's counters, declared once (Envoy shows them in `/stats`).

use crate::request::Rejection;
use palisade_core::host::Host;
use palisade_core::metrics::Counter;

/// Every counter the filter keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests looked at.
    pub requests_checked: Counter,
    /// Requests refused, for any reason.
    pub requests_rejected: Counter,
    /// Refused: too many header fields.
    pub rejected_too_many_headers: Counter,
    /// Refused: header fields too large.
    pub rejected_headers_too_large: Counter,
    /// Refused: invalid header name or control character in a value.
    pub rejected_invalid_header: Counter,
    /// Refused: method not allowed.
    pub rejected_method_not_allowed: Counter,
    /// Refused: path not canonical, or never safe (`path_normalization`).
    pub rejected_non_canonical_path: Counter,
    /// Request headers stripped before going upstream.
    pub request_headers_stripped: Counter,
    /// Responses whose headers were processed.
    pub responses_hardened: Counter,
    /// Leaking response headers removed.
    pub response_headers_removed: Counter,
    /// Security headers set on responses.
    pub response_headers_added: Counter,
    /// `Set-Cookie` values given attributes (Secure, HttpOnly, SameSite).
    pub cookies_hardened: Counter,
}

impl Stats {
    /// Defines every counter with the host.
    #[inline]
    pub fn define(host: &dyn Host) -> Self {
        let c = |what: &str| Counter::define(host, &format!("palisade_headers_{what}"));
        Self {
            requests_checked: c("requests_checked"),
            requests_rejected: c("requests_rejected"),
            rejected_too_many_headers: c("rejected_too_many_headers"),
            rejected_headers_too_large: c("rejected_headers_too_large"),
            rejected_invalid_header: c("rejected_invalid_header"),
            rejected_method_not_allowed: c("rejected_method_not_allowed"),
            rejected_non_canonical_path: c("rejected_non_canonical_path"),
            request_headers_stripped: c("request_headers_stripped"),
            responses_hardened: c("responses_hardened"),
            response_headers_removed: c("response_headers_removed"),
            response_headers_added: c("response_headers_added"),
            cookies_hardened: c("cookies_hardened"),
        }
    }

    /// Counts a refused request under its reason.
    pub fn count_rejection(&self, host: &dyn Host, rejection: &Rejection) {
        self.requests_rejected.inc(host);
        let by_reason = match rejection {
            Rejection::TooManyHeaders { .. } => self.rejected_too_many_headers,
            Rejection::HeadersTooLarge { .. } => self.rejected_headers_too_large,
            Rejection::InvalidHeaderName | Rejection::ControlCharacter { .. } => {
                self.rejected_invalid_header
            }
            Rejection::MethodNotAllowed { .. } => self.rejected_method_not_allowed,
        };
        by_reason.inc(host);
    }
}
