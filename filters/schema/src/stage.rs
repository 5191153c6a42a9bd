//! The schema filter as a pipeline stage: [`RequestFlow`] per request, over the stage host.

use crate::config::{self, Compiled};
use crate::flow::RequestFlow;
use crate::stats::Stats;
use palisade_core::driver::Module;
use palisade_core::host::Host;
use palisade_core::stage::{Exchange, Stage, StageRoot, Step};
use std::rc::Rc;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-schema";

/// The stage's name in a bundle configuration.
pub const STAGE_NAME: &str = "schema";

/// One worker's compiled configuration and metrics.
pub struct SchemaRoot {
    config: Rc<Compiled>,
    stats: Stats,
}

impl SchemaRoot {
    /// Defines the metrics for a compiled configuration.
    pub fn new(host: &dyn Host, config: Compiled) -> Self {
        Self {
            config: Rc::new(config),
            stats: Stats::define(host),
        }
    }
}

impl StageRoot for SchemaRoot {
    fn name(&self) -> &'static str {
        STAGE_NAME
    }

    fn create(&self, context_id: u32) -> Box<dyn Stage> {
        Box::new(SchemaStage(RequestFlow::new(
            context_id,
            Rc::clone(&self.config),
            self.stats,
        )))
    }
}

/// Every `Pause` of the flow means "the body first".
struct SchemaStage(RequestFlow);

impl Stage for SchemaStage {
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        Step::body(self.0.on_request_headers(host, ex.end_of_stream))
    }

    fn on_request_body(
        &mut self,
        host: &dyn Host,
        _ex: &mut Exchange,
        size: usize,
        end_of_stream: bool,
    ) -> Step {
        Step::body(self.0.on_request_body(host, size, end_of_stream))
    }

    fn on_request_trailers(&mut self, host: &dyn Host, _ex: &mut Exchange) -> Step {
        Step::body(self.0.on_request_trailers(host))
    }
}

/// The single-filter module: this stage for every request.
pub fn module(host: &dyn Host, json: &[u8]) -> Result<Module, String> {
    let compiled = config::compile(json).map_err(|e| e.to_string())?;
    Ok(Module::single(
        FILTER_NAME,
        Box::new(SchemaRoot::new(host, compiled)),
    ))
}
