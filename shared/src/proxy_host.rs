//! The one real [`Host`]: Proxy-Wasm host calls. Nothing else in Palisade calls the host.
//!
//! Uses the SDK's `hostcalls` (which return `Result`) and the bytes variants of header reads
//! (the string variants `unwrap()` non-UTF-8 values).

use crate::clock::Clock;
use crate::host::{Body, HeaderMap, Host, HostError, MetricKind};
use proxy_wasm::hostcalls;
use proxy_wasm::types::{BufferType, LogLevel, MapType, MetricType, Status};
use std::time::{Duration, UNIX_EPOCH};

/// The Proxy-Wasm host of the current context.
#[derive(Debug, Default, Clone, Copy)]
pub struct ProxyWasmHost;

fn map_type(map: HeaderMap) -> MapType {
    match map {
        HeaderMap::Request => MapType::HttpRequestHeaders,
        HeaderMap::RequestTrailers => MapType::HttpRequestTrailers,
        HeaderMap::Response => MapType::HttpResponseHeaders,
        HeaderMap::HttpCallResponse => MapType::HttpCallResponseHeaders,
    }
}

fn host_error(status: Status) -> HostError {
    match status {
        Status::CasMismatch => HostError::CasMismatch,
        Status::NotFound => HostError::NotFound,
        Status::BadArgument => HostError::BadArgument,
        other => HostError::Other(format!("{other:?}")),
    }
}

