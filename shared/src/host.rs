//! The host, as the filters see it. One real implementation over the Proxy-Wasm ABI
//! ([`crate::proxy_host::ProxyWasmHost`], feature `host`) and one mock
//! ([`crate::testing::MockHost`], feature `testing`).

use crate::clock::Clock;
use crate::config::ConfigError;
use crate::decision::Denial;
use std::rc::Rc;
use std::time::Duration;

/// Which header map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderMap {
    /// The downstream request's headers.
    Request,
    /// The request's trailers.
    RequestTrailers,
    /// The upstream response's headers.
    Response,
    /// The response of the last `dispatch_http_call` (inside its callback).
    HttpCallResponse,
}

/// Which body buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Body {
    /// The downstream request's body.
    Request,
    /// The upstream response's body.
    Response,
    /// The body of the last `dispatch_http_call` response (inside its callback).
    HttpCallResponse,
    /// The message of the last gRPC call response (inside its callback).
    GrpcCallResponse,
}

/// Kinds of metric Envoy keeps for a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only ever goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of recorded values.
    Histogram,
}

/// What can go wrong in a host call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// A shared-data compare-and-swap lost a race.
    CasMismatch,
    /// The named thing (cluster, key) does not exist.
    NotFound,
    /// The host refused the arguments.
    BadArgument,
    /// Any other status.
    Other(String),
}

/// The Proxy-Wasm host, reduced to what Palisade uses. Every call is infallible from the
/// caller's view or returns a [`HostError`]: a host error never becomes a panic.
pub trait Host: Clock {
    /// The plugin configuration bytes (empty when none).
    fn plugin_configuration(&self) -> Vec<u8>;

    /// All headers of a map, names lower-case; non-UTF-8 values are read lossily.
    fn headers(&self, map: HeaderMap) -> Vec<(String, String)>;
    /// All headers of a map, shared: a host that keeps its own copy (the pipeline's stage host)
    /// hands it out without copying every name and value again.
    fn headers_shared(&self, map: HeaderMap) -> Rc<Vec<(String, String)>> {
        Rc::new(self.headers(map))
    }
    /// The first value of a header.
    fn header(&self, map: HeaderMap, name: &str) -> Option<String>;
    /// Replaces a header (`None` removes every value of it).
    fn set_header(&self, map: HeaderMap, name: &str, value: Option<&str>);
    /// Adds a value to a header.
    fn add_header(&self, map: HeaderMap, name: &str, value: &str);

    /// Part of a body buffer.
    fn body(&self, body: Body, start: usize, max: usize) -> Option<Vec<u8>>;

    /// A host property such as `["source", "address"]`, or a value a filter of this request
    /// stored with [`Host::set_property`] (Envoy: filter state `wasm.<name>`).
    fn property(&self, path: &[&str]) -> Option<Vec<u8>>;
    /// Stores a value for later filters of the same request (Envoy: filter state `wasm.<name>`,
    /// mutable, living as long as the request's filter chain; no client can set it).
    fn set_property(&self, path: &[&str], value: &[u8]) -> Result<(), HostError>;

    /// Shared data (one store for every worker of the VM) and its CAS token.
    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>);
    /// Sets shared data; with `cas`, only if nobody wrote it since that token was read.
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError>;

    /// Answers the request locally.
    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]);
    /// Resumes a paused request.
    fn resume_request(&self);
    /// Resumes a paused response.
    fn resume_response(&self);

    /// Defines a metric, returning its id.
    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32>;
    /// Adds to a counter or gauge.
    fn increment_metric(&self, id: u32, delta: i64);
    /// Records a histogram value or sets a gauge.
    fn record_metric(&self, id: u32, value: u64);

    /// Sends an HTTP request to an Envoy cluster; the answer arrives in `on_http_call_response`.
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, HostError>;

    /// Sends a unary gRPC call to an Envoy cluster; the answer arrives in `on_grpc_call_response`.
    fn dispatch_grpc_call(
        &self,
        cluster: &str,
        service: &str,
        method: &str,
        metadata: &[(&str, &[u8])],
        message: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError>;

    /// Asks for `on_tick` every `period` (zero stops it).
    fn set_tick_period(&self, period: Duration);

    // Foreign functions (issue 12: Envoy's `verify_signature`).

    /// Calls a host foreign function by name; `NotFound` when the host has none by that name.
    fn call_foreign_function(&self, name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError>;
}

/// Answers the request with a denial (status, headers, problem+json body).
pub fn send_denial(host: &dyn Host, denial: &Denial) {
    host.send_response(
        denial.status,
        &denial.response_headers(),
        &denial.problem.to_body(),
    );
}

/// Reads and compiles the plugin configuration; on error logs one line naming the field.
/// A missing (or blank) configuration is an error too: a filter never guesses what to protect.
pub fn load_config<C>(
    host: &dyn Host,
    filter: &str,
    compile: impl FnOnce(&[u8]) -> Result<C, ConfigError>,
) -> Option<C> {
    let bytes = host.plugin_configuration();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        log::error!("{filter}: no configuration; every request is answered 503 until one is given");
        return None;
    }
    match compile(&bytes) {
        Ok(compiled) => Some(compiled),
        Err(e) => {
            log::error!("{filter}: {e}");
            None
        }
    }
}

/// Whether `on_configure` should accept what [`load_config`] could not compile: a missing
/// configuration is accepted (Envoy starts, the filter answers 503), a broken one is refused.
pub fn accept_unconfigured(host: &dyn Host) -> bool {
    host.plugin_configuration()
        .iter()
        .all(u8::is_ascii_whitespace)
}

/// The answer of a filter that has no usable configuration: 503, never a silent pass.
pub fn not_configured(filter: &str) -> Denial {
    Denial::new(
        crate::problem::Problem::new(503, "filter-not-configured", "Service Unavailable")
            .with_detail(format!(
                "{filter} has no valid configuration; the request was not let through"
            )),
    )
}
