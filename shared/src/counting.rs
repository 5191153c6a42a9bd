//! A host that counts its calls, by kind: each call is one crossing out of the Wasm VM in
//! Envoy, so a test can pin how many a request costs without timing anything.

use crate::clock::Clock;
use crate::host::{Body, HeaderMap, Host, HostError, MetricKind};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// One kind of host call (one Proxy-Wasm ABI function).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostCall {
    /// `proxy_get_current_time_nanoseconds`.
    CurrentTime,
    /// `proxy_get_buffer_bytes` of the plugin configuration.
    PluginConfiguration,
    /// `proxy_get_header_map_pairs`.
    Headers,
    /// `proxy_get_header_map_value`.
    Header,
    /// `proxy_replace_header_map_value` / `proxy_remove_header_map_value`.
    SetHeader,
    /// `proxy_add_header_map_value`.
    AddHeader,
    /// `proxy_get_buffer_bytes` of a body.
    Body,
    /// `proxy_get_property`.
    Property,
    /// `proxy_set_property`.
    SetProperty,
    /// `proxy_get_shared_data`.
    SharedData,
    /// `proxy_set_shared_data`.
    SetSharedData,
    /// `proxy_send_local_response`.
    SendResponse,
    /// `proxy_continue_stream` (request).
    ResumeRequest,
    /// `proxy_continue_stream` (response).
    ResumeResponse,
    /// `proxy_define_metric`.
    DefineMetric,
    /// `proxy_increment_metric`.
    IncrementMetric,
    /// `proxy_record_metric`.
    RecordMetric,
    /// `proxy_http_call`.
    DispatchHttpCall,
    /// `proxy_grpc_call`.
    DispatchGrpcCall,
    /// `proxy_set_tick_period_milliseconds`.
    SetTickPeriod,
    /// `proxy_call_foreign_function`.
    CallForeignFunction,
}

impl HostCall {
    /// The name used in tables and test messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::CurrentTime => "current_time",
            Self::PluginConfiguration => "plugin_configuration",
            Self::Headers => "get_headers",
            Self::Header => "get_header",
            Self::SetHeader => "set_header",
            Self::AddHeader => "add_header",
            Self::Body => "get_body",
            Self::Property => "get_property",
            Self::SetProperty => "set_property",
            Self::SharedData => "get_shared_data",
            Self::SetSharedData => "set_shared_data",
            Self::SendResponse => "send_response",
            Self::ResumeRequest => "resume_request",
            Self::ResumeResponse => "resume_response",
            Self::DefineMetric => "define_metric",
            Self::IncrementMetric => "increment_metric",
            Self::RecordMetric => "record_metric",
            Self::DispatchHttpCall => "http_call",
            Self::DispatchGrpcCall => "grpc_call",
            Self::SetTickPeriod => "set_tick_period",
            Self::CallForeignFunction => "call_foreign_function",
        }
    }
}

/// Calls counted, by kind (kinds never called are absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostCalls(pub BTreeMap<HostCall, u32>);

impl HostCalls {
    /// The calls of one kind.
    pub fn of(&self, kind: HostCall) -> u32 {
        self.0.get(&kind).copied().unwrap_or(0)
    }

    /// Every call.
    pub fn total(&self) -> u32 {
        self.0.values().sum()
    }

    /// Counts from `(kind, count)` pairs, for expectations in tests (zero counts dropped).
    pub fn from_pairs(pairs: &[(HostCall, u32)]) -> Self {
        Self(
            pairs
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| (*k, *n))
                .collect(),
        )
    }
}

impl fmt::Display for HostCalls {
    /// `get_headers 1, set_header 3 (total 4)`: a failed pin shows the whole profile.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, n)| format!("{} {n}", k.name()))
            .collect();
        write!(f, "{} (total {})", parts.join(", "), self.total())
    }
}

/// Wraps a host and counts every call made through it; [`CountingHost::take`] returns the
/// counts since the last take, so each request (or phase) is counted on its own.
#[derive(Debug, Default)]
pub struct CountingHost<H> {
    inner: H,
    counts: RefCell<BTreeMap<HostCall, u32>>,
}

impl<H: Host> CountingHost<H> {
    /// Counts the calls made to `inner`.
    pub fn new(inner: H) -> Self {
        Self {
            inner,
            counts: RefCell::new(BTreeMap::new()),
        }
    }

    /// The wrapped host (for its assertions; calls made on it directly are not counted).
    pub fn inner(&self) -> &H {
        &self.inner
    }

    /// The counts so far, leaving them in place.
    pub fn counts(&self) -> HostCalls {
        HostCalls(self.counts.borrow().clone())
    }

    /// The counts so far, and a fresh start.
    pub fn take(&self) -> HostCalls {
        HostCalls(std::mem::take(&mut *self.counts.borrow_mut()))
    }

    fn count(&self, kind: HostCall) {
        *self.counts.borrow_mut().entry(kind).or_insert(0) += 1;
    }
}

impl<H> std::ops::Deref for CountingHost<H> {
    type Target = H;
    fn deref(&self) -> &H {
        &self.inner
    }
}

impl<H: Host> Clock for CountingHost<H> {
    fn unix_nanos(&self) -> u64 {
        self.count(HostCall::CurrentTime);
        self.inner.unix_nanos()
    }
}

