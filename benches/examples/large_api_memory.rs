//! Issue 13: how much memory and time compiling the large bench description takes natively
//! (`cargo run --release -p palisade-benches --example large_api_memory`). Peak resident memory
//! (VmHWM) stands in for the Wasm linear memory a VM keeps after `on_configure`: neither gives
//! memory back. The config is written to a file and read back, so generating it is not counted.
// A measuring tool: a broken fixture should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let path = std::env::temp_dir().join("palisade-large-api-config.json");
    if std::env::args().nth(1).as_deref() != Some("--measure") {
        let config = serde_json::json!({"openapi": palisade_benches::large_api()}).to_string();
        std::fs::write(&path, &config).unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("--measure")
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(1));
    }
    let bytes = std::fs::read(&path).unwrap();
    let before = status_kib("VmHWM:");
    let started = Instant::now();
    // The two phases of `config::compile`: reading (prose left out) and compiling.
    let config: palisade_schema::config::Config = serde_json::from_slice(&bytes).unwrap();
    let read = started.elapsed();
    let read_peak = status_kib("VmHWM:") - before;
    let compiled = palisade_schema::config::compile_config(config).unwrap();
    let took = started.elapsed();
    drop(bytes);
    println!(
        "config {} KiB; configure {:.0} ms (read {:.0} ms, compile {:.0} ms); peak RSS +{} MiB over reading the config (+{} MiB when read); RSS after {} MiB; {:?}",
        std::fs::metadata(&path).map(|m| m.len() / 1024).unwrap_or(0),
        took.as_secs_f64() * 1e3,
        read.as_secs_f64() * 1e3,
        (took - read).as_secs_f64() * 1e3,
        (status_kib("VmHWM:") - before) / 1024,
        read_peak / 1024,
        status_kib("VmRSS:") / 1024,
        compiled.schemas,
    );
}
