//! The per-request flow, over the [`Host`] trait so it runs under `MockHost` with virtual time:
//! pick the rule, then decide locally (slot table) or ask the rate-limit service and decide on its
//! answer, falling back to the local limits when it fails.

use crate::client_address::{client_key, parse_address};
use crate::config::{Compiled, Rule, ServiceConfig};
use crate::fields::{self, FieldSet, PolicyView};
use crate::gcra::Verdict;
use crate::key::{self, key_hash, KeyInputs, OnMissingKey, MISSING_VALUE};
use crate::rls::{self, RateLimitResponse, CODE_OVER_LIMIT};
use crate::slot_table::{SlotTable, TableError};
use crate::stats::{RuleStats, Stats};
use palisade_core::headers::{is_valid_name, is_valid_value};
use palisade_core::host::{Body, HeaderMap};
use palisade_core::identity::{VerifiedIdentity, VERIFIED_CLAIMS_PROPERTY};
use palisade_core::request::canonical_request;
use palisade_core::{Decision, Host};
use palisade_core::{Denial, Problem};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::rc::Rc;

/// Everything a request needs, built once per configuration.
#[derive(Debug)]
pub struct Limiter {
    /// The compiled config.
    pub config: Compiled,
    table: SlotTable,
    seed: u64,
    stats: Stats,
}

/// A fresh random 64-bit value (std's `RandomState` draws from WASI `random_get`).
fn random_seed() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

impl Limiter {
    /// Prepares the slot table (created once per geometry, shared by every worker) and counters.
    #[inline]
    pub fn new(host: &dyn Host, config: Compiled) -> Self {
        let width = config
            .rules
            .iter()
            .map(|r| r.value.quotas.len())
            .max()
            .unwrap_or(1);
        let table = SlotTable::new(config.slots, width);
        let seed = table.prepare(host, random_seed());
        let stats = Stats::define(host, &config);
        Self {
            config,
            table,
            seed,
            stats,
        }
    }

    /// The first matching rule that applies, with the key's entries; a missing key part makes
    /// the rule share one budget, refuse the request, or step aside, as it says.
    fn select(&self, inputs: &KeyInputs<'_>) -> Selected {
        for (i, r) in self.config.rules.iter().enumerate() {
            if !r.matcher.matches(inputs.req) {
                continue;
            }
            let entries = key::resolve(&r.value.key, inputs);
            let missing: Vec<&str> = entries
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| k.as_str())
                .collect();
            if missing.is_empty() {
                return Selected::Rule(i, fill(entries));
            }
            match r.value.on_missing_key {
                OnMissingKey::Skip => continue,
                OnMissingKey::Shared => return Selected::Rule(i, fill(entries)),
                OnMissingKey::Deny => {
                    return Selected::Refuse(i, missing_key(&r.value.name, &missing.join(", ")))
                }
            }
        }
        Selected::None
    }

    fn field_set(&self) -> FieldSet {
        FieldSet {
            ietf: self.config.ietf_headers,
            legacy: self.config.legacy_headers,
        }
    }
}

/// Which rule a request falls under.
enum Selected {
    /// None: the request passes.
    None,
    /// This rule, with its key's entries.
    Rule(usize, Vec<(String, String)>),
    /// A rule that refuses requests missing its key.
    Refuse(usize, Denial),
}

/// Entries with a missing value take the shared-budget marker.
fn fill(entries: Vec<(String, Option<String>)>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_else(|| MISSING_VALUE.to_string())))
        .collect()
}

/// The 400 of `on_missing_key: deny`.
pub fn missing_key(rule: &str, parts: &str) -> Denial {
    Denial::new(
        Problem::new(400, "rate-limit-key-missing", "Bad Request").with_detail(format!(
            "rate limit `{rule}` needs {parts}, which the request does not carry"
        )),
    )
}

/// Where `claim:` keys find the verified identity.
#[derive(Debug, Clone, Copy)]
pub enum Claims<'a> {
    /// Filter state written by a separate jwt module (`palisade.jwt_claims`).
    Property,
    /// Handed over in-process by the jwt stage of the same pipeline (`None`: nothing verified).
    InProcess(Option<&'a VerifiedIdentity>),
}

