//! A mock host for native unit tests: builder-style set-up, then assertions on what the
//! filter did (headers set, responses sent, metrics, shared data, calls dispatched).

use crate::clock::Clock;
use crate::host::{Body, HeaderMap, Host, HostError, MetricKind};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

/// A local response the filter sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentResponse {
    /// Status.
    pub status: u16,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl SentResponse {
    /// First value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A call the filter dispatched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DispatchedCall {
    /// Token returned to the filter.
    pub token: u32,
    /// Target cluster.
    pub cluster: String,
    /// HTTP headers, or gRPC `service`/`method` as `:service`/`:method`.
    pub headers: Vec<(String, String)>,
    /// Body or gRPC message.
    pub body: Vec<u8>,
    /// Timeout.
    pub timeout: Duration,
}

/// An in-memory host.
#[derive(Debug, Default)]
pub struct MockHost {
    now_nanos: Cell<u64>,
    config: RefCell<Vec<u8>>,
    maps: RefCell<HashMap<HeaderMap, Vec<(String, String)>>>,
    bodies: RefCell<HashMap<Body, Vec<u8>>>,
    properties: RefCell<HashMap<String, Vec<u8>>>,
    shared: RefCell<HashMap<String, (Vec<u8>, u32)>>,
    metric_names: RefCell<Vec<String>>,
    metric_values: RefCell<HashMap<u32, i64>>,
    sent: RefCell<Vec<SentResponse>>,
    calls: RefCell<Vec<DispatchedCall>>,
    fail_calls: Cell<bool>,
    resumed_requests: Cell<u32>,
    resumed_responses: Cell<u32>,
    tick: Cell<Option<Duration>>,
    foreign: RefCell<HashMap<String, ForeignFunction>>,
}

/// A foreign function of the mock host.
pub type ForeignFn = dyn Fn(&[u8]) -> Result<Vec<u8>, HostError>;

/// A registered foreign function (its own type so the mock stays `Debug`).
#[derive(Clone)]
struct ForeignFunction(Rc<ForeignFn>);

impl std::fmt::Debug for ForeignFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignFunction")
    }
}

impl MockHost {
    /// An empty host at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a foreign function (`call_foreign_function` answers `NotFound` for others).
    #[must_use]
    pub fn with_foreign_function(
        self,
        name: &str,
        f: impl Fn(&[u8]) -> Result<Vec<u8>, HostError> + 'static,
    ) -> Self {
        self.foreign
            .borrow_mut()
            .insert(name.to_string(), ForeignFunction(Rc::new(f)));
        self
    }

    /// Sets the plugin configuration.
    #[must_use]
    pub fn with_config(self, config: &str) -> Self {
        *self.config.borrow_mut() = config.as_bytes().to_vec();
        self
    }

    /// Adds a header to a map.
    #[must_use]
    pub fn with_header(self, map: HeaderMap, name: &str, value: &str) -> Self {
        self.add_header(map, name, value);
        self
    }

    /// Adds a request header.
    #[must_use]
    pub fn with_request_header(self, name: &str, value: &str) -> Self {
        self.with_header(HeaderMap::Request, name, value)
    }

    /// Adds a response header.
    #[must_use]
    pub fn with_response_header(self, name: &str, value: &str) -> Self {
        self.with_header(HeaderMap::Response, name, value)
    }

    /// Sets a body buffer.
    #[must_use]
    pub fn with_body(self, body: Body, bytes: &[u8]) -> Self {
        self.set_body(body, bytes);
        self
    }

    /// Sets a property (`path` joined by `.`, e.g. `source.address`).
    #[must_use]
    pub fn with_property(self, path: &str, value: &[u8]) -> Self {
        self.properties
            .borrow_mut()
            .insert(path.to_string(), value.to_vec());
        self
    }

    /// Sets the time.
    #[must_use]
    pub fn at_seconds(self, seconds: u64) -> Self {
        self.now_nanos.set(seconds.saturating_mul(1_000_000_000));
        self
    }

    /// Makes every dispatched call fail (cluster missing).
    #[must_use]
    pub fn failing_calls(self) -> Self {
        self.fail_calls.set(true);
        self
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.now_nanos.set(self.now_nanos.get().saturating_add(by));
    }

    /// Sets the time in nanoseconds (may go backwards).
    pub fn set_nanos(&self, nanos: u64) {
        self.now_nanos.set(nanos);
    }

