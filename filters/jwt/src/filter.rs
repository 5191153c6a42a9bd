//! The Proxy-Wasm adapter: the only file that touches the SDK traits. It maps verdicts to
//! actions and resumes paused requests from the root context (keys arrive there).

use crate::compile::compile;
use crate::forward::Mutations;
use crate::probe::select;
use crate::request::Verdict;
use crate::worker::{Due, RequestState, StateCell, Worker};
use palisade_core::host::{accept_unconfigured, load_config, send_denial, HeaderMap, Host};
use palisade_core::proxy_host::{ProxyWasmHost, UnconfiguredHttp};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// The filter's name in logs.
pub const FILTER_NAME: &str = "palisade-jwt";

/// Key records are read, fetches started and waits checked this often (only with remote keys).
pub const TICK: Duration = Duration::from_millis(100);

/// The root context of one worker.
pub struct JwtRoot {
    context_id: u32,
    worker: Option<Rc<RefCell<Worker>>>,
}

impl JwtRoot {
    /// A root context not yet configured.
    pub fn new(context_id: u32) -> Self {
        Self {
            context_id,
            worker: None,
        }
    }

    /// Decides requests whose wait is over, each in its own context.
    fn resume(&self, due: Vec<Due>) {
        let Some(worker) = &self.worker else {
            return;
        };
        let host = ProxyWasmHost;
        for d in due {
            if hostcalls::set_effective_context(d.context_id).is_err() {
                log::debug!("#{} jwt: request gone while waiting", d.context_id);
                continue;
            }
            let headers = host.headers(HeaderMap::Request);
            // The borrow ends before the verdict is applied: answering may run other callbacks.
            let verdict = match worker.try_borrow_mut() {
                Ok(mut w) => w.decide(&host, d.context_id, &headers, &d.state, Some(d.resume)),
                Err(_) => {
                    // Unreachable (no borrow is held here); answer rather than leave it paused.
                    log::error!("#{} {FILTER_NAME}: worker busy on resume", d.context_id);
                    Verdict::Deny(
                        crate::answer::keys_unavailable("", 503, "filter busy"),
                        crate::error::DenyReason::KeysUnavailable,
                    )
                }
            };
            log::debug!("#{} jwt: resumed after waiting for keys", d.context_id);
            apply(&host, d.context_id, &verdict, &d.state, true);
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }
}

impl Context for JwtRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        _headers: usize,
        body_size: usize,
        _trailers: usize,
    ) {
        let Some(worker) = &self.worker else {
            return;
        };
        log::debug!(
            "#{} jwt: key fetch call {token_id} answered",
            self.context_id
        );
        let due = match worker.try_borrow_mut() {
            Ok(mut w) => w.on_call_response(&ProxyWasmHost, token_id, body_size),
            Err(_) => {
                log::error!(
                    "#{} {FILTER_NAME}: worker busy in call response",
                    self.context_id
                );
                return;
            }
        };
        self.resume(due);
    }
}

impl RootContext for JwtRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let host = ProxyWasmHost;
        let Some(mut compiled) = load_config(&host, FILTER_NAME, compile) else {
            return accept_unconfigured(&host);
        };
        match select(&host, &mut compiled) {
            Ok(summary) => log::info!("#{} {FILTER_NAME}: {summary}", self.context_id),
            Err(e) => {
                log::error!("{FILTER_NAME}: {e}");
                return false;
            }
        }
        let compiled = Rc::new(compiled);
        if compiled.has_remote() {
            host.set_tick_period(TICK);
        }
        let worker = Worker::new(&host, compiled);
        log::info!(
            "#{} {FILTER_NAME}: configured (worker {})",
            self.context_id,
            worker.id()
        );
        self.worker = Some(Rc::new(RefCell::new(worker)));
        true
    }

    fn on_tick(&mut self) {
        let Some(worker) = &self.worker else {
            return;
        };
        let due = match worker.try_borrow_mut() {
            Ok(mut w) => w.tick(&ProxyWasmHost),
            Err(_) => {
                log::error!("#{} {FILTER_NAME}: worker busy in tick", self.context_id);
                return;
            }
        };
        self.resume(due);
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let Some(worker) = self.worker.as_ref() else {
            // Fail closed: without a configuration every request is answered 503 (returning
            // no context would make the SDK panic).
            return Some(Box::new(UnconfiguredHttp {
                filter: FILTER_NAME,
            }));
        };
        Some(Box::new(JwtRequest {
            context_id,
            worker: Rc::clone(worker),
            state: Rc::new(Cell::new(RequestState::Init)),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
pub struct JwtRequest {
    context_id: u32,
    worker: Rc<RefCell<Worker>>,
    state: StateCell,
}

impl Context for JwtRequest {}

impl HttpContext for JwtRequest {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        if self.state.get() != RequestState::Init {
            return Action::Continue;
        }
        let host = ProxyWasmHost;
        let verdict = match self.worker.try_borrow_mut() {
            Ok(mut w) => {
                // A client can never forge a header this filter sets: each is removed first.
                for name in &w.compiled().headers_to_clear {
                    host.set_header(HeaderMap::Request, name, None);
                }
                let headers = host.headers(HeaderMap::Request);
                w.decide(&host, self.context_id, &headers, &self.state, None)
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
        };
        apply(&host, self.context_id, &verdict, &self.state, false)
    }

    fn on_log(&mut self) {
        if self.state.get() == RequestState::WaitingForKeys {
            if let Ok(mut w) = self.worker.try_borrow_mut() {
                w.forget(self.context_id);
            }
        }
    }
}

fn mutate(host: &dyn Host, m: &Mutations) {
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
    if let Some(identity) = &m.identity {
        let property = palisade_core::identity::VERIFIED_CLAIMS_PROPERTY;
        if let Err(e) = host.set_property(&[property], identity) {
            log::warn!("jwt: verified claims not stored for later filters: {e:?}");
        }
    }
}

/// Carries out a verdict; `paused` when the request was waiting and must be resumed.
fn apply(
    host: &dyn Host,
    context_id: u32,
    verdict: &Verdict,
    state: &StateCell,
    paused: bool,
) -> Action {
    match verdict {
        Verdict::Allow(m) | Verdict::AllowUnverified(m) => {
            mutate(host, m);
            state.set(RequestState::Forwarded);
            if paused {
                host.resume_request();
            }
            Action::Continue
        }
        Verdict::Deny(denial, reason) => {
            log::debug!(
                "#{context_id} jwt: denied ({reason:?}): {}",
                denial.problem.detail.as_deref().unwrap_or("")
            );
            state.set(RequestState::Responded);
            send_denial(host, denial);
            Action::Pause
        }
        Verdict::Wait { .. } => Action::Pause,
    }
}
