//! One request through the filter, over the host trait: find the operation, check parameters and
//! the declared body size in the header phase, then (only when the operation has a JSON body
//! schema) buffer the body up to its limit and validate it.
//!
//! Buffering is done by pausing in the body phase until the end of the stream (Envoy's
//! `StopIterationAndBuffer`, bounded by the listener's buffer limit). Whether the header phase
//! pauses too depends on Envoy, and is the `hold_headers` setting:
//!
//! - Envoy turns a Proxy-Wasm `Pause` from `on_http_request_headers` into
//!   `StopAllIterationAndWatermark` unless the plugin config sets `allow_on_headers_stop_iteration:
//!   true` (Envoy >= 1.35; `ContextBase::convertVmCallResultToFilterHeadersStatus` in
//!   proxy-wasm-cpp-host `src/context.cc`, with `DefaultAllowOnHeadersStopIteration = false` read
//!   in Envoy's `source/extensions/common/wasm/context.cc`). `StopAll` holds back the body
//!   callbacks as well: the filter would wait for a body it is never given, and the request
//!   hangs. So by default (`hold_headers: false`) the header phase never pauses: the router opens
//!   the upstream request and sends the request head as soon as the headers pass, and a body
//!   refused later only resets that upstream request (its body is never forwarded).
//! - With `allow_on_headers_stop_iteration: true` a header `Pause` is Envoy's `StopIteration`: the
//!   body callbacks still arrive and a `Continue` from the body phase releases headers and body
//!   together (as Envoy's own buffer filter does). With `hold_headers: true` the header phase
//!   pauses exactly when a JSON body will be validated, so a refused request never reaches the
//!   upstream at all. Requests without a body, or whose body is not validated, still pass the
//!   header phase at once.

use crate::config::{Compiled, Unmatched};
use crate::form::{multipart_boundary, multipart_parts, FormSpec};
use crate::json;
use crate::media::MediaType;
use crate::operation::{BodyPlan, Lookup, Operation, Routes};
use crate::request_parts::RequestParts;
use crate::stats::Stats;
use crate::validator::SchemaId;
use crate::violation::{denial, Location, Rejection, Violation, Violations};
use palisade_core::decision::Decision;
use palisade_core::host::{Body, HeaderMap, Host};
use palisade_core::request::canonical_request;
use palisade_core::route::RequestInfo;
use std::rc::Rc;

/// Where the request is.
#[derive(Debug, Clone, PartialEq)]
enum State {
    /// Before the request headers.
    Start,
    /// Buffering a body to check (paused until the end of the stream).
    Buffering {
        operation: String,
        check: BodyCheck,
        limit: usize,
        buffered: usize,
    },
    /// Letting the body stream through while counting it against the limit.
    Counting {
        operation: String,
        limit: usize,
        seen: usize,
    },
    /// Decided; later callbacks change nothing.
    Done,
}

/// What is checked in a buffered body.
#[derive(Debug, Clone, PartialEq)]
enum BodyCheck {
    /// JSON, against the schema.
    Json(SchemaId),
    /// A urlencoded form read as an object, against the schema.
    Form(SchemaId, Rc<FormSpec>),
    /// A multipart body's part count (the boundary from `Content-Type`).
    Parts(Option<String>),
}

/// The per-request flow.
#[derive(Debug)]
pub struct RequestFlow {
    context_id: u32,
    config: Rc<Compiled>,
    stats: Stats,
    state: State,
}

impl RequestFlow {
    /// A flow for request `context_id`.
    pub fn new(context_id: u32, config: Rc<Compiled>, stats: Stats) -> Self {
        Self {
            context_id,
            config,
            stats,
            state: State::Start,
        }
    }

