//! One request: which rule applies, which tokens are there, whether they verify, whether the
//! requirement and the route's authorization are met, and what goes upstream.

use crate::answer;
use crate::backend::Signatures;
use crate::cache::TokenCache;
use crate::compile::{normalize_typ, Compiled, KeySource, KeysUnavailable, Provider};
use crate::config::MultipleTokens;
use crate::error::{DenyReason, TokenError};
use crate::extractor::{extract, Extracted};
use crate::forward::{claim_headers, payload_header, strip_tokens, Mutations};
use crate::keystore::Availability;
use crate::requirements::{Evaluation, Outcomes, ProviderOutcome};
use crate::verifier::{finish_with, precheck, VerifiedToken};
use crate::{authz::Refusal, claims::check_time};
use palisade_core::route::{first_match, RequestInfo};
use palisade_core::Denial;
use std::rc::Rc;

/// The keys of each provider, as this worker sees them now.
pub trait KeyView {
    /// Whether `provider`'s tokens can be verified at `now_ns`.
    fn availability(&self, provider: usize, now_ns: u64) -> Availability<'_>;

    /// The signature checks of this request (`None`: all in Wasm).
    fn signatures(&self) -> Option<&Signatures<'_>> {
        None
    }
}

/// Cache use of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tokens found verified in the cache.
    pub cache_hits: u64,
    /// Tokens verified afresh.
    pub cache_misses: u64,
}

/// What happens to the request.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// Let it through with these changes.
    Allow(Mutations),
    /// Let it through unverified (keys unavailable, `action: allow`), marked.
    AllowUnverified(Mutations),
    /// Answer it.
    Deny(Denial, DenyReason),
    /// Wait for these providers' keys; `refetch` are the ones a token's unknown `kid` asks to refetch.
    Wait {
        /// Providers whose keys are awaited.
        providers: Vec<usize>,
        /// Of those, the ones to refetch now.
        refetch: Vec<usize>,
    },
}

/// The request as the flow needs it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The canonical view of the request (headers included).
    pub info: &'a RequestInfo<'a>,
    /// Host time, Unix ns.
    pub now_ns: u64,
    /// Whether waiting for keys is still allowed (false once the wait timed out).
    pub may_wait: bool,
    /// Whether an unknown `kid` may wait for a refetch (false once a fetch finished during the wait).
    pub kid_wait: bool,
}

enum One {
    Verified(Rc<VerifiedToken>),
    Failed(TokenError),
    Unavailable(String),
    Wait { refetch: bool },
}

struct Table<'a> {
    outcomes: &'a [ProviderOutcome],
    providers: &'a [Provider],
}

impl Outcomes for Table<'_> {
    fn count(&self) -> usize {
        self.outcomes.len()
    }
    fn outcome(&self, provider: usize) -> &ProviderOutcome {
        self.outcomes
            .get(provider)
            .unwrap_or(&ProviderOutcome::Missing)
    }
    fn audiences(&self, provider: usize) -> &[String] {
        self.providers
            .get(provider)
            .map_or(&[], |p| p.audiences.as_slice())
    }
}

fn realm(c: &Compiled, info: &RequestInfo<'_>) -> String {
    match &c.realm {
        Some(r) => r.clone(),
        None => {
            let scheme = info.header(":scheme").unwrap_or("http");
            format!("{scheme}://{}{}", info.authority, info.path_only())
        }
    }
}

fn is_cors_preflight(info: &RequestInfo<'_>) -> bool {
    info.method == "OPTIONS"
        && info.header("origin").is_some()
        && info.header("access-control-request-method").is_some()
}

