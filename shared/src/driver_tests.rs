use super::*;
use crate::clock::Clock;
use crate::host::{Body, HostError, MetricKind};
use crate::problem::Problem;
use crate::route::{RouteMatch, RouteMatcher};
use crate::testing::MockHost;
use std::cell::{Cell, RefCell};
use wasm_bindgen_test::wasm_bindgen_test;

type Log = Rc<RefCell<Vec<String>>>;
type Script = Rc<dyn Fn(&str, &dyn Host, &mut Exchange) -> Step>;

/// A stage that logs every callback and answers what its scripts say.
struct Scripted {
    name: &'static str,
    log: Log,
    headers: Script,
    wake: Script,
    body: Script,
}

impl Stage for Scripted {
    fn on_request_headers(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        self.log.borrow_mut().push(format!("{}:headers", self.name));
        (self.headers)(self.name, host, ex)
    }
    fn on_request_body(
        &mut self,
        host: &dyn Host,
        ex: &mut Exchange,
        size: usize,
        eos: bool,
    ) -> Step {
        self.log
            .borrow_mut()
            .push(format!("{}:body {size} {eos}", self.name));
        (self.body)(self.name, host, ex)
    }
    fn on_response_headers(&mut self, host: &dyn Host, _ex: &mut Exchange) {
        self.log
            .borrow_mut()
            .push(format!("{}:response", self.name));
        host.set_header(HeaderMap::Response, &format!("x-{}", self.name), Some("1"));
    }
    fn on_grpc_response(
        &mut self,
        host: &dyn Host,
        ex: &mut Exchange,
        token: u32,
        _status: u32,
        _size: usize,
    ) -> Option<Step> {
        self.log
            .borrow_mut()
            .push(format!("{}:grpc {token}", self.name));
        (token == 7).then(|| (self.wake)(self.name, host, ex))
    }
    fn on_wake(&mut self, host: &dyn Host, ex: &mut Exchange) -> Step {
        self.log.borrow_mut().push(format!("{}:wake", self.name));
        (self.wake)(self.name, host, ex)
    }
    fn on_log(&mut self, _host: &dyn Host, _ex: &mut Exchange) {
        self.log.borrow_mut().push(format!("{}:log", self.name));
    }
}

struct ScriptedRoot {
    name: &'static str,
    log: Log,
    headers: Script,
    wake: Script,
    body: Script,
}

impl StageRoot for ScriptedRoot {
    fn name(&self) -> &'static str {
        self.name
    }
    fn create(&self, _context_id: u32) -> Box<dyn Stage> {
        Box::new(Scripted {
            name: self.name,
            log: Rc::clone(&self.log),
            headers: Rc::clone(&self.headers),
            wake: Rc::clone(&self.wake),
            body: Rc::clone(&self.body),
        })
    }
}

fn cont() -> Script {
    Rc::new(|_, _, _| Step::Continue)
}

fn root(name: &'static str, log: &Log, headers: Script) -> Box<dyn StageRoot> {
    Box::new(ScriptedRoot {
        name,
        log: Rc::clone(log),
        headers,
        wake: cont(),
        body: cont(),
    })
}

fn module(roots: Vec<Box<dyn StageRoot>>) -> Rc<Module> {
    let default = (0..roots.len()).collect();
    Rc::new(Module {
        name: "test",
        roots,
        routes: Vec::new(),
        default,
        counts: Default::default(),
    })
}

fn denial() -> Step {
    Step::Deny(Denial::new(Problem::new(403, "forbidden", "Forbidden")))
}

fn request() -> MockHost {
    MockHost::new()
        .with_request_header(":method", "GET")
        .with_request_header(":path", "/api/x")
        .with_request_header(":authority", "example.com")
        .with_request_header("y", "old")
}

fn entries(log: &Log) -> Vec<String> {
    log.borrow().clone()
}