    /// Replaces a body buffer.
    pub fn set_body(&self, body: Body, bytes: &[u8]) {
        self.bodies.borrow_mut().insert(body, bytes.to_vec());
    }

    /// Replaces a whole header map.
    pub fn set_headers(&self, map: HeaderMap, headers: &[(&str, &str)]) {
        self.maps.borrow_mut().insert(
            map,
            headers
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), (*v).to_string()))
                .collect(),
        );
    }

    /// Responses sent so far.
    pub fn sent(&self) -> Vec<SentResponse> {
        self.sent.borrow().clone()
    }

    /// The last response sent.
    pub fn last_response(&self) -> Option<SentResponse> {
        self.sent.borrow().last().cloned()
    }

    /// Calls dispatched so far.
    pub fn calls(&self) -> Vec<DispatchedCall> {
        self.calls.borrow().clone()
    }

    /// A metric's value by name.
    pub fn metric(&self, name: &str) -> Option<i64> {
        let names = self.metric_names.borrow();
        let id = names.iter().position(|n| n == name)?;
        let id = u32::try_from(id).ok()?;
        Some(self.metric_values.borrow().get(&id).copied().unwrap_or(0))
    }

    /// How often the request / response was resumed.
    pub fn resumed(&self) -> (u32, u32) {
        (self.resumed_requests.get(), self.resumed_responses.get())
    }

    /// The tick period asked for.
    pub fn tick_period(&self) -> Option<Duration> {
        self.tick.get()
    }

    fn dispatch(&self, call: DispatchedCall) -> Result<u32, HostError> {
        if self.fail_calls.get() {
            return Err(HostError::NotFound);
        }
        let mut calls = self.calls.borrow_mut();
        let token = u32::try_from(calls.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        calls.push(DispatchedCall { token, ..call });
        Ok(token)
    }
}

impl Clock for MockHost {
    fn unix_nanos(&self) -> u64 {
        self.now_nanos.get()
    }
}

impl Host for MockHost {
    fn plugin_configuration(&self) -> Vec<u8> {
        self.config.borrow().clone()
    }

    fn headers(&self, map: HeaderMap) -> Vec<(String, String)> {
        self.maps.borrow().get(&map).cloned().unwrap_or_default()
    }

    fn header(&self, map: HeaderMap, name: &str) -> Option<String> {
        self.maps.borrow().get(&map).and_then(|h| {
            h.iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        })
    }

    fn set_header(&self, map: HeaderMap, name: &str, value: Option<&str>) {
        let mut maps = self.maps.borrow_mut();
        let headers = maps.entry(map).or_default();
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        if let Some(v) = value {
            headers.push((name.to_ascii_lowercase(), v.to_string()));
        }
    }

    fn add_header(&self, map: HeaderMap, name: &str, value: &str) {
        self.maps
            .borrow_mut()
            .entry(map)
            .or_default()
            .push((name.to_ascii_lowercase(), value.to_string()));
    }

