//! Stages: one filter's logic for one request, driven by the pipeline ([`crate::driver`]) in the
//! order a configuration names. Plain types only: no Proxy-Wasm here, so every stage and the
//! driver run natively and under wasm on [`crate::testing::MockHost`].

use crate::decision::{Decision, Denial};
use crate::host::Host;
use crate::identity::VerifiedIdentity;
use std::rc::Rc;
use std::time::Duration;

/// What a stage decided for a request phase.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Done with this phase: the next stage goes on.
    Continue,
    /// Answer the request now; later stages never see it.
    Deny(Denial),
    /// Wait for a callback (keys from the root context, a call's answer); resumed where it stopped.
    Wait,
    /// Hold the request until the body has been checked (later stages still run their header phase).
    NeedBody,
}

impl Step {
    /// A filter's decision where `Pause` means waiting for a callback.
    pub fn waiting(decision: Decision) -> Self {
        match decision {
            Decision::Continue => Step::Continue,
            Decision::Deny(denial) => Step::Deny(denial),
            Decision::Pause => Step::Wait,
        }
    }

    /// A filter's decision where `Pause` means it needs (more of) the body.
    pub fn body(decision: Decision) -> Self {
        match decision {
            Decision::Continue => Step::Continue,
            Decision::Deny(denial) => Step::Deny(denial),
            Decision::Pause => Step::NeedBody,
        }
    }
}

/// What the stages of one request share, in-process.
#[derive(Debug, Default)]
pub struct Exchange {
    /// The request's context id (for log lines and registries).
    pub context_id: u32,
    /// The request headers ended the stream (no body).
    pub end_of_stream: bool,
    /// The identity a jwt stage verified, for the stages after it (ratelimit `claim:` keys, schema).
    pub identity: Option<Rc<VerifiedIdentity>>,
}

/// One filter's per-request part. Every phase defaults to `Continue`: a stage implements only
/// the phases it cares about. Headers are read and edited through the `host` the driver gives
/// ([`crate::edits::StageHost`]): read once per request, written once per phase.
pub trait Stage {
    /// The request headers (`ex.end_of_stream`: no body follows).
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step;

    /// A body chunk; `size` is what is buffered so far while the request is held.
    fn on_request_body(
        &mut self,
        _host: &dyn Host,
        _ex: &mut Exchange,
        _size: usize,
        _end_of_stream: bool,
    ) -> Step {
        Step::Continue
    }

    /// Trailers end the body.
    fn on_request_trailers(&mut self, _host: &dyn Host, _ex: &mut Exchange) -> Step {
        Step::Continue
    }

    /// The response headers (also of a local answer).
    fn on_response_headers(&mut self, _host: &dyn Host, _ex: &mut Exchange) {}

    /// A gRPC call's answer; `None` when the call is not this stage's.
    fn on_grpc_response(
        &mut self,
        _host: &dyn Host,
        _ex: &mut Exchange,
        _token: u32,
        _status: u32,
        _size: usize,
    ) -> Option<Step> {
        None
    }

    /// Its root said the wait is over: decide again.
    fn on_wake(&mut self, _host: &dyn Host, _ex: &mut Exchange) -> Step {
        Step::Continue
    }

    /// The stream ended (answered, completed or reset).
    fn on_log(&mut self, _host: &dyn Host, _ex: &mut Exchange) {}
}

/// One filter's per-worker part: compiled configuration, metrics, shared state; makes the
/// per-request stages. Callbacks of the root context return the requests to wake.
pub trait StageRoot {
    /// The stage's name in a bundle configuration (`jwt`).
    fn name(&self) -> &'static str;

    /// The stage of one request.
    fn create(&self, context_id: u32) -> Box<dyn Stage>;

    /// How often it wants [`StageRoot::on_tick`] (`None`: never). The root ticks at the shortest
    /// period any stage (or the counter flush) wants, so a tick may come sooner than asked.
    fn tick_period(&self) -> Option<Duration> {
        None
    }

    /// A timer tick; returns the context ids whose wait is over.
    fn on_tick(&self, _host: &dyn Host) -> Vec<u32> {
        Vec::new()
    }

    /// The answer of an HTTP call the root made; returns the context ids whose wait is over.
    fn on_http_call_response(&self, _host: &dyn Host, _token: u32, _body_size: usize) -> Vec<u32> {
        Vec::new()
    }
}