#[test]
#[wasm_bindgen_test]
fn stages_run_in_order_and_the_request_continues() {
    let log = Log::default();
    let m = module(vec![
        root("a", &log, cont()),
        root("b", &log, cont()),
        root("c", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Continue);
    assert_eq!(entries(&log), ["a:headers", "b:headers", "c:headers"]);
    assert_eq!(p.on_response_headers(&host), Flow::Continue);
    assert_eq!(
        host.header(HeaderMap::Response, "x-c").as_deref(),
        Some("1")
    );
    assert!(host.sent().is_empty());
}

#[test]
#[wasm_bindgen_test]
fn a_pause_in_stage_two_resumes_there_then_runs_stage_three() {
    let log = Log::default();
    let m = module(vec![
        root("a", &log, cont()),
        root("b", &log, Rc::new(|_, _, _| Step::Wait)),
        root("c", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Pause);
    assert!(p.waiting());
    assert_eq!(entries(&log), ["a:headers", "b:headers"]);
    // A wake meant for another stage's root changes nothing.
    p.wake(&host, 2);
    assert_eq!(host.resumed(), (0, 0));
    p.wake(&host, 1);
    assert_eq!(
        entries(&log),
        ["a:headers", "b:headers", "b:wake", "c:headers"]
    );
    assert_eq!(host.resumed(), (1, 0));
    assert!(!p.waiting());
    // A second wake is late: nothing runs again.
    p.wake(&host, 1);
    assert_eq!(log.borrow().len(), 4);
    assert_eq!(host.resumed(), (1, 0));
}

#[test]
#[wasm_bindgen_test]
fn a_denial_stops_later_stages_and_drops_request_edits() {
    let log = Log::default();
    let m = module(vec![
        root(
            "a",
            &log,
            Rc::new(|_, host, _| {
                host.set_header(HeaderMap::Request, "x-a", Some("1"));
                Step::Continue
            }),
        ),
        root("b", &log, Rc::new(|_, _, _| denial())),
        root("c", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Pause);
    assert_eq!(entries(&log), ["a:headers", "b:headers"]);
    assert_eq!(host.last_response().map(|r| r.status), Some(403));
    assert_eq!(host.header(HeaderMap::Request, "x-a"), None);
    // The local answer's response headers still pass every stage of the request.
    p.on_response_headers(&host);
    assert!(entries(&log).contains(&"c:response".to_string()));
}

#[test]
#[wasm_bindgen_test]
fn a_denial_after_a_wake_answers_without_resuming() {
    let log = Log::default();
    let m = module(vec![Box::new(ScriptedRoot {
        name: "a",
        log: Rc::clone(&log),
        headers: Rc::new(|_, _, _| Step::Wait),
        wake: Rc::new(|_, _, _| denial()),
        body: cont(),
    })]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Pause);
    p.wake(&host, 0);
    assert_eq!(host.last_response().map(|r| r.status), Some(403));
    assert_eq!(host.resumed(), (0, 0));
    assert!(!p.waiting());
}

#[test]
#[wasm_bindgen_test]
fn late_callbacks_after_the_stream_ended_change_nothing() {
    let log = Log::default();
    let m = module(vec![
        root("a", &log, Rc::new(|_, _, _| Step::Wait)),
        root("b", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    p.on_request_headers(&host, true);
    p.on_log(&host);
    p.wake(&host, 0);
    p.on_grpc_response(&host, 7, 0, 0);
    p.on_log(&host);
    assert_eq!(entries(&log), ["a:headers", "a:log", "b:log"]);
    assert_eq!(host.resumed(), (0, 0));
    assert!(host.sent().is_empty());
}

#[test]
#[wasm_bindgen_test]
fn a_grpc_answer_resumes_the_waiting_stage_and_a_foreign_one_does_not() {
    let log = Log::default();
    let m = module(vec![
        root("a", &log, Rc::new(|_, _, _| Step::Wait)),
        root("b", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    p.on_request_headers(&host, true);
    p.on_grpc_response(&host, 3, 0, 0);
    assert!(p.waiting());
    p.on_grpc_response(&host, 7, 0, 0);
    assert_eq!(
        entries(&log),
        ["a:headers", "a:grpc 3", "a:grpc 7", "b:headers"]
    );
    assert_eq!(host.resumed(), (1, 0));
}

#[test]
#[wasm_bindgen_test]
fn a_body_arriving_during_a_wait_reaches_the_stages_after_the_wake() {
    let log = Log::default();
    let body_done: Script = Rc::new(|_, host, _| {
        let body = host.body(Body::Request, 0, 100).unwrap_or_default();
        if body == b"{}" {
            Step::Continue
        } else {
            Step::NeedBody
        }
    });
    let m = module(vec![
        root("jwt", &log, Rc::new(|_, _, _| Step::Wait)),
        Box::new(ScriptedRoot {
            name: "schema",
            log: Rc::clone(&log),
            headers: Rc::new(|_, _, _| Step::NeedBody),
            wake: cont(),
            body: body_done,
        }),
    ]);
    let host = request().with_body(Body::Request, b"{}");
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, false), Flow::Pause);
    assert_eq!(p.on_request_body(&host, 2, true), Flow::Pause);
    assert_eq!(entries(&log), ["jwt:headers"]);
    p.wake(&host, 0);
    assert_eq!(
        entries(&log),
        [
            "jwt:headers",
            "jwt:wake",
            "schema:headers",
            "jwt:body 2 true",
            "schema:body 2 true"
        ]
    );
    assert_eq!(host.resumed(), (1, 0));
}

#[test]
#[wasm_bindgen_test]
fn trailers_arriving_during_a_wait_end_the_held_body_after_the_wake() {
    let log = Log::default();
    let m = module(vec![
        root("jwt", &log, Rc::new(|_, _, _| Step::Wait)),
        Box::new(ScriptedRoot {
            name: "schema",
            log: Rc::clone(&log),
            headers: cont(),
            wake: cont(),
            // Buffering: only trailers end the body.
            body: Rc::new(|_, _, _| Step::NeedBody),
        }),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, false), Flow::Pause);
    assert_eq!(p.on_request_body(&host, 4, false), Flow::Pause);
    assert_eq!(p.on_request_trailers(&host), Flow::Pause);
    p.wake(&host, 0);
    assert_eq!(host.resumed(), (1, 0));
    assert!(entries(&log).ends_with(&["schema:body 4 false".to_string()]));
}

#[test]
#[wasm_bindgen_test]
fn a_held_request_goes_on_once_the_body_is_checked() {
    let log = Log::default();
    let m = module(vec![
        Box::new(ScriptedRoot {
            name: "schema",
            log: Rc::clone(&log),
            headers: Rc::new(|_, _, _| Step::NeedBody),
            wake: cont(),
            body: Rc::new(|_, _, ex| {
                if ex.end_of_stream {
                    Step::Continue
                } else {
                    Step::NeedBody
                }
            }),
        }),
        root("after", &log, cont()),
    ]);
    let host = request();
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, false), Flow::Pause);
    assert_eq!(entries(&log), ["schema:headers", "after:headers"]);
    assert_eq!(p.on_request_body(&host, 5, false), Flow::Pause);
}

/// Counts the header crossings of the real host.
struct Counting<'a> {
    inner: &'a MockHost,
    reads: Cell<u32>,
    writes: Cell<u32>,
}

impl<'a> Counting<'a> {
    fn new(inner: &'a MockHost) -> Self {
        Self {
            inner,
            reads: Cell::new(0),
            writes: Cell::new(0),
        }
    }
}

impl Clock for Counting<'_> {
    fn unix_nanos(&self) -> u64 {
        self.inner.unix_nanos()
    }
}

impl Host for Counting<'_> {
    fn plugin_configuration(&self) -> Vec<u8> {
        self.inner.plugin_configuration()
    }
    fn headers(&self, map: HeaderMap) -> Vec<(String, String)> {
        self.reads.set(self.reads.get() + 1);
        self.inner.headers(map)
    }
    fn header(&self, map: HeaderMap, name: &str) -> Option<String> {
        self.reads.set(self.reads.get() + 1);
        self.inner.header(map, name)
    }
    fn set_header(&self, map: HeaderMap, name: &str, value: Option<&str>) {
        self.writes.set(self.writes.get() + 1);
        self.inner.set_header(map, name, value);
    }
    fn add_header(&self, map: HeaderMap, name: &str, value: &str) {
        self.writes.set(self.writes.get() + 1);
        self.inner.add_header(map, name, value);
    }
    fn body(&self, body: Body, start: usize, max: usize) -> Option<Vec<u8>> {
        self.inner.body(body, start, max)
    }
    fn property(&self, path: &[&str]) -> Option<Vec<u8>> {
        self.inner.property(path)
    }
    fn set_property(&self, path: &[&str], value: &[u8]) -> Result<(), HostError> {
        self.inner.set_property(path, value)
    }
    fn shared_data(&self, key: &str) -> (Option<Vec<u8>>, Option<u32>) {
        self.inner.shared_data(key)
    }
    fn set_shared_data(&self, key: &str, value: &[u8], cas: Option<u32>) -> Result<(), HostError> {
        self.inner.set_shared_data(key, value, cas)
    }
    fn send_response(&self, status: u16, headers: &[(&str, &str)], body: &[u8]) {
        self.inner.send_response(status, headers, body);
    }
    fn resume_request(&self) {
        self.inner.resume_request();
    }
    fn resume_response(&self) {
        self.inner.resume_response();
    }
    fn define_metric(&self, kind: MetricKind, name: &str) -> Option<u32> {
        self.inner.define_metric(kind, name)
    }
    fn increment_metric(&self, id: u32, delta: i64) {
        self.inner.increment_metric(id, delta);
    }
    fn record_metric(&self, id: u32, value: u64) {
        self.inner.record_metric(id, value);
    }
    fn dispatch_http_call(
        &self,
        cluster: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<u32, HostError> {
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
        self.inner
            .dispatch_grpc_call(cluster, service, method, metadata, message, timeout)
    }
    fn set_tick_period(&self, period: Duration) {
        self.inner.set_tick_period(period);
    }
    fn call_foreign_function(&self, name: &str, arguments: &[u8]) -> Result<Vec<u8>, HostError> {
        self.inner.call_foreign_function(name, arguments)
    }
}

#[test]
#[wasm_bindgen_test]
fn headers_are_read_once_and_edits_written_once_after_the_last_stage() {
    let log = Log::default();
    let seen = Rc::new(RefCell::new(None));
    let seen_by_c = Rc::clone(&seen);
    let m = module(vec![
        root(
            "a",
            &log,
            Rc::new(|_, host, _| {
                host.set_header(HeaderMap::Request, "x-a", Some("first"));
                host.set_header(HeaderMap::Request, "absent", None);
                Step::Continue
            }),
        ),
        root(
            "b",
            &log,
            Rc::new(|_, host, _| {
                host.set_header(HeaderMap::Request, "x-a", Some("second"));
                host.set_header(HeaderMap::Request, "y", None);
                Step::Continue
            }),
        ),
        root(
            "c",
            &log,
            Rc::new(move |_, host, _| {
                *seen_by_c.borrow_mut() = Some((
                    host.header(HeaderMap::Request, "x-a"),
                    host.header(HeaderMap::Request, "y"),
                ));
                Step::Continue
            }),
        ),
    ]);
    let mock = request();
    let host = Counting::new(&mock);
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Continue);
    // Stage c saw b's edits before they were written.
    assert_eq!(*seen.borrow(), Some((Some("second".to_string()), None)));
    assert_eq!(host.reads.get(), 1);
    // x-a set once (the first value never crossed), y removed, `absent` never touched.
    assert_eq!(host.writes.get(), 2);
    assert_eq!(
        mock.header(HeaderMap::Request, "x-a").as_deref(),
        Some("second")
    );
    assert_eq!(mock.header(HeaderMap::Request, "y"), None);
}

#[test]
#[wasm_bindgen_test]
fn setting_a_header_the_map_lacks_crosses_as_an_add() {
    use crate::counting::{CountingHost, HostCall};
    let log = Log::default();
    let m = module(vec![root(
        "a",
        &log,
        Rc::new(|_, host, _| {
            host.set_header(HeaderMap::Request, "x-new", Some("1"));
            host.set_header(HeaderMap::Request, "y", Some("2"));
            // Set twice: the second is a replacement of the first, which never crossed.
            host.set_header(HeaderMap::Request, "x-twice", Some("a"));
            host.set_header(HeaderMap::Request, "x-twice", Some("b"));
            Step::Continue
        }),
    )]);
    let host = CountingHost::new(request());
    let mut p = Pipeline::new(m, 1);
    assert_eq!(p.on_request_headers(&host, true), Flow::Continue);
    let calls = host.take();
    // x-new added; y (present) and x-twice (edited before) replaced.
    assert_eq!(calls.of(HostCall::AddHeader), 1, "{calls}");
    assert_eq!(calls.of(HostCall::SetHeader), 2, "{calls}");
    let mock = host.inner();
    assert_eq!(
        mock.header(HeaderMap::Request, "x-new").as_deref(),
        Some("1")
    );
    assert_eq!(mock.header(HeaderMap::Request, "y").as_deref(), Some("2"));
    assert_eq!(
        mock.header(HeaderMap::Request, "x-twice").as_deref(),
        Some("b")
    );
    assert_eq!(
        mock.headers(HeaderMap::Request)
            .iter()
            .filter(|(n, _)| n == "y" || n == "x-twice")
            .count(),
        2
    );
}

#[test]
#[wasm_bindgen_test]
fn per_route_stage_lists_and_a_refused_path() {
    let log = Log::default();
    let route = |path: &str| {
        RouteMatcher::compile(&crate::config::parse::<RouteMatch>(path.as_bytes()).unwrap())
            .unwrap()
    };
    let m = Rc::new(Module {
        name: "test",
        roots: vec![root("headers", &log, cont()), root("jwt", &log, cont())],
        routes: vec![
            Routed {
                matcher: route(r#"{"path": "/healthz"}"#),
                value: vec![0],
            },
            Routed {
                matcher: route(r#"{"prefix": "/api/"}"#),
                value: vec![0, 1],
            },
        ],
        default: Vec::new(),
        counts: Default::default(),
    });
    let run = |path: &str| {
        log.borrow_mut().clear();
        let host = MockHost::new()
            .with_request_header(":method", "GET")
            .with_request_header(":path", path);
        let flow = Pipeline::new(Rc::clone(&m), 1).on_request_headers(&host, true);
        (flow, entries(&log), host.last_response().map(|r| r.status))
    };
    assert_eq!(
        run("/healthz"),
        (Flow::Continue, vec!["headers:headers".into()], None)
    );
    assert_eq!(
        run("/api/v1/x"),
        (
            Flow::Continue,
            vec!["headers:headers".into(), "jwt:headers".into()],
            None
        )
    );
    assert_eq!(run("/other"), (Flow::Continue, vec![], None));
    assert_eq!(run("/api/%2e%2e%2fx#f").2, Some(400));
}
