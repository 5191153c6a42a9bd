//! The compiled policy: plain, immutable data the request and response logic reads.

use crate::names::NameFilter;
use palisade_core::route::{first_match, RequestInfo, Routed};
use palisade_core::PathNormalization;
use std::rc::Rc;

/// Everything the filter does for one request and its response.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Request-side checks and stripping.
    pub request: RequestPolicy,
    /// Response-side headers.
    pub response: ResponsePolicy,
}

/// What a request must satisfy, and what is taken out of it.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestPolicy {
    /// Headers removed before the request goes upstream.
    pub strip: NameFilter,
    /// Whether `x-forwarded-proto: https` from the downstream counts as HTTPS (for HSTS).
    pub trust_forwarded_proto: bool,
    /// Most header fields a request may carry (pseudo-headers not counted).
    pub max_header_count: usize,
    /// Most bytes of header names and values a request may carry (pseudo-headers not counted).
    pub max_header_bytes: usize,
    /// Whether header values with control characters are refused.
    pub reject_control_characters: bool,
    /// Allowed methods, upper-case; `None` allows every method.
    pub allowed_methods: Option<Vec<String>>,
}

/// What is added to and removed from responses.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponsePolicy {
    /// Headers added, in order.
    pub add: Vec<HeaderRule>,
    /// Headers removed (leaking software details).
    pub remove: NameFilter,
    /// Media types (lower-case, no parameters) that are documents.
    pub document_types: Vec<String>,
}

/// One response header the filter adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRule {
    /// Lower-case name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Only on documents (see [`ResponsePolicy::document_types`]).
    pub documents_only: bool,
    /// Only when the request arrived over HTTPS.
    pub https_only: bool,
    /// Replace a value the upstream set (otherwise the upstream's is kept).
    pub overwrite: bool,
}

/// The whole compiled configuration: a default policy and per-route ones.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// For requests no route matches.
    pub default: Rc<Policy>,
    /// Tried in order; the first match wins.
    pub routes: Vec<Routed<Rc<Policy>>>,
    /// What a path not in canonical form gets.
    pub paths: PathNormalization,
}

impl Compiled {
    /// The policy for a request.
    pub fn policy_for(&self, req: &RequestInfo<'_>) -> &Rc<Policy> {
        first_match(&self.routes, req).map_or(&self.default, |r| &r.value)
    }
}
