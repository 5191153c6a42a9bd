//! The jwt filter as a pipeline stage. The worker (keys, caches, fetches) lives in the root;
//! a request waiting for keys is woken from the root's tick or fetch answer and decided again.
//! The verified identity goes to later stages in-process; a single jwt module also stores it
//! in filter state for a separate ratelimit module.

use crate::compile::{compile, Compiled};
use crate::forward::Mutations;
use crate::probe::select;
use crate::request::Verdict;
use crate::worker::{Due, RequestState, Resume, StateCell, Worker};
use palisade_core::driver::Module;
use palisade_core::host::{HeaderMap, Host};
use palisade_core::identity::VERIFIED_CLAIMS_PROPERTY;
use palisade_core::stage::{Exchange, Stage, StageRoot, Step};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

/// The filter's name in logs.
pub const FILTER_NAME: &str = "palisade-jwt";

/// The stage's name in a bundle configuration.
pub const STAGE_NAME: &str = "jwt";

/// Key records are read, fetches started and waits checked this often (only with remote keys).
pub const TICK: Duration = Duration::from_millis(100);

/// How each woken request's wait ended, until its stage decides it again.
type Wakes = Rc<RefCell<BTreeMap<u32, Resume>>>;

/// One worker's jwt state.
pub struct JwtRoot {
    worker: Rc<RefCell<Worker>>,
    wakes: Wakes,
    remote: bool,
    publish: bool,
}

impl JwtRoot {
    /// Compiles and probes a configuration (the host's signature support decides the backend);
    /// `publish`: store the identity in filter state too (a single jwt module).
    #[inline]
    pub fn configure(host: &dyn Host, json: &[u8], publish: bool) -> Result<Self, String> {
        let compiled = compile(json).map_err(|e| e.to_string())?;
        Self::new(host, compiled, publish)
    }

    /// The root of a compiled configuration (probes the host's signature support first).
    #[inline]
    pub fn new(host: &dyn Host, mut compiled: Compiled, publish: bool) -> Result<Self, String> {
        let summary = select(host, &mut compiled).map_err(|e| e.to_string())?;
        log::info!("{FILTER_NAME}: {summary}");
        let compiled = Rc::new(compiled);
        let remote = compiled.has_remote();
        let worker = Worker::new(host, compiled);
        log::info!("{FILTER_NAME}: worker {}", worker.id());
        Ok(Self {
            worker: Rc::new(RefCell::new(worker)),
            wakes: Wakes::default(),
            remote,
            publish,
        })
    }

    fn woken(&self, due: Vec<Due>) -> Vec<u32> {
        let mut wakes = self.wakes.borrow_mut();
        due.into_iter()
            .map(|d| {
                wakes.insert(d.context_id, d.resume);
                d.context_id
            })
            .collect()
    }
}

impl StageRoot for JwtRoot {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn create(&self, context_id: u32) -> Box<dyn Stage> {
        Box::new(JwtStage {
            context_id,
            worker: Rc::clone(&self.worker),
            wakes: Rc::clone(&self.wakes),
            state: Rc::new(Cell::new(RequestState::Init)),
            publish: self.publish,
        })
    }

    fn tick_period(&self) -> Option<Duration> {
        self.remote.then_some(TICK)
    }

    fn on_tick(&self, host: &dyn Host) -> Vec<u32> {
        let due = match self.worker.try_borrow_mut() {
            Ok(mut w) => w.tick(host),
            Err(_) => {
                log::error!("{FILTER_NAME}: worker busy in tick");
                return Vec::new();
            }
        };
        self.woken(due)
    }

    fn on_http_call_response(&self, host: &dyn Host, token: u32, body_size: usize) -> Vec<u32> {
        log::debug!("jwt: key fetch call {token} answered");
        let due = match self.worker.try_borrow_mut() {
            Ok(mut w) => w.on_call_response(host, token, body_size),
            Err(_) => {
                log::error!("{FILTER_NAME}: worker busy in call response");
                return Vec::new();
            }
        };
        self.woken(due)
    }
}

