//! The headers filter as a pipeline stage: [`Exchange`] per request, over the stage host.

use crate::config;
use crate::exchange::Exchange;
use crate::policy::Compiled;
use crate::stats::Stats;
use palisade_core::driver::Module;
use palisade_core::host::Host;
use palisade_core::stage::{self, Stage, StageRoot, Step};
use std::rc::Rc;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-headers";

/// The stage's name in a bundle configuration.
pub const STAGE_NAME: &str = "headers";

/// One worker's compiled configuration and metrics.
pub struct HeadersRoot {
    config: Rc<Compiled>,
    stats: Stats,
}

impl HeadersRoot {
    /// Defines the metrics for a compiled configuration.
    #[inline]
    pub fn new(host: &dyn Host, config: Compiled) -> Self {
        Self {
            config: Rc::new(config),
            stats: Stats::define(host),
        }
    }
}

impl StageRoot for HeadersRoot {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn create(&self, context_id: u32) -> Box<dyn Stage> {
        Box::new(HeadersStage(Exchange::new(
            context_id,
            Rc::clone(&self.config),
            self.stats,
        )))
    }
}

struct HeadersStage(Exchange);

impl Stage for HeadersStage {
    fn on_request_headers(&mut self, host: &dyn Host, _ex: &mut stage::Exchange) -> Step {
        Step::waiting(self.0.on_request_headers(host))
    }

    fn on_response_headers(&mut self, host: &dyn Host, _ex: &mut stage::Exchange) {
        self.0.on_response_headers(host);
    }
}

/// The single-filter module: this stage for every request.
#[inline]
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    let compiled = config::compile(json).map_err(|e| e.to_string())?;
    Ok(Module::single(
        FILTER_NAME,
        Box::new(HeadersRoot::new(host, compiled)),
    ))
}
