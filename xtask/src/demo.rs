//! `cargo xtask demo`: Envoy on 127.0.0.1:8080 with every built filter in front of the echo
//! upstream, each filter with its config from `envoy/demo/<filter>.json`. Ctrl-C stops everything.

use crate::build::{build, wasm_dir, FILTERS};
use crate::tools::{envoy_binary, setup};
use crate::util::{root, step, Result};
use palisade_e2e::{Envoy, Filter, Upstream};
use serde_json::{json, Value};

const PORT: u16 = 8080;
const ADMIN_PORT: u16 = 9901;

fn demo_config(filter: &str) -> Result<Option<Value>> {
    let path = root().join(format!("envoy/demo/{filter}.json"));
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

/// Builds, starts the demo, prints what to try, and waits for Ctrl-C.
pub fn demo() -> Result {
    setup()?;
    build()?;
    step("start the demo");
    std::env::set_var("PALISADE_WASM_DIR", wasm_dir());
    std::env::set_var(
        "PALISADE_ENVOY",
        envoy_binary().ok_or("Envoy missing after setup")?,
    );
    let upstream = Upstream::start();
    let mut builder = Envoy::builder();
    let mut loaded = Vec::new();
    for filter in FILTERS {
        if let Some(config) = demo_config(filter)? {
            builder = builder.filter(Filter::wasm(filter, config));
            loaded.push(filter);
        }
    }
    let builder = builder.patch(|b| {
        for (pointer, port) in [
            (
                "/static_resources/listeners/0/address/socket_address/port_value",
                PORT,
            ),
            ("/admin/address/socket_address/port_value", ADMIN_PORT),
        ] {
            if let Some(slot) = b.pointer_mut(pointer) {
                *slot = json!(port);
            }
        }
    });
    let envoy = builder
        .start(&upstream)
        .map_err(|e| format!("Envoy did not start:\n{}", e.log))?;
    println!(
        "Envoy is listening on http://127.0.0.1:{} (admin http://127.0.0.1:{}), filters: {}",
        envoy.port(),
        envoy.admin_port(),
        loaded.join(" → ")
    );
    println!("\nTry:");
    for line in curl_lines(&loaded) {
        println!("  {line}");
    }
    println!("\nCtrl-C stops everything.");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

fn curl_lines(loaded: &[&str]) -> Vec<String> {
    let base = format!("http://127.0.0.1:{PORT}");
    let mut lines = vec![format!(
        "curl -i {base}/   # the echo upstream, through every filter"
    )];
    if loaded.contains(&"headers") {
        lines.push(format!(
            "curl -si {base}/ | grep -iE 'strict-transport|x-content-type|x-frame|server'   # hardened response headers"
        ));
        lines.push(format!(
            "curl -s {base}/ -H 'x-jwt-claim-sub: admin' | grep -c x-jwt-claim-sub   # 0: a spoofed claim header never reaches the upstream"
        ));
    }
    lines.push(format!(
        "curl -s http://127.0.0.1:{ADMIN_PORT}/stats | grep palisade   # the filters' counters"
    ));
    lines
}
