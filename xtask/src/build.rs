//! `cargo xtask build`: every filter, release, wasm32-wasip1.

use crate::util::{cargo, root, run, step, Result};
use std::path::{Path, PathBuf};

/// The filters, in gateway order.
pub const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// The bundle: every filter as a stage of one module (`palisade.wasm`).
pub const BUNDLE: &str = "palisade";

/// The bundle's own target directory (see [`build`]).
fn bundle_target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("bundle")
}

/// Where the release modules land.
pub fn wasm_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("wasm32-wasip1/release")
}

/// The `wasm-opt` to post-process modules with (the tool cache's, or `PALISADE_WASM_OPT`).
pub fn wasm_opt() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("PALISADE_WASM_OPT") {
        return Ok(PathBuf::from(path));
    }
    crate::tools::wasm_opt_binary()
        .ok_or_else(|| "Binaryen's wasm-opt is not installed: run `cargo xtask setup`".to_string())
}

/// Post-processes a built module with wasm-opt; prints its size before and after.
pub fn optimize(wasm_opt: &Path, module: &Path) -> Result {
    let (raw, optimized) = crate::wasm_opt::optimize(wasm_opt, module)?;
    println!(
        "  {:<40} {:>9} bytes (cargo: {raw}; symbols: {})",
        module.display(),
        optimized,
        crate::wasm_opt::symbol_map(module).display()
    );
    Ok(())
}

/// Test-only modules the e2e tests load beside the filters (not shipped).
pub const TEST_MODULES: [&str; 1] = ["palisade-verify-probe"];

/// Builds the test-only modules, each in a cargo run of its own: built together with a filter,
/// cargo would unify their features into the filter's (the probe turns on jwt's `raw`).
pub fn build_test_modules() -> Result {
    step("build test-only modules (release, wasm32-wasip1)");
    for module in TEST_MODULES {
        run(cargo().args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            module,
        ]))?;
    }
    Ok(())
}

/// Builds every filter's `.wasm`, post-processes it and prints the sizes.
pub fn build() -> Result {
    step("build filters (release, wasm32-wasip1)");
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip1"]);
    for f in FILTERS {
        cmd.args(["-p", &format!("palisade-{f}")]);
    }
    run(&mut cmd)?;
    step("post-process with Binaryen's wasm-opt");
    let wasm_opt = wasm_opt()?;
    for f in FILTERS {
        optimize(&wasm_opt, &wasm_dir().join(format!("palisade_{f}.wasm")))?;
    }
    build_bundle(&wasm_opt)
}

/// Builds the bundle, post-processes it and puts `palisade.wasm` (and its symbol map) beside the
/// filters' modules.
pub fn build_bundle(wasm_opt: &Path) -> Result {
    step("build the bundle (release, wasm32-wasip1)");
    // The bundle links the filters as libraries, their entry points off. Cargo also links each
    // dependency's cdylib, so in the same target directory those entry-less modules would
    // replace the filters' own `.wasm`: the bundle has a target directory of its own.
    run(cargo()
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip1",
            "-p",
            "palisade-pipeline",
        ])
        .env("CARGO_TARGET_DIR", bundle_target_dir()))?;
    let bundle = bundle_target_dir().join(format!("wasm32-wasip1/release/{BUNDLE}.wasm"));
    optimize(wasm_opt, &bundle)?;
    for suffix in ["wasm", "wasm.symbols"] {
        let from = bundle.with_extension(suffix);
        let to = wasm_dir().join(format!("{BUNDLE}.{suffix}"));
        std::fs::copy(&from, &to)
            .map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))?;
    }
    Ok(())
}
