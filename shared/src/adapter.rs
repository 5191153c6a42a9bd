//! The one Proxy-Wasm adapter: a root context and an HTTP context over a [`Module`] of stages.
//! It maps callbacks onto the [`Pipeline`] and its [`Flow`] onto actions, and nothing else.
//! Every Palisade module (single filter or bundle) is this adapter with its own `configure`.

use crate::driver::{Flow, Module, Pipeline};
use crate::host::Host;
use crate::log_level::{follow_host_level, LogLevelFollower};
use crate::proxy_host::{ProxyWasmHost, UnconfiguredHttp};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};

/// Compiles the plugin configuration into a module; the error is the one log line.
pub type Configure = fn(&dyn Host, &[u8]) -> Result<Module, String>;

/// Paused requests a root callback may resume, by context id.
type Registry = Rc<RefCell<HashMap<u32, Weak<RefCell<Pipeline>>>>>;

/// Installs the panic hook and the logger (call first in `proxy_wasm::main!`); the level then
/// follows Envoy's ([`crate::log_level`]) from `on_configure` on.
pub fn init(name: &'static str) {
    crate::proxy_host::install_panic_hook(name);
    proxy_wasm::set_log_level(LogLevel::Trace);
}

/// The root context of a module; from `proxy_wasm::main!`:
/// `proxy_wasm::set_root_context(|id| adapter::root(id, NAME, configure))`.
pub fn root(context_id: u32, name: &'static str, configure: Configure) -> Box<dyn RootContext> {
    Box::new(Root {
        context_id,
        name,
        configure,
        module: None,
        registry: Registry::default(),
        log_level: LogLevelFollower::default(),
    })
}

/// One worker's root context.
struct Root {
    context_id: u32,
    name: &'static str,
    configure: Configure,
    module: Option<Rc<Module>>,
    registry: Registry,
    log_level: LogLevelFollower,
}

impl Root {
    /// Resumes, each in its own context, the requests a root callback of stage root `root` freed.
    fn wake(&self, root: usize, ids: Vec<u32>) {
        if ids.is_empty() {
            return;
        }
        let host = ProxyWasmHost;
        for id in ids {
            let pipeline = self.registry.borrow_mut().remove(&id);
            let Some(pipeline) = pipeline.and_then(|w| w.upgrade()) else {
                log::debug!("#{id} {}: request gone while waiting", self.name);
                continue;
            };
            if hostcalls::set_effective_context(id).is_err() {
                log::debug!("#{id} {}: request gone while waiting", self.name);
                continue;
            }
            let still_waiting = match pipeline.try_borrow_mut() {
                Ok(mut p) => {
                    p.wake(&host, root);
                    p.waiting()
                }
                Err(_) => {
                    log::error!("#{id} {}: request busy on wake", self.name);
                    true
                }
            };
            if still_waiting {
                self.registry
                    .borrow_mut()
                    .insert(id, Rc::downgrade(&pipeline));
            }
        }
        let _ = hostcalls::set_effective_context(self.context_id);
    }
}

impl Context for Root {
    fn on_http_call_response(&mut self, token: u32, _headers: usize, body_size: usize, _: usize) {
        let Some(module) = self.module.clone() else {
            return;
        };
        for (i, root) in module.roots.iter().enumerate() {
            let ids = root.on_http_call_response(&ProxyWasmHost, token, body_size);
            self.wake(i, ids);
        }
    }
}

impl RootContext for Root {
    fn on_configure(&mut self, _size: usize) -> bool {
        // Below Envoy's level a log line is neither formatted nor sent out of the VM.
        follow_host_level();
        let host = ProxyWasmHost;
        let bytes = host.plugin_configuration();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            log::error!(
                "{}: no configuration; every request is answered 503 until one is given",
                self.name
            );
            return true;
        }
        match (self.configure)(&host, &bytes) {
            Ok(module) => {
                // Also the requests' counter increments are written on the tick.
                host.set_tick_period(module.tick_period());
                log::info!("#{} {}: configured", self.context_id, self.name);
                self.module = Some(Rc::new(module));
                true
            }
            Err(e) => {
                log::error!("{}: {e}", self.name);
                false
            }
        }
    }

    fn on_tick(&mut self) {
        let Some(module) = self.module.clone() else {
            return;
        };
        module.flush_counts(&ProxyWasmHost);
        for (i, root) in module.roots.iter().enumerate() {
            if root.tick_period().is_some() {
                let ids = root.on_tick(&ProxyWasmHost);
                self.wake(i, ids);
            }
        }
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        self.log_level.on_request();
        let Some(module) = &self.module else {
            // Fail closed: every request is answered 503 (no context at all would panic the SDK).
            return Some(Box::new(UnconfiguredHttp { filter: self.name }));
        };
        Some(Box::new(Http {
            context_id,
            pipeline: Rc::new(RefCell::new(Pipeline::new(Rc::clone(module), context_id))),
            registry: Rc::clone(&self.registry),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct Http {
    context_id: u32,
    pipeline: Rc<RefCell<Pipeline>>,
    registry: Registry,
}

impl Http {
    /// Runs a pipeline step; a waiting request becomes reachable from the root context.
    fn drive(&self, step: impl FnOnce(&mut Pipeline, &ProxyWasmHost) -> Flow) -> Action {
        let Ok(mut pipeline) = self.pipeline.try_borrow_mut() else {
            // Unreachable (callbacks never nest); holding is safer than letting it through.
            log::error!("#{} request busy", self.context_id);
            return Action::Pause;
        };
        let flow = step(&mut pipeline, &ProxyWasmHost);
        if pipeline.waiting() {
            self.registry
                .borrow_mut()
                .insert(self.context_id, Rc::downgrade(&self.pipeline));
        }
        match flow {
            Flow::Continue => Action::Continue,
            Flow::Pause => Action::Pause,
        }
    }
}

impl Context for Http {
    fn on_grpc_call_response(&mut self, token: u32, status: u32, size: usize) {
        self.drive(|p, host| {
            p.on_grpc_response(host, token, status, size);
            Flow::Pause
        });
    }
}

impl HttpContext for Http {
    fn on_http_request_headers(&mut self, _headers: usize, end_of_stream: bool) -> Action {
        self.drive(|p, host| p.on_request_headers(host, end_of_stream))
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.drive(|p, host| p.on_request_body(host, size, end_of_stream))
    }

    fn on_http_request_trailers(&mut self, _trailers: usize) -> Action {
        self.drive(|p, host| p.on_request_trailers(host))
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        self.drive(|p, host| p.on_response_headers(host))
    }

    fn on_log(&mut self) {
        self.registry.borrow_mut().remove(&self.context_id);
        if let Ok(mut p) = self.pipeline.try_borrow_mut() {
            p.on_log(&ProxyWasmHost);
        }
    }
}
