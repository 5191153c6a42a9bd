//! A filter that makes, per request, the host calls its configuration names, and nothing else:
//! beside the empty filter it shows what one call of each kind costs in Envoy (the bench's
//! `--instructions` mode runs it). Configuration: `kind=count` pairs separated by commas, e.g.
//! `request_headers=4` or `response_set=8`; unknown kinds are refused.
#![forbid(unsafe_code)]

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType, LogLevel, MapType};
use std::rc::Rc;

/// The kinds of call, by their configuration name.
pub const KINDS: [&str; 9] = [
    // The whole request header map (`proxy_get_header_map_pairs`).
    "request_headers",
    // One request header's value (`proxy_get_header_map_value`; `:path`, always present).
    "request_header",
    // An absent property (`proxy_get_property`: `connection.tls_version` over plain HTTP).
    "property",
    // The clock (`proxy_get_current_time_nanoseconds`).
    "time",
    // The whole response header map.
    "response_headers",
    // A response header set where absent (`proxy_replace_header_map_value`).
    "response_set",
    // A response header added (`proxy_add_header_map_value`).
    "response_add",
    // A present response header removed, then absent ones (`proxy_remove_header_map_value`).
    "response_remove",
    // The whole response header map written back as read (`proxy_set_header_map_pairs`).
    "response_replace",
];

/// Names the set and add calls use, in turn.
const NAMES: [&str; 8] = [
    "x-probe-1",
    "x-probe-2",
    "x-probe-3",
    "x-probe-4",
    "x-probe-5",
    "x-probe-6",
    "x-probe-7",
    "x-probe-8",
];

/// Calls per request, by kind (indexed as [`KINDS`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Plan([u32; KINDS.len()]);

impl Plan {
    /// Parses `kind=count,...`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut plan = Plan::default();
        let text = text.trim();
        let text = text
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(text);
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kind, count) = item
                .split_once('=')
                .ok_or_else(|| format!("`{item}` is not kind=count"))?;
            let at = KINDS
                .iter()
                .position(|k| *k == kind.trim())
                .ok_or_else(|| format!("unknown kind `{kind}` (kinds: {})", KINDS.join(", ")))?;
            let count = count
                .trim()
                .parse()
                .map_err(|_| format!("`{count}` is not a count"))?;
            if let Some(slot) = plan.0.get_mut(at) {
                *slot = count;
            }
        }
        Ok(plan)
    }

    /// How many calls of `kind` per request.
    pub fn count(&self, kind: &str) -> u32 {
        KINDS
            .iter()
            .position(|k| *k == kind)
            .and_then(|at| self.0.get(at))
            .copied()
            .unwrap_or(0)
    }
}

#[cfg(target_arch = "wasm32")]
proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> {
        Box::new(ProbeRoot(Rc::new(Plan::default())))
    });
}}

/// The root context: the parsed plan.
pub struct ProbeRoot(Rc<Plan>);

impl Context for ProbeRoot {}

impl RootContext for ProbeRoot {
    fn on_configure(&mut self, _size: usize) -> bool {
        let bytes = hostcalls::get_buffer(BufferType::PluginConfiguration, 0, usize::MAX)
            .ok()
            .flatten()
            .unwrap_or_default();
        match Plan::parse(&String::from_utf8_lossy(&bytes)) {
            Ok(plan) => {
                self.0 = Rc::new(plan);
                true
            }
            Err(e) => {
                let _ = hostcalls::log(LogLevel::Error, &format!("probe: {e}"));
                false
            }
        }
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(ProbeHttp(Rc::clone(&self.0))))
    }
}

/// The per-request context.
pub struct ProbeHttp(Rc<Plan>);

impl Context for ProbeHttp {}

impl HttpContext for ProbeHttp {
    fn on_http_request_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let plan = &self.0;
        for _ in 0..plan.count("request_headers") {
            let _ = hostcalls::get_map_bytes(MapType::HttpRequestHeaders);
        }
        for _ in 0..plan.count("request_header") {
            let _ = hostcalls::get_map_value_bytes(MapType::HttpRequestHeaders, ":path");
        }
        for _ in 0..plan.count("property") {
            let _ = hostcalls::get_property(vec!["connection", "tls_version"]);
        }
        for _ in 0..plan.count("time") {
            let _ = hostcalls::get_current_time();
        }
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _headers: usize, _end_of_stream: bool) -> Action {
        let plan = &self.0;
        let map = MapType::HttpResponseHeaders;
        for _ in 0..plan.count("response_headers") {
            let _ = hostcalls::get_map_bytes(map);
        }
        for name in NAMES.iter().cycle().take(n(plan.count("response_set"))) {
            let _ = hostcalls::set_map_value_bytes(map, name, Some(b"probe-value"));
        }
        for name in NAMES.iter().cycle().take(n(plan.count("response_add"))) {
            let _ = hostcalls::add_map_value_bytes(map, name, b"probe-value");
        }
        for _ in 0..plan.count("response_remove") {
            let _ = hostcalls::set_map_value_bytes(map, "server", None);
        }
        for _ in 0..plan.count("response_replace") {
            if let Ok(pairs) = hostcalls::get_map_bytes(map) {
                let pairs = pairs
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_slice()))
                    .collect();
                let _ = hostcalls::set_map_bytes(map, pairs);
            }
        }
        Action::Continue
    }
}

fn n(count: u32) -> usize {
    usize::try_from(count).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_kinds_and_counts_and_refuse_unknown_kinds() {
        let plan = Plan::parse("request_headers=4, response_set=8").unwrap_or_default();
        assert_eq!(plan.count("request_headers"), 4);
        assert_eq!(plan.count("response_set"), 8);
        assert_eq!(plan.count("time"), 0);
        assert_eq!(Plan::parse(""), Ok(Plan::default()));
        assert_eq!(Plan::parse("\"time=2\"").map(|p| p.count("time")), Ok(2));
        assert!(Plan::parse("nope=1").is_err_and(|e| e.contains("unknown kind `nope`")));
        assert!(Plan::parse("time").is_err());
        assert!(Plan::parse("time=x").is_err());
    }
}
