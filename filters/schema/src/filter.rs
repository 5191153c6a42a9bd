//! The Proxy-Wasm adapter: the only code that implements the SDK's contexts. It maps the flow's
//! decisions to actions and nothing else.

use crate::config::{self, Compiled};
use crate::flow::RequestFlow;
use crate::stats::Stats;
use palisade_core::decision::Decision;
use palisade_core::host::{accept_unconfigured, load_config};
use palisade_core::proxy_host::{act, ProxyWasmHost, UnconfiguredHttp};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-schema";

/// Holds the compiled configuration shared by every request of this worker.
#[derive(Default)]
pub struct SchemaRoot {
    config: Option<Rc<Compiled>>,
    stats: Stats,
}

impl Context for SchemaRoot {}

impl RootContext for SchemaRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let host = ProxyWasmHost;
        match load_config(&host, FILTER_NAME, config::compile) {
            Some(compiled) => {
                self.stats = Stats::define(&host);
                self.config = Some(Rc::new(compiled));
                log::info!("{FILTER_NAME}: configured");
                true
            }
            None => accept_unconfigured(&host),
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let Some(config) = &self.config else {
            // Fail closed: without a configuration every request is answered 503.
            return Some(Box::new(UnconfiguredHttp {
                filter: FILTER_NAME,
            }));
        };
        Some(Box::new(SchemaHttp {
            context_id,
            flow: Some(RequestFlow::new(context_id, Rc::clone(config), self.stats)),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request through the filter.
struct SchemaHttp {
    context_id: u32,
    flow: Option<RequestFlow>,
}

impl Context for SchemaHttp {}

impl HttpContext for SchemaHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        log::trace!(
            "#{} on_http_request_headers eos={end_of_stream}",
            self.context_id
        );
        act(&match &mut self.flow {
            Some(flow) => flow.on_request_headers(&ProxyWasmHost, end_of_stream),
            None => Decision::Continue,
        })
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        log::trace!(
            "#{} on_http_request_body size={body_size} eos={end_of_stream}",
            self.context_id
        );
        act(&match &mut self.flow {
            Some(flow) => flow.on_request_body(&ProxyWasmHost, body_size, end_of_stream),
            None => Decision::Continue,
        })
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        log::trace!("#{} on_http_request_trailers", self.context_id);
        act(&match &mut self.flow {
            Some(flow) => flow.on_request_trailers(&ProxyWasmHost),
            None => Decision::Continue,
        })
    }
}
