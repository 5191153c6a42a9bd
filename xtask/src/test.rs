//! `cargo xtask test`: everything CI checks.

use crate::build::{build, wasm_dir};
use crate::tools::{envoy_binary, rls_server_binary, setup, wasm_bindgen_bin};
use crate::util::{cargo, run, step, Result};
use std::time::Instant;

/// fmt, clippy (native and wasm32-wasip1), native unit tests, the core's tests under Node, e2e.
pub fn test() -> Result {
    let start = Instant::now();
    // One clean build per run: incremental state only costs time here.
    std::env::set_var("CARGO_INCREMENTAL", "0");
    setup()?;
    crate::depcache::restore();

    step("format");
    run(cargo().args(["fmt", "--all", "--check"]))?;

    step("clippy, native (warnings denied)");
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ]))?;

    step("clippy, wasm32-wasip1 (warnings denied)");
    let mut cmd = cargo();
    cmd.args([
        "clippy",
        "--target",
        "wasm32-wasip1",
        "-p",
        "palisade-core",
        "--features",
        "host",
    ]);
    for f in crate::build::FILTERS {
        cmd.args(["-p", &format!("palisade-{f}")]);
    }
    for package in crate::build::module_packages() {
        cmd.args(["-p", &package]);
    }
    run(cmd.args(["--", "-D", "warnings"]))?;
    // The test modules' adapters compile for wasm32 only; linted in a run of their own (features).
    let mut cmd = cargo();
    cmd.args(["clippy", "--target", "wasm32-wasip1"]);
    for m in crate::build::TEST_MODULES {
        cmd.args(["-p", m]);
    }
    run(cmd.args(["--", "-D", "warnings"]))?;

    step("unit tests, native");
    run(cargo().args([
        "test",
        "--workspace",
        "--exclude",
        "palisade-e2e",
        "--exclude",
        "xtask",
        "--all-features",
    ]))?;

    step("core unit tests compiled to wasm32-unknown-unknown, under Node (wasm-bindgen-test)");
    let runner = wasm_bindgen_bin()?.join("wasm-bindgen-test-runner");
    run(cargo()
        .args([
            "test",
            "-p",
            "palisade-core",
            "--features",
            "testing",
            "--target",
            "wasm32-unknown-unknown",
        ])
        .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER", runner))?;

    step("conformance suites compiled to wasm32-wasip1, under Node's WASI (V8, as in Envoy)");
    let wasi_runner = format!(
        "node --no-warnings {}",
        crate::util::root().join("xtask/wasi-run.mjs").display()
    );
    run(cargo()
        .args([
            "test",
            "--target",
            "wasm32-wasip1",
            "-p",
            "palisade-schema",
            "--test",
            "conformance",
        ])
        .env("CARGO_TARGET_WASM32_WASIP1_RUNNER", &wasi_runner))?;

    build()?;
    crate::build::build_test_modules()?;

    step("xtask tests (OCI artifacts through a real docker-registry, Istio and Envoy Gateway manifests, config schemas, doc snippets, the demo) and end-to-end tests through Envoy");
    e2e_with(&[("xtask", "xtask"), ("palisade-e2e", "tests")])?;

    step("bench smoke run: every variant answers correctly (one short round, no timings checked)");
    crate::bench::smoke()?;
    crate::depcache::save();

    println!(
        "\nall checks passed in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The end-to-end tests through Envoy, on modules already built (`cargo xtask e2e` builds them
/// first).
pub fn e2e() -> Result {
    step("end-to-end tests through Envoy");
    e2e_with(&[("palisade-e2e", "tests")])
}

/// The test binaries of `packages` with the built modules and the tools, one binary at a time
/// unless `PALISADE_TEST_PARALLEL` says more. Measured on the 2-core CI machine: three at a time
/// took 403 s against 344 s one at a time (each test starts Envoys, whose Wasm compile is
/// CPU-bound, so the binaries slowed each other 3–5×).
fn e2e_with(packages: &[(&str, &str)]) -> Result {
    let mut envs = vec![
        ("PALISADE_WASM_DIR", wasm_dir()),
        (
            "PALISADE_ENVOY",
            envoy_binary().ok_or("Envoy missing: run `cargo xtask setup`")?,
        ),
    ];
    if let Some(rls) = rls_server_binary() {
        envs.push(("PALISADE_RLS_SERVER", rls));
    }
    let parallel = std::env::var("PALISADE_TEST_PARALLEL")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    crate::test_pool::run_tests(packages, parallel, &envs)
}
