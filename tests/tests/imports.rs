//! Each built module imports exactly what every supported Envoy provides. A new import (a WASI
//! filesystem call pulled in by `std::fs`, say) fails here before it fails in an older Envoy:
//! Envoy 1.36 refuses a module that imports `fd_filestat_get` ("missing import").
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use palisade_e2e::paths::wasm_module;
use std::collections::BTreeSet;

/// Every import of a module, as `module.name`.
fn imports(filter: &str) -> BTreeSet<String> {
    let bytes = std::fs::read(wasm_module(filter)).unwrap();
    let mut found = BTreeSet::new();
    for payload in wasmparser::Parser::new(0).parse_all(&bytes) {
        if let wasmparser::Payload::ImportSection(reader) = payload.unwrap() {
            for import in reader.into_imports() {
                let import = import.unwrap();
                found.insert(format!("{}.{}", import.module, import.name));
            }
        }
    }
    found
}

/// The Proxy-Wasm ABI 0.2.1 calls the SDK (proxy-wasm 0.2.5) links into every module.
const PROXY: [&str; 36] = [
    "add_header_map_value",
    "call_foreign_function",
    "close_stream",
    "continue_stream",
    "define_metric",
    "dequeue_shared_queue",
    "done",
    "enqueue_shared_queue",
    "get_buffer_bytes",
    "get_current_time_nanoseconds",
    "get_header_map_pairs",
    "get_header_map_value",
    "get_log_level",
    "get_property",
    "get_shared_data",
    "get_status",
    "grpc_call",
    "grpc_cancel",
    "grpc_close",
    "grpc_send",
    "grpc_stream",
    "http_call",
    "increment_metric",
    "log",
    "record_metric",
    "register_shared_queue",
    "remove_header_map_value",
    "replace_header_map_value",
    "resolve_shared_queue",
    "send_local_response",
    "set_buffer_bytes",
    "set_effective_context",
    "set_header_map_pairs",
    "set_property",
    "set_shared_data",
    "set_tick_period_milliseconds",
];

/// The WASI calls Rust's std links for stdout/stderr, exit, randomness and the environment;
/// nothing that touches files.
const WASI: [&str; 5] = [
    "environ_get",
    "environ_sizes_get",
    "fd_write",
    "proc_exit",
    "random_get",
];

/// Every module: the four single filters, the bundle (`palisade.wasm`), and the test-only
/// verify-probe module (Envoy loads it in jwt_wycheproof.rs).
const MODULES: [&str; 6] = [
    "headers",
    "jwt",
    "ratelimit",
    "schema",
    "palisade",
    "verify_probe",
];

/// WASI calls that are in every supported Envoy but not in every module.
///
/// None now: jwt-simple's clock (`clock_time_get`, linked through its claims checks) left the
/// jwt module and the bundle when the filter stopped calling `verify_token` (issue 13).
fn extra_wasi(_filter: &str) -> &'static [&'static str] {
    &[]
}

/// Proxy-Wasm calls a module does not link: the test-only probe has its own small adapter, which
/// never asks for Envoy's log level (the core's adapter does).
fn absent_proxy(filter: &str) -> &'static [&'static str] {
    match filter {
        "verify_probe" => &["get_log_level"],
        _ => &[],
    }
}

fn expected(filter: &str) -> BTreeSet<String> {
    let proxy = PROXY
        .iter()
        .filter(|p| !absent_proxy(filter).contains(p))
        .map(|p| format!("env.proxy_{p}"));
    let wasi = WASI
        .iter()
        .chain(extra_wasi(filter))
        .map(|w| format!("wasi_snapshot_preview1.{w}"));
    proxy.chain(wasi).collect()
}

#[test]
fn every_module_imports_exactly_the_pinned_list() {
    for filter in MODULES {
        let got = imports(filter);
        let want = expected(filter);
        let new: Vec<&String> = got.difference(&want).collect();
        let gone: Vec<&String> = want.difference(&got).collect();
        assert!(
            new.is_empty() && gone.is_empty(),
            "{filter} module imports differ from the pinned list\n  new: {new:?}\n  gone: {gone:?}"
        );
    }
}

#[test]
fn no_module_imports_wasi_file_calls() {
    for filter in MODULES {
        for import in imports(filter) {
            let call = import.trim_start_matches("wasi_snapshot_preview1.");
            assert!(
                !(call.starts_with("path_") || (call.starts_with("fd_") && call != "fd_write")),
                "{filter} module imports {import}, a WASI file call Envoy 1.36 lacks"
            );
        }
    }
}
