//! One request and its response, over the [`Host`] trait: the whole per-request flow, so it
//! runs the same under `MockHost` as in Envoy.

use crate::policy::{Compiled, Policy};
use crate::request::{arrived_over_https, check_request, FORWARDED_PROTO};
use crate::response::{plan_response, SET_COOKIE};
use crate::stats::Stats;
use palisade_core::decision::Decision;
use palisade_core::host::{HeaderMap, Host};
use palisade_core::request::canonical_request;
use std::rc::Rc;

/// Where Envoy says which TLS version the downstream connection uses (absent for plain TCP).
const TLS_VERSION: [&str; 2] = ["connection", "tls_version"];

/// What the request phase decided for the response.
#[derive(Debug, Clone)]
struct ResponsePlan {
    policy: Rc<Policy>,
    https: bool,
}

/// The filter's state for one request/response exchange.
#[derive(Debug)]
pub struct Exchange {
    context_id: u32,
    config: Rc<Compiled>,
    stats: Stats,
    plan: Option<ResponsePlan>,
}

impl Exchange {
    /// A new exchange under a compiled configuration.
    pub fn new(context_id: u32, config: Rc<Compiled>, stats: Stats) -> Self {
        Self {
            context_id,
            config,
            stats,
            plan: None,
        }
    }

    /// Checks the request, strips what a client must not set, and picks the response policy.
    pub fn on_request_headers(&mut self, host: &dyn Host) -> Decision {
        // Shared with the stage host's copy; dropped before the edits so they need no copy of it.
        let headers = host.headers_shared(HeaderMap::Request);
        self.stats.requests_checked.inc(host);
        let info = match canonical_request(host, self.context_id, &headers, &self.config.paths) {
            Ok(info) => info,
            Err(refusal) => {
                self.stats.requests_rejected.inc(host);
                self.stats.rejected_non_canonical_path.inc(host);
                return Decision::Deny(refusal.to_denial());
            }
        };
        let policy = Rc::clone(self.config.policy_for(&info));
        let tls = host.property(&TLS_VERSION);
        let tls = tls.as_deref();
        let https = arrived_over_https(&policy.request, tls, &headers);
        let verdict = check_request(&policy.request, &headers);
        drop(info);
        drop(headers);
        self.plan = Some(ResponsePlan { policy, https });
        match verdict {
            Err(rejection) => {
                let denial = rejection.to_denial();
                log::debug!(
                    "#{} refused with {}: {}",
                    self.context_id,
                    denial.status,
                    rejection.reason()
                );
                self.stats.count_rejection(host, &rejection);
                Decision::Deny(denial)
            }
            Ok(edits) => {
                let mut stripped = edits.strip;
                for name in &stripped {
                    host.set_header(HeaderMap::Request, name, None);
                }
                if edits.reset_forwarded_proto {
                    let real = if tls.is_some_and(|v| !v.is_empty()) {
                        "https"
                    } else {
                        "http"
                    };
                    let claimed = host.header(HeaderMap::Request, FORWARDED_PROTO);
                    if claimed.as_deref() != Some(real) {
                        host.set_header(HeaderMap::Request, FORWARDED_PROTO, Some(real));
                        stripped.push(FORWARDED_PROTO.to_string());
                    }
                }
                if !stripped.is_empty() {
                    log::debug!("#{} stripped {:?}", self.context_id, stripped);
                    self.stats
                        .request_headers_stripped
                        .add(host, u64::try_from(stripped.len()).unwrap_or(u64::MAX));
                }
                Decision::Continue
            }
        }
    }

    /// Removes leaking headers and adds the security headers.
    pub fn on_response_headers(&mut self, host: &dyn Host) -> Decision {
        // No request phase (another filter answered first): default policy, TLS as the only signal.
        let plan = self.plan.clone().unwrap_or_else(|| ResponsePlan {
            policy: Rc::clone(&self.config.default),
            https: host.property(&TLS_VERSION).is_some_and(|v| !v.is_empty()),
        });
        let headers = host.headers_shared(HeaderMap::Response);
        let edits = plan_response(&plan.policy.response, plan.https, &headers);
        drop(headers);
        for name in &edits.remove {
            host.set_header(HeaderMap::Response, name, None);
        }
        for rule in &edits.set {
            host.set_header(HeaderMap::Response, &rule.name, Some(&rule.value));
        }
        if let Some(cookies) = &edits.cookies {
            // Set-Cookie is one header per cookie: replace them all, in order.
            host.set_header(HeaderMap::Response, SET_COOKIE, None);
            for value in &cookies.values {
                host.add_header(HeaderMap::Response, SET_COOKIE, value);
            }
        }
        log::debug!(
            "#{} response: removed {:?}, set {} header(s), https={}",
            self.context_id,
            edits.remove,
            edits.set.len(),
            plan.https
        );
        self.stats.responses_hardened.inc(host);
        let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
        self.stats
            .response_headers_removed
            .add(host, count(edits.remove.len()));
        self.stats
            .response_headers_added
            .add(host, count(edits.set.len()));
        if let Some(cookies) = &edits.cookies {
            self.stats
                .cookies_hardened
                .add(host, count(cookies.changed));
        }
        Decision::Continue
    }
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
