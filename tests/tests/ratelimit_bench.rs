//! Benches (ignored; run with `--ignored --nocapture`, need `wrk`):
//! - a flood of 1,000,000 distinct keys does not grow Envoy's memory beyond the slot table fixed
//!   by config, and a busy key's budget stays exact through it (`PALISADE_RL_FLOOD_KEYS` changes
//!   the number of keys);
//! - Envoy CPU per request with this filter beside Envoy's native `local_ratelimit`, with the
//!   limit not reached and reached.
// Test helpers: a failed set-up should fail the test loudly.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use palisade_e2e::paths::scratch_dir;
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::json;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Envoy with one filter (or none), answering admitted requests itself (`direct_response`), so
/// only the filter's work is measured.
fn start_answering_itself(filter: Option<Filter>, concurrency: u32) -> (Upstream, Envoy) {
    let upstream = Upstream::start();
    let mut builder = Envoy::builder()
        .concurrency(concurrency)
        .patch(|bootstrap| {
            let hcm = bootstrap
                .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
                .unwrap();
            hcm["route_config"]["virtual_hosts"][0]["routes"] = json!([{
                "match": {"prefix": "/"},
                "direct_response": {"status": 200, "body": {"inline_string": "admitted"}}
            }]);
        });
    if let Some(filter) = filter {
        builder = builder.filter(filter);
    }
    let envoy = builder
        .start(&upstream)
        .unwrap_or_else(|e| panic!("envoy did not start:\n{}", e.log));
    (upstream, envoy)
}

/// CPU time (user + system) a process used so far, in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the `(comm)`: state is field 3; utime and stime are fields 14 and 15.
    let after_comm = stat.rsplit_once(") ").unwrap().1;
    let fields: Vec<&str> = after_comm.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// wrk script: every request carries a key never used before (`<label><thread>-<n>`).
fn flood_script(label: &str) -> String {
    format!(
        r#"
local next_id = 1
function setup(thread) thread:set("id", next_id); next_id = next_id + 1 end
function init(args) n = 0; prefix = "{label}" .. tostring(id) .. "-" end
function request()
  n = n + 1
  return wrk.format("GET", "/flood", {{["x-key"] = prefix .. n}})
end
"#
    )
}

