//! The only file that speaks Proxy-Wasm: maps host callbacks to the [`RequestLimiter`] flow and
//! its [`Decision`]s to actions.

use crate::config;
use crate::limiter::{Limiter, RequestLimiter};
use palisade_core::host::{accept_unconfigured, load_config};
use palisade_core::proxy_host::{act, settle, ProxyWasmHost, UnconfiguredHttp};
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType};
use std::rc::Rc;

const FILTER: &str = "palisade-ratelimit";

/// The per-worker root: owns the compiled config.
pub struct RateLimitRoot {
    context_id: u32,
    limiter: Option<Rc<Limiter>>,
}

impl RateLimitRoot {
    /// A root context before configuration.
    pub fn new(context_id: u32) -> Self {
        Self {
            context_id,
            limiter: None,
        }
    }
}

impl Context for RateLimitRoot {}

impl RootContext for RateLimitRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let host = ProxyWasmHost;
        let Some(compiled) = load_config(&host, FILTER, config::compile) else {
            return accept_unconfigured(&host);
        };
        let rules = compiled.rules.len();
        let limiter = Limiter::new(&host, compiled);
        log::info!(
            "#{} {FILTER}: configured, {rules} rule(s), {} mode",
            self.context_id,
            if limiter.config.service.is_some() {
                "global"
            } else {
                "local"
            }
        );
        self.limiter = Some(Rc::new(limiter));
        true
    }

    fn create_http_context(&self, context_id: u32) -> Option<Box<dyn HttpContext>> {
        let Some(limiter) = self.limiter.as_ref() else {
            // Fail closed: without a configuration every request is answered 503 (returning
            // no context would make the SDK panic).
            return Some(Box::new(UnconfiguredHttp { filter: FILTER }));
        };
        let limiter = Rc::clone(limiter);
        Some(Box::new(RateLimitHttp {
            context_id,
            flow: RequestLimiter::new(limiter, context_id),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One request.
struct RateLimitHttp {
    context_id: u32,
    flow: RequestLimiter,
}

impl Context for RateLimitHttp {
    fn on_grpc_call_response(&mut self, token_id: u32, status_code: u32, response_size: usize) {
        let host = ProxyWasmHost;
        log::debug!(
            "#{} rate-limit service answered (token {token_id}, status {status_code})",
            self.context_id
        );
        settle(
            &self
                .flow
                .on_service_response(&host, token_id, status_code, response_size),
        );
    }
}

impl HttpContext for RateLimitHttp {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let host = ProxyWasmHost;
        act(&self.flow.on_request_headers(&host))
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        self.flow.on_response_headers(&ProxyWasmHost);
        Action::Continue
    }
}