/// Where a request is.
#[derive(Debug)]
enum State {
    /// Nothing decided yet.
    Init,
    /// Waiting for the rate-limit service.
    Calling {
        token: u32,
        rule: usize,
        entries: Vec<(String, String)>,
    },
    /// Decided; a late callback is ignored.
    Done,
}

/// One request's limiter.
#[derive(Debug)]
pub struct RequestLimiter {
    limiter: Rc<Limiter>,
    context_id: u32,
    state: State,
    response_headers: Vec<(String, String)>,
}

impl RequestLimiter {
    /// A limiter for request `context_id`.
    pub fn new(limiter: Rc<Limiter>, context_id: u32) -> Self {
        Self {
            limiter,
            context_id,
            state: State::Init,
            response_headers: Vec::new(),
        }
    }

    /// Decides on the request headers, `claim:` keys reading the identity a separate jwt module
    /// stored in filter state.
    pub fn on_request_headers(&mut self, host: &dyn Host) -> Decision {
        self.decide(host, Claims::Property)
    }

    /// Decides on the request headers: continue, refuse, or pause for the service.
    pub fn decide(&mut self, host: &dyn Host, claims: Claims<'_>) -> Decision {
        let limiter = Rc::clone(&self.limiter);
        let headers = host.headers_shared(HeaderMap::Request);
        let req = match canonical_request(host, self.context_id, &headers, &limiter.config.paths) {
            Ok(req) => req,
            Err(refusal) => {
                self.state = State::Done;
                limiter.stats.non_canonical_path.inc(host);
                return Decision::Deny(refusal.to_denial());
            }
        };
        // Each read at most once, and only if a rule's key needs it.
        let ip = OnceCell::new();
        let client_ip = || {
            ip.get_or_init(|| {
                // Envoy's trusted client address: it already applied use_remote_address and
                // xff_num_trusted_hops; a client-sent x-forwarded-for is never read here.
                host.property(&["source", "address"])
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|text| parse_address(&text))
                    .map(|addr| client_key(addr, limiter.config.client_grouping))
            })
            .clone()
        };
        let identity = OnceCell::new();
        let claim = |name: &str| {
            identity
                .get_or_init(|| match claims {
                    Claims::Property => host
                        .property(&[VERIFIED_CLAIMS_PROPERTY])
                        .and_then(|b| VerifiedIdentity::from_bytes(&b))
                        .map(Cow::Owned),
                    Claims::InProcess(identity) => identity.map(Cow::Borrowed),
                })
                .as_ref()
                .and_then(|id| id.claim_text(name))
        };
        let inputs = KeyInputs {
            req: &req,
            client_ip: &client_ip,
            claim: &claim,
        };
        let (index, entries) = match limiter.select(&inputs) {
            Selected::None => {
                self.state = State::Done;
                return Decision::Continue;
            }
            Selected::Refuse(index, denial) => {
                self.state = State::Done;
                let Some(rule) = rule_at(&limiter, index) else {
                    return Decision::Continue;
                };
                // Counted as the rule's refusal; in shadow mode only counted.
                return self.refuse(host, rule, limiter.stats.rule(index), denial);
            }
            Selected::Rule(index, entries) => (index, entries),
        };
        match &limiter.config.service {
            Some(service) => self.call_service(host, service, index, entries),
            None => {
                self.state = State::Done;
                self.decide_locally(host, index, &entries)
            }
        }
    }

    /// Decides on the service's answer (`status` 0: OK; `size`: the message length).
    /// A callback for another call, or after the decision, changes nothing (`Pause`).
    pub fn on_service_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        status: u32,
        size: usize,
    ) -> Decision {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Calling {
                token: expected,
                rule,
                entries,
            } if expected == token => {
                if status != 0 {
                    log::warn!(
                        "#{} rate-limit service call failed with gRPC status {status}",
                        self.context_id
                    );
                    return self.service_failed(host, rule, &entries);
                }
                let message = host
                    .body(Body::GrpcCallResponse, 0, size)
                    .unwrap_or_default();
                match rls::decode_response(&message) {
                    Ok(response) => self.apply_service_answer(host, rule, response),
                    Err(e) => {
                        log::warn!(
                            "#{} rate-limit service answer undecodable: {e}",
                            self.context_id
                        );
                        self.service_failed(host, rule, &entries)
                    }
                }
            }
            other => {
                self.state = other;
                Decision::Pause
            }
        }
    }

    /// Adds the rate-limit fields meant for the client's response.
    pub fn on_response_headers(&mut self, host: &dyn Host) {
        for (name, value) in std::mem::take(&mut self.response_headers) {
            host.add_header(HeaderMap::Response, &name, &value);
        }
    }

    fn call_service(
        &mut self,
        host: &dyn Host,
        service: &ServiceConfig,
        rule: usize,
        entries: Vec<(String, String)>,
    ) -> Decision {
        let message = rls::encode_request(&service.domain, &entries);
        match host.dispatch_grpc_call(
            &service.cluster,
            rls::SERVICE,
            rls::METHOD,
            &[],
            &message,
            service.timeout.get(),
        ) {
            Ok(token) => {
                self.state = State::Calling {
                    token,
                    rule,
                    entries,
                };
                Decision::Pause
            }
            Err(e) => {
                log::warn!(
                    "#{} rate-limit service call to `{}` not sent: {e:?}",
                    self.context_id,
                    service.cluster
                );
                self.state = State::Done;
                self.service_failed(host, rule, &entries)
            }
        }
    }

    /// The service failed: the rule's local limits decide; without any, the failure mode does.
    fn service_failed(
        &mut self,
        host: &dyn Host,
        index: usize,
        entries: &[(String, String)],
    ) -> Decision {
        let limiter = Rc::clone(&self.limiter);
        limiter.stats.service_errors.inc(host);
        let Some(rule) = rule_at(&limiter, index) else {
            return Decision::Continue;
        };
        if !rule.quotas.is_empty() {
            limiter.stats.fallbacks.inc(host);
            return self.decide_locally(host, index, entries);
        }
        let deny = limiter
            .config
            .service
            .as_ref()
            .is_some_and(|s| s.failure_mode_deny);
        let stats = limiter.stats.rule(index);
        if deny {
            self.refuse(host, rule, stats, fields::service_unavailable(&rule.name))
        } else {
            stats.allowed.inc(host);
            Decision::Continue
        }
    }

    fn decide_locally(
        &mut self,
        host: &dyn Host,
        index: usize,
        entries: &[(String, String)],
    ) -> Decision {
        let limiter = Rc::clone(&self.limiter);
        let Some(rule) = rule_at(&limiter, index) else {
            return Decision::Continue;
        };
        let stats = limiter.stats.rule(index);
        let tag = key_hash(limiter.seed, rule.index, entries);
        match limiter
            .table
            .take(host, tag, &rule.quotas, host.unix_nanos())
        {
            Ok(taken) => {
                if taken.attempts > 1 {
                    limiter
                        .stats
                        .cas_retries
                        .add(host, u64::from(taken.attempts - 1));
                }
                if taken.evicted_busy {
                    limiter.stats.evicted_busy.inc(host);
                }
                let views = local_views(rule, &taken.verdict);
                let fields = fields::rate_limit_fields(&views, limiter.field_set());
                if taken.verdict.admitted {
                    self.admit(host, stats, fields)
                } else {
                    let denial = fields::too_many_requests(
                        &rule.name,
                        taken.verdict.retry_after_seconds,
                        fields,
                    );
                    self.refuse(host, rule, stats, denial)
                }
            }
            Err(e) => {
                if e == TableError::Contended {
                    limiter.stats.cas_exhausted.inc(host);
                }
                log::warn!(
                    "#{} rate limit `{}`: no verdict ({e:?}); refusing rather than admitting uncounted",
                    self.context_id,
                    rule.name
                );
                let denial = fields::too_many_requests(&rule.name, 1, Vec::new());
                self.refuse(host, rule, stats, denial)
            }
        }
    }

    fn apply_service_answer(
        &mut self,
        host: &dyn Host,
        index: usize,
        response: RateLimitResponse,
    ) -> Decision {
        let limiter = Rc::clone(&self.limiter);
        let Some(rule) = rule_at(&limiter, index) else {
            return Decision::Continue;
        };
        let stats = limiter.stats.rule(index);
        let views = service_views(rule, &response);
        let mut headers = valid_headers(&response.response_headers_to_add);
        if response.overall_code == CODE_OVER_LIMIT {
            let retry_after = response
                .statuses
                .iter()
                .filter(|s| s.code == CODE_OVER_LIMIT)
                .filter_map(|s| s.duration_until_reset.map(|d| d.ceil_seconds()))
                .max()
                .unwrap_or(1);
            headers.extend(fields::rate_limit_fields(&views, limiter.field_set()));
            let denial = fields::too_many_requests(&rule.name, retry_after, headers);
            return self.refuse(host, rule, stats, denial);
        }
        for (name, value) in valid_headers(&response.request_headers_to_add) {
            host.set_header(HeaderMap::Request, &name, Some(&value));
        }
        let fields = fields::rate_limit_fields(&views, limiter.field_set());
        self.response_headers.extend(headers);
        self.admit(host, stats, fields)
    }

    fn admit(
        &mut self,
        host: &dyn Host,
        stats: RuleStats,
        fields: Vec<(String, String)>,
    ) -> Decision {
        stats.allowed.inc(host);
        if self.limiter.config.headers_on_allowed {
            self.response_headers.extend(fields);
        }
        Decision::Continue
    }

    fn refuse(
        &mut self,
        host: &dyn Host,
        rule: &Rule,
        stats: RuleStats,
        denial: palisade_core::Denial,
    ) -> Decision {
        if rule.shadow {
            stats.shadow_limited.inc(host);
            log::info!(
                "#{} shadow: rate limit `{}` would refuse this request",
                self.context_id,
                rule.name
            );
            return Decision::Continue;
        }
        // No log line per refusal: a flood would flood the log; the counter records it.
        stats.limited.inc(host);
        Decision::Deny(denial)
    }
}

