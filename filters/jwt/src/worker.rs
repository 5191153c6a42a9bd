//! One worker's state: its view of every provider's keys, its token caches, the fetches it
//! runs, and the requests waiting for keys. Host calls go through the [`Host`] trait, so the
//! whole life of a paused request is tested on the mock host.

use crate::backend::Signatures;
use crate::cache::TokenCache;
use crate::compile::{Compiled, KeySource};
use crate::error::DenyReason;
use crate::fetcher::{Fetched, Fetcher};
use crate::keystore::{Availability, Keys, RemoteKeys};
use crate::metrics::Metrics;
use crate::request::{authenticate, KeyView, Request, Stats, Verdict};
use palisade_core::host::Host;
use palisade_core::request::canonical_request;
use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

/// Where a request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestState {
    /// Headers not seen yet.
    Init,
    /// Paused until keys arrive or the wait times out.
    WaitingForKeys,
    /// Answered by the filter.
    Responded,
    /// Sent upstream.
    Forwarded,
}

/// Requests one worker keeps waiting at most; beyond, requests are decided at once (a flood of
/// made-up `kid`s cannot pile up paused requests).
pub const MAX_WAITING: usize = 1024;

/// A request's state, shared by its context and the worker that may resume it.
pub type StateCell = Rc<Cell<RequestState>>;

#[derive(Debug)]
struct Waiting {
    since: u64,
    watch: Vec<(usize, (u64, u64))>,
    /// Providers this request wants refetched (its token's `kid` is unknown).
    refetch: Vec<usize>,
    state: StateCell,
}

/// How a waiting request's wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// When it started waiting (kept if it waits again).
    pub since: u64,
    /// `false` once the wait timed out: decide without waiting again.
    pub may_wait: bool,
    /// A fetch finished meanwhile: an unknown `kid` is now final.
    pub fetched: bool,
}

/// A paused request whose wait is over: decide it again.
#[derive(Debug)]
pub struct Due {
    /// Its context.
    pub context_id: u32,
    /// Its state.
    pub state: StateCell,
    /// How the wait ended.
    pub resume: Resume,
}

struct View<'a> {
    compiled: &'a Compiled,
    remotes: &'a [Option<RemoteKeys>],
    signatures: Signatures<'a>,
}

impl KeyView for View<'_> {
    fn availability(&self, provider: usize, now: u64) -> Availability<'_> {
        match self.compiled.providers.get(provider).map(|p| &p.keys) {
            Some(KeySource::Local(set)) => Availability::Ready {
                keys: set,
                version: 0,
                can_refetch: false,
            },
            _ => match self.remotes.get(provider).and_then(Option::as_ref) {
                Some(remote) => remote.availability(now),
                None => Availability::Unavailable("no key source".into()),
            },
        }
    }

    fn signatures(&self) -> Option<&Signatures<'_>> {
        Some(&self.signatures)
    }
}

/// A unique id for this worker: a shared counter (CAS) plus the start time.
#[inline]
fn worker_id(host: &dyn Host, fingerprint: &str) -> String {
    let key = format!("palisade-jwt/{fingerprint}/workers");
    let now = host.unix_nanos() % 1_000_000_000;
    for _ in 0..8 {
        let (value, cas) = host.shared_data(&key);
        let n: u64 = value
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let next = n.saturating_add(1);
        if host
            .set_shared_data(&key, next.to_string().as_bytes(), cas)
            .is_ok()
        {
            return format!("w{next}-{now}");
        }
    }
    format!("w-{now}")
}

/// A worker's JWT state.
pub struct Worker {
    compiled: Rc<Compiled>,
    remotes: Vec<Option<RemoteKeys>>,
    caches: Vec<TokenCache>,
    fetcher: Fetcher,
    pending: BTreeMap<u32, Waiting>,
    metrics: Metrics,
}

impl Worker {
    /// A worker for `compiled`, reading whatever keys other workers already published.
    #[inline]
    pub fn new(host: &dyn Host, compiled: Rc<Compiled>) -> Self {
        let mut remotes: Vec<Option<RemoteKeys>> = compiled
            .providers
            .iter()
            .map(|p| match &p.keys {
                KeySource::Remote(spec) => Some(RemoteKeys::new(
                    Keys::new(&compiled.fingerprint, &p.name),
                    spec.as_ref().clone(),
                )),
                KeySource::Local(_) => None,
            })
            .collect();
        for remote in remotes.iter_mut().flatten() {
            remote.host_use = compiled.host_use;
            remote.sync(host);
        }
        Self {
            caches: compiled
                .providers
                .iter()
                .map(|p| TokenCache::new(p.cache_size))
                .collect(),
            fetcher: Fetcher::new(worker_id(host, &compiled.fingerprint)),
            remotes,
            pending: BTreeMap::new(),
            metrics: Metrics::define(host),
            compiled,
        }
    }

    /// The configuration.
    pub fn compiled(&self) -> &Rc<Compiled> {
        &self.compiled
    }

    /// This worker's id (as written in leases).
    pub fn id(&self) -> &str {
        self.fetcher.owner()
    }

