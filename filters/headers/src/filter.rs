//! The Proxy-Wasm adapter: the only code that implements the SDK's contexts. It maps the
//! exchange's decisions to actions and nothing else.

use crate::config;
use crate::exchange::Exchange;
use crate::policy::Compiled;
use crate::stats::Stats;
use palisade_core::decision::Decision;
use palisade_core::host::{accept_unconfigured, load_config};
use palisade_core::proxy_host::{act, ProxyWasmHost, UnconfiguredHttp};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;

/// The filter's name in log lines.
pub const FILTER_NAME: &str = "palisade-headers";

/// Holds the compiled configuration shared by every request of this worker.
#[derive(Default)]
pub struct HeadersRoot {
    config: Option<Rc<Compiled>>,
    stats: Stats,
}

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
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
        Some(Box::new(HeadersHttp {
            context_id,
            exchange: Some(Exchange::new(context_id, Rc::clone(config), self.stats)),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request through the filter.
struct HeadersHttp {
    context_id: u32,
    exchange: Option<Exchange>,
}

impl Context for HeadersHttp {}

impl HttpContext for HeadersHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        log::trace!("#{} on_http_request_headers", self.context_id);
        let decision = match &mut self.exchange {
            Some(exchange) => exchange.on_request_headers(&ProxyWasmHost),
            None => Decision::Continue,
        };
        act(&decision)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        log::trace!("#{} on_http_response_headers", self.context_id);
        let decision = match &mut self.exchange {
            Some(exchange) => exchange.on_response_headers(&ProxyWasmHost),
            None => Decision::Continue,
        };
        act(&decision)
    }
}
