//! The pipeline: drives one request through an ordered list of stages. Plain code over the
//! [`Host`] trait; [`crate::adapter`] only maps Proxy-Wasm callbacks onto it and its [`Flow`]
//! onto actions.
//!
//! A stage that waits (keys, a call) stops the request phase at that stage; a wake resumes it
//! there and the stages after it run. A body that arrives meanwhile is held and given to the
//! stages once their header phase is done. Anything arriving after the request was answered
//! or the stream ended changes nothing.

use crate::decision::Denial;
use crate::edits::{Edits, StageHost};
use crate::host::{send_denial, HeaderMap, Host};
use crate::metrics::{PendingCounts, FLUSH_PERIOD};
use crate::path_policy::{PathNormalization, PathRefusal};
use crate::request::RequestInfo;
use crate::route::{first_match, Routed};
use crate::stage::{Exchange, Stage, StageRoot, Step};
use std::rc::Rc;
use std::time::Duration;

/// A configured module: its stage roots and which of them run for which request.
pub struct Module {
    /// The module's name in log lines (`palisade`, `palisade-jwt`).
    pub name: &'static str,
    /// Every configured stage, once per worker.
    pub roots: Vec<Box<dyn StageRoot>>,
    /// Per-route stage lists (indices into `roots`, in order); the first match wins.
    pub routes: Vec<Routed<Vec<usize>>>,
    /// The stages of a request no route matches.
    pub default: Vec<usize>,
    /// Counter increments of the requests, written on the root's tick.
    pub counts: PendingCounts,
}

impl Module {
    /// A module of one stage for every request (a single-filter module).
    pub fn single(name: &'static str, root: Box<dyn StageRoot>) -> Self {
        Self {
            name,
            roots: vec![root],
            routes: Vec::new(),
            default: vec![0],
            counts: PendingCounts::default(),
        }
    }

    /// The root's tick period: the shortest a stage wants, at most [`FLUSH_PERIOD`] (the
    /// requests' counter increments are written on the tick).
    pub fn tick_period(&self) -> Duration {
        self.roots
            .iter()
            .filter_map(|r| r.tick_period())
            .fold(FLUSH_PERIOD, Duration::min)
    }

    /// Writes the counter increments of the requests since the last flush.
    pub fn flush_counts(&self, host: &dyn Host) {
        self.counts.flush(host);
    }

    /// The stage list for a request; a path no route can be matched on is refused (400).
    fn select(&self, host: &dyn Host) -> Result<&[usize], PathRefusal> {
        if self.routes.is_empty() {
            return Ok(&self.default);
        }
        let headers = host.headers_shared(HeaderMap::Request);
        let info = RequestInfo::read(&headers, &PathNormalization::default())?;
        Ok(first_match(&self.routes, &info).map_or(&self.default, |r| &r.value))
    }
}

/// What the request callback should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Let it go on.
    Continue,
    /// Hold it (waiting, buffering, or answered).
    Pause,
}

/// One request through a module's stages.
pub struct Pipeline {
    module: Rc<Module>,
    ex: Exchange,
    edits: Edits,
    /// The request's stages with the index of their root.
    stages: Vec<(usize, Box<dyn Stage>)>,
    /// The stage whose header phase is next (or waiting); `stages.len()` once all are done.
    at: usize,
    started: bool,
    /// The stage at `at` waits for a wake or a call's answer.
    waiting: bool,
    /// A stage needs the body before the request may go on.
    hold: bool,
    /// The body seen while the header phase waited: buffered size, end of stream.
    body: Option<(usize, bool)>,
    /// Trailers seen while the header phase waited.
    trailers: bool,
    answered: bool,
    ended: bool,
}

impl Pipeline {
    /// A request of `context_id` through `module`.
    pub fn new(module: Rc<Module>, context_id: u32) -> Self {
        Self {
            module,
            ex: Exchange {
                context_id,
                ..Exchange::default()
            },
            edits: Edits::default(),
            stages: Vec::new(),
            at: 0,
            started: false,
            waiting: false,
            hold: false,
            body: None,
            trailers: false,
            answered: false,
            ended: false,
        }
    }