/// Decides the request.
pub fn authenticate(
    c: &Compiled,
    keys: &dyn KeyView,
    caches: &mut [TokenCache],
    req: Request<'_>,
    stats: &mut Stats,
) -> Verdict {
    let info = req.info;
    if c.bypass_cors_preflight && is_cors_preflight(info) {
        return Verdict::Allow(Mutations::default());
    }
    let Some(rule) = first_match(&c.rules, info) else {
        return Verdict::Allow(Mutations::default());
    };
    let Some(requirement) = &rule.value.requirement else {
        return Verdict::Allow(Mutations::default());
    };
    let count = c.providers.len();
    let looked_at = requirement.providers(count);
    let mut outcomes = vec![ProviderOutcome::Missing; count];
    let mut found: Vec<Vec<Extracted>> = vec![Vec::new(); count];
    let (mut waiting, mut refetch) = (Vec::new(), Vec::new());
    for &p in &looked_at {
        let (Some(provider), Some(slot), Some(cache)) =
            (c.providers.get(p), found.get_mut(p), caches.get_mut(p))
        else {
            continue;
        };
        *slot = extract(&provider.locations, info);
        let outcome = verify_provider(c, p, provider, slot, keys, cache, req, stats);
        match outcome {
            Ok(o) => {
                if let Some(out) = outcomes.get_mut(p) {
                    *out = o;
                }
            }
            Err(kid_refetch) => {
                waiting.push(p);
                if kid_refetch {
                    refetch.push(p);
                }
            }
        }
    }
    if !waiting.is_empty() {
        return Verdict::Wait {
            providers: waiting,
            refetch,
        };
    }
    let realm = realm(c, info);
    let table = Table {
        outcomes: &outcomes,
        providers: &c.providers,
    };
    let strip = |m: &mut Mutations| {
        for &p in &looked_at {
            if let (Some(provider), Some(f)) = (c.providers.get(p), found.get(p)) {
                if !provider.forward && !f.is_empty() {
                    strip_tokens(&provider.locations, f, info, m);
                }
            }
        }
    };
    match requirement.evaluate(&table) {
        Evaluation::Satisfied(used) => {
            let tokens: Vec<(usize, &VerifiedToken)> = used
                .iter()
                .filter_map(|p| match outcomes.get(*p) {
                    Some(ProviderOutcome::Verified(t)) => Some((*p, t.as_ref())),
                    _ => None,
                })
                .collect();
            let just_tokens: Vec<&VerifiedToken> = tokens.iter().map(|(_, t)| *t).collect();
            let authz = &rule.value.authorization;
            if let Err(refusal) = authz.authorize(&just_tokens) {
                let reason = if refusal == Refusal::NoToken {
                    DenyReason::Missing
                } else {
                    DenyReason::Forbidden
                };
                return Verdict::Deny(answer::forbidden(&realm, &refusal, &authz.scopes), reason);
            }
            let mut m = Mutations::default();
            // Later filters learn who this is from filter state, never from a header.
            if let Some((p, token)) = tokens.first() {
                if let Some(provider) = c.providers.get(*p) {
                    m.identity = Some(token.identity(&provider.name));
                }
            }
            for (p, token) in tokens {
                if let Some(provider) = c.providers.get(p) {
                    claim_headers(token, &provider.claim_headers, &mut m);
                    if let Some(h) = &provider.payload_header {
                        m.set.push((
                            h.clone(),
                            payload_header(token, provider.pad_payload_header),
                        ));
                    }
                }
            }
            strip(&mut m);
            Verdict::Allow(m)
        }
        Evaluation::Failed(e) => {
            let reason = e.reason();
            Verdict::Deny(answer::invalid(&realm, &e), reason)
        }
        Evaluation::KeysUnavailable(why) => match &c.keys_unavailable {
            KeysUnavailable::Deny(status) => Verdict::Deny(
                answer::keys_unavailable(&realm, *status, &why),
                DenyReason::KeysUnavailable,
            ),
            KeysUnavailable::Allow(header) => {
                log::warn!("jwt: keys unavailable ({why}); request let through unverified");
                let mut m = Mutations::default();
                m.set.push((header.clone(), "keys-unavailable".into()));
                strip(&mut m);
                Verdict::AllowUnverified(m)
            }
        },
    }
}

