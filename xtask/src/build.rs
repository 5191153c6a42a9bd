//! `cargo xtask build`: every filter, release, wasm32-wasip1.

use crate::util::{cargo, root, run, step, Result};
use std::path::{Path, PathBuf};

/// The filters, in gateway order.
pub const FILTERS: [&str; 4] = ["headers", "jwt", "ratelimit", "schema"];

/// The bundle: every filter as a stage of one module (`palisade.wasm`).
pub const BUNDLE: &str = "palisade";

/// Where the release modules land.
pub fn wasm_dir() -> PathBuf {
    target_dir().join("wasm32-wasip1/release")
}

/// Cargo's target directory (`CARGO_TARGET_DIR`, else `target/` in the workspace).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
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

/// The cargo packages of the shipped modules: one per filter, then the bundle.
pub fn module_packages() -> Vec<String> {
    FILTERS
        .iter()
        .map(|f| format!("palisade-{f}-module"))
        .chain(std::iter::once("palisade-pipeline".to_string()))
        .collect()
}

/// The shipped modules' file names, as [`module_packages`] builds them.
pub fn module_files() -> Vec<String> {
    FILTERS
        .iter()
        .map(|f| format!("palisade_{f}.wasm"))
        .chain(std::iter::once(format!("{BUNDLE}.wasm")))
        .collect()
}

/// Builds every filter's `.wasm` and the bundle in one cargo run (the filters are plain
/// libraries, each module a cdylib of its own, so their links run side by side), then
/// post-processes them and prints the sizes.
pub fn build() -> Result {
    step("build the modules: every filter and the bundle (release, wasm32-wasip1)");
    let mut cmd = cargo();
    cmd.args(["build", "--release", "--target", "wasm32-wasip1"]);
    for package in module_packages() {
        cmd.args(["-p", &package]);
    }
    run(&mut cmd)?;
    step("post-process with Binaryen's wasm-opt");
    let wasm_opt = wasm_opt()?;
    let modules: Vec<PathBuf> = module_files()
        .iter()
        .map(|file| wasm_dir().join(file))
        .collect();
    optimize_all(&wasm_opt, &modules)
}

/// Post-processes modules one after another: wasm-opt already runs its passes on every core
/// (measured: two at a time took as long as one after another).
pub fn optimize_all(wasm_opt: &Path, modules: &[PathBuf]) -> Result {
    modules
        .iter()
        .try_for_each(|module| optimize(wasm_opt, module))
}
