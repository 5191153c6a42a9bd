//! `openapi_remote`: the OpenAPI document fetched through an Envoy cluster, not given inline.
//!
//! A large description inline costs Envoy itself memory and start time in proportion to its size
//! (Envoy parses, converts and keeps its configuration several times over, before any filter code
//! runs; about +75 MiB and +1.5 s for 6 MB), and a Kubernetes object (an Istio `WasmPlugin`) cannot
//! hold more than about 1.5 MB at all. Fetched, the document is only ever in the filter's memory.
//!
//! Each worker's root fetches the document when the worker's first request arrives (on the next
//! tick: at most 100 ms later; Envoy's main-thread VM, which never serves a request, then never
//! fetches and compiles it, which would cost it as much memory as a worker), compiles it with the rest of the
//! configuration (exactly as an inline one: a document that does not compile is logged with its
//! field path and not used) and, with `refresh_interval`, fetches it again that often, compiling
//! it only when its bytes changed; requests in flight keep the document they started with.
//! A request that arrives before any document compiled waits for it (at most `max_wait`), then
//! gets a 503 problem. Failed fetches are retried after 1 s, doubling up to 30 s.

use crate::config::{Compiled, RemoteConfig};
use palisade_core::config::ConfigError;
use palisade_core::decision::Denial;
use palisade_core::host::{Body, HeaderMap, Host};
use palisade_core::problem::Problem;
use palisade_core::remote::Target;
use std::collections::hash_map::DefaultHasher;
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::rc::Rc;
use std::time::Duration;

/// First wait after a failed fetch; it doubles with each failure up to [`RETRY_MAX`].
pub const RETRY_BASE: Duration = Duration::from_secs(1);
/// Longest wait between failed fetches.
pub const RETRY_MAX: Duration = Duration::from_secs(30);
/// `retry-after` of the 503 a request gets when no document arrived in time, in seconds.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// A compiled `openapi_remote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteSpec {
    /// The Envoy cluster of every call.
    pub cluster: String,
    /// The document's URL.
    pub target: Target,
    /// Per-call timeout.
    pub timeout: Duration,
    /// Fetch again this often (`None`: once).
    pub refresh: Option<Duration>,
    /// How long a request waits for the first document.
    pub max_wait: Duration,
    /// Largest document accepted.
    pub max_bytes: usize,
}

impl RemoteSpec {
    /// Checks `openapi_remote` as written.
    pub fn compile(c: &RemoteConfig) -> Result<Self, ConfigError> {
        let target =
            Target::parse(&c.http_uri.uri).map_err(|e| ConfigError::at("http_uri.uri", e))?;
        if c.http_uri.cluster.trim().is_empty() {
            return Err(ConfigError::at(
                "http_uri.cluster",
                "name the Envoy cluster",
            ));
        }
        let timeout = c
            .http_uri
            .timeout
            .map_or(Duration::from_secs(5), |d| d.get());
        if timeout.is_zero() {
            return Err(ConfigError::at("http_uri.timeout", "must be more than 0s"));
        }
        let refresh = c.refresh_interval.map(|d| d.get());
        if refresh.is_some_and(|r| r < Duration::from_secs(1)) {
            return Err(ConfigError::at("refresh_interval", "must be at least 1s"));
        }
        if c.max_bytes == 0 {
            return Err(ConfigError::at("max_bytes", "must be at least 1"));
        }
        Ok(Self {
            cluster: c.http_uri.cluster.clone(),
            target,
            timeout,
            refresh,
            max_wait: c.max_wait.map_or(Duration::from_secs(10), |d| d.get()),
            max_bytes: c.max_bytes,
        })
    }
}

/// What happened to a fetch's answer (for the log and the counters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new document compiled and is used from now on.
    Loaded,
    /// The same bytes as the document in use.
    Unchanged,
    /// The fetch or the document failed; the reason. The document in use (if any) stays.
    Failed(String),
    /// Not this fetcher's call (or a late one).
    Ignored,
}

