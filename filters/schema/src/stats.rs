//! The filter's counters, declared once (Envoy shows them in `/stats`).

use crate::violation::Rejection;
use palisade_core::host::Host;
use palisade_core::metrics::Counter;

/// Every counter the filter keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Requests that matched an operation and passed every check.
    pub validated: Counter,
    /// Refused: a parameter (or a missing required body) broke the schema.
    pub rejected_invalid_parameters: Counter,
    /// Refused: the body is not acceptable JSON or breaks the schema.
    pub rejected_invalid_body: Counter,
    /// Refused: the body's media type is not accepted (415).
    pub rejected_unsupported_media_type: Counter,
    /// Refused: no operation has the path (404).
    pub rejected_unknown_path: Counter,
    /// Refused: the path has no operation for the method (405).
    pub rejected_method_not_allowed: Counter,
    /// Bodies over their limit (refused with 413, or reported).
    pub body_too_large: Counter,
    /// Requests no operation describes (refused, passed or reported).
    pub unmatched_operation: Counter,
    /// Violations let through because of `report_only`.
    pub reported: Counter,
    /// Refused (400): path not canonical, or never safe (`path_normalization`).
    pub rejected_non_canonical_path: Counter,
    /// `openapi_remote`: documents fetched and compiled (a changed one again).
    pub description_loaded: Counter,
    /// `openapi_remote`: fetches that failed or brought a document that did not compile.
    pub description_failed: Counter,
    /// Refused (503): no document had arrived within `max_wait`.
    pub rejected_description_unavailable: Counter,
}

impl Stats {
    /// Defines every counter with the host.
    pub fn define(host: &dyn Host) -> Self {
        let c = |what: &str| Counter::define(host, &format!("palisade_schema_{what}"));
        Self {
            validated: c("validated"),
            rejected_invalid_parameters: c("rejected_invalid_parameters"),
            rejected_invalid_body: c("rejected_invalid_body"),
            rejected_unsupported_media_type: c("rejected_unsupported_media_type"),
            rejected_unknown_path: c("rejected_unknown_path"),
            rejected_method_not_allowed: c("rejected_method_not_allowed"),
            body_too_large: c("body_too_large"),
            unmatched_operation: c("unmatched_operation"),
            reported: c("reported"),
            rejected_non_canonical_path: c("rejected_non_canonical_path"),
            description_loaded: c("description_loaded"),
            description_failed: c("description_failed"),
            rejected_description_unavailable: c("rejected_description_unavailable"),
        }
    }

    /// Counts a rejection; `enforced` is false in report-only mode.
    pub fn count(&self, host: &dyn Host, rejection: &Rejection, enforced: bool) {
        match rejection {
            Rejection::BodyTooLarge { .. } => self.body_too_large.inc(host),
            Rejection::UnknownPath | Rejection::MethodNotAllowed { .. } => {
                self.unmatched_operation.inc(host)
            }
            _ => {}
        }
        if !enforced {
            self.reported.inc(host);
            return;
        }
        let by_reason = match rejection {
            Rejection::UnknownPath => self.rejected_unknown_path,
            Rejection::MethodNotAllowed { .. } => self.rejected_method_not_allowed,
            Rejection::UnsupportedMediaType { .. } => self.rejected_unsupported_media_type,
            Rejection::BodyTooLarge { .. } => return,
            Rejection::Invalid(_) if rejection.reason() == "invalid_body" => {
                self.rejected_invalid_body
            }
            Rejection::Invalid(_) => self.rejected_invalid_parameters,
        };
        by_reason.inc(host);
    }
}