    /// The header phase. `end_of_stream`: the request has no body.
    pub fn on_request_headers(&mut self, host: &dyn Host, end_of_stream: bool) -> Decision {
        if self.state != State::Start {
            return Decision::Continue;
        }
        self.state = State::Done;
        let config = Rc::clone(&self.config);
        let headers = host.headers_shared(HeaderMap::Request);
        let info = match canonical_request(host, self.context_id, &headers, &config.paths) {
            Ok(info) => info,
            Err(refusal) => {
                self.stats.rejected_non_canonical_path.inc(host);
                return Decision::Deny(refusal.to_denial());
            }
        };
        let (op, captures) = match config.routes.lookup(&info) {
            Lookup::Found(op, captures) => (op, captures),
            Lookup::UnknownPath if matches!(config.routes, Routes::Plain(_)) => {
                log::debug!("#{} no route matches; passing", self.context_id);
                return Decision::Continue;
            }
            Lookup::UnknownPath => {
                return self.unmatched(host, config.unmatched_path, Rejection::UnknownPath, &info);
            }
            Lookup::UnknownMethod(allow) => {
                let rejection = Rejection::MethodNotAllowed { allow };
                return self.unmatched(host, config.unmatched_method, rejection, &info);
            }
        };
        log::debug!(
            "#{} {} {} → {}",
            self.context_id,
            info.method,
            info.path,
            op.id
        );
        let has_body = !end_of_stream;
        if has_body {
            let declared = info
                .header("content-length")
                .and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > u64::try_from(op.max_body_bytes).unwrap_or(u64::MAX)) {
                // Answered before any of the body is read.
                return self.refuse(
                    host,
                    Rejection::BodyTooLarge {
                        limit: op.max_body_bytes,
                    },
                    op,
                );
            }
        }
        let mut violations = Violations::new(config.answers.max_violations);
        if !op.params.is_empty() {
            // Built only when read: it copies every header.
            let parts = RequestParts::new(&info.path, &headers, captures);
            for param in &op.params {
                param.check(&parts, &config.schemas, &mut violations);
            }
        }
        let plan = match (&op.body, has_body) {
            (Some(spec), true) => spec.plan(
                info.header("content-type")
                    .and_then(MediaType::parse)
                    .as_ref(),
            ),
            (None, true) => BodyPlan::Stream,
            (Some(spec), false) => {
                if spec.required {
                    violations.push(Violation::new(
                        Location::Body,
                        String::new(),
                        "required",
                        "a request body is required",
                    ));
                }
                BodyPlan::Stream
            }
            (None, false) => BodyPlan::Stream,
        };
        if plan == BodyPlan::Unsupported {
            let accepted = op.body.as_ref().map(|b| b.accepted()).unwrap_or_default();
            if let Some(d) = self.decide(host, Rejection::UnsupportedMediaType { accepted }, &op.id)
            {
                return d;
            }
        }
        if !violations.is_empty() {
            if let Some(d) = self.decide(host, Rejection::Invalid(violations), &op.id) {
                return d;
            }
        }
        if !has_body {
            self.stats.validated.inc(host);
            return Decision::Continue;
        }
        let check = match plan {
            BodyPlan::ValidateJson(schema) => Some(BodyCheck::Json(schema)),
            BodyPlan::ValidateForm(schema) => op
                .body
                .as_ref()
                .and_then(|b| b.form.clone())
                .map(|form| BodyCheck::Form(schema, form)),
            BodyPlan::CountParts => Some(BodyCheck::Parts(
                info.header("content-type").and_then(multipart_boundary),
            )),
            BodyPlan::Stream | BodyPlan::Unsupported => None,
        };
        if let Some(check) = check {
            self.state = State::Buffering {
                operation: op.id.clone(),
                check,
                limit: op.max_body_bytes,
                buffered: 0,
            };
            // Held until the body is validated (only safe with Envoy's stop-iteration switch).
            return if config.hold_headers {
                Decision::Pause
            } else {
                Decision::Continue
            };
        }
        self.state = State::Counting {
            operation: op.id.clone(),
            limit: op.max_body_bytes,
            seen: 0,
        };
        Decision::Continue
    }

    /// The body phase: `body_size` is the buffered size while buffering, else this chunk's size.
    pub fn on_request_body(
        &mut self,
        host: &dyn Host,
        body_size: usize,
        end_of_stream: bool,
    ) -> Decision {
        match &mut self.state {
            State::Buffering {
                limit, buffered, ..
            } => {
                *buffered = body_size;
                if body_size > *limit {
                    let limit = *limit;
                    return self.body_too_large(host, limit);
                }
                if end_of_stream {
                    self.finish_buffered(host)
                } else {
                    Decision::Pause
                }
            }
            State::Counting { limit, seen, .. } => {
                *seen = seen.saturating_add(body_size);
                if *seen > *limit {
                    let limit = *limit;
                    return self.body_too_large(host, limit);
                }
                if end_of_stream {
                    self.state = State::Done;
                    self.stats.validated.inc(host);
                }
                Decision::Continue
            }
            State::Start | State::Done => Decision::Continue,
        }
    }

    /// Trailers end the body.
    pub fn on_request_trailers(&mut self, host: &dyn Host) -> Decision {
        match &self.state {
            State::Buffering { .. } => self.finish_buffered(host),
            State::Counting { .. } => {
                self.state = State::Done;
                self.stats.validated.inc(host);
                Decision::Continue
            }
            State::Start | State::Done => Decision::Continue,
        }
    }

    fn finish_buffered(&mut self, host: &dyn Host) -> Decision {
        let State::Buffering {
            operation,
            check,
            buffered,
            ..
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Decision::Continue;
        };
        let config = Rc::clone(&self.config);
        let bytes = host.body(Body::Request, 0, buffered).unwrap_or_default();
        let mut violations = Violations::new(config.answers.max_violations);
        let body_error = |keyword: &str, detail: String| {
            Violation::new(Location::Body, String::new(), keyword, detail)
        };
        let value = match check {
            // The quick path only ever accepts; anything else is decided the full way below.
            BodyCheck::Json(schema)
                if config.schemas.accepts_json(schema, &bytes, &config.json) =>
            {
                None
            }
            BodyCheck::Json(schema) => match json::parse(&bytes, &config.json) {
                Ok(value) => Some((schema, value)),
                Err(e) => {
                    violations.push(Violation::new(
                        Location::Body,
                        e.pointer,
                        e.keyword,
                        e.detail,
                    ));
                    None
                }
            },
            BodyCheck::Form(schema, form) => match form.read(&bytes) {
                Ok(value) => Some((schema, value)),
                Err((keyword, detail)) => {
                    violations.push(body_error(keyword, detail));
                    None
                }
            },
            BodyCheck::Parts(boundary) => {
                match boundary {
                    None => violations.push(body_error(
                        "syntax",
                        "a multipart body needs a `boundary` in its Content-Type".into(),
                    )),
                    Some(boundary) => {
                        let parts = multipart_parts(&bytes, &boundary);
                        if parts > config.max_multipart_parts {
                            violations.push(body_error(
                                "maxParts",
                                format!("{parts} parts, more than {}", config.max_multipart_parts),
                            ));
                        }
                    }
                }
                None
            }
        };
        if let Some((schema, value)) = value {
            violations.add_schema_errors(
                Location::Body,
                "",
                config
                    .schemas
                    .validate_capped(schema, &value, violations.room()),
            );
        }
        if violations.is_empty() {
            self.stats.validated.inc(host);
            return Decision::Continue;
        }
        self.decide(host, Rejection::Invalid(violations), &operation)
            .unwrap_or(Decision::Continue)
    }

    fn body_too_large(&mut self, host: &dyn Host, limit: usize) -> Decision {
        let operation = match std::mem::replace(&mut self.state, State::Done) {
            State::Buffering { operation, .. } | State::Counting { operation, .. } => operation,
            State::Start | State::Done => String::new(),
        };
        self.decide(host, Rejection::BodyTooLarge { limit }, &operation)
            .unwrap_or(Decision::Continue)
    }

    fn unmatched(
        &mut self,
        host: &dyn Host,
        policy: Unmatched,
        rejection: Rejection,
        info: &RequestInfo<'_>,
    ) -> Decision {
        if policy == Unmatched::Pass {
            log::debug!(
                "#{} {} {}: no operation; passing",
                self.context_id,
                info.method,
                info.path
            );
            self.stats.unmatched_operation.inc(host);
            return Decision::Continue;
        }
        self.decide(host, rejection, "")
            .unwrap_or(Decision::Continue)
    }

    /// Refuses for good (in report-only mode: reports and passes the rest of the request).
    fn refuse(&mut self, host: &dyn Host, rejection: Rejection, op: &Operation) -> Decision {
        self.state = State::Done;
        self.decide(host, rejection, &op.id)
            .unwrap_or(Decision::Continue)
    }

    /// The answer to a rejection, counted and logged; `None` in report-only mode (the checks go on).
    fn decide(
        &mut self,
        host: &dyn Host,
        rejection: Rejection,
        operation: &str,
    ) -> Option<Decision> {
        let enforced = !self.config.report_only;
        self.stats.count(host, &rejection, enforced);
        let summary = summarize(&rejection);
        if !enforced {
            log::warn!(
                "#{} report-only: {operation}: {} {summary}",
                self.context_id,
                rejection.reason()
            );
            return None;
        }
        log::info!(
            "#{} refused: {operation}: {} {summary}",
            self.context_id,
            rejection.reason()
        );
        self.state = State::Done;
        let op = (!operation.is_empty()).then_some(operation);
        Some(Decision::Deny(denial(&rejection, self.config.answers, op)))
    }
}

/// The violations in one log line (`body /items/3/price minimum; query /limit type`).
fn summarize(rejection: &Rejection) -> String {
    match rejection {
        Rejection::Invalid(violations) => violations
            .iter()
            .take(10)
            .map(|v| format!("{} {} {}", v.location.as_str(), v.pointer, v.keyword))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::new(),
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