/// One request.
struct JwtStage {
    context_id: u32,
    worker: Rc<RefCell<Worker>>,
    wakes: Wakes,
    state: StateCell,
    publish: bool,
}

impl JwtStage {
    fn decide(&self, host: &dyn Host, resume: Option<Resume>) -> Verdict {
        match self.worker.try_borrow_mut() {
            Ok(mut w) => {
                if resume.is_none() {
                    // A client can never forge a header this filter sets: each is removed first.
                    for name in &w.compiled().headers_to_clear {
                        host.set_header(HeaderMap::Request, name, None);
                    }
                }
                let headers = host.headers_shared(HeaderMap::Request);
                w.decide(host, self.context_id, &headers, &self.state, resume)
            }
            Err(_) => {
                log::error!(
                    "#{} {FILTER_NAME}: worker busy; request refused",
                    self.context_id
                );
                Verdict::Deny(
                    crate::answer::keys_unavailable("", 503, "filter busy"),
                    crate::error::DenyReason::KeysUnavailable,
                )
            }
        }
    }

    /// Carries out a verdict on the request and says what the pipeline does next.
    fn apply(&self, host: &dyn Host, ex: &mut Exchange, verdict: Verdict) -> Step {
        match verdict {
            Verdict::Allow(m) | Verdict::AllowUnverified(m) => {
                self.mutate(host, ex, m);
                self.state.set(RequestState::Forwarded);
                Step::Continue
            }
            Verdict::Deny(denial, reason) => {
                log::debug!(
                    "#{} jwt: denied ({reason:?}): {}",
                    self.context_id,
                    denial.problem.detail.as_deref().unwrap_or("")
                );
                self.state.set(RequestState::Responded);
                Step::Deny(denial)
            }
            Verdict::Wait { .. } => Step::Wait,
        }
    }

    fn mutate(&self, host: &dyn Host, ex: &mut Exchange, m: Mutations) {
        for name in &m.remove {
            host.set_header(HeaderMap::Request, name, None);
        }
        if let Some(path) = &m.path {
            host.set_header(HeaderMap::Request, ":path", Some(path));
        }
        if let Some(cookie) = &m.cookie {
            host.set_header(HeaderMap::Request, "cookie", cookie.as_deref());
        }
        for (name, value) in &m.set {
            host.set_header(HeaderMap::Request, name, Some(value));
        }
        if let Some(identity) = m.identity {
            if self.publish {
                if let Err(e) = host.set_property(&[VERIFIED_CLAIMS_PROPERTY], identity.bytes()) {
                    log::warn!("jwt: verified claims not stored for later filters: {e:?}");
                }
            }
            ex.identity = Some(Rc::clone(&identity.value));
        }
    }
}

impl Stage for JwtStage {
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        if self.state.get() != RequestState::Init {
            return Step::Continue;
        }
        let verdict = self.decide(host, None);
        self.apply(host, ex, verdict)
    }

    fn on_wake(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        let Some(resume) = self.wakes.borrow_mut().remove(&self.context_id) else {
            return Step::Wait;
        };
        let verdict = self.decide(host, Some(resume));
        log::debug!("#{} jwt: resumed after waiting for keys", self.context_id);
        self.apply(host, ex, verdict)
    }

    fn on_log(&mut self, _host: &dyn Host, _ex: &mut Exchange) {
        self.wakes.borrow_mut().remove(&self.context_id);
        if self.state.get() == RequestState::WaitingForKeys {
            if let Ok(mut w) = self.worker.try_borrow_mut() {
                w.forget(self.context_id);
            }
        }
    }
}

/// The single-filter module: this stage for every request, identity also in filter state.
#[inline]
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    Ok(Module::single(
        FILTER_NAME,
        Box::new(JwtRoot::configure(host, json, true)?),
    ))
}