    /// Whether a wake or a call's answer is awaited.
    pub fn waiting(&self) -> bool {
        self.waiting && !self.answered && !self.ended
    }

    /// What the stages share (for tests and logs).
    pub fn exchange(&self) -> &Exchange {
        &self.ex
    }

    /// The request headers: picks the route's stages and runs their header phase.
    pub fn on_request_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Flow {
        self.edits.new_callback();
        if self.started || self.ended {
            return Flow::Continue;
        }
        self.started = true;
        self.ex.end_of_stream = end_of_stream;
        // The one read of the request headers: every stage and the route choice use this copy.
        self.edits.load(host, HeaderMap::Request);
        let module = Rc::clone(&self.module);
        let view = view(host, &self.edits, &self.module);
        let selected = module.select(&view);
        match selected {
            Ok(list) => {
                let id = self.ex.context_id;
                self.stages = list
                    .iter()
                    .filter_map(|i| Some((*i, module.roots.get(*i)?.create(id))))
                    .collect();
            }
            Err(refusal) => return self.answer(host, &refusal.to_denial()),
        }
        self.run(host, None)
    }

    /// A body chunk (`size`: buffered so far while held).
    pub fn on_request_body(&mut self, host: &dyn Host, size: usize, end_of_stream: bool) -> Flow {
        self.edits.new_callback();
        if self.answered {
            return Flow::Pause;
        }
        if !self.started || self.ended {
            return Flow::Continue;
        }
        if self.at < self.stages.len() {
            // The header phase waits: keep the body buffered until it is done.
            self.body = Some((size, end_of_stream));
            return Flow::Pause;
        }
        self.run_body(host, size, end_of_stream)
    }

    /// The request trailers.
    pub fn on_request_trailers(&mut self, host: &dyn Host) -> Flow {
        self.edits.new_callback();
        if self.answered {
            return Flow::Pause;
        }
        if !self.started || self.ended {
            return Flow::Continue;
        }
        if self.at < self.stages.len() {
            self.trailers = true;
            return Flow::Pause;
        }
        self.run_trailers(host)
    }

    /// The response headers (of the upstream or of a local answer): every stage of the request
    /// sees them, their edits are written once.
    pub fn on_response_headers(&mut self, host: &dyn Host) -> Flow {
        self.edits.new_callback();
        if self.ended {
            return Flow::Continue;
        }
        let view = view(host, &self.edits, &self.module);
        for (_, stage) in &mut self.stages {
            stage.on_response_headers(&view, &mut self.ex);
        }
        self.edits.flush(host, HeaderMap::Response);
        Flow::Continue
    }

    /// A root's wake for the stages of root `root`: resumes the request where it waits, then
    /// resumes the stream (or answers it). A wake for a request not waiting there is ignored.
    pub fn wake(&mut self, host: &dyn Host, root: usize) {
        self.edits.new_callback();
        if !self.waiting() {
            return;
        }
        let view = view(host, &self.edits, &self.module);
        let Some((r, stage)) = self.stages.get_mut(self.at) else {
            return;
        };
        if *r != root {
            return;
        }
        self.waiting = false;
        let step = stage.on_wake(&view, &mut self.ex);
        let flow = self.run(host, Some(step));
        settle(host, flow);
    }

    /// A gRPC call's answer, for the stage that waits for it; a late one is ignored.
    pub fn on_grpc_response(&mut self, host: &dyn Host, token: u32, status: u32, size: usize) {
        self.edits.new_callback();
        if !self.waiting() {
            return;
        }
        let view = view(host, &self.edits, &self.module);
        let Some((_, stage)) = self.stages.get_mut(self.at) else {
            return;
        };
        let Some(step) = stage.on_grpc_response(&view, &mut self.ex, token, status, size) else {
            return;
        };
        self.waiting = false;
        let flow = self.run(host, Some(step));
        settle(host, flow);
    }