fn lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl Clock for ProxyWasmHost {
    fn unix_nanos(&self) -> u64 {
        hostcalls::get_current_time()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}

impl Host for ProxyWasmHost {
    fn plugin_configuration(&self) -> Vec<u8> {
        hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    fn headers(&self, map: HeaderMap) -> Vec<(String, String)> {
        hostcalls::get_map_bytes(map_type(map))
            .map(|pairs| pairs.into_iter().map(|(n, v)| (n, lossy(v))).collect())
            .unwrap_or_default()
    }

    fn header(&self, map: HeaderMap, name: &str) -> Option<String> {
        hostcalls::get_map_value_bytes(map_type(map), name)
            .ok()
            .flatten()
            .map(lossy)
    }

    fn set_header(&self, map: HeaderMap, name: &str, value: Option<&str>) {
        if let Err(e) =
            hostcalls::set_map_value_bytes(map_type(map), name, value.map(str::as_bytes))
        {
            log::warn!("set header {name}: {e:?}");
        }
    }

    fn add_header(&self, map: HeaderMap, name: &str, value: &str) {
        if let Err(e) = hostcalls::add_map_value_bytes(map_type(map), name, value.as_bytes()) {
            log::warn!("add header {name}: {e:?}");
        }
    }

    fn body(&self, body: Body, start: usize, max: usize) -> Option<Vec<u8>> {
        let buffer = match body {
            Body::Request => BufferType::HttpRequestBody,
            Body::Response => BufferType::HttpResponseBody,
            Body::HttpCallResponse => BufferType::HttpCallResponseBody,
            Body::GrpcCallResponse => BufferType::GrpcReceiveBuffer,
        };
        hostcalls::get_buffer(buffer, start, max).ok().flatten()
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        hostcalls::get_property(path.to_vec()).ok().flatten()
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        hostcalls::set_property(path.to_vec(), Some(value)).map_err(host_error)
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        hostcalls::get_shared_data(key).unwrap_or((None, None))
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        hostcalls::set_shared_data(key, Some(value), cas).map_err(host_error)
    }

    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        if let Err(e) =
            hostcalls::send_http_response(u32::from(status), headers.to_vec(), Some(body))
        {
            log::error!("send response {status}: {e:?}");
        }
    }

    fn resume_request(&self) {
        if let Err(e) = hostcalls::resume_http_request() {
            log::warn!("resume request: {e:?}");
        }
    }

    fn resume_response(&self) {
        if let Err(e) = hostcalls::resume_http_response() {
            log::warn!("resume response: {e:?}");
        }
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32> {
        let kind = match kind {
            MetricKind::Counter => MetricType::Counter,
            MetricKind::Gauge => MetricType::Gauge,
            MetricKind::Histogram => MetricType::Histogram,
        };
        hostcalls::define_metric(kind, name)
            .map_err(|e| log::warn!("define metric {name}: {e:?}"))
            .ok()
    }

    fn increment_metric(&self, id: u32, delta: i64) {
        let _ = hostcalls::increment_metric(id, delta);
    }

    fn record_metric(&self, id: u32, value: u64) {
        let _ = hostcalls::record_metric(id, value);
    }

    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, HostError> {
        hostcalls::dispatch_http_call(cluster, headers.to_vec(), body, vec![], timeout)
            .map_err(host_error)
    }

    fn dispatch_grpc_call(
        &self,
        cluster: &str,
        service: &str,
        method: &str,
        metadata: &[(&str, &[u8])],
        message: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError> {
        hostcalls::dispatch_grpc_call(
            cluster,
            service,
            method,
            metadata.to_vec(),
            Some(message),
            timeout,
        )
        .map_err(host_error)
    }

    fn set_tick_period(&self, period: Duration) {
        if let Err(e) = hostcalls::set_tick_period(period) {
            log::warn!("set tick period: {e:?}");
        }
    }

    /// proxy-wasm 0.2.5 panics on statuses other than Ok, NotFound, BadArgument,
    /// SerializationFailure and InternalFailure. Envoy's `proxy_call_foreign_function` answers
    /// NotFound for an unknown name and otherwise the function's own status; the functions
    /// called here (`verify_signature`) return only Ok or BadArgument, and the arguments are
    /// always valid module memory (InvalidMemoryAccess cannot happen), so no path panics.
    fn call_foreign_function(&self, name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError> {
        hostcalls::call_foreign_function(name, Some(arguments))
            .map(Option::unwrap_or_default)
            .map_err(host_error)
    }
}

/// The HTTP context of a filter without a usable configuration: every request is answered 503
/// problem+json (the SDK panics on a root that creates no HTTP context, so one always exists).
pub struct UnconfiguredHttp {
    /// The filter's name, for the answer and the log.
    pub filter: &'static str,
}

impl proxy_wasm::traits::Context for UnconfiguredHttp {}

impl proxy_wasm::traits::HttpContext for UnconfiguredHttp {
    fn on_http_request_headers(
        &mut self,
        _headers: usize,
        _end_of_stream: bool,
    ) -> proxy_wasm::types::Action {
        // Debug only: the missing configuration was logged once at start; a flood must not flood the log.
        log::debug!("{}: not configured; request refused", self.filter);
        act(&crate::decision::Decision::Deny(
            crate::host::not_configured(self.filter),
        ))
    }
}

/// Logs panics at critical before the VM dies, so the cause is in Envoy's log.
pub fn install_panic_hook(filter: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        let _ = hostcalls::log(LogLevel::Critical, &format!("{filter}: panic: {info}"));
    }));
}

/// The action for a decision made inside a filter callback: a denial is answered first, and the
/// stream then stays paused (Envoy ends it with the local answer).
pub fn act(decision: &crate::decision::Decision) -> proxy_wasm::types::Action {
    use crate::decision::Decision;
    use proxy_wasm::types::Action;
    match decision {
        Decision::Continue => Action::Continue,
        Decision::Deny(denial) => {
            crate::host::send_denial(&ProxyWasmHost, denial);
            Action::Pause
        }
        Decision::Pause => Action::Pause,
    }
}

/// Applies a decision made outside the request's own callbacks (a call's answer, a tick) to a
/// paused request: resume it, answer it, or leave it waiting.
pub fn settle(decision: &crate::decision::Decision) {
    use crate::decision::Decision;
    match decision {
        Decision::Continue => ProxyWasmHost.resume_request(),
        Decision::Deny(denial) => crate::host::send_denial(&ProxyWasmHost, denial),
        Decision::Pause => {}
    }
}