/// One worker's fetched document and the requests waiting for the first one.
#[derive(Debug)]
pub struct RemoteDocument {
    spec: RemoteSpec,
    /// The plugin configuration, compiled again with each new document.
    config: Vec<u8>,
    current: Option<Rc<Compiled>>,
    digest: Option<u64>,
    in_flight: Option<u32>,
    /// When the next fetch is due (Unix nanoseconds; 0: now), once a request asked for it.
    next_fetch: u64,
    /// A request arrived: fetching has started.
    wanted: bool,
    failures: u32,
    last_error: Option<String>,
    /// Requests waiting for the first document, with their deadlines.
    waiting: BTreeMap<u32, u64>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A hash of the first `size` bytes of the call's answer, read from the host a chunk at a time.
fn digest(host: &dyn Host, size: usize) -> u64 {
    let mut h = DefaultHasher::new();
    let mut at = 0;
    while at < size {
        let chunk = host
            .body(Body::HttpCallResponse, at, CHUNK.min(size - at))
            .unwrap_or_default();
        if chunk.is_empty() {
            break;
        }
        h.write(&chunk);
        at = at.saturating_add(chunk.len());
    }
    h.write_usize(at);
    h.finish()
}

impl RemoteDocument {
    /// Nothing fetched yet; the first fetch is due once a request waits for it.
    pub fn new(spec: RemoteSpec, config: Vec<u8>) -> Self {
        Self {
            spec,
            config,
            current: None,
            digest: None,
            in_flight: None,
            next_fetch: 0,
            wanted: false,
            failures: 0,
            last_error: None,
            waiting: BTreeMap::new(),
        }
    }

    /// The configuration compiled with the latest good document, if one arrived.
    pub fn current(&self) -> Option<Rc<Compiled>> {
        self.current.clone()
    }

    /// Request `context_id` waits for the first document (until `now` + `max_wait`).
    pub fn wait(&mut self, context_id: u32, now: u64) {
        let deadline = now.saturating_add(nanos(self.spec.max_wait));
        self.waiting.insert(context_id, deadline);
        self.wanted = true;
    }

    /// Request `context_id` ended.
    pub fn forget(&mut self, context_id: u32) {
        self.waiting.remove(&context_id);
    }

    /// How many requests wait.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Starts a fetch when one is due; returns the requests whose wait is over.
    pub fn tick(&mut self, host: &dyn Host) -> Vec<u32> {
        let now = host.unix_nanos();
        if self.wanted && self.in_flight.is_none() && now >= self.next_fetch {
            self.dispatch(host, now);
        }
        let expired: Vec<u32> = self
            .waiting
            .iter()
            .filter(|(_, deadline)| now >= **deadline)
            .map(|(id, _)| *id)
            .collect();
        for id in &expired {
            self.waiting.remove(id);
        }
        expired
    }

    fn dispatch(&mut self, host: &dyn Host, now: u64) {
        let headers = self.spec.target.get_json("palisade-schema");
        match host.dispatch_http_call(&self.spec.cluster, &headers, None, self.spec.timeout) {
            Ok(token) => self.in_flight = Some(token),
            Err(e) => {
                let why = format!("call to cluster `{}` refused: {e:?}", self.spec.cluster);
                self.failed(now, why);
            }
        }
    }

    fn failed(&mut self, now: u64, why: String) {
        self.failures = self.failures.saturating_add(1);
        let factor = 1u32
            .checked_shl(self.failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        let wait = RETRY_BASE.saturating_mul(factor).min(RETRY_MAX);
        self.next_fetch = now.saturating_add(nanos(wait));
        log::warn!(
            "palisade-schema: openapi_remote {}{}: {why}; retry in {} s{}",
            self.spec.target.authority,
            self.spec.target.path,
            wait.as_secs(),
            if self.current.is_some() {
                " (the document in use stays)"
            } else {
                ""
            }
        );
        self.last_error = Some(why);
    }

    /// Why the last fetch failed, while no later one succeeded.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn loaded(&mut self, now: u64) {
        self.failures = 0;
        self.last_error = None;
        self.next_fetch = self
            .spec
            .refresh
            .map_or(u64::MAX, |r| now.saturating_add(nanos(r)));
    }

