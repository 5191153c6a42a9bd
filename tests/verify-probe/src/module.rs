//! The Proxy-Wasm adapter: configuration in the root context, one batch per request body.

use palisade_core::host::{Body, Host};
use palisade_core::proxy_host::ProxyWasmHost;
use palisade_jwt::backend::HostUse;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::cell::Cell;
use std::rc::Rc;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(proxy_wasm::types::LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(ProbeRoot { host_use: Rc::new(Cell::new(None)) })
    });
}}

/// The root context; `None` until configured.
struct ProbeRoot {
    host_use: Rc<Cell<Option<HostUse>>>,
}

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let host = ProxyWasmHost;
        match crate::host_use(&host, &host.plugin_configuration()) {
            Ok(chosen) => {
                log::info!("verify-probe: {chosen:?}");
                self.host_use.set(Some(chosen));
                true
            }
            Err(why) => {
                log::error!("verify-probe: {why}");
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeHttp {
            host_use: self.host_use.get(),
        }))
    }
}

/// One request: waits for the whole body, answers it locally.
struct ProbeHttp {
    host_use: Option<HostUse>,
}

impl Context for ProbeHttp {}

impl HttpContext for ProbeHttp {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        if end_of_stream {
            ProxyWasmHost.send_response(400, &[], b"{\"error\":\"no body\"}");
            return Action::Pause;
        }
        // Not held: Envoy stops the body callbacks of a request whose headers are held (without
        // `allow_on_headers_stop_iteration`); the body is buffered and answered locally anyway.
        Action::Continue
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let host = ProxyWasmHost;
        let (status, body) = match (self.host_use, host.body(Body::Request, 0, size)) {
            (Some(host_use), Some(bytes)) => crate::answer(&host, host_use, &bytes),
            (None, _) => (503, "{\"error\":\"not configured\"}".to_string()),
            (_, None) => (400, "{\"error\":\"no body\"}".to_string()),
        };
        host.send_response(
            status,
            &[("content-type", "application/json")],
            body.as_bytes(),
        );
        Action::Pause
    }
}
