//! Fetching remote keys: claim the provider's lease (compare-and-swap in shared data, so one
//! worker fetches), call the cluster (OIDC discovery first, if configured), validate the JWKS,
//! publish the result for every worker, release the lease.

use crate::jwks::{parse_jwks, KeyOrigin};
use crate::keystore::{read_shared, KeyRecord, Lease, RemoteKeys};
use crate::remote::{RemoteSpec, Target};
use palisade_core::host::{Body, HeaderMap, Host, HostError};
use std::collections::HashMap;
use std::time::Duration;

/// Largest discovery document or JWKS read.
pub const MAX_BODY: usize = 1 << 20;

/// Which call of a fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The OpenID Connect discovery document.
    Discovery,
    /// The JWKS.
    Jwks,
}

/// How a finished call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// New keys published.
    Keys,
    /// Failed; the reason was published.
    Failed(String),
    /// Discovery done, the JWKS call is under way.
    Continued,
}

/// The calls this worker has under way.
#[derive(Debug, Default)]
pub struct Fetcher {
    owner: String,
    in_flight: HashMap<u32, (usize, Stage)>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// How long the lease is held: two calls (discovery and JWKS) and a margin.
fn hold(spec: &RemoteSpec) -> u64 {
    nanos(spec.timeout)
        .saturating_mul(2)
        .saturating_add(1_000_000_000)
}

fn dispatch(host: &dyn Host, spec: &RemoteSpec, target: &Target) -> Result<u32, HostError> {
    let headers = target.get_json("palisade-jwt");
    host.dispatch_http_call(&spec.cluster, &headers, None, spec.timeout)
}

impl Fetcher {
    /// A fetcher for worker `owner`.
    pub fn new(owner: String) -> Self {
        Self {
            owner,
            in_flight: HashMap::new(),
        }
    }

    /// This worker's id.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whether this worker has a call under way for `provider`.
    pub fn fetching(&self, provider: usize) -> bool {
        self.in_flight.values().any(|(p, _)| *p == provider)
    }

    /// Claims the lease; `false` when another worker holds it or won the race.
    fn claim(&self, host: &dyn Host, remote: &RemoteKeys, now: u64) -> bool {
        let (lease, cas) = read_shared::<Lease>(host, &remote.names.lease);
        if lease
            .as_ref()
            .is_some_and(|l| l.until > now && l.owner != self.owner)
        {
            return false;
        }
        let mine = Lease {
            owner: self.owner.clone(),
            until: now.saturating_add(hold(&remote.spec)),
            started: now,
        };
        let Ok(bytes) = serde_json::to_vec(&mine) else {
            return false;
        };
        // Without a record yet there is no CAS token: two workers may both create the lease at
        // start-up and fetch twice; harmless, and the record's CAS keeps it consistent.
        host.set_shared_data(&remote.names.lease, &bytes, cas)
            .is_ok()
    }

    fn release(&self, host: &dyn Host, remote: &RemoteKeys) {
        let (lease, cas) = read_shared::<Lease>(host, &remote.names.lease);
        if let Some(mut lease) = lease.filter(|l| l.owner == self.owner) {
            lease.until = 0;
            if let Ok(bytes) = serde_json::to_vec(&lease) {
                let _ = host.set_shared_data(&remote.names.lease, &bytes, cas);
            }
        }
    }

    /// Starts a fetch of `provider` if this worker wins the lease. Returns whether it started.
    pub fn start(
        &mut self,
        host: &dyn Host,
        provider: usize,
        remote: &mut RemoteKeys,
        now: u64,
    ) -> Option<Fetched> {
        if self.fetching(provider) || !self.claim(host, remote, now) {
            return None;
        }
        let stage = if remote.spec.discovery {
            Stage::Discovery
        } else {
            Stage::Jwks
        };
        log::debug!(
            "jwt: {} fetching keys ({stage:?}) from {}{}",
            self.owner,
            remote.spec.target.authority,
            remote.spec.target.path
        );
        match dispatch(host, &remote.spec, &remote.spec.target) {
            Ok(token) => {
                self.in_flight.insert(token, (provider, stage));
                remote.sync(host);
                None
            }
            Err(e) => Some(self.finish(
                host,
                remote,
                Err(format!(
                    "cannot call cluster `{}`: {e:?}",
                    remote.spec.cluster
                )),
                now,
            )),
        }
    }