    /// A call's answer: compiles a new document. Returns what happened and the requests to
    /// wake (every waiting one once a document is in use).
    pub fn on_response(&mut self, host: &dyn Host, token: u32, size: usize) -> (Outcome, Vec<u32>) {
        if self.in_flight != Some(token) {
            return (Outcome::Ignored, Vec::new());
        }
        self.in_flight = None;
        let now = host.unix_nanos();
        let outcome = match self.check(host, size) {
            Err(why) => {
                self.failed(now, why.clone());
                Outcome::Failed(why)
            }
            Ok(()) => {
                let d = digest(host, size);
                if self.current.is_some() && self.digest == Some(d) {
                    self.loaded(now);
                    Outcome::Unchanged
                } else {
                    // Read from the host a chunk at a time as it is parsed: the document's bytes
                    // are never all in the VM's memory (which keeps its peak).
                    let body = std::io::BufReader::with_capacity(
                        CHUNK,
                        HostBody {
                            host,
                            at: 0,
                            end: size,
                        },
                    );
                    match crate::config::compile_with_reader(&self.config, body) {
                        Ok(compiled) => {
                            log::info!(
                                "palisade-schema: openapi_remote {}{}: {size} bytes compiled",
                                self.spec.target.authority,
                                self.spec.target.path,
                            );
                            self.current = Some(Rc::new(compiled));
                            self.digest = Some(d);
                            self.loaded(now);
                            Outcome::Loaded
                        }
                        Err(e) => {
                            let why = format!("the document does not compile: {e}");
                            self.failed(now, why.clone());
                            Outcome::Failed(why)
                        }
                    }
                }
            }
        };
        let wake = if self.current.is_some() {
            std::mem::take(&mut self.waiting).into_keys().collect()
        } else {
            Vec::new()
        };
        (outcome, wake)
    }

    /// Whether the call's answer is a document to read: `200` and at most `max_bytes`.
    fn check(&self, host: &dyn Host, size: usize) -> Result<(), String> {
        let status = host
            .header(HeaderMap::HttpCallResponse, ":status")
            .ok_or("no response (connection failure or timeout)")?;
        if status != "200" {
            return Err(format!("HTTP {status}"));
        }
        if size > self.spec.max_bytes {
            return Err(format!(
                "document of {size} bytes is over max_bytes ({})",
                self.spec.max_bytes
            ));
        }
        Ok(())
    }
}

/// How much of a fetched document is read from the host at a time.
const CHUNK: usize = 64 * 1024;

/// The first `end` bytes of the call's answer, read from the host as they are asked for.
struct HostBody<'h> {
    host: &'h dyn Host,
    at: usize,
    end: usize,
}

impl std::io::Read for HostBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = buf.len().min(self.end.saturating_sub(self.at));
        if want == 0 {
            return Ok(0);
        }
        let chunk = self
            .host
            .body(Body::HttpCallResponse, self.at, want)
            .unwrap_or_default();
        let n = chunk.len().min(want);
        let (Some(to), Some(from)) = (buf.get_mut(..n), chunk.get(..n)) else {
            return Ok(0);
        };
        to.copy_from_slice(from);
        self.at = self.at.saturating_add(n);
        Ok(n)
    }
}

/// The answer to a request that no document can check: 503 with `retry-after`. Why is only
/// logged: cluster names and URLs are not the client's business.
pub fn unavailable() -> Denial {
    Denial::new(
        Problem::new(503, "schema-description-unavailable", "Service Unavailable")
            .with_detail("the API description requests are checked against is not loaded yet"),
    )
    .with_header("retry-after", RETRY_AFTER_SECONDS.to_string())
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