    /// Requests waiting for keys.
    pub fn waiting(&self) -> usize {
        self.pending.len()
    }

    /// Decides a request (`resume`: it waited before); a `Wait` verdict registers it.
    pub fn decide(
        &mut self,
        host: &dyn Host,
        context_id: u32,
        headers: &[(String, String)],
        state: &StateCell,
        resume: Option<Resume>,
    ) -> Verdict {
        let room = self.pending.len() < MAX_WAITING;
        let may_wait = room && resume.is_none_or(|r| r.may_wait);
        let since = resume.map(|r| r.since);
        let now = host.unix_nanos();
        let mut stats = Stats::default();
        let info = match canonical_request(host, context_id, headers, &self.compiled.paths) {
            Ok(info) => info,
            Err(refusal) => {
                let verdict = Verdict::Deny(refusal.to_denial(), DenyReason::NonCanonicalPath);
                self.metrics.count(host, &verdict, stats);
                return verdict;
            }
        };
        let view = View {
            compiled: &self.compiled,
            remotes: &self.remotes,
            signatures: Signatures::new(Some(host)),
        };
        let req = Request {
            info: &info,
            now_ns: now,
            may_wait,
            kid_wait: room && resume.is_none_or(|r| r.may_wait && !r.fetched),
        };
        let verdict = authenticate(&self.compiled, &view, &mut self.caches, req, &mut stats);
        self.metrics.count(host, &verdict, stats);
        let signatures = &view.signatures;
        self.metrics
            .signature_host
            .add(host, signatures.host_checks.get());
        self.metrics
            .signature_wasm
            .add(host, signatures.wasm_checks.get());
        if let Verdict::Wait { providers, refetch } = &verdict {
            let watch = providers
                .iter()
                .filter_map(|p| {
                    let remote = self.remotes.get(*p)?.as_ref()?;
                    Some((*p, remote.progress()))
                })
                .collect();
            state.set(RequestState::WaitingForKeys);
            self.pending.insert(
                context_id,
                Waiting {
                    since: since.unwrap_or(now),
                    watch,
                    refetch: refetch.clone(),
                    state: Rc::clone(state),
                },
            );
            log::debug!("#{context_id} jwt: waiting for keys of providers {providers:?}");
        }
        verdict
    }

    /// Reads the shared key records, starts due fetches, and returns the requests whose wait is over.
    /// Fetches start before any request is resumed (a resumed request may run other contexts).
    pub fn tick(&mut self, host: &dyn Host) -> Vec<Due> {
        let now = host.unix_nanos();
        // Refetches are wanted as long as a request waits for one (the rate limit may delay it).
        let wanted: BTreeSet<usize> = self
            .pending
            .values()
            .flat_map(|w| w.refetch.iter().copied())
            .collect();
        for (p, slot) in self.remotes.iter_mut().enumerate() {
            let Some(remote) = slot.as_mut() else {
                continue;
            };
            remote.sync(host);
            if remote.due(now, wanted.contains(&p)) && !self.fetcher.fetching(p) {
                if let Some(outcome) = self.fetcher.start(host, p, remote, now) {
                    count_fetch(&self.metrics, host, &outcome);
                }
            }
        }
        self.due(now)
    }

    /// Handles the answer of a key fetch call; returns the requests whose wait is over.
    pub fn on_call_response(&mut self, host: &dyn Host, token: u32, body_size: usize) -> Vec<Due> {
        let now = host.unix_nanos();
        if let Some((_, outcome)) =
            self.fetcher
                .on_response(host, token, body_size, &mut self.remotes, now)
        {
            count_fetch(&self.metrics, host, &outcome);
        }
        self.due(now)
    }

    /// Drops a request that ended while waiting.
    pub fn forget(&mut self, context_id: u32) {
        self.pending.remove(&context_id);
    }

    fn due(&mut self, now: u64) -> Vec<Due> {
        let timeout = u64::try_from(self.compiled.keys_wait_timeout.as_nanos()).unwrap_or(u64::MAX);
        let remotes = &self.remotes;
        let ready: Vec<(u32, bool, bool)> = self
            .pending
            .iter()
            .filter_map(|(id, w)| {
                let timed_out = now.saturating_sub(w.since) >= timeout;
                let moved = w.watch.iter().any(|(p, seen)| {
                    remotes
                        .get(*p)
                        .and_then(Option::as_ref)
                        .is_some_and(|r| r.progress() != *seen)
                });
                (timed_out || moved).then_some((*id, !timed_out, moved))
            })
            .collect();
        ready
            .into_iter()
            .filter_map(|(id, may_wait, fetched)| {
                let w = self.pending.remove(&id)?;
                Some(Due {
                    context_id: id,
                    state: w.state,
                    resume: Resume {
                        since: w.since,
                        may_wait,
                        fetched,
                    },
                })
            })
            .collect()
    }
}

fn count_fetch(metrics: &Metrics, host: &dyn Host, outcome: &Fetched) {
    match outcome {
        Fetched::Keys => metrics.jwks_fetch_success.inc(host),
        Fetched::Failed(_) => metrics.jwks_fetch_failed.inc(host),
        Fetched::Continued => {}
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod tests;