    /// Handles a call's answer. `None` when the token is not one of this worker's calls.
    pub fn on_response(
        &mut self,
        host: &dyn Host,
        token: u32,
        body_size: usize,
        remotes: &mut [Option<RemoteKeys>],
        now: u64,
    ) -> Option<(usize, Fetched)> {
        let (provider, stage) = self.in_flight.remove(&token)?;
        let remote = remotes.get_mut(provider)?.as_mut()?;
        let body = read_body(host, body_size);
        let outcome = match (stage, body) {
            (_, Err(e)) => self.finish(host, remote, Err(e), now),
            (Stage::Jwks, Ok(text)) => {
                let result = parse_jwks(&text, KeyOrigin::Remote).map(|_| text);
                self.finish(host, remote, result, now)
            }
            (Stage::Discovery, Ok(text)) => match jwks_uri(&text, remote.spec.issuer.as_deref()) {
                Err(e) => self.finish(host, remote, Err(e), now),
                Ok(target) => match dispatch(host, &remote.spec, &target) {
                    Ok(next) => {
                        self.in_flight.insert(next, (provider, Stage::Jwks));
                        Fetched::Continued
                    }
                    Err(e) => self.finish(
                        host,
                        remote,
                        Err(format!("cannot call jwks_uri: {e:?}")),
                        now,
                    ),
                },
            },
        };
        Some((provider, outcome))
    }

    /// Publishes the result (keeping old keys on failure), releases the lease, re-reads.
    fn finish(
        &self,
        host: &dyn Host,
        remote: &mut RemoteKeys,
        result: Result<String, String>,
        now: u64,
    ) -> Fetched {
        let mut outcome = Fetched::Keys;
        for _ in 0..3 {
            let (record, cas) = read_shared::<KeyRecord>(host, &remote.names.record);
            let mut record = record.unwrap_or_default();
            record.attempts = record.attempts.saturating_add(1);
            match &result {
                Ok(text) => {
                    record.version = record.version.saturating_add(1);
                    record.fetched_at = now;
                    record.failures = 0;
                    record.last_error = None;
                    record.next_due = now.saturating_add(nanos(remote.spec.cache_duration));
                    record.jwks = Some(text.clone());
                    outcome = Fetched::Keys;
                }
                Err(e) => {
                    record.failures = record.failures.saturating_add(1);
                    record.last_error = Some(e.clone());
                    record.next_due =
                        now.saturating_add(nanos(remote.spec.backoff.delay(record.failures)));
                    outcome = Fetched::Failed(e.clone());
                }
            }
            let Ok(bytes) = serde_json::to_vec(&record) else {
                break;
            };
            match host.set_shared_data(&remote.names.record, &bytes, cas) {
                Err(HostError::CasMismatch) => continue,
                Err(e) => {
                    log::warn!("jwt: cannot publish keys: {e:?}");
                    break;
                }
                Ok(()) => break,
            }
        }
        if let Fetched::Failed(e) = &outcome {
            log::warn!(
                "jwt: key fetch from cluster `{}` failed: {e}",
                remote.spec.cluster
            );
        }
        self.release(host, remote);
        remote.sync(host);
        outcome
    }
}

/// The call's body if the status is 200.
fn read_body(host: &dyn Host, body_size: usize) -> Result<String, String> {
    let status = host
        .header(HeaderMap::HttpCallResponse, ":status")
        .ok_or("no response (connection failure or timeout)")?;
    if status != "200" {
        return Err(format!("HTTP {status}"));
    }
    if body_size > MAX_BODY {
        return Err(format!("body of {body_size} bytes is over {MAX_BODY}"));
    }
    let bytes = host
        .body(Body::HttpCallResponse, 0, body_size)
        .unwrap_or_default();
    String::from_utf8(bytes).map_err(|_| "body is not UTF-8".to_string())
}

/// `jwks_uri` of a discovery document whose `issuer` is the configured one (OIDC Discovery §4.3).
pub(crate) fn jwks_uri(text: &str, issuer: Option<&str>) -> Result<Target, String> {
    let doc: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("discovery document is not JSON: {e}"))?;
    if let Some(expected) = issuer {
        let named = doc.get("issuer").and_then(|v| v.as_str()).unwrap_or("");
        if named != expected {
            return Err(format!(
                "discovery document names issuer `{named}`, not `{expected}`"
            ));
        }
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(|v| v.as_str())
        .ok_or("discovery document has no jwks_uri")?;
    Target::parse(uri).map_err(|e| format!("jwks_uri: {e}"))
}

#[cfg(test)]
#[path = "fetcher_tests.rs"]
mod tests;
