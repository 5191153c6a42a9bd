//! The schema filter as a pipeline stage: [`RequestFlow`] per request, over the stage host.

use crate::config::{self, Compiled, Setup};
use crate::flow::RequestFlow;
use crate::remote::{Outcome, RemoteDocument};
use crate::stats::Stats;
use palisade_core::driver::Module;
use palisade_core::host::Host;
use palisade_core::stage::{Exchange, Stage, StageRoot, Step};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-schema";

/// The stage's name in a bundle configuration.
pub const STAGE_NAME: &str = "schema";

/// Every this often a root with `openapi_remote` starts due fetches and ends expired waits.
pub const TICK: Duration = Duration::from_millis(100);

/// Where a root's compiled configuration comes from.
#[derive(Clone)]
enum Source {
    /// Compiled at configure time.
    Fixed(Rc<Compiled>),
    /// Compiled when the fetched document arrives (and again when it changes).
    Remote(Rc<RefCell<RemoteDocument>>),
}

impl Source {
    fn current(&self) -> Option<Rc<Compiled>> {
        match self {
            Source::Fixed(c) => Some(Rc::clone(c)),
            Source::Remote(r) => r.try_borrow().ok().and_then(|r| r.current()),
        }
    }
}

/// One worker's configuration and metrics.
pub struct SchemaRoot {
    source: Source,
    stats: Stats,
}

impl SchemaRoot {
    /// Defines the metrics for a configuration.
    pub fn new(host: &dyn Host, setup: Setup) -> Self {
        let source = match setup {
            Setup::Ready(compiled) => Source::Fixed(Rc::new(*compiled)),
            Setup::Remote(pending) => Source::Remote(Rc::new(RefCell::new(RemoteDocument::new(
                pending.spec,
                pending.config,
            )))),
        };
        Self {
            source,
            stats: Stats::define(host),
        }
    }

    fn remote(&self) -> Option<&Rc<RefCell<RemoteDocument>>> {
        match &self.source {
            Source::Remote(r) => Some(r),
            Source::Fixed(_) => None,
        }
    }
}

impl StageRoot for SchemaRoot {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn create(&self, context_id: u32) -> Box<dyn Stage> {
        Box::new(SchemaStage {
            context_id,
            source: self.source.clone(),
            stats: self.stats,
            flow: None,
        })
    }

    fn tick_period(&self) -> Option<Duration> {
        self.remote().map(|_| TICK)
    }

    fn on_tick(&self, host: &dyn Host) -> Vec<u32> {
        let Some(remote) = self.remote() else {
            return Vec::new();
        };
        match remote.try_borrow_mut() {
            Ok(mut r) => r.tick(host),
            Err(_) => Vec::new(),
        }
    }

    fn on_http_call_response(&self, host: &dyn Host, token: u32, body_size: usize) -> Vec<u32> {
        let Some(remote) = self.remote() else {
            return Vec::new();
        };
        let Ok(mut r) = remote.try_borrow_mut() else {
            return Vec::new();
        };
        let (outcome, wake) = r.on_response(host, token, body_size);
        match outcome {
            Outcome::Loaded => self.stats.description_loaded.inc(host),
            Outcome::Failed(_) => self.stats.description_failed.inc(host),
            Outcome::Unchanged | Outcome::Ignored => {}
        }
        wake
    }
}

/// One request. Every `Pause` of the flow means "the body first".
struct SchemaStage {
    context_id: u32,
    source: Source,
    stats: Stats,
    /// Started once the configuration is there.
    flow: Option<RequestFlow>,
}

impl SchemaStage {
    /// Starts the flow with the configuration in use, or waits for the first document.
    fn start(&mut self, host: &dyn Host, ex: &Exchange, waited: bool) -> Step {
        if let Some(config) = self.source.current() {
            let flow = self
                .flow
                .insert(RequestFlow::new(self.context_id, config, self.stats));
            return Step::body(flow.on_request_headers(host, ex.end_of_stream));
        }
        let Source::Remote(remote) = &self.source else {
            return Step::Continue;
        };
        if !waited {
            if let Ok(mut r) = remote.try_borrow_mut() {
                r.wait(self.context_id, host.unix_nanos());
                return Step::Wait;
            }
        }
        self.stats.rejected_description_unavailable.inc(host);
        log::debug!(
            "#{} schema: no API description to check against (503)",
            self.context_id
        );
        Step::Deny(crate::remote::unavailable())
    }
}

impl Stage for SchemaStage {
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        self.start(host, ex, false)
    }

    fn on_wake(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        if self.flow.is_some() {
            return Step::Wait;
        }
        self.start(host, ex, true)
    }

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        _ex: &mut Exchange,
        size: usize,
        end_of_stream: bool,
    ) -> Step {
        match &mut self.flow {
            Some(flow) => Step::body(flow.on_request_body(host, size, end_of_stream)),
            None => Step::Deny(crate::remote::unavailable()),
        }
    }

    fn on_request_trailers(&mut self, host: &dyn Host, _ex: &mut Exchange) -> Step {
        match &mut self.flow {
            Some(flow) => Step::body(flow.on_request_trailers(host)),
            None => Step::Deny(crate::remote::unavailable()),
        }
    }

    fn on_log(&mut self, _host: &dyn Host, _ex: &mut Exchange) {
        if self.flow.is_none() {
            if let Source::Remote(r) = &self.source {
                if let Ok(mut r) = r.try_borrow_mut() {
                    r.forget(self.context_id);
                }
            }
        }
    }
}

/// The single-filter module: this stage for every request.
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    let setup = config::prepare(json).map_err(|e| e.to_string())?;
    Ok(Module::single(
        FILTER_NAME,
        Box::new(SchemaRoot::new(host, setup)),
    ))
}