    /// The stream ended: every stage forgets the request; later callbacks change nothing.
    pub fn on_log(&mut self, host: &dyn Host) {
        self.edits.new_callback();
        if self.ended {
            return;
        }
        self.ended = true;
        let view = view(host, &self.edits, &self.module);
        for (_, stage) in &mut self.stages {
            stage.on_log(&view, &mut self.ex);
        }
    }

    /// Runs the header phase from stage `at` (`first`: its step, already decided by a wake).
    fn run(&mut self, host: &dyn Host, mut first: Option<Step>) -> Flow {
        while let Some((_, stage)) = self.stages.get_mut(self.at) {
            let step = match first.take() {
                Some(step) => step,
                None => {
                    stage.on_request_headers(&view(host, &self.edits, &self.module), &mut self.ex)
                }
            };
            match step {
                Step::Continue => self.at = self.at.saturating_add(1),
                Step::NeedBody => {
                    self.hold = true;
                    self.at = self.at.saturating_add(1);
                }
                Step::Wait => {
                    self.waiting = true;
                    self.edits.flush(host, HeaderMap::Request);
                    return Flow::Pause;
                }
                Step::Deny(denial) => return self.answer(host, &denial),
            }
        }
        self.edits.flush(host, HeaderMap::Request);
        if let Some((size, end_of_stream)) = self.body.take() {
            let flow = self.run_body(host, size, end_of_stream);
            // Trailers that arrived meanwhile end the body whatever the body phase said.
            if self.answered || (!self.trailers && (flow == Flow::Pause || !end_of_stream)) {
                return flow;
            }
        }
        if std::mem::take(&mut self.trailers) {
            return self.run_trailers(host);
        }
        if self.hold {
            Flow::Pause
        } else {
            Flow::Continue
        }
    }

    fn run_body(&mut self, host: &dyn Host, size: usize, end_of_stream: bool) -> Flow {
        for (_, stage) in &mut self.stages {
            let view = view(host, &self.edits, &self.module);
            match stage.on_request_body(&view, &mut self.ex, size, end_of_stream) {
                Step::Continue => {}
                Step::NeedBody | Step::Wait => {
                    self.hold = true;
                    self.edits.flush(host, HeaderMap::Request);
                    return Flow::Pause;
                }
                Step::Deny(denial) => return self.answer(host, &denial),
            }
        }
        self.hold = false;
        self.edits.flush(host, HeaderMap::Request);
        Flow::Continue
    }

    fn run_trailers(&mut self, host: &dyn Host) -> Flow {
        for (_, stage) in &mut self.stages {
            let view = view(host, &self.edits, &self.module);
            match stage.on_request_trailers(&view, &mut self.ex) {
                Step::Continue => {}
                Step::NeedBody | Step::Wait => return Flow::Pause,
                Step::Deny(denial) => return self.answer(host, &denial),
            }
        }
        self.hold = false;
        self.edits.flush(host, HeaderMap::Request);
        Flow::Continue
    }

    /// Answers the request; edits meant for the upstream are dropped.
    fn answer(&mut self, host: &dyn Host, denial: &Denial) -> Flow {
        log::debug!(
            "#{} {}: answered {}",
            self.ex.context_id,
            self.module.name,
            denial.status
        );
        self.answered = true;
        self.waiting = false;
        self.edits.discard(HeaderMap::Request);
        send_denial(host, denial);
        Flow::Pause
    }
}

/// The host as the stages of a request see it.
fn view<'a>(host: &'a dyn Host, edits: &'a Edits, module: &'a Module) -> StageHost<'a> {
    StageHost {
        inner: host,
        edits,
        counts: &module.counts,
    }
}

/// Outside the request's own callbacks, continuing means resuming the paused stream.
fn settle(host: &dyn Host, flow: Flow) {
    if flow == Flow::Continue {
        host.resume_request();
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