impl<H: Host> Host for CountingHost<H> {
    fn plugin_configuration(&self) -> Vec<u8> {
        self.count(HostCall::PluginConfiguration);
        self.inner.plugin_configuration()
    }

    fn headers(&self, map: HeaderMap) -> Vec<(String, String)> {
        self.count(HostCall::Headers);
        self.inner.headers(map)
    }

    fn header(&self, map: HeaderMap, name: &str) -> Option<String> {
        self.count(HostCall::Header);
        self.inner.header(map, name)
    }

    fn set_header(&self, map: HeaderMap, name: &str, value: Option<&str>) {
        self.count(HostCall::SetHeader);
        self.inner.set_header(map, name, value);
    }

    fn add_header(&self, map: HeaderMap, name: &str, value: &str) {
        self.count(HostCall::AddHeader);
        self.inner.add_header(map, name, value);
    }

    fn body(&self, body: Body, start: usize, max: usize) -> Option<Vec<u8>> {
        self.count(HostCall::Body);
        self.inner.body(body, start, max)
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.count(HostCall::Property);
        self.inner.property(path)
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.count(HostCall::SetProperty);
        self.inner.set_property(path, value)
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.count(HostCall::SharedData);
        self.inner.shared_data(key)
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.count(HostCall::SetSharedData);
        self.inner.set_shared_data(key, value, cas)
    }

    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.count(HostCall::SendResponse);
        self.inner.send_response(status, headers, body);
    }

    fn resume_request(&self) {
        self.count(HostCall::ResumeRequest);
        self.inner.resume_request();
    }

    fn resume_response(&self) {
        self.count(HostCall::ResumeResponse);
        self.inner.resume_response();
    }

    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32> {
        self.count(HostCall::DefineMetric);
        self.inner.define_metric(kind, name)
    }

    fn increment_metric(&self, id: u32, delta: i64) {
        self.count(HostCall::IncrementMetric);
        self.inner.increment_metric(id, delta);
    }

    fn record_metric(&self, id: u32, value: u64) {
        self.count(HostCall::RecordMetric);
        self.inner.record_metric(id, value);
    }

    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, HostError> {
        self.count(HostCall::DispatchHttpCall);
        self.inner
            .dispatch_http_call(cluster, headers, body, timeout)
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
        self.count(HostCall::DispatchGrpcCall);
        self.inner
            .dispatch_grpc_call(cluster, service, method, metadata, message, timeout)
    }

    fn set_tick_period(&self, period: Duration) {
        self.count(HostCall::SetTickPeriod);
        self.inner.set_tick_period(period);
    }

    fn call_foreign_function(&self, name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError> {
        self.count(HostCall::CallForeignFunction);
        self.inner.call_foreign_function(name, arguments)
    }
}

/// Log records a request produced, by level, on this thread. In the module each record at or
/// below the module's `log` max level is one `proxy_log` crossing (and one formatted string).
pub mod log_records {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    thread_local! {
        static RECORDS: RefCell<BTreeMap<log::Level, u32>> = const { RefCell::new(BTreeMap::new()) };
    }

    struct Counter;

    impl log::Log for Counter {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            RECORDS.with(|r| *r.borrow_mut().entry(record.level()).or_insert(0) += 1);
        }
        fn flush(&self) {}
    }

    static COUNTER: Counter = Counter;

    /// Installs the counting logger at `Trace` (once per test binary; another logger already
    /// installed stays, and then nothing is counted).
    pub fn install() {
        if log::set_logger(&COUNTER).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    }

    /// The records of this thread since the last take, by level.
    pub fn take() -> BTreeMap<log::Level, u32> {
        RECORDS.with(|r| std::mem::take(&mut *r.borrow_mut()))
    }

    /// Of `records`, those a module would send to the host with its max level at `max`.
    pub fn crossing(records: &BTreeMap<log::Level, u32>, max: log::LevelFilter) -> u32 {
        records
            .iter()
            .filter(|(level, _)| **level <= max)
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn each_call_is_counted_by_kind_and_take_starts_afresh() {
        let host = CountingHost::new(MockHost::new().with_request_header(":path", "/"));
        let _ = host.headers(HeaderMap::Request);
        host.set_header(HeaderMap::Request, "x-a", Some("1"));
        host.set_header(HeaderMap::Request, "x-b", None);
        let _ = host.unix_nanos();
        let counts = host.take();
        assert_eq!(
            counts,
            HostCalls::from_pairs(&[
                (HostCall::Headers, 1),
                (HostCall::SetHeader, 2),
                (HostCall::CurrentTime, 1),
            ])
        );
        assert_eq!(counts.total(), 4);
        assert_eq!(
            counts.to_string(),
            "current_time 1, get_headers 1, set_header 2 (total 4)"
        );
        assert_eq!(host.take().total(), 0);
        // The calls reached the wrapped host.
        assert_eq!(
            host.inner().header(HeaderMap::Request, "x-a").as_deref(),
            Some("1")
        );
    }

    #[test]
    fn log_records_are_counted_by_level_on_this_thread() {
        log_records::install();
        let _ = log_records::take();
        log::debug!("one");
        log::trace!("two");
        log::info!("three");
        let records = log_records::take();
        assert_eq!(records.values().sum::<u32>(), 3);
        assert_eq!(log_records::crossing(&records, log::LevelFilter::Info), 1);
        assert_eq!(log_records::crossing(&records, log::LevelFilter::Trace), 3);
    }
}