/// The outcome for one provider: `Err(kid_refetch)` when it must wait for keys.
#[allow(clippy::too_many_arguments)]
fn verify_provider(
    c: &Compiled,
    index: usize,
    provider: &Provider,
    found: &[Extracted],
    keys: &dyn KeyView,
    cache: &mut TokenCache,
    req: Request<'_>,
    stats: &mut Stats,
) -> Result<ProviderOutcome, bool> {
    // Bounded work: one signature check per provider, whatever a request carries.
    let found = match (found, provider.multiple_tokens) {
        ([], _) => return Ok(ProviderOutcome::Missing),
        ([_], _) => found,
        (_, MultipleTokens::Reject) => {
            return Ok(ProviderOutcome::Failed(TokenError::MultipleTokens(
                found.len(),
            )))
        }
        (_, MultipleTokens::First) => found.get(..1).unwrap_or(found),
    };
    let mut unavailable = None;
    let mut error: Option<TokenError> = None;
    for e in found {
        match verify_one(c, index, provider, &e.token, keys, cache, req, stats) {
            One::Verified(t) => return Ok(ProviderOutcome::Verified(t)),
            One::Wait { refetch } => return Err(refetch),
            One::Unavailable(m) => {
                unavailable.get_or_insert(m);
            }
            One::Failed(err) => {
                // Another issuer's token says less than a bad token of this one.
                if error
                    .as_ref()
                    .is_none_or(|prev| *prev == TokenError::IssuerMismatch)
                {
                    error = Some(err);
                }
            }
        }
    }
    Ok(match (unavailable, error) {
        (Some(m), _) => ProviderOutcome::KeysUnavailable(m),
        (None, Some(e)) => ProviderOutcome::Failed(e),
        (None, None) => ProviderOutcome::Missing,
    })
}

#[allow(clippy::too_many_arguments)]
fn verify_one(
    c: &Compiled,
    index: usize,
    provider: &Provider,
    token: &str,
    keys: &dyn KeyView,
    cache: &mut TokenCache,
    req: Request<'_>,
    stats: &mut Stats,
) -> One {
    let now = req.now_ns / 1_000_000_000;
    let availability = keys.availability(index, req.now_ns);
    if let Availability::Ready { version, .. } = &availability {
        if let Some(hit) = cache.get(token, *version, now) {
            stats.cache_hits += 1;
            return match check_time(&hit.time, &provider.policy, now) {
                Ok(()) => One::Verified(hit),
                Err(e) => One::Failed(e),
            };
        }
        stats.cache_misses += 1;
    }
    let unverified = match precheck(token, c.max_token_size, provider.policy.issuer.as_deref()) {
        Ok(u) => u,
        Err(e) => return One::Failed(e),
    };
    if let Err(e) = check_type(
        unverified.jws.header.typ.as_deref(),
        &provider.allowed_types,
    ) {
        return One::Failed(e);
    }
    match availability {
        Availability::Loading if req.may_wait => One::Wait { refetch: false },
        Availability::Loading => One::Unavailable("timed out waiting for the key set".into()),
        Availability::Unavailable(why) => One::Unavailable(why),
        Availability::Ready {
            keys: set,
            version,
            can_refetch,
        } => match finish_with(
            unverified,
            set,
            &provider.policy,
            now,
            keys.signatures().unwrap_or(&Signatures::new(None)),
        ) {
            Ok(verified) => {
                let verified = Rc::new(verified);
                cache.insert(
                    token,
                    Rc::clone(&verified),
                    version,
                    provider.policy.clock_skew,
                    now,
                );
                One::Verified(verified)
            }
            Err(TokenError::UnknownKid(_))
                if req.kid_wait && can_refetch && matches!(provider.keys, KeySource::Remote(_)) =>
            {
                One::Wait { refetch: true }
            }
            Err(e) => One::Failed(e),
        },
    }
}

/// The provider's `typ` policy (RFC 9068 §2.1: access tokens say `at+jwt`); empty: any.
pub fn check_type(typ: Option<&str>, allowed: &[String]) -> Result<(), TokenError> {
    if allowed.is_empty() {
        return Ok(());
    }
    match typ {
        Some(t) if allowed.contains(&normalize_typ(t)) => Ok(()),
        other => Err(TokenError::TypeNotAllowed(other.map(str::to_string))),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