    fn body(&self, body: Body, start: usize, max: usize) -> Option<Vec<u8>> {
        let bodies = self.bodies.borrow();
        let bytes = bodies.get(&body)?;
        let end = start.saturating_add(max).min(bytes.len());
        bytes.get(start..end).map(<[u8]>::to_vec)
    }

    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.properties.borrow().get(&path.join(".")).cloned()
    }

    fn set_property(&self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.properties
            .borrow_mut()
            .insert(path.join("."), value.to_vec());
        Ok(())
    }

    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        match self.shared.borrow().get(key) {
            Some((v, cas)) => (Some(v.clone()), Some(*cas)),
            None => (None, None),
        }
    }

    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        let mut shared = self.shared.borrow_mut();
        let current = shared.get(key).map(|(_, c)| *c);
        // Envoy: a CAS token of 0 or absent means "no check".
        if let Some(expected) = cas.filter(|c| *c != 0) {
            if current.is_some_and(|c| c != expected) {
                return Err(HostError::CasMismatch);
            }
        }
        let next = current.unwrap_or(0).wrapping_add(1).max(1);
        shared.insert(key.to_string(), (value.to_vec(), next));
        Ok(())
    }

    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.sent.borrow_mut().push(SentResponse {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                .collect(),
            body: body.to_vec(),
        });
    }

    fn resume_request(&self) {
        self.resumed_requests.set(self.resumed_requests.get() + 1);
    }

    fn resume_response(&self) {
        self.resumed_responses.set(self.resumed_responses.get() + 1);
    }

    fn define_metric(&self, _kind: MetricKind, name: &str) -> Option<u32> {
        let mut names = self.metric_names.borrow_mut();
        if let Some(i) = names.iter().position(|n| n == name) {
            return u32::try_from(i).ok();
        }
        names.push(name.to_string());
        u32::try_from(names.len() - 1).ok()
    }

    fn increment_metric(&self, id: u32, delta: i64) {
        *self.metric_values.borrow_mut().entry(id).or_insert(0) += delta;
    }

    fn record_metric(&self, id: u32, value: u64) {
        let value = i64::try_from(value).unwrap_or(i64::MAX);
        *self.metric_values.borrow_mut().entry(id).or_insert(0) += value;
    }

    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, HostError> {
        self.dispatch(DispatchedCall {
            token: 0,
            cluster: cluster.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_string(), (*v).to_string()))
                .collect(),
            body: body.map(<[u8]>::to_vec).unwrap_or_default(),
            timeout,
        })
    }

    fn dispatch_grpc_call(
        &self,
        cluster: &str,
        service: &str,
        method: &str,
        _metadata: &[(&str, &[u8])],
        message: &[u8],
        timeout: Duration,
    ) -> Result<u32, HostError> {
        self.dispatch(DispatchedCall {
            token: 0,
            cluster: cluster.to_string(),
            headers: vec![
                (":service".to_string(), service.to_string()),
                (":method".to_string(), method.to_string()),
            ],
            body: message.to_vec(),
            timeout,
        })
    }

    fn set_tick_period(&self, period: Duration) {
        self.tick.set(Some(period));
    }

    fn call_foreign_function(&self, name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError> {
        // Cloned out first: the function may call back into the mock.
        let f = self.foreign.borrow().get(name).cloned();
        match f {
            Some(ForeignFunction(f)) => f(arguments),
            None => Err(HostError::NotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Denial;
    use crate::host::send_denial;
    use crate::problem::Problem;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[test]
    #[wasm_bindgen_test]
    fn shared_data_cas_refuses_a_stale_token() {
        let host = MockHost::new();
        host.set_shared_data("k", b"1", None).unwrap();
        let (_, cas) = host.shared_data("k");
        host.set_shared_data("k", b"2", cas).unwrap();
        assert_eq!(
            host.set_shared_data("k", b"3", cas),
            Err(HostError::CasMismatch)
        );
        assert_eq!(host.shared_data("k").0.unwrap(), b"2");
    }

    #[test]
    #[wasm_bindgen_test]
    fn a_set_property_is_read_back() {
        let host = MockHost::new();
        assert_eq!(host.property(&["palisade.x"]), None);
        host.set_property(&["palisade.x"], b"v").unwrap();
        assert_eq!(host.property(&["palisade.x"]).unwrap(), b"v");
    }

    #[test]
    #[wasm_bindgen_test]
    fn a_missing_configuration_is_not_loaded_but_accepted() {
        use crate::host::{accept_unconfigured, load_config};
        let host = MockHost::new().with_config("  \n");
        assert!(load_config(&host, "f", |_| Ok(())).is_none());
        assert!(accept_unconfigured(&host));
        let host = MockHost::new().with_config("{\"x\": 1}");
        assert!(!accept_unconfigured(&host));
        let d = crate::host::not_configured("f");
        assert_eq!(d.status, 503);
    }

    #[test]
    #[wasm_bindgen_test]
    fn denial_is_sent_as_problem_json() {
        let host = MockHost::new();
        send_denial(
            &host,
            &Denial::new(Problem::new(403, "forbidden", "Forbidden")),
        );
        let sent = host.last_response().unwrap();
        assert_eq!(sent.status, 403);
        assert_eq!(
            sent.header("content-type"),
            Some("application/problem+json")
        );
        let v: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(v["status"], 403);
    }

    #[test]
    #[wasm_bindgen_test]
    fn set_header_replaces_every_value() {
        let host = MockHost::new()
            .with_request_header("x-a", "1")
            .with_request_header("X-A", "2");
        host.set_header(HeaderMap::Request, "x-a", Some("3"));
        assert_eq!(
            host.headers(HeaderMap::Request),
            vec![("x-a".to_string(), "3".to_string())]
        );
        host.set_header(HeaderMap::Request, "x-a", None);
        assert!(host.header(HeaderMap::Request, "x-a").is_none());
    }
}