/// Runs wrk (with `script`, if any) until Envoy has seen `requests` more requests, then stops it
/// (wrk itself only stops on time or SIGINT).
fn flood(envoy: &Envoy, script: Option<&Path>, requests: u64) -> String {
    let counted = || envoy.stat("http.ingress.downstream_rq_total").unwrap_or(0);
    let target = counted() + requests;
    let url = format!("http://127.0.0.1:{}/", envoy.port());
    let mut wrk = Command::new("wrk");
    wrk.args(["-t2", "-c32", "-d3600s"]);
    if let Some(script) = script {
        wrk.arg("-s").arg(script);
    }
    let wrk = wrk
        .arg(&url)
        .stdout(Stdio::piped())
        .spawn()
        .expect("wrk is needed for this bench");
    while counted() < target {
        std::thread::sleep(Duration::from_millis(200));
    }
    let interrupted = Command::new("kill")
        .args(["-INT", &wrk.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = wrk.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
#[ignore = "bench: a million requests through wrk (about a minute on 2 cores)"]
fn a_million_distinct_keys_keep_memory_bounded_and_busy_keys_exact() {
    let keys: u64 = std::env::var("PALISADE_RL_FLOOD_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let slots = 65_536;
    let config = json!({
        "slots": slots,
        // One request per hour and key keeps every flood key busy (not evictable for free)
        // for the whole test: the worst case for the table.
        "rules": [{"name": "flood", "key": ["header:x-key"], "limits": [{"requests": 5, "per": "1h"}]}]
    });
    let (_upstream, envoy) = start_answering_itself(Some(Filter::wasm("ratelimit", config)), 2);
    // A busy key uses 4 of its 5 requests before the flood.
    for _ in 0..4 {
        let r = envoy
            .request("GET", "/flood")
            .header("x-key", "busy")
            .send();
        assert_eq!(r.status, 200);
    }
    let dir = scratch_dir("ratelimit-flood");
    // Warm-up: connections, worker buffers, V8 heaps.
    let warm_up = dir.join("warm-up.lua");
    std::fs::write(&warm_up, flood_script("w")).unwrap();
    flood(&envoy, Some(&warm_up), 20_000);
    let before = rss_kib(envoy.pid());
    let script = dir.join("flood.lua");
    std::fs::write(&script, flood_script("f")).unwrap();
    let started = std::time::Instant::now();
    let report = flood(&envoy, Some(&script), keys);
    let elapsed = started.elapsed();
    let after = rss_kib(envoy.pid());
    let _ = std::fs::remove_dir_all(&dir);
    let allowed = envoy
        .stat("wasmcustom.palisade_ratelimit_flood_allowed")
        .unwrap();
    let evicted = envoy
        .stat("wasmcustom.palisade_ratelimit_evicted_busy")
        .unwrap();
    eprintln!(
        "{keys} distinct keys in {elapsed:?}; Envoy RSS {before} KiB -> {after} KiB (growth {} KiB); \
         {allowed} admitted in all; {evicted} busy keys evicted\n{}",
        after.saturating_sub(before),
        report
    );
    assert!(allowed >= keys, "every flood key is new, so admitted");
    // The busy key was never the one evicted: exactly one request left.
    let statuses: Vec<u16> = (0..3)
        .map(|_| {
            envoy
                .request("GET", "/flood")
                .header("x-key", "busy")
                .send()
                .status
        })
        .collect();
    assert_eq!(statuses, [200, 429, 429]);
    // The table was allocated at start; a million keys add no per-key memory. Storing them one
    // shared-data entry each would take well over 100 MB.
    let growth_mib = after.saturating_sub(before) / 1024;
    assert!(growth_mib < 24, "RSS grew {growth_mib} MiB");
}

/// Envoy's native local rate limit: one token bucket of `tokens` per hour for the listener.
fn native_local_ratelimit(tokens: u64) -> Filter {
    Filter::native(json!({
        "name": "envoy.filters.http.local_ratelimit",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "native_rl",
            "token_bucket": {"max_tokens": tokens, "tokens_per_fill": tokens, "fill_interval": "3600s"},
            "filter_enabled": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}},
            "filter_enforced": {"default_value": {"numerator": 100, "denominator": "HUNDRED"}}
        }
    }))
}

fn palisade_local(requests: u64, key: serde_json::Value) -> Filter {
    Filter::wasm(
        "ratelimit",
        json!({"rules": [{"name": "bench", "key": key, "limits": [{"requests": requests, "per": "1h"}]}]}),
    )
}

#[test]
#[ignore = "bench: CPU per request, about a minute"]
fn cpu_per_request_beside_native_local_ratelimit() {
    const REQUESTS: u64 = 100_000;
    let big = 1_000_000_000;
    let cases: Vec<(&str, Option<Filter>)> = vec![
        ("no filter", None),
        (
            "native local_ratelimit, not reached",
            Some(native_local_ratelimit(big)),
        ),
        (
            "native local_ratelimit, reached",
            Some(native_local_ratelimit(1)),
        ),
        (
            "palisade, one budget, not reached",
            Some(palisade_local(big, json!([]))),
        ),
        (
            "palisade, one budget, reached",
            Some(palisade_local(1, json!([]))),
        ),
        (
            "palisade, per client_ip, not reached",
            Some(palisade_local(big, json!(["client_ip"]))),
        ),
        (
            "palisade, per client_ip, reached",
            Some(palisade_local(1, json!(["client_ip"]))),
        ),
    ];
    // The Proxy-Wasm floor, when built: `cargo build -p palisade-empty-filter --target wasm32-wasip1 --release`.
    let empty = palisade_e2e::paths::wasm_dir().join("palisade_empty_filter.wasm");
    let mut cases = cases;
    if empty.exists() {
        cases.insert(
            1,
            (
                "empty wasm filter",
                Some(Filter::wasm_module("empty", &empty, json!({}))),
            ),
        );
    }
    let mut lines = Vec::new();
    for (label, filter) in cases {
        let (_upstream, envoy) = start_answering_itself(filter, 1);
        flood(&envoy, None, 5_000);
        let ticks = cpu_ticks(envoy.pid());
        let seen = envoy.stat("http.ingress.downstream_rq_total").unwrap();
        flood(&envoy, None, REQUESTS);
        let ticks = cpu_ticks(envoy.pid()) - ticks;
        let requests = envoy.stat("http.ingress.downstream_rq_total").unwrap() - seen;
        let refused = envoy.stat("http.ingress.downstream_rq_4xx").unwrap_or(0);
        // 1 tick = 10 ms = 10,000 µs.
        let micros = ticks as f64 * 10_000.0 / requests as f64;
        lines.push(format!("{label:40} {micros:6.1} µs CPU/request ({requests} requests, {refused} refused in all)"));
    }
    eprintln!(
        "Envoy --concurrency 1, direct_response, wrk -t2 -c32:\n{}",
        lines.join("\n")
    );
}