fn rule_at(limiter: &Limiter, index: usize) -> Option<&Rule> {
    limiter.config.rules.get(index).map(|r| &r.value)
}

/// The local quotas as the fields show them.
fn local_views(rule: &Rule, verdict: &Verdict) -> Vec<PolicyView> {
    rule.quotas
        .iter()
        .zip(&verdict.states)
        .map(|(q, s)| PolicyView {
            name: q.name.clone(),
            quota: u64::from(q.requests),
            window: q.window_seconds(),
            remaining: s.remaining,
            reset: s.reset_seconds,
        })
        .collect()
}

/// The service's limits as the fields show them (statuses without a known limit are skipped).
fn service_views(rule: &Rule, response: &RateLimitResponse) -> Vec<PolicyView> {
    response
        .statuses
        .iter()
        .filter_map(|s| {
            let limit = s.current_limit.as_ref()?;
            Some(PolicyView {
                name: if limit.name.is_empty() {
                    rule.name.clone()
                } else {
                    limit.name.clone()
                },
                quota: u64::from(limit.requests_per_unit),
                window: limit.unit_seconds()?,
                remaining: u64::from(s.limit_remaining),
                reset: s.duration_until_reset.map_or(0, |d| d.ceil_seconds()),
            })
        })
        .collect()
}

/// The service's headers that are valid HTTP fields (others are dropped, not sent broken).
fn valid_headers(headers: &[rls::HeaderValue]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|h| is_valid_name(&h.key) && !h.key.starts_with(':') && is_valid_value(&h.value))
        .map(|h| (h.key.to_ascii_lowercase(), h.value.clone()))
        .collect()
}

#[cfg(test)]
#[path = "limiter_tests.rs"]
mod tests;
