//! The ratelimit filter as a pipeline stage: [`RequestLimiter`] per request. In a bundle its
//! `claim:` keys read the identity the jwt stage handed over in-process; alone, filter state.

use crate::config;
use crate::limiter::{Claims, Limiter, RequestLimiter};
use palisade_core::driver::Module;
use palisade_core::host::Host;
use palisade_core::stage::{Exchange, Stage, StageRoot, Step};
use std::rc::Rc;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-ratelimit";

/// The stage's name in a bundle configuration.
pub const STAGE_NAME: &str = "ratelimit";

/// One worker's limiter.
pub struct RateLimitRoot {
    limiter: Rc<Limiter>,
    in_process: bool,
}

impl RateLimitRoot {
    /// The limiter of a compiled configuration; `in_process`: identity from the pipeline's jwt
    /// stage (a bundle), else from filter state (a separate jwt module).
    #[inline]
    pub fn new(host: &dyn Host, compiled: config::Compiled, in_process: bool) -> Self {
        let rules = compiled.rules.len();
        let limiter = Limiter::new(host, compiled);
        log::info!(
            "{FILTER_NAME}: {rules} rule(s), {} mode",
            if limiter.config.service.is_some() {
                "global"
            } else {
                "local"
            }
        );
        Self {
            limiter: Rc::new(limiter),
            in_process,
        }
    }
}

impl StageRoot for RateLimitRoot {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn create(&self, context_id: u32) -> Box<dyn Stage> {
        Box::new(RateLimitStage {
            flow: RequestLimiter::new(Rc::clone(&self.limiter), context_id),
            in_process: self.in_process,
        })
    }
}

struct RateLimitStage {
    flow: RequestLimiter,
    in_process: bool,
}

impl Stage for RateLimitStage {
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        let claims = if self.in_process {
            Claims::InProcess(ex.identity.as_deref())
        } else {
            Claims::Property
        };
        Step::waiting(self.flow.decide(host, claims))
    }

    fn on_grpc_response(
        &mut self,
        host: &dyn Host,
        ex: &mut Exchange,
        token: u32,
        status: u32,
        size: usize,
    ) -> Option<Step> {
        log::debug!(
            "#{} rate-limit service answered (token {token}, status {status})",
            ex.context_id
        );
        Some(Step::waiting(
            self.flow.on_service_response(host, token, status, size),
        ))
    }

    fn on_response_headers(&mut self, host: &dyn Host, _ex: &mut Exchange) {
        self.flow.on_response_headers(host);
    }
}

/// The single-filter module: this stage for every request.
#[inline]
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    let compiled = config::compile(json).map_err(|e| e.to_string())?;
    Ok(Module::single(
        FILTER_NAME,
        Box::new(RateLimitRoot::new(host, compiled, false)),
    ))
}
